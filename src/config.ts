/**
 * Configuration: read once from command-line flags and `TASKCENTER_*` environment
 * variables, validated as a whole, frozen, and passed down. Nothing else reads
 * `process.env`.
 */
import { isIP } from 'node:net';

export const AUTH_MODES = ['static', 'keystone', 'none'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The resolved, validated configuration of one process. */
export interface Config {
  readonly host: string;
  readonly port: number;
  /** `sqlite:<path>`, `sqlite::memory:` or `postgres://...`. */
  readonly db: string;
  readonly auth: AuthMode;
  /** Path of the static credentials file. */
  readonly credentials: string;
  readonly keystoneUrl: string | null;
  /** The service user that validates tokens with Keystone, its project and their domain. */
  readonly keystoneUser: string | null;
  /** Only from the environment (`TASKCENTER_KEYSTONE_PASSWORD`), never a flag: flags show in `ps`. */
  readonly keystonePassword: string | null;
  readonly keystoneProject: string | null;
  readonly keystoneDomain: string;
  /** Seconds a validated Keystone token is trusted before asking again; 0 disables the cache. */
  readonly keystoneCacheTtl: number;
  /** A JSON file mapping Keystone roles to actions; null for the built-in table. */
  readonly keystoneRoles: string | null;
  readonly logLevel: LogLevel;
  /** Requests per second allowed to each principal; 0 turns throttling off. */
  readonly throttle: number;
  /** Megabytes of rendered list pages kept in memory (src/jobs/list-cache.ts); 0 keeps none. */
  readonly listCacheMb: number;
  /** SQLite: megabytes of database pages its page cache may hold. */
  readonly sqliteCacheMb: number;
  /** Serve the emulator controls under `/taskcenter/v1/emulator/` (src/emulator/); never on by default. */
  readonly emulator: boolean;
  /** A JSON file of fault rules loaded at start (needs `emulator`); null for none. */
  readonly faults: string | null;
  /** A folder of `*.json` / `*.ndjson` job fixtures imported at start (needs `emulator`); null for none. */
  readonly init: string | null;
  /** Deliver webhooks to loopback, link-local, private and unique-local addresses too (src/notify/webhook-url.ts). */
  readonly webhookAllowPrivate: boolean;
  /** Seconds a webhook delivery is retried before it is dead (24 hours). */
  readonly webhookRetryWindow: number;
  /** Seconds before the first retry of a webhook delivery; each later one waits about twice as long. */
  readonly webhookRetryDelay: number;
  /** Seconds a node holds the deliveries it claimed; a node that dies leaves them to others after this. */
  readonly webhookLease: number;
  /**
   * 32 bytes (64 hex digits) sealing webhook signing secrets at rest (AES-256-GCM), or
   * null to store them unsealed. Only from the environment (`TASKCENTER_WEBHOOK_KEY`),
   * never a flag: flags show in `ps`.
   */
  readonly webhookKey: string | null;
  /**
   * Seconds a request may take, from routing to response; past it the route answers 503
   * and its store work is cancelled. Also bounds each PostgreSQL statement and the waits
   * for a connection or a SQLite write lock.
   */
  readonly requestTimeout: number;
  /**
   * Seconds a node keeps serving after SIGTERM while `/readyz` answers 503, so a load
   * balancer moves new requests elsewhere before it stops accepting; 0 stops at once.
   */
  readonly drainSeconds: number;
  /**
   * Days a finished job is kept after its end before retention deletes it (with its
   * sub-jobs; a failure still in a list is kept however old), and delivered webhook
   * deliveries after they settled; null (the default) keeps everything.
   */
  readonly retainDays: number | null;
  /**
   * Which peers' `X-Forwarded-For` names the client: `false` (none: the client is the
   * peer), `true` (every peer) or the addresses and CIDR ranges of the proxies (also
   * `loopback`, `linklocal`, `uniquelocal`). The client address is what the AK/SK lockout
   * and the failed-authentication limit count by.
   */
  readonly trustProxy: boolean | readonly string[];
  /** Failed authentications allowed from one client address per minute; 0 turns the limit off. */
  readonly authFailureLimit: number;
  /** Seconds a client has to send a request's headers, from its first byte (or from connecting); then 408 and close. */
  readonly headersTimeout: number;
  /** Seconds a client has to send a whole request, headers and body; then 408 and close. At least `headersTimeout`. */
  readonly receiveTimeout: number;
  /** Seconds an idle kept-alive connection is kept open after its last answer. */
  readonly keepAliveTimeout: number;
  /** Connections open at once; one more is closed as soon as it is accepted. */
  readonly maxConnections: number;
}

/** Flag values as the command line gives them: strings, unset when absent. */
export type ConfigInput = Partial<Record<keyof Config, string | undefined>>;

export const DEFAULTS: Readonly<Record<keyof Config, string | undefined>> = Object.freeze({
  host: '127.0.0.1',
  port: '8080',
  db: 'sqlite:./data/taskcenter.db',
  auth: 'static',
  credentials: './data/credentials.json',
  keystoneUrl: undefined,
  keystoneUser: undefined,
  keystonePassword: undefined,
  keystoneProject: undefined,
  keystoneDomain: 'Default',
  keystoneCacheTtl: '300',
  keystoneRoles: undefined,
  logLevel: 'info',
  throttle: '0',
  listCacheMb: '16',
  sqliteCacheMb: '16',
  emulator: '0',
  faults: undefined,
  init: undefined,
  webhookAllowPrivate: 'false',
  webhookRetryWindow: '86400',
  webhookRetryDelay: '1',
  webhookLease: '60',
  webhookKey: undefined,
  requestTimeout: '10',
  drainSeconds: '5',
  retainDays: undefined,
  trustProxy: 'false',
  authFailureLimit: '100',
  headersTimeout: '10',
  receiveTimeout: '60',
  keepAliveTimeout: '72',
  maxConnections: '1024',
});

/** The environment variable that backs each setting: `keystoneUrl` → `TASKCENTER_KEYSTONE_URL`. */
export function envName(key: keyof Config): string {
  return 'TASKCENTER_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

/** Thrown by {@link loadConfig} with every problem found, one per line. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/**
 * Resolves each setting from, in order, the flag, the environment variable, the default.
 * Throws {@link ConfigError} listing every invalid value at once.
 */
export function loadConfig(flags: ConfigInput, env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const raw = (key: keyof Config): string | undefined => flags[key] ?? env[envName(key)] ?? DEFAULTS[key];
  const source = (key: keyof Config): string =>
    flags[key] !== undefined ? `--${kebab(key)}` : env[envName(key)] !== undefined ? envName(key) : `--${kebab(key)}`;

  const host = raw('host') ?? '';
  if (host === '') problems.push(`${source('host')} must not be empty`);

  const portText = raw('port') ?? '';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    problems.push(`${source('port')} must be an integer between 0 and 65535, got '${portText}'`);
  }

  const db = raw('db') ?? '';
  if (!/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(db)) {
    problems.push(`${source('db')} must be sqlite:<path>, sqlite::memory: or postgres://..., got '${redactUrl(db)}'`);
  }

  const auth = raw('auth') as AuthMode;
  if (!AUTH_MODES.includes(auth)) {
    problems.push(`${source('auth')} must be one of ${AUTH_MODES.join(', ')}, got '${auth}'`);
  }

  const keystoneUrl = raw('keystoneUrl') ?? null;
  if (auth === 'keystone' && keystoneUrl === null) {
    problems.push(`--auth keystone needs --keystone-url (or ${envName('keystoneUrl')})`);
  }
  if (keystoneUrl !== null && !/^https?:\/\/.+/.test(keystoneUrl)) {
    problems.push(`${source('keystoneUrl')} must be an http(s) URL, got '${keystoneUrl}'`);
  }
  const keystoneUser = raw('keystoneUser') || null;
  const keystonePassword = env[envName('keystonePassword')] || null;
  const keystoneProject = raw('keystoneProject') || null;
  const keystoneDomain = raw('keystoneDomain') ?? '';
  const keystoneRoles = raw('keystoneRoles') || null;
  if (auth === 'keystone') {
    if (keystoneUser === null) problems.push(`--auth keystone needs --keystone-user (or ${envName('keystoneUser')}), the service user that validates tokens`);
    if (keystonePassword === null) problems.push(`--auth keystone needs the service user's password in ${envName('keystonePassword')}`);
    if (keystoneProject === null) problems.push(`--auth keystone needs --keystone-project (or ${envName('keystoneProject')}), the service user's project`);
  }
  if (keystoneDomain === '') problems.push(`${source('keystoneDomain')} must not be empty`);
  const ttlText = raw('keystoneCacheTtl') ?? '';
  const keystoneCacheTtl = Number(ttlText);
  if (!/^\d{1,9}$/.test(ttlText)) {
    problems.push(`${source('keystoneCacheTtl')} must be a whole number of seconds (0 disables the cache), got '${ttlText}'`);
  }

  const logLevel = raw('logLevel') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`${source('logLevel')} must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`);
  }

  const throttleText = raw('throttle') ?? '';
  const throttle = throttleText === 'off' ? 0 : Number(throttleText);
  if (throttleText !== 'off' && (!/^\d+(\.\d+)?$/.test(throttleText) || !Number.isFinite(throttle))) {
    problems.push(`${source('throttle')} must be a number of requests per second per principal (0 or off for none), got '${throttleText}'`);
  }

  const cacheText = raw('listCacheMb') ?? '';
  const listCacheMb = Number(cacheText);
  if (!/^\d{1,5}$/.test(cacheText)) {
    problems.push(`${source('listCacheMb')} must be a whole number of megabytes between 0 and 99999 (0 keeps no list pages), got '${cacheText}'`);
  }

  const sqliteCacheText = raw('sqliteCacheMb') ?? '';
  const sqliteCacheMb = Number(sqliteCacheText);
  if (!/^\d{1,5}$/.test(sqliteCacheText) || sqliteCacheMb < 1) {
    problems.push(`${source('sqliteCacheMb')} must be a whole number of megabytes between 1 and 99999, got '${sqliteCacheText}'`);
  }

  const emulatorText = raw('emulator') ?? '';
  const emulator = emulatorText === '1' || emulatorText === 'true';
  if (!['0', '1', 'true', 'false'].includes(emulatorText)) {
    problems.push(`${source('emulator')} must be 1, 0, true or false, got '${emulatorText}'`);
  }
  const faults = raw('faults') || null;
  const init = raw('init') || null;
  if (!emulator) {
    if (faults !== null) problems.push(`${source('faults')} needs the emulator: add --emulator (or ${envName('emulator')}=1)`);
    if (init !== null) problems.push(`${source('init')} needs the emulator: add --emulator (or ${envName('emulator')}=1)`);
  }

  const allowText = raw('webhookAllowPrivate') ?? '';
  const webhookAllowPrivate = allowText === 'true' || allowText === '1';
  if (!['true', '1', 'false', '0'].includes(allowText)) {
    problems.push(`${source('webhookAllowPrivate')} must be true, 1, false or 0, got '${allowText}'`);
  }
  const seconds = (key: 'webhookRetryWindow' | 'webhookRetryDelay' | 'webhookLease', what: string): number => {
    const text = raw(key) ?? '';
    const value = Number(text);
    if (!/^\d{1,9}(\.\d{1,3})?$/.test(text) || value <= 0) problems.push(`${source(key)} must be a number of seconds above 0 (${what}), got '${text}'`);
    return value;
  };
  const webhookRetryWindow = seconds('webhookRetryWindow', 'how long a webhook delivery is retried');
  const webhookRetryDelay = seconds('webhookRetryDelay', 'the wait before the first retry');
  const webhookLease = seconds('webhookLease', 'how long a node holds the deliveries it claimed');
  const webhookKey = env[envName('webhookKey')] || null;
  if (webhookKey !== null && !/^[0-9a-fA-F]{64}$/.test(webhookKey)) {
    problems.push(`${envName('webhookKey')} must be 64 hex digits (32 random bytes: openssl rand -hex 32)`);
  }

  const timeoutText = raw('requestTimeout') ?? '';
  const requestTimeout = Number(timeoutText);
  if (!/^\d{1,4}(\.\d{1,3})?$/.test(timeoutText) || requestTimeout < 0.1 || requestTimeout > 3600) {
    problems.push(`${source('requestTimeout')} must be a number of seconds between 0.1 and 3600, got '${timeoutText}'`);
  }

  const drainText = raw('drainSeconds') ?? '';
  const drainSeconds = Number(drainText);
  if (!/^\d{1,4}(\.\d{1,3})?$/.test(drainText) || drainSeconds > 3600) {
    problems.push(`${source('drainSeconds')} must be a number of seconds between 0 and 3600, got '${drainText}'`);
  }

  const retainText = raw('retainDays');
  const retainDays = retainText === undefined || retainText === 'off' || retainText === '0' ? null : Number(retainText);
  if (retainDays !== null && (!/^\d{1,5}$/.test(retainText ?? '') || retainDays > 36500)) {
    problems.push(`${source('retainDays')} must be a whole number of days between 1 and 36500 (0 or off keeps every job), got '${retainText}'`);
  }

  const trustText = (raw('trustProxy') ?? '').trim();
  const trustProxy = parseTrustProxy(trustText);
  if (typeof trustProxy === 'string') problems.push(`${source('trustProxy')} ${trustProxy}`);

  const failureText = raw('authFailureLimit') ?? '';
  const authFailureLimit = Number(failureText);
  if (!/^\d{1,7}$/.test(failureText)) {
    problems.push(
      `${source('authFailureLimit')} must be a whole number of failed authentications per client address per minute (0 for no limit), got '${failureText}'`,
    );
  }

  const clientSeconds = (key: 'headersTimeout' | 'receiveTimeout' | 'keepAliveTimeout', what: string): number => {
    const text = raw(key) ?? '';
    const value = Number(text);
    if (!/^\d{1,4}(\.\d{1,3})?$/.test(text) || value < 0.1 || value > 3600) {
      problems.push(`${source(key)} must be a number of seconds between 0.1 and 3600 (${what}), got '${text}'`);
    }
    return value;
  };
  const headersTimeout = clientSeconds('headersTimeout', "how long a client may take to send a request's headers");
  const receiveTimeout = clientSeconds('receiveTimeout', 'how long a client may take to send a whole request');
  const keepAliveTimeout = clientSeconds('keepAliveTimeout', 'how long an idle kept-alive connection stays open');
  if (receiveTimeout < headersTimeout) {
    problems.push(
      `${source('receiveTimeout')} (${receiveTimeout} s) must be at least ${source('headersTimeout')} (${headersTimeout} s): the whole request includes its headers`,
    );
  }
  const connectionsText = raw('maxConnections') ?? '';
  const maxConnections = Number(connectionsText);
  if (!/^\d{1,7}$/.test(connectionsText) || maxConnections < 1) {
    problems.push(`${source('maxConnections')} must be a whole number of connections of at least 1, got '${connectionsText}'`);
  }

  const credentials = raw('credentials') ?? '';
  if (credentials === '') problems.push(`${source('credentials')} must not be empty`);

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    host,
    port,
    db,
    auth,
    credentials,
    keystoneUrl,
    keystoneUser,
    keystonePassword,
    keystoneProject,
    keystoneDomain,
    keystoneCacheTtl,
    keystoneRoles,
    logLevel,
    throttle,
    listCacheMb,
    sqliteCacheMb,
    emulator,
    faults,
    init,
    webhookAllowPrivate,
    webhookRetryWindow,
    webhookRetryDelay,
    webhookLease,
    webhookKey,
    requestTimeout,
    drainSeconds,
    retainDays,
    trustProxy: typeof trustProxy === 'string' ? false : trustProxy,
    authFailureLimit,
    headersTimeout,
    receiveTimeout,
    keepAliveTimeout,
    maxConnections,
  });
}

/** The names of address ranges `--trust-proxy` takes beside addresses and CIDRs, as Fastify (proxy-addr) knows them. */
const TRUST_PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * `--trust-proxy`: `false`/`0`/empty, `true`/`1`, or a comma-separated list of addresses,
 * CIDR ranges and range names; a string saying what is wrong otherwise.
 */
function parseTrustProxy(text: string): boolean | readonly string[] | string {
  if (['', 'false', '0'].includes(text)) return false;
  if (['true', '1'].includes(text)) return true;
  const entries = text.split(',').map((entry) => entry.trim());
  const bad = entries.filter((entry) => {
    if (TRUST_PROXY_NAMES.includes(entry)) return false;
    const [address = '', prefix, ...rest] = entry.split('/');
    const family = isIP(address);
    if (family === 0 || rest.length > 0) return true;
    return prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
  });
  if (bad.length === 0) return Object.freeze(entries);
  return `must be true, false, or a comma-separated list of proxy addresses, CIDR ranges (10.0.0.0/8) and ${TRUST_PROXY_NAMES.join(', ')}; '${bad.join("', '")}' is none of those`;
}

/** `keystoneUrl` → `keystone-url`. */
export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/** The database URL with any password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
