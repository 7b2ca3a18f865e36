/**
 * A listening server with the emulator on, over a fresh database on one engine, and a
 * small fetch client for it: the emulator suites talk to it as a user's tests would.
 */
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { loadConfig, type ConfigInput } from '../../src/config.js';
import type { Context } from '../../src/context.js';
import type { Engine } from '../../src/db/database.js';
import { checkListings } from '../../src/jobs/listing-check.js';
import { createTestApp, engines, TOKENS, writeTestCredentials, type TestApp } from '../helpers.js';

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  json(): any;
}

export interface EmulatorServer extends TestApp {
  readonly engine: Engine;
  readonly url: string;
  /** Sends a request as `token` (admin by default); a `body` object is sent as JSON, a string as is. */
  call(method: string, path: string, options?: { token?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<Answer>;
}

/** Starts a server on a free port with `--emulator` and the test credentials (and `more` settings). */
export async function startEmulatorServer(engine: Engine, more: ConfigInput = {}): Promise<EmulatorServer> {
  const server = await createTestApp(engine, (db, dir) =>
    loadConfig({ db, credentials: writeTestCredentials(dir), logLevel: 'silent', emulator: '1', ...more }, {}),
  );
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const address = server.app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  return {
    ...server,
    engine,
    url,
    async call(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const token = options.token === undefined ? TOKENS.admin : options.token;
      if (token !== null) headers['x-auth-token'] = token;
      let body: string | undefined;
      if (options.body !== undefined) {
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      const response = await fetch(url + path, { method, headers, ...(body === undefined ? {} : { body }) });
      const text = await response.text();
      return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
    },
  };
}

/** Declares `suite` once per engine around its own emulator server, closed after. */
export function describeEmulator(name: string, suite: (server: () => EmulatorServer) => void, more: ConfigInput = {}): void {
  for (const engine of engines) {
    describe(`${name} [${engine}]`, () => {
      let server: EmulatorServer | undefined;
      before(async () => {
        server = await startEmulatorServer(engine, more);
      });
      after(async () => {
        await server?.close();
      });
      suite(() => {
        if (server === undefined) throw new Error('emulator server not started');
        return server;
      });
    });
  }
}

/**
 * Asserts `taskcenter check` finds no drift in `ctx`'s store (every counter and stored
 * list item equal to what the rows say) and that it checked `jobs` jobs.
 */
export async function assertListingsExact(ctx: Context, jobs: number): Promise<void> {
  const report = await checkListings(ctx.db, ctx.writer.listings);
  assert.deepEqual(report, { jobs, drifts: 0, first: [] });
}
