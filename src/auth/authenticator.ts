/**
 * Authentication: turns a request's credentials into a {@link Principal}, or refuses it
 * with `unauthenticated` (answered 401 APIGW.0301). Which ways in are open follows
 * `--auth`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { AkskVerifier, isSignedRequest, unauthenticated, type AkskVerifierOptions, type SignedRequest } from './aksk.js';
import { indexCredentials, isExposed, readCredentialsFile, hashToken, type Credentials } from './credentials.js';
import { ANONYMOUS, type Principal } from './principal.js';

// Defined beside the AK/SK verifier, which every authenticator shares; exported here too.
export { unauthenticated };

/** What authentication may look at in a request: the request exactly as it arrived. */
export type AuthRequest = SignedRequest;

export interface Authenticator {
  /** Resolves to the caller's principal; rejects with ServiceError `unauthenticated`. */
  authenticate(request: AuthRequest): Promise<Principal>;
  /** Re-reads whatever backs it (the credentials file on SIGHUP). */
  reload(): void;
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
    // A signature is what the caller chose to authenticate with: a stray token must not take over.
    if (isSignedRequest(request.headers)) return this.#signatures.verify(request);
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
  async authenticate(): Promise<Principal> {
    return ANONYMOUS;
  }

  reload(): void {}
}
