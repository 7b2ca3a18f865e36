/**
 * `--auth keystone`: X-Auth-Token validated against an OpenStack Keystone (or Huawei IAM)
 * v3 endpoint with `GET /v3/auth/tokens`, the server's own service token in
 * `X-Auth-Token` and the caller's in `X-Subject-Token`. A token becomes a principal
 * scoped to the token's project, with the actions its roles map to. Positive answers are
 * cached, keyed by the token's hash, until the earlier of the token's `expires_at` and
 * the cache TTL; so a revoked token keeps working until its cache entry lapses.
 * Requests signed with AK/SK are handed to the static credentials' verifier.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { Type, type Static } from '@sinclair/typebox';
import { ServiceError } from '../errors.js';
import { checkJson } from '../validation.js';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { isSignedRequest, type AkskVerifierOptions, type RequestHead } from './aksk.js';
import { StaticAuthenticator, unauthenticated, withBody, type AuthRequest, type Authenticator, type HeadVerdict } from './authenticator.js';
import { hashToken } from './credentials.js';
import { ACTIONS, type Principal } from './principal.js';

/**
 * Keystone role name (lower case) → action grants, as in the credentials file (`*`
 * wildcards allowed). The role `*` applies to every project-scoped token.
 */
export type RoleTable = Readonly<Record<string, readonly string[]>>;

/** The actions that only read: every project-scoped token gets them by default. */
export const READ_ACTIONS: readonly string[] = Object.freeze([
  'sdrs:failureJobs:list',
  'sdrs:jobs:get',
  'kps::getFailedTask',
  'kps::getRunningTask',
  'kps::getTask',
  'taskcenter:jobs:read',
]);

/** Without `--keystone-roles`: any project-scoped token reads; `admin` also deletes and writes. */
export const DEFAULT_ROLES: RoleTable = Object.freeze({ '*': READ_ACTIONS, admin: Object.freeze(['*']) });

const RolesFile = Type.Object(
  { roles: Type.Record(Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }))) },
  { additionalProperties: false },
);
type RolesFile = Static<typeof RolesFile>;

function grantPattern(grant: string): RegExp {
  return new RegExp(
    '^' +
      grant
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*') +
      '$',
  );
}

/**
 * Reads a role table file, `{"roles": {"<role>": ["<action grant>", ...]}}`. Throws with
 * the file name and the problem, including a grant that matches no action (a typo).
 */
export function readRolesFile(path: string): RoleTable {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read Keystone roles file ${path}: ${(error as Error).message}`);
  }
  let file: RolesFile;
  try {
    file = checkJson<RolesFile>(RolesFile, parsed);
  } catch (error) {
    throw new Error(`Keystone roles file ${path} is invalid: ${(error as Error).message}`);
  }
  const table: Record<string, readonly string[]> = {};
  for (const [role, grants] of Object.entries(file.roles)) {
    for (const grant of grants) {
      const pattern = grantPattern(grant);
      if (!ACTIONS.some((action) => pattern.test(action))) {
        throw new Error(`Keystone roles file ${path}: grant '${grant}' of role '${role}' matches no action (actions: ${ACTIONS.join(', ')})`);
      }
    }
    table[role.toLowerCase()] = Object.freeze([...grants]);
  }
  return Object.freeze(table);
}

/**
 * The tokens URL of a Keystone endpoint given with or without its `/v3` suffix:
 * `http://h:5000` and `http://h:5000/v3/` both give `http://h:5000/v3/auth/tokens`.
 */
export function keystoneTokensUrl(endpoint: string): string {
  const base = endpoint.replace(/\/+$/, '');
  return (/\/v3$/.test(base) ? base : base + '/v3') + '/auth/tokens';
}

/** Where the authenticator reports what an operator should know; never given a secret. */
export interface KeystoneLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface KeystoneOptions {
  /** The Keystone endpoint, with or without `/v3`. */
  readonly url: string;
  /** The service user that validates callers' tokens, and the project it scopes its token to. */
  readonly user: string;
  readonly password: string;
  readonly project: string;
  /** Domain name of the service user and its project. */
  readonly domain: string;
  /** Longest time a validated token is trusted without asking Keystone again; 0 disables the cache. */
  readonly cacheTtlSeconds: number;
  /** Role → actions; re-read from `rolesFile` on reload when one is given. */
  readonly roles?: RoleTable;
  readonly rolesFile?: string | null;
  /** Verifies AK/SK-signed requests (the static credentials); none means they are refused. */
  readonly signatures?: Authenticator | null;
  readonly logger?: KeystoneLogger;
  /** Epoch milliseconds; injected by tests. */
  readonly now?: () => number;
  /** Injected by tests that stand in for Keystone. */
  readonly fetch?: typeof fetch;
  /** How long one call to Keystone may take before it counts as unreachable. */
  readonly timeoutMs?: number;
}

/** A validated token, cached until `expiresAt`. */
interface CacheEntry {
  readonly principal: Principal;
  readonly expiresAt: number;
}

interface ServiceToken {
  readonly token: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/** Cached tokens beyond this many evict the oldest, so a flood of distinct tokens cannot exhaust memory. */
const MAX_CACHE_ENTRIES = 10_000;
const DEFAULT_TIMEOUT_MS = 5_000;
/** A 401 from Keystone renews the service token only if it is older than this. */
const RETRY_AFTER_MS = 10_000;
/** The service token is renewed this long before it expires (a quarter of its lifetime when shorter). */
const RENEW_MARGIN_MS = 60_000;

/** A Keystone token body as far as this server reads it. */
interface KeystoneToken {
  readonly expires_at?: unknown;
  readonly user?: { readonly id?: unknown; readonly name?: unknown };
  readonly project?: { readonly id?: unknown; readonly name?: unknown };
  readonly roles?: readonly { readonly name?: unknown }[];
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function unavailable(): ServiceError {
  return new ServiceError('unavailable', 'the identity service (Keystone) is unavailable; retry later');
}

/** Raised inside this module for a failed call to Keystone; `why` is safe to log. */
class KeystoneDown extends Error {}

/** Validates X-Auth-Token against Keystone; delegates AK/SK signatures. */
export class KeystoneAuthenticator implements Authenticator {
  readonly #tokensUrl: string;
  readonly #now: () => number;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #ttlMs: number;
  readonly #log: KeystoneLogger;
  #roles: RoleTable;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inFlight = new Map<string, Promise<CacheEntry>>();
  #service: ServiceToken | null = null;
  #serviceRequest: Promise<ServiceToken> | null = null;

  constructor(private readonly options: KeystoneOptions) {
    this.#tokensUrl = keystoneTokensUrl(options.url);
    this.#now = options.now ?? Date.now;
    this.#fetch = options.fetch ?? fetch;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#ttlMs = options.cacheTtlSeconds * 1000;
    this.#log = options.logger ?? { info() {}, warn() {}, error() {} };
    this.#roles = options.rolesFile ? readRolesFile(options.rolesFile) : (options.roles ?? DEFAULT_ROLES);
  }

  /**
   * Obtains the service token. Throws if Keystone refuses the service credentials (a
   * configuration error worth stopping for); if Keystone cannot be reached it only warns,
   * and requests answer 503 until it can.
   */
  async start(): Promise<void> {
    try {
      await this.#serviceToken();
      this.#log.info(`Keystone service token obtained from ${this.#tokensUrl}`);
    } catch (error) {
      if (error instanceof KeystoneDown) {
        this.#log.warn(`Keystone is not reachable yet (${error.message}); requests with tokens answer 503 until it is`);
        return;
      }
      throw error;
    }
  }

  /** Re-reads the roles file and the static credentials, and forgets every cached token. */
  reload(): void {
    const roles = this.options.rolesFile ? readRolesFile(this.options.rolesFile) : this.#roles;
    this.options.signatures?.reload();
    this.#roles = roles;
    this.#cache.clear();
  }

  /** How many validated tokens are cached now (for tests and metrics). */
  get cacheSize(): number {
    return this.#cache.size;
  }

  async authenticate(request: AuthRequest): Promise<Principal> {
    return withBody(await this.authenticateHead(request), request.body);
  }

  async authenticateHead(request: RequestHead): Promise<HeadVerdict> {
    if (isSignedRequest(request.headers)) {
      if (!this.options.signatures) throw unauthenticated('AK/SK signatures are not accepted: this server has no credentials file');
      // The signature is what the caller chose to authenticate with; a stray token must not take over.
      const { 'x-auth-token': _ignored, ...headers } = request.headers;
      return this.options.signatures.authenticateHead({ ...request, headers });
    }
    const token = header(request.headers, 'x-auth-token');
    if (token === undefined || token === '') throw unauthenticated('no X-Auth-Token header and no AK/SK signature');
    return (await this.#validate(token)).principal;
  }

  async #validate(token: string): Promise<CacheEntry> {
    const key = hashToken(token);
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      if (cached.expiresAt > this.#now()) return cached;
      this.#cache.delete(key);
    }
    // Concurrent requests with the same new token share one call to Keystone.
    let pending = this.#inFlight.get(key);
    if (pending === undefined) {
      pending = this.#ask(token).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    const entry = await pending;
    if (this.#ttlMs > 0 && entry.expiresAt > this.#now() && !this.#cache.has(key)) this.#remember(key, entry);
    return entry;
  }

  #remember(key: string, entry: CacheEntry): void {
    if (this.#cache.size >= MAX_CACHE_ENTRIES) {
      const now = this.#now();
      for (const [k, e] of this.#cache) if (e.expiresAt <= now) this.#cache.delete(k);
      // Map order is insertion order: the first key is the oldest entry.
      if (this.#cache.size >= MAX_CACHE_ENTRIES) this.#cache.delete(this.#cache.keys().next().value as string);
    }
    this.#cache.set(key, entry);
  }

  /** Asks Keystone about `token`; retries once with a new service token if ours was refused. */
  async #ask(token: string): Promise<CacheEntry> {
    let response: Response;
    try {
      const service = await this.#serviceToken();
      response = await this.#check(token, service);
      // Keystone answers 401 about our token (404 about the caller's): renew it and ask again,
      // unless it is brand new, so that bad callers cannot make us log in over and over.
      if (response.status === 401 && this.#now() - service.issuedAt > RETRY_AFTER_MS) {
        await response.body?.cancel();
        if (this.#service === service) this.#service = null;
        response = await this.#check(token, await this.#serviceToken());
      }
    } catch (error) {
      throw this.#asUnavailable(error);
    }
    const status = response.status;
    if (status === 200) {
      const body = (await response.json().catch(() => null)) as { token?: KeystoneToken } | null;
      const entry = body?.token === undefined ? null : this.#entryOf(body.token);
      if (entry === null) {
        this.#log.error('Keystone answered a token validation with a body this server cannot read');
        throw unavailable();
      }
      return entry;
    }
    await response.body?.cancel();
    if (status === 404 || status === 401) throw unauthenticated('the token is unknown, expired or revoked');
    if (status === 403) {
      this.#log.error(`Keystone refused to let user '${this.options.user}' validate tokens (403): give it the admin or service role`);
    } else {
      this.#log.error(`Keystone answered ${status} to a token validation`);
    }
    throw unavailable();
  }

  #check(token: string, service: ServiceToken): Promise<Response> {
    return this.#call({ method: 'GET', headers: { 'x-auth-token': service.token, 'x-subject-token': token, accept: 'application/json' } });
  }

  /**
   * One request to the tokens URL. A connection that fails before any answer is tried once
   * more: servers and proxies close idle keep-alive connections as the client reuses them.
   */
  async #call(init: RequestInit): Promise<Response> {
    const url = `${this.#tokensUrl}?nocatalog`;
    try {
      return await this.#fetch(url, { ...init, signal: AbortSignal.timeout(this.#timeoutMs) });
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') throw new KeystoneDown(describe(error));
    }
    try {
      return await this.#fetch(url, { ...init, signal: AbortSignal.timeout(this.#timeoutMs) });
    } catch (error) {
      throw new KeystoneDown(describe(error));
    }
  }

  #asUnavailable(error: unknown): ServiceError {
    if (error instanceof ServiceError) return error;
    if (error instanceof KeystoneDown) this.#log.warn(`Keystone is unavailable: ${error.message}`);
    else this.#log.error(`cannot validate tokens: ${describe(error)}`);
    return unavailable();
  }

  #entryOf(token: KeystoneToken): CacheEntry | null {
    const expiresAt = typeof token.expires_at === 'string' ? Date.parse(token.expires_at) : NaN;
    if (Number.isNaN(expiresAt)) return null;
    const userName = typeof token.user?.name === 'string' ? token.user.name : String(token.user?.id ?? 'unknown');
    const projectId = typeof token.project?.id === 'string' ? token.project.id : null;
    const roles = (token.roles ?? []).map((role) => (typeof role.name === 'string' ? role.name.toLowerCase() : '')).filter((name) => name !== '');
    const actions = projectId === null ? [] : [...new Set(['*', ...roles].flatMap((role) => this.#roles[role] ?? []))];
    const scope = projectId === null ? 'unscoped' : `project ${typeof token.project?.name === 'string' ? token.project.name : projectId}`;
    const principal: Principal = Object.freeze({
      name: `keystone user ${userName} (${scope})`,
      projects: Object.freeze(projectId === null ? [] : [projectId]),
      actions: Object.freeze(actions),
    });
    return { principal, expiresAt: Math.min(expiresAt, this.#now() + this.#ttlMs) };
  }

  /** The current service token, renewed when close to expiry; concurrent callers share one request. */
  async #serviceToken(): Promise<ServiceToken> {
    const current = this.#service;
    const now = this.#now();
    if (current !== null && now < current.expiresAt - Math.min(RENEW_MARGIN_MS, (current.expiresAt - current.issuedAt) / 4)) return current;
    this.#serviceRequest ??= this.#issueServiceToken().finally(() => {
      this.#serviceRequest = null;
    });
    return this.#serviceRequest;
  }

  async #issueServiceToken(): Promise<ServiceToken> {
    const { user, password, project, domain } = this.options;
    const body = {
      auth: {
        identity: { methods: ['password'], password: { user: { name: user, domain: { name: domain }, password } } },
        scope: { project: { name: project, domain: { name: domain } } },
      },
    };
    const issuedAt = this.#now();
    const response = await this.#call({
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
    if (response.status !== 201 && response.status !== 200) {
      await response.body?.cancel();
      if (response.status >= 500) throw new KeystoneDown(`it answered ${response.status} when asked for a service token`);
      throw new Error(
        `Keystone refused a token to service user '${user}' (domain '${domain}') for project '${project}' (${response.status}): ` +
          'check --keystone-user, --keystone-project, --keystone-domain and TASKCENTER_KEYSTONE_PASSWORD',
      );
    }
    const token = response.headers.get('x-subject-token');
    const parsed = (await response.json().catch(() => null)) as { token?: KeystoneToken } | null;
    const expiresAt = typeof parsed?.token?.expires_at === 'string' ? Date.parse(parsed.token.expires_at) : NaN;
    if (token === null || token === '' || Number.isNaN(expiresAt)) {
      throw new KeystoneDown('its answer to a service token request had no X-Subject-Token or expires_at');
    }
    const service = { token, issuedAt, expiresAt };
    this.#service = service;
    return service;
  }
}

/** A network error in one line, without any header or body (which could hold a token). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (error.name === 'TimeoutError') return 'timed out';
  return cause?.code ?? cause?.message ?? error.message;
}

/**
 * The authenticator of `--auth keystone`, with its service token obtained (see
 * {@link KeystoneAuthenticator.start}). AK/SK signatures are verified against the
 * credentials file when it exists; its tokens are not accepted in this mode.
 */
export async function startKeystoneAuthenticator(config: Config, logger: Logger, aksk: AkskVerifierOptions = {}): Promise<KeystoneAuthenticator> {
  const { keystoneUrl, keystoneUser, keystonePassword, keystoneProject } = config;
  if (keystoneUrl === null || keystoneUser === null || keystonePassword === null || keystoneProject === null) {
    throw new Error('--auth keystone needs --keystone-url, --keystone-user, --keystone-project and TASKCENTER_KEYSTONE_PASSWORD');
  }
  const signatures = existsSync(config.credentials) ? new StaticAuthenticator(config.credentials, (message) => logger.warn(message), aksk) : null;
  if (signatures === null) logger.warn(`no credentials file at ${config.credentials}: AK/SK signatures are refused`);
  const authenticator = new KeystoneAuthenticator({
    url: keystoneUrl,
    user: keystoneUser,
    password: keystonePassword,
    project: keystoneProject,
    domain: config.keystoneDomain,
    cacheTtlSeconds: config.keystoneCacheTtl,
    rolesFile: config.keystoneRoles,
    signatures,
    logger: { info: (m) => logger.info(m), warn: (m) => logger.warn(m), error: (m) => logger.error(m) },
  });
  await authenticator.start();
  return authenticator;
}
