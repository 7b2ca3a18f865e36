/**
 * Webhook signing secrets. A receiver verifies each request with the secret, so the
 * server must be able to compute the same HMAC: the secret is kept, not hashed. At rest
 * it is sealed with AES-256-GCM under the operator's key (`TASKCENTER_WEBHOOK_KEY`, the
 * same on every node), bound to its subscription's id, so a copy of the database alone
 * does not yield secrets and a sealed secret moved to another subscription does not
 * open. Without a key the secret is stored as it is, marked `plain:`, and the server
 * says so in its log when one is created.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const PREFIX = 'whsec_';

/** A new signing secret: `whsec_` and 32 random bytes in base64url; the HMAC key is the whole string's UTF-8 bytes. */
export function newSecret(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

/** Thrown by {@link SecretBox.open} when a secret was sealed under another key, or altered. */
export class SecretUnavailableError extends Error {
  override name = 'SecretUnavailableError';
}

/** Seals and opens signing secrets with the operator's key, or stores them plain without one. */
export class SecretBox {
  readonly #key: Buffer | null;
  /** A short fingerprint of the key, stored with each sealed secret so a wrong key is named, not guessed at. */
  readonly #keyId: string | null;

  /** `hexKey`: 64 hex digits, or null to store secrets unsealed. */
  constructor(hexKey: string | null) {
    this.#key = hexKey === null ? null : Buffer.from(hexKey, 'hex');
    this.#keyId = this.#key === null ? null : createHash('sha256').update('taskcenter webhook key\0').update(this.#key).digest('hex').slice(0, 8);
  }

  /** True when secrets are sealed at rest. */
  get sealing(): boolean {
    return this.#key !== null;
  }

  /** The stored form of `secret` for subscription `subscriptionId`. */
  seal(subscriptionId: string, secret: string): string {
    if (this.#key === null) return `plain:${secret}`;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(subscriptionId));
    const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return ['aes256gcm', this.#keyId, iv.toString('base64url'), sealed.toString('base64url'), cipher.getAuthTag().toString('base64url')].join(':');
  }

  /** The secret of a stored form; throws {@link SecretUnavailableError} when this key cannot open it. */
  open(subscriptionId: string, stored: string): string {
    if (stored.startsWith('plain:')) return stored.slice('plain:'.length);
    const [scheme, keyId, iv, sealed, tag] = stored.split(':');
    if (scheme !== 'aes256gcm' || iv === undefined || sealed === undefined || tag === undefined) {
      throw new SecretUnavailableError('the stored signing secret is in an unknown form');
    }
    if (this.#key === null)
      throw new SecretUnavailableError(`the signing secret is sealed with key ${keyId} and TASKCENTER_WEBHOOK_KEY is not set on this node`);
    if (keyId !== this.#keyId) throw new SecretUnavailableError(`the signing secret is sealed with key ${keyId}, this node has key ${this.#keyId}`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(subscriptionId));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(sealed, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretUnavailableError('the stored signing secret does not open with this key: it was altered or belongs to another subscription');
    }
  }
}
