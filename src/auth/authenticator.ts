/**
 * Authentication: turns a request's credentials into a {@link Principal}, or refuses it
 * with `unauthenticated` (answered 401 APIGW.0301). Which ways in are open follows
 * `--auth`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ServiceError } from '../errors.js';
import { indexCredentials, isExposed, readCredentialsFile, hashToken, type Credentials } from './credentials.js';
import { ANONYMOUS, type Principal } from './principal.js';

/** What authentication may look at in a request. */
export interface AuthRequest {
  readonly method: string;
  /** The raw request target: path and query exactly as sent. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The raw body bytes, empty when there is none. */
  readonly body: Buffer;
}

export interface Authenticator {
  /** Resolves to the caller's principal; rejects with ServiceError `unauthenticated`. */
  authenticate(request: AuthRequest): Promise<Principal>;
  /** Re-reads whatever backs it (the credentials file on SIGHUP). */
  reload(): void;
}

/** The prefix of every 401 message, as Huawei's API gateway words it. */
export function unauthenticated(why: string): ServiceError {
  return new ServiceError('unauthenticated', `Incorrect IAM authentication information: ${why}`);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Tokens from the credentials file, compared by their SHA-256 hash. */
export class StaticAuthenticator implements Authenticator {
  #credentials: Credentials;

  /** Reads the file now; throws if it is missing or invalid. `warn` hears about a readable file. */
  constructor(
    private readonly path: string,
    private readonly warn: (message: string) => void = () => {},
  ) {
    this.#credentials = this.#read();
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
    const token = header(request.headers, 'x-auth-token');
    if (token !== undefined) {
      const principal = this.#credentials.byTokenHash.get(hashToken(token));
      if (principal === undefined) throw unauthenticated('the token is unknown or expired');
      return principal;
    }
    if (header(request.headers, 'authorization') !== undefined) {
      throw unauthenticated('AK/SK signatures are not accepted by this server yet; use X-Auth-Token');
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
