/**
 * The static credentials file: principals with their grants, token hashes and AK/SK
 * pairs, permanent or temporary (with a security token and an expiry, as IAM issues
 * them). Tokens and security tokens are stored only as `sha256:<hex>`; an SK must be
 * stored as is, since verifying a signature needs it, which is why the file should be
 * mode 0600.
 */
import { hash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { checkJson } from '../validation.js';
import type { AccessKeyEntry, Principal } from './principal.js';

const TOKEN_HASH = '^sha256:[0-9a-f]{64}$';

const AccessKey = Type.Object(
  {
    ak: Type.String({ minLength: 1 }),
    sk: Type.String({ minLength: 1 }),
    // A temporary key has both; indexCredentials checks that.
    security_token: Type.Optional(Type.String({ pattern: TOKEN_HASH })),
    expires_at: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T.*(Z|[+-]\\d{2}:\\d{2})$', description: 'ISO 8601 time with a zone' })),
  },
  { additionalProperties: false },
);

const PrincipalEntry = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    projects: Type.Array(Type.String({ minLength: 1 })),
    actions: Type.Array(Type.String({ minLength: 1 })),
    tokens: Type.Optional(Type.Array(Type.String({ pattern: TOKEN_HASH }))),
    access_keys: Type.Optional(Type.Array(AccessKey)),
  },
  { additionalProperties: false },
);

export const CredentialsFile = Type.Object({ principals: Type.Array(PrincipalEntry) }, { additionalProperties: false });
export type CredentialsFile = Static<typeof CredentialsFile>;
export type PrincipalEntry = Static<typeof PrincipalEntry>;

/** The credentials in a form fit for lookups on every request. */
export interface Credentials {
  /** `sha256:<hex>` of a token → its principal. */
  readonly byTokenHash: ReadonlyMap<string, Principal>;
  /** AK → its SK and principal, and its security token and expiry when it is temporary. */
  readonly byAccessKey: ReadonlyMap<string, AccessKeyEntry>;
}

/** `sha256:<hex>` of a token, the only form in which tokens are kept. */
export function hashToken(token: string): string {
  // The one-shot hash: a Hash object per request cost three times as much.
  return 'sha256:' + hash('sha256', token, 'hex');
}

/** Reads and checks a credentials file. Throws with the file name and the problem. */
export function readCredentialsFile(path: string): CredentialsFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read credentials file ${path}: ${(error as Error).message}`);
  }
  try {
    return checkJson<CredentialsFile>(CredentialsFile, parsed);
  } catch (error) {
    throw new Error(`credentials file ${path} is invalid: ${(error as Error).message}`);
  }
}

/** Indexes a credentials file. Throws if a token hash or an AK belongs to two principals. */
export function indexCredentials(file: CredentialsFile): Credentials {
  const byTokenHash = new Map<string, Principal>();
  const byAccessKey = new Map<string, AccessKeyEntry>();
  for (const entry of file.principals) {
    const principal: Principal = Object.freeze({ name: entry.name, projects: [...entry.projects], actions: [...entry.actions] });
    for (const hash of entry.tokens ?? []) {
      if (byTokenHash.has(hash)) throw new Error(`credentials: a token of principal '${entry.name}' is also another principal's`);
      byTokenHash.set(hash, principal);
    }
    for (const { ak, sk, security_token, expires_at } of entry.access_keys ?? []) {
      if (byAccessKey.has(ak)) throw new Error(`credentials: access key ${ak} appears twice`);
      if ((security_token === undefined) !== (expires_at === undefined)) {
        throw new Error(`credentials: access key ${ak} of principal '${entry.name}' needs both security_token and expires_at (a temporary key) or neither`);
      }
      const expiresAt = expires_at === undefined ? NaN : Date.parse(expires_at);
      if (expires_at !== undefined && Number.isNaN(expiresAt)) {
        throw new Error(`credentials: expires_at of access key ${ak} must be an ISO 8601 time with a zone, got '${expires_at}'`);
      }
      byAccessKey.set(ak, security_token === undefined ? { sk, principal } : { sk, principal, temporary: { securityTokenHash: security_token, expiresAt } });
    }
  }
  return { byTokenHash, byAccessKey };
}

/** True when group or others can read the file: the caller should warn. */
export function isExposed(path: string): boolean {
  return (statSync(path).mode & 0o077) !== 0;
}

/** A new secret token: 48 random bytes, base64url. */
export function newToken(): string {
  return randomBytes(48).toString('base64url');
}

/** A new AK/SK pair in Huawei's shapes: a 20-character uppercase AK and a 40-character SK. */
export function newAccessKey(): { ak: string; sk: string } {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const ak = Array.from(randomBytes(20), (b) => alphabet[b % alphabet.length]).join('');
  const sk = randomBytes(30).toString('base64').replace(/[+/]/g, 'x');
  return { ak, sk };
}

/** The secrets of a new principal, shown once and never stored in clear (the SK excepted). */
export interface IssuedSecrets {
  readonly token?: string;
  readonly ak?: string;
  readonly sk?: string;
  /** With a temporary key: its security token, and when the key expires (ISO 8601). */
  readonly security_token?: string;
  readonly expires_at?: string;
}

export interface NewPrincipal {
  readonly name: string;
  readonly projects: readonly string[];
  readonly actions: readonly string[];
  readonly token: boolean;
  readonly aksk: boolean;
  /** Makes the AK/SK temporary: it comes with a security token and expires this many seconds from `now`. */
  readonly temporaryTtlSeconds?: number;
}

/**
 * Adds a principal to a credentials file (created, mode 0600, when missing) and
 * returns its new secrets. Throws if the name is taken.
 */
export function addPrincipal(path: string, spec: NewPrincipal, now: number = Date.now()): IssuedSecrets {
  const file: CredentialsFile = existsSync(path) ? readCredentialsFile(path) : { principals: [] };
  if (file.principals.some((p) => p.name === spec.name)) throw new Error(`principal '${spec.name}' already exists in ${path}`);
  const token = spec.token ? newToken() : undefined;
  const key = spec.aksk ? newAccessKey() : undefined;
  const temporary =
    key === undefined || spec.temporaryTtlSeconds === undefined
      ? undefined
      : { security_token: newToken(), expires_at: new Date(now + spec.temporaryTtlSeconds * 1000).toISOString() };
  const storedKey =
    key === undefined
      ? undefined
      : temporary === undefined
        ? key
        : { ...key, security_token: hashToken(temporary.security_token), expires_at: temporary.expires_at };
  file.principals.push({
    name: spec.name,
    projects: [...spec.projects],
    actions: [...spec.actions],
    ...(token === undefined ? {} : { tokens: [hashToken(token)] }),
    ...(storedKey === undefined ? {} : { access_keys: [storedKey] }),
  });
  writeCredentialsFile(path, file);
  return { ...(token === undefined ? {} : { token }), ...(key ?? {}), ...(temporary ?? {}) };
}

function writeCredentialsFile(path: string, file: CredentialsFile): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
}
