/**
 * Authentication: turns a request's credentials into a {@link Principal}, or refuses it
 * with `unauthenticated` (answered 401 APIGW.0301). Which ways in are open follows
 * `--auth`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { AkskVerifier, PendingSignature, isSignedRequest, unauthenticated, type AkskVerifierOptions, type RequestHead, type SignedRequest } from './aksk.js';
import { indexCredentials, isExposed, readCredentialsFile, hashToken, type Credentials } from './credentials.js';
import { ANONYMOUS, type Principal } from './principal.js';

// Defined beside the AK/SK verifier, which every authenticator shares; exported here too.
export { PendingSignature, unauthenticated };

/** What authentication may look at in a request: the request exactly as it arrived. */
export type AuthRequest = SignedRequest;

/** What the headers alone decide: the caller's principal, or an AK/SK signature still to check over the body. */
export type HeadVerdict = Principal | PendingSignature;

export interface Authenticator {
  /**
   * Authenticates from the request line and headers alone, before any of the body is read:
   * resolves to the caller's principal (a token), or to the signature check that needs the
   * body (AK/SK); rejects with ServiceError `unauthenticated` when the headers already
   * settle it (no credential, a malformed Authorization, an unknown token or access key, a
   * key locked out from the address, an X-Sdk-Date out of its window).
   */
  authenticateHead(request: RequestHead): Promise<HeadVerdict>;
  /** Both steps: resolves to the caller's principal; rejects with ServiceError `unauthenticated`. */
  authenticate(request: AuthRequest): Promise<Principal>;
  /** Re-reads whatever backs it (the credentials file on SIGHUP). */
  reload(): void;
}

/** The principal once the body is known: the verdict itself, or the signature checked over `body`. */
export async function withBody(verdict: HeadVerdict, body: Buffer): Promise<Principal> {
  return verdict instanceof PendingSignature ? verdict.complete(body) : verdict;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The clock for AK/SK date windows and lockouts, and where the lockout counts (see {@link AkskVerifierOptions}). */
export type StaticAuthenticatorOptions = AkskVerifierOptions;

/**
 * The credentials file: tokens compared by their SHA-256 hash, and AK/SK signatures
 * checked against the file's access keys.
 */
export class StaticAuthenticator implements Authenticator {
  #credentials: Credentials;
  readonly #signatures: AkskVerifier;

  /** Reads the file now; throws if it is missing or invalid. `warn` hears about a readable file. */
  constructor(
    private readonly path: string,
    private readonly warn: (message: string) => void = () => {},
    options: StaticAuthenticatorOptions = {},
  ) {
    this.#credentials = this.#read();
    // Looks the key up in whatever the file holds now, so a reload takes effect at once
    // while lockouts of keys that stay survive it.
    this.#signatures = new AkskVerifier((ak) => this.#credentials.byAccessKey.get(ak), options);
  }

  #read(): Credentials {
    const credentials = indexCredentials(readCredentialsFile(this.path));
    if (isExposed(this.path)) this.warn(`credentials file ${this.path} is readable by other users; chmod 600 it`);
    return credentials;
  }

  /** Swaps in the file's current content; keeps the old credentials if the file is now invalid. */
  reload(): void {
    this.#credentials = this.#read();
  }

  async authenticate(request: AuthRequest): Promise<Principal> {
    return withBody(await this.authenticateHead(request), request.body);
  }

  async authenticateHead(request: RequestHead): Promise<HeadVerdict> {
    // A signature is what the caller chose to authenticate with: a stray token must not take over.
    if (isSignedRequest(request.headers)) return this.#signatures.begin(request);
    const token = header(request.headers, 'x-auth-token');
    if (token !== undefined) {
      const principal = this.#credentials.byTokenHash.get(hashToken(token));
      if (principal === undefined) throw unauthenticated('the token is unknown or expired');
      return principal;
    }
    if (header(request.headers, 'authorization') !== undefined) {
      // Not echoed: a client may have put a bare secret there.
      throw unauthenticated('the Authorization header is not an SDK-HMAC-SHA256 signature; use X-Auth-Token or an AK/SK signature');
    }
    throw unauthenticated('no X-Auth-Token header and no AK/SK signature');
  }
}

/** `--auth none`: every request is the all-powerful anonymous principal. */
export class OpenAuthenticator implements Authenticator {
  async authenticateHead(): Promise<Principal> {
    return ANONYMOUS;
  }

  async authenticate(): Promise<Principal> {
    return ANONYMOUS;
  }

  reload(): void {}
}
