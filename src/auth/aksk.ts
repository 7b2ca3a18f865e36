/**
 * AK/SK request signatures, `SDK-HMAC-SHA256`: what every official Huawei Cloud SDK sends
 * by default (API.md §4). {@link AkskVerifier} checks a request against the SK of its
 * access key and answers with the key's principal; any authenticator that keeps access
 * keys (static, keystone) delegates to one. {@link signRequest} is the same recipe from
 * the client's side, for tests, benchmarks and scripts.
 *
 * Everything signed is canonicalised from what the server will act on (the decoded path,
 * the decoded query pairs, the raw body bytes), never from the raw strings: two requests
 * that mean the same thing sign the same, and two that mean different things cannot
 * share a signature. The one exception is the official signers' own: they sign an encoded
 * slash as a literal one (`ab%2Fcd` as `ab/cd`); no id the service takes holds a slash, so
 * such a path is refused by its route whichever way it was meant.
 *
 * Temporary credentials, as IAM issues them, are an access key with a security token and
 * an expiry: a request signed with one must carry its `X-Security-Token` before it expires.
 */
import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ServiceError, quote } from '../errors.js';
import { hashToken } from './credentials.js';
import type { Lockout, LockoutState } from './lockout.store.js';
import type { AccessKeyEntry, Principal } from './principal.js';

/** The only signing algorithm accepted, and the scheme word of its Authorization header. */
export const ALGORITHM = 'SDK-HMAC-SHA256';
/** How far X-Sdk-Date may be from the server's clock, either way. */
export const DATE_WINDOW_MS = 15 * 60 * 1000;
/** Consecutive bad signatures from one address after which the access key is refused there for {@link LOCKOUT_MS}. */
export const MAX_BAD_SIGNATURES = 5;
export const LOCKOUT_MS = 5 * 60 * 1000;
/** The payload hash a client uses when it chose not to sign the body. */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/** What is known of a request before its body is read: the request line and the headers, as they arrived. */
export interface RequestHead {
  readonly method: string;
  /** The raw request target: path and query exactly as sent. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The path's `{project_id}`, when the route has one: X-Project-Id must then match it. */
  readonly projectId?: string | undefined;
  /** The client's address, which the lockout counts failures by (with the access key). */
  readonly address?: string | undefined;
}

/** What a signature check looks at: the request exactly as it arrived. */
export interface SignedRequest extends RequestHead {
  /** The raw body bytes, empty when there is none. */
  readonly body: Buffer;
}

/**
 * A signed request whose headers passed every check they allow (a known access key, not
 * locked out from the address, a well-formed Authorization and X-Sdk-Date inside its
 * window): the signature covers the body's hash, so it is checked once the body is read.
 */
export class PendingSignature {
  constructor(
    /** The access key the request names. */
    readonly accessKey: string,
    /** Checks the signature over the request with `body`: the key's principal, or `unauthenticated`. */
    readonly complete: (body: Buffer) => Promise<Principal>,
  ) {}
}

/** Finds an access key; undefined when there is no such key. */
export type AccessKeyLookup = (ak: string) => AccessKeyEntry | undefined;

/** The 401 every failure here answers: APIGW.0301 with the reason after the gateway's prefix. */
export function unauthenticated(why: string): ServiceError {
  return new ServiceError('unauthenticated', `Incorrect IAM authentication information: ${why}`);
}

/** True when the request carries an `SDK-HMAC-SHA256` Authorization header. */
export function isSignedRequest(headers: IncomingHttpHeaders): boolean {
  const value = headers.authorization;
  return typeof value === 'string' && value.trimStart().startsWith(ALGORITHM + ' ');
}

/** The parts of an `SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...` header. */
export interface AuthorizationParts {
  readonly access: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

// Hoisted, since a regex literal in a function is a new object on every call; a test of
// one of these is faster than a charCodeAt loop over the same characters.
const SIGNATURE = /^[0-9a-fA-F]{64}$/;
/** A lowercased header name: RFC 9110's token characters less the uppercase letters. */
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
/** Text that the signing encoding keeps as it is (and that decoding leaves as it is). */
const UNRESERVED = /^[A-Za-z0-9._~-]*$/;
/** A path of such segments only. */
const UNRESERVED_PATH = /^[A-Za-z0-9._~/-]*$/;
/** The one thing on which the two accepted canonical URIs of a path differ. */
const ENCODED_SLASH = /%2f/i;

/** Parses the Authorization header; throws `unauthenticated` saying what is wrong with it. */
export function parseAuthorization(value: string): AuthorizationParts {
  const text = value.trim();
  if (!text.startsWith(ALGORITHM + ' ')) throw unauthenticated(`the Authorization scheme must be ${ALGORITHM}`);
  // Scanned with indexOf rather than split into a Map: this runs on every signed request.
  // A field given twice keeps its last value.
  let access: string | undefined;
  let signed: string | undefined;
  let signature: string | undefined;
  for (let start = ALGORITHM.length; start <= text.length;) {
    const comma = text.indexOf(',', start);
    const end = comma < 0 ? text.length : comma;
    const at = text.indexOf('=', start);
    if (at < 0 || at > end) throw unauthenticated(`malformed Authorization header near ${quote(text.slice(start, end).trim())}`);
    const name = text.slice(start, at).trim();
    if (name === 'Access') access = text.slice(at + 1, end).trim();
    else if (name === 'SignedHeaders') signed = text.slice(at + 1, end).trim();
    else if (name === 'Signature') signature = text.slice(at + 1, end).trim();
    start = end + 1;
  }
  if (!access) throw unauthenticated('the Authorization header has no Access=<AK>');
  if (!signed) throw unauthenticated('the Authorization header has no SignedHeaders=<a;b;c>');
  if (!signature) throw unauthenticated('the Authorization header has no Signature=<hex>');
  if (!SIGNATURE.test(signature)) throw unauthenticated('the Signature must be 64 hexadecimal characters');
  const signedHeaders: string[] = [];
  for (let start = 0; ;) {
    const semicolon = signed.indexOf(';', start);
    const name = signed
      .slice(start, semicolon < 0 ? signed.length : semicolon)
      .trim()
      .toLowerCase();
    if (!HEADER_NAME.test(name)) throw unauthenticated(`SignedHeaders holds an invalid header name ${quote(name)}`);
    signedHeaders.push(name);
    if (semicolon < 0) break;
    start = semicolon + 1;
  }
  return { access, signedHeaders, signature: signature.toLowerCase() };
}

/** The number that `length` ASCII digits of `text` from `at` write; -1 when one is not a digit. */
function digits(text: string, at: number, length: number): number {
  let n = 0;
  for (let i = at; i < at + length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] as number);
}

/**
 * `YYYYMMDDTHHMMSSZ` → epoch milliseconds; undefined when it is not that shape or not a
 * real instant. Accepts exactly the strings {@link formatSdkDate} writes.
 */
export function parseSdkDate(value: string): number | undefined {
  if (value.length !== 16 || value[8] !== 'T' || value[15] !== 'Z') return undefined;
  const year = digits(value, 0, 4);
  const month = digits(value, 4, 2);
  const day = digits(value, 6, 2);
  const hour = digits(value, 9, 2);
  const minute = digits(value, 11, 2);
  const second = digits(value, 13, 2);
  // Date.UTC rolls 20240231 over into March and reads years 0-99 as 1900-1999. Checked by
  // hand: formatting the result back to compare cost a tenth of a verification.
  if (year < 100 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

/** Epoch milliseconds → `YYYYMMDDTHHMMSSZ`. */
export function formatSdkDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Percent-encodes everything but `A-Z a-z 0-9 - _ . ~`, UTF-8, uppercase hex: the SDK's
 * signing encoding (encodeURIComponent also spares `!'()*`, which the SDK encodes).
 */
export function signingEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw unauthenticated(`the ${what} ${quote(text)} is not valid percent-encoded UTF-8`);
  }
}

// Text of unreserved characters only is its own canonical form (decoding and re-encoding
// leave it as it is), and it is nearly every segment, key and value a client sends: the
// functions below skip both steps for it.

function canonicalQueryPart(raw: string, what: string): string {
  return UNRESERVED.test(raw) ? raw : signingEncode(decode(raw.replace(/\+/g, ' '), what));
}

/**
 * Each segment of a raw path decoded and re-encoded, joined with `/`, with a trailing `/`.
 * With `splitDecoded`, a `/` a segment decodes to splits it, as if the whole path had
 * been decoded first and then split (a segment is decoded on its own all the same, so a
 * refusal names it: a path decodes as a whole exactly when each of its segments does).
 */
function canonicalPath(rawPath: string, splitDecoded: boolean): string {
  if (UNRESERVED_PATH.test(rawPath)) return rawPath.endsWith('/') ? rawPath : rawPath + '/';
  let uri = '';
  for (let start = 0; ;) {
    const slash = rawPath.indexOf('/', start);
    const raw = rawPath.slice(start, slash < 0 ? rawPath.length : slash);
    if (UNRESERVED.test(raw)) uri += raw;
    else {
      const text = decode(raw, 'path segment');
      uri += splitDecoded && text.includes('/') ? text.split('/').map(signingEncode).join('/') : signingEncode(text);
    }
    if (slash < 0) break;
    uri += '/';
    start = slash + 1;
  }
  return uri.endsWith('/') ? uri : uri + '/';
}

/**
 * The canonical URI of a raw path as the official signers (the Python, Go and Java SDK
 * cores, the API gateway's signing samples) build it: the path percent-decoded as a whole,
 * split on `/`, each segment re-encoded, with a trailing `/`. So `jobs/ab%2Fcd` is
 * signed as `jobs/ab/cd/`.
 */
export function canonicalUri(rawPath: string): string {
  return canonicalPath(rawPath, true);
}

/**
 * The other canonical URI a signature is accepted over: each segment of the raw path
 * decoded and re-encoded on its own, so an encoded slash stays inside its segment
 * (`jobs/ab%2Fcd/`), as some SDK versions sign. It differs from {@link canonicalUri} only
 * for a path that holds an encoded slash.
 */
export function segmentwiseCanonicalUri(rawPath: string): string {
  return canonicalPath(rawPath, false);
}

/**
 * The canonical query of a raw query string (without `?`): each `key=value` decoded and
 * re-encoded, sorted by key then value, joined with `&`. `+` decodes to a space, as the
 * server's own query parser reads it.
 */
export function canonicalQuery(rawQuery: string): string {
  const pairs: [string, string][] = [];
  for (let start = 0; start < rawQuery.length;) {
    const amp = rawQuery.indexOf('&', start);
    const end = amp < 0 ? rawQuery.length : amp;
    if (end > start) {
      const at = rawQuery.indexOf('=', start);
      const hasValue = at >= 0 && at < end;
      pairs.push([
        canonicalQueryPart(rawQuery.slice(start, hasValue ? at : end), 'query parameter'),
        hasValue ? canonicalQueryPart(rawQuery.slice(at + 1, end), 'query value') : '',
      ]);
    }
    start = end + 1;
  }
  // Plain code-unit order, as every SDK sorts; localeCompare would depend on the locale.
  if (pairs.length > 1) pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  let query = '';
  for (let i = 0; i < pairs.length; i++) {
    const [key, value] = pairs[i] as [string, string];
    query += (i === 0 ? '' : '&') + key + '=' + value;
  }
  return query;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value.join(',') : value).trim();
}

function sha256Hex(data: string | Buffer): string {
  // The one-shot hash: a Hash object per call cost twice as much.
  return hash('sha256', data, 'hex');
}

/** The payload hash of every request without a body (GET, DELETE), computed once. */
const EMPTY_SHA256 = sha256Hex('');

/** The pieces that make up a canonical request, all already canonical. */
export interface CanonicalParts {
  readonly method: string;
  readonly uri: string;
  readonly query: string;
  /** `name:value\n` for each signed header, in the signed order. */
  readonly headers: string;
  readonly signedHeaders: string;
  readonly payloadHash: string;
}

/** Method, URI, query, headers block, signed-header list and payload hash, joined by `\n`. */
export function canonicalRequest(parts: CanonicalParts): string {
  return `${parts.method}\n${parts.uri}\n${parts.query}\n${parts.headers}\n${parts.signedHeaders}\n${parts.payloadHash}`;
}

/** `SDK-HMAC-SHA256\n<X-Sdk-Date>\n<hex sha256 of the canonical request>`. */
export function stringToSign(sdkDate: string, canonical: string): string {
  return `${ALGORITHM}\n${sdkDate}\n${sha256Hex(canonical)}`;
}

/** Hex HMAC-SHA256 of the string to sign, keyed by the SK. */
export function signature(sk: string, toSign: string): string {
  return createHmac('sha256', sk).update(toSign).digest('hex');
}

function splitUrl(url: string): { path: string; query: string } {
  const at = url.indexOf('?');
  return at < 0 ? { path: url, query: '' } : { path: url.slice(0, at), query: url.slice(at + 1) };
}

/** The payload hash of a request: the X-Sdk-Content-Sha256 opt-out, or the body's own hash. */
function payloadHash(headers: IncomingHttpHeaders, body: Buffer): string {
  // Any other value the client put in the header is ignored: the body's real hash is what
  // it must have signed, so a wrong one can only fail.
  if (headerValue(headers, 'x-sdk-content-sha256') === UNSIGNED_PAYLOAD) return UNSIGNED_PAYLOAD;
  return body.length === 0 ? EMPTY_SHA256 : sha256Hex(body);
}

/** The parts of an incoming request's canonical request under the given signed-header list, with the official signers' canonical URI. */
function canonicalPartsOf(request: SignedRequest, path: string, query: string, signedHeaders: readonly string[]): CanonicalParts {
  let block = '';
  for (const name of signedHeaders) {
    const value = headerValue(request.headers, name);
    if (value === undefined) throw unauthenticated(`the signed header ${quote(name)} is not in the request`);
    block += `${name}:${value}\n`;
  }
  return {
    method: request.method.toUpperCase(),
    uri: canonicalUri(path),
    query: canonicalQuery(query),
    headers: block,
    signedHeaders: signedHeaders.join(';'),
    payloadHash: payloadHash(request.headers, request.body),
  };
}

/** The canonical request of an incoming request under the given signed-header list, as the official signers build it. */
export function canonicalRequestOf(request: SignedRequest, signedHeaders: readonly string[]): string {
  const { path, query } = splitUrl(request.url);
  return canonicalRequest(canonicalPartsOf(request, path, query, signedHeaders));
}

/** True when `given` (64 lowercase hex characters) is the signature of these parts; compared in constant time. */
function signs(given: string, sk: string, sdkDate: string, parts: CanonicalParts): boolean {
  const expected = signature(sk, stringToSign(sdkDate, canonicalRequest(parts)));
  return timingSafeEqual(Buffer.from(expected, 'latin1'), Buffer.from(given, 'latin1'));
}

/**
 * True when the signature matches the request under one of the canonical forms accepted:
 * the official signers' canonical URI or, for a path with an encoded slash, the
 * segment-wise one. Only a request that matches none is a bad signature, the only
 * failure that counts toward the lockout.
 */
export function signatureMatches(request: SignedRequest, auth: AuthorizationParts, sk: string, sdkDate: string): boolean {
  const { path, query } = splitUrl(request.url);
  const parts = canonicalPartsOf(request, path, query, auth.signedHeaders);
  if (signs(auth.signature, sk, sdkDate, parts)) return true;
  return ENCODED_SLASH.test(path) && signs(auth.signature, sk, sdkDate, { ...parts, uri: segmentwiseCanonicalUri(path) });
}

export interface AkskVerifierOptions {
  /** The clock, epoch milliseconds; tests pass a fake one. */
  readonly now?: () => number;
  /** Where bad signatures are counted (src/auth/lockout.store.ts); without one, nothing locks. */
  readonly lockout?: Lockout;
  /** Hears of each lockout once, when it starts: the access key (never the SK), the address, until when. */
  readonly onLockout?: (event: { accessKey: string; address: string; failures: number; lockedUntil: number }) => void;
}

/** The address failures are counted under when the request's is not known. */
const UNKNOWN_ADDRESS = 'unknown';

/**
 * Verifies `SDK-HMAC-SHA256` signatures against the keys `lookup` finds, and locks a key
 * for 5 minutes after 5 consecutive bad signatures, as Huawei's gateway does (a good
 * signature resets the count) -- but only for the client address they came from: an AK
 * is not a secret, so anyone could otherwise lock a producer out from anywhere. The
 * counts are kept in the store, so every server process agrees on them.
 */
export class AkskVerifier {
  readonly #lookup: AccessKeyLookup;
  readonly #now: () => number;
  readonly #lockout: Lockout | undefined;
  readonly #onLockout: NonNullable<AkskVerifierOptions['onLockout']>;

  constructor(lookup: AccessKeyLookup, options: AkskVerifierOptions = {}) {
    this.#lookup = lookup;
    this.#now = options.now ?? Date.now;
    this.#lockout = options.lockout;
    this.#onLockout = options.onLockout ?? (() => {});
  }

  /**
   * The principal of the request's access key; throws `unauthenticated` (401 APIGW.0301)
   * saying why otherwise. Never says what the expected signature was.
   */
  async verify(request: SignedRequest): Promise<Principal> {
    return (await this.begin(request)).complete(request.body);
  }

  /**
   * Everything the headers alone decide, before the body is read: throws `unauthenticated`
   * for a malformed Authorization, an unknown access key, a key locked out from this
   * address, or an X-Sdk-Date that is missing, malformed or out of its window; else
   * answers the check of the signature itself, which needs the body.
   */
  async begin(request: RequestHead): Promise<PendingSignature> {
    const authorization = headerValue(request.headers, 'authorization');
    if (authorization === undefined) throw unauthenticated('no Authorization header');
    const auth = parseAuthorization(authorization);
    // Only known keys are counted, so the store cannot fill up with made-up AKs.
    const entry = this.#lookup(auth.access);
    if (entry === undefined) throw unauthenticated(`unknown access key ${quote(auth.access)}`);

    const now = this.#now();
    const address = request.address ?? UNKNOWN_ADDRESS;
    const state = await this.#lockout?.state(auth.access, address);
    if (state !== undefined && state.lockedUntil > now) {
      const seconds = Math.ceil((state.lockedUntil - now) / 1000);
      throw unauthenticated(
        `access key ${quote(auth.access)} is locked from this address for another ${seconds} s after ${MAX_BAD_SIGNATURES} consecutive bad signatures`,
      );
    }

    if (!auth.signedHeaders.includes('host')) throw unauthenticated('host must be a signed header');
    if (!auth.signedHeaders.includes('x-sdk-date')) throw unauthenticated('x-sdk-date must be a signed header');
    const sdkDate = headerValue(request.headers, 'x-sdk-date');
    if (sdkDate === undefined) throw unauthenticated('no X-Sdk-Date header');
    const signedAt = parseSdkDate(sdkDate);
    if (signedAt === undefined) throw unauthenticated(`X-Sdk-Date ${quote(sdkDate)} is not a YYYYMMDDTHHMMSSZ UTC time`);
    if (Math.abs(now - signedAt) > DATE_WINDOW_MS) {
      throw unauthenticated(`X-Sdk-Date ${sdkDate} is outside the 15-minute window around the server time ${formatSdkDate(now)}`);
    }
    for (const name of auth.signedHeaders) {
      if (headerValue(request.headers, name) === undefined) throw unauthenticated(`the signed header ${quote(name)} is not in the request`);
    }
    return new PendingSignature(auth.access, (body) => this.#complete({ ...request, body }, auth, entry, sdkDate, state));
  }

  async #complete(
    request: SignedRequest,
    auth: AuthorizationParts,
    entry: AccessKeyEntry,
    sdkDate: string,
    state: LockoutState | undefined,
  ): Promise<Principal> {
    // The clock again: reading the body took time, and a temporary key may expire meanwhile.
    const now = this.#now();
    const address = request.address ?? UNKNOWN_ADDRESS;
    if (!signatureMatches(request, auth, entry.sk, sdkDate)) {
      const after = await this.#lockout?.fail(auth.access, address, now, MAX_BAD_SIGNATURES, LOCKOUT_MS);
      const locked = after !== undefined && after.lockedUntil > now;
      // Exactly one failure is the one that locks, in whichever process: it is logged once.
      if (locked && after.failures === MAX_BAD_SIGNATURES) this.#onLockout({ accessKey: auth.access, address, ...after });
      throw unauthenticated(
        locked
          ? `signature mismatch; access key ${quote(auth.access)} is now locked from this address for ${LOCKOUT_MS / 60000} minutes after ${MAX_BAD_SIGNATURES} consecutive bad signatures`
          : 'signature mismatch: check the SK, and that the method, path, query, signed headers and body were sent exactly as signed',
      );
    }
    // A write only when there is something to forget: a good signature costs one read.
    if (state !== undefined) await this.#lockout?.clear(auth.access, address);
    if (entry.temporary !== undefined || headerValue(request.headers, 'x-security-token') !== undefined) {
      checkSecurityToken(auth.access, entry, headerValue(request.headers, 'x-security-token'), now);
    }

    const projectHeader = headerValue(request.headers, 'x-project-id');
    if (projectHeader !== undefined && request.projectId !== undefined && projectHeader !== request.projectId) {
      throw unauthenticated(`X-Project-Id ${quote(projectHeader)} does not match the project in the path ${quote(request.projectId)}`);
    }
    return entry.principal;
  }
}

/**
 * A temporary key must come with the security token issued with it, before its expiry;
 * a permanent key with none. Checked once the signature proved the caller holds the SK,
 * so only the key's holder learns which it is. Never echoes the token.
 */
function checkSecurityToken(ak: string, entry: AccessKeyEntry, token: string | undefined, now: number): void {
  const temporary = entry.temporary;
  if (temporary === undefined) {
    throw unauthenticated(`access key ${quote(ak)} is permanent: a request signed with it must not carry an X-Security-Token`);
  }
  if (now >= temporary.expiresAt) {
    throw unauthenticated(`temporary access key ${quote(ak)} expired at ${new Date(temporary.expiresAt).toISOString()}`);
  }
  if (token === undefined) throw unauthenticated(`access key ${quote(ak)} is temporary: the request must carry the X-Security-Token issued with it`);
  const given = Buffer.from(hashToken(token), 'latin1');
  const issued = Buffer.from(temporary.securityTokenHash, 'latin1');
  if (given.length !== issued.length || !timingSafeEqual(given, issued)) {
    throw unauthenticated(`the X-Security-Token is not the one issued with temporary access key ${quote(ak)}`);
  }
}

/** A request to sign, as a client builds it. */
export interface RequestToSign {
  readonly method: string;
  /** Path and query exactly as they will be sent. */
  readonly url: string;
  /** The Host header as it will be sent, port included when not the default. */
  readonly host: string;
  /** Further headers to send and sign (names in any case). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
}

/**
 * Signs a request the way the official SDKs do and returns every header to send
 * (`Host`, `X-Sdk-Date`, `Authorization` and the given ones). `now` defaults to the clock.
 */
export function signRequest(request: RequestToSign, key: { ak: string; sk: string }, now: number = Date.now()): Record<string, string> {
  const sdkDate = formatSdkDate(now);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
  headers.host = request.host;
  headers['x-sdk-date'] = sdkDate;
  const signedHeaders = Object.keys(headers).sort();
  const canonical = canonicalRequestOf({ method: request.method, url: request.url, headers, body: Buffer.from(request.body ?? '') }, signedHeaders);
  const sig = signature(key.sk, stringToSign(sdkDate, canonical));
  return { ...headers, authorization: `${ALGORITHM} Access=${key.ak}, SignedHeaders=${signedHeaders.join(';')}, Signature=${sig}` };
}
