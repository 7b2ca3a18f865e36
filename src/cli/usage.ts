/** Command-line plumbing shared by every command: flag parsing and the usage error. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, kebab, type Config, type ConfigInput } from '../config.js';

/** Bad usage: exits 2 with the message and a pointer to `--help`. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A command of the `taskcenter` binary. */
export interface Command {
  readonly name: string;
  readonly usage: string;
  /** Runs the command; resolves to the exit code. Throws UsageError for bad usage. */
  run(args: string[], io: Io): Promise<number>;
}

/** Where commands write: stdout for results, stderr for diagnostics. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

export const STD_IO: Io = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

type Options = NonNullable<ParseArgsConfig['options']>;

/** The flags that map onto {@link Config} keys. */
export const SERVER_FLAGS: Options = {
  host: { type: 'string' },
  port: { type: 'string' },
  db: { type: 'string' },
  auth: { type: 'string' },
  credentials: { type: 'string' },
  'keystone-url': { type: 'string' },
  'keystone-user': { type: 'string' },
  'keystone-project': { type: 'string' },
  'keystone-domain': { type: 'string' },
  'keystone-cache-ttl': { type: 'string' },
  'keystone-roles': { type: 'string' },
  'log-level': { type: 'string' },
  throttle: { type: 'string' },
  'list-cache-mb': { type: 'string' },
  'sqlite-cache-mb': { type: 'string' },
  emulator: { type: 'boolean' },
  faults: { type: 'string' },
  init: { type: 'string' },
  'webhook-allow-private': { type: 'boolean' },
  'webhook-retry-window': { type: 'string' },
  'webhook-retry-delay': { type: 'string' },
  'webhook-lease': { type: 'string' },
  'request-timeout': { type: 'string' },
  'drain-seconds': { type: 'string' },
  'retain-days': { type: 'string' },
  'trust-proxy': { type: 'string' },
  'auth-failure-limit': { type: 'string' },
  'headers-timeout': { type: 'string' },
  'receive-timeout': { type: 'string' },
  'keep-alive-timeout': { type: 'string' },
  'max-connections': { type: 'string' },
};

/**
 * Parses `args` against `options` (plus `--help`). Throws UsageError for unknown flags,
 * missing values or stray positionals.
 */
export function parseFlags(args: string[], options: Options, allowPositionals = false) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
}

/** Picks the Config keys out of parsed flag values (`keystone-url` → `keystoneUrl`). */
export function configInput(values: Record<string, unknown>): ConfigInput {
  const input: Record<string, string | undefined> = {};
  for (const key of [
    'host',
    'port',
    'db',
    'auth',
    'credentials',
    'keystoneUrl',
    'keystoneUser',
    'keystoneProject',
    'keystoneDomain',
    'keystoneCacheTtl',
    'keystoneRoles',
    'logLevel',
    'throttle',
    'listCacheMb',
    'sqliteCacheMb',
    'emulator',
    'faults',
    'init',
    'webhookAllowPrivate',
    'webhookRetryWindow',
    'webhookRetryDelay',
    'webhookLease',
    'requestTimeout',
    'drainSeconds',
    'retainDays',
    'trustProxy',
    'authFailureLimit',
    'headersTimeout',
    'receiveTimeout',
    'keepAliveTimeout',
    'maxConnections',
  ] satisfies (keyof Config)[]) {
    const value = values[kebab(key)];
    if (typeof value === 'string') input[key] = value;
    // A boolean flag is only ever given to turn its setting on.
    else if (value === true) input[key] = '1';
  }
  return input;
}

/** Turns a ConfigError into a UsageError: bad flags or variables are bad usage. */
export function asUsage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.problems.join('\n'));
    throw error;
  }
}
