/**
 * `taskcenter/testing`: a Task Center for a user's own test suite. One call starts a
 * server with the emulator on, on a free port of 127.0.0.1, over an in-memory SQLite
 * database unless told otherwise, with a fresh principal allowed everything; the result
 * says where it is, how to call it, and how to reset, fault and stop it.
 *
 * ```js
 * import { startTaskCenter } from 'taskcenter/testing';
 * const tc = await startTaskCenter({ emulator: true });
 * // ... point an SDK at tc.url with tc.ak / tc.sk, or send X-Auth-Token: tc.token
 * await tc.close();
 * ```
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../app.js';
import { addPrincipal } from '../auth/credentials.js';
import { loadConfig, type LogLevel } from '../config.js';
import { createContext, type Context } from '../context.js';
import type { FaultRule, FaultRuleInput } from './emulator.schema.js';

export interface StartOptions {
  /** `sqlite:<path>`, `sqlite::memory:` (the default) or `postgres://...`; migrated at start. */
  readonly db?: string;
  /** A folder of `*.json` / `*.ndjson` job fixtures imported before the server answers. */
  readonly init?: string;
  /** The emulator's controls (reset, faults, ...); `reset()` and `addFault()` need them. Default true. */
  readonly emulator?: boolean;
  /** Fault rules in effect from the start, as `addFault` takes them. */
  readonly faults?: readonly FaultRuleInput[];
  /** The server's JSON log level (default `silent`). */
  readonly logLevel?: LogLevel;
}

/** A running Task Center and the credentials of a principal allowed everything. */
export interface TaskCenter {
  /** `http://127.0.0.1:<port>`: the SDRS, KPS and producer APIs are all under it. */
  readonly url: string;
  /** For the `X-Auth-Token` header. */
  readonly token: string;
  /** An access key and its secret for AK/SK signatures (what the official SDKs send). */
  readonly ak: string;
  readonly sk: string;
  /** A project id to use (32 hex digits, like Huawei Cloud's); the principal may use any. */
  readonly projectId: string;
  /** Deletes every job (or one project's); resolves to how many were deleted. */
  reset(projectId?: string): Promise<number>;
  /** Adds a fault rule; resolves to it with its `id`. */
  addFault(rule: FaultRuleInput): Promise<FaultRule>;
  /** Stops the server, closes the store and removes the credentials it made. */
  close(): Promise<void>;
}

/**
 * Starts a server as described in {@link StartOptions}. Nothing is read from the
 * environment: the options are the whole configuration.
 */
export async function startTaskCenter(options: StartOptions = {}): Promise<TaskCenter> {
  const dir = mkdtempSync(join(tmpdir(), 'taskcenter-testing-'));
  const credentials = join(dir, 'credentials.json');
  const secrets = addPrincipal(credentials, { name: 'test', projects: ['*'], actions: ['*'], token: true, aksk: true });
  const emulator = options.emulator !== false;
  const config = loadConfig(
    {
      host: '127.0.0.1',
      port: '0',
      db: options.db ?? 'sqlite::memory:',
      auth: 'static',
      credentials,
      logLevel: options.logLevel ?? 'silent',
      emulator: emulator ? '1' : '0',
      init: options.init,
    },
    {},
  );
  let ctx: Context;
  try {
    ctx = await createContext(config);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const app = await buildApp(ctx);
  const close = async () => {
    await app.close();
    await ctx.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await app.listen({ host: config.host, port: 0 });
  } catch (error) {
    await close();
    throw error;
  }
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  const token = secrets.token as string;

  async function call(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(url + path, {
      method,
      headers: { 'x-auth-token': token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
    return text === '' ? undefined : JSON.parse(text);
  }
  const needsEmulator = (what: string) => {
    if (!emulator) throw new Error(`${what} needs the emulator: start with { emulator: true }`);
  };

  const tc: TaskCenter = {
    url,
    token,
    ak: secrets.ak as string,
    sk: secrets.sk as string,
    projectId: randomBytes(16).toString('hex'),
    async reset(projectId) {
      needsEmulator('reset()');
      const answer = (await call('POST', '/taskcenter/v1/emulator/reset', projectId === undefined ? {} : { project_id: projectId })) as {
        deleted_jobs: number;
      };
      return answer.deleted_jobs;
    },
    async addFault(rule) {
      needsEmulator('addFault()');
      return (await call('POST', '/taskcenter/v1/emulator/faults', rule)) as FaultRule;
    },
    close,
  };
  try {
    for (const rule of options.faults ?? []) await tc.addFault(rule);
  } catch (error) {
    await close();
    throw error;
  }
  return tc;
}
