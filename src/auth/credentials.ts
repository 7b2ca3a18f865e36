/**
 * The static credentials file: principals with their grants, token hashes and AK/SK
 * pairs. Tokens are stored only as `sha256:<hex>`; an SK must be stored as is, since
 * verifying a signature needs it, which is why the file should be mode 0600.
 */
import { hash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { checkJson } from '../validation.js';
import type { Principal } from './principal.js';

const AccessKey = Type.Object({ ak: Type.String({ minLength: 1 }), sk: Type.String({ minLength: 1 }) }, { additionalProperties: false });

const PrincipalEntry = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    projects: Type.Array(Type.String({ minLength: 1 })),
    actions: Type.Array(Type.String({ minLength: 1 })),
    tokens: Type.Optional(Type.Array(Type.String({ pattern: '^sha256:[0-9a-f]{64}$' }))),
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
  /** AK → its SK and principal. */
  readonly byAccessKey: ReadonlyMap<string, { readonly sk: string; readonly principal: Principal }>;
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
  const byAccessKey = new Map<string, { sk: string; principal: Principal }>();
  for (const entry of file.principals) {
    const principal: Principal = Object.freeze({ name: entry.name, projects: [...entry.projects], actions: [...entry.actions] });
    for (const hash of entry.tokens ?? []) {
      if (byTokenHash.has(hash)) throw new Error(`credentials: a token of principal '${entry.name}' is also another principal's`);
      byTokenHash.set(hash, principal);
    }
    for (const { ak, sk } of entry.access_keys ?? []) {
      if (byAccessKey.has(ak)) throw new Error(`credentials: access key ${ak} appears twice`);
      byAccessKey.set(ak, { sk, principal });
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
}

export interface NewPrincipal {
  readonly name: string;
  readonly projects: readonly string[];
  readonly actions: readonly string[];
  readonly token: boolean;
  readonly aksk: boolean;
}

/**
 * Adds a principal to a credentials file (created, mode 0600, when missing) and
 * returns its new secrets. Throws if the name is taken.
 */
export function addPrincipal(path: string, spec: NewPrincipal): IssuedSecrets {
  const file: CredentialsFile = existsSync(path) ? readCredentialsFile(path) : { principals: [] };
  if (file.principals.some((p) => p.name === spec.name)) throw new Error(`principal '${spec.name}' already exists in ${path}`);
  const token = spec.token ? newToken() : undefined;
  const key = spec.aksk ? newAccessKey() : undefined;
  file.principals.push({
    name: spec.name,
    projects: [...spec.projects],
    actions: [...spec.actions],
    ...(token === undefined ? {} : { tokens: [hashToken(token)] }),
    ...(key === undefined ? {} : { access_keys: [key] }),
  });
  writeCredentialsFile(path, file);
  return { ...(token === undefined ? {} : { token }), ...(key ?? {}) };
}

function writeCredentialsFile(path: string, file: CredentialsFile): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
}
