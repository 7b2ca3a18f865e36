/**
 * Test harness: builds a real context and app over a real store (a temporary SQLite
 * file, or a fresh PostgreSQL database), with a credentials file holding known
 * principals. Store and HTTP tests loop over {@link engines}.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import type { Logger } from 'pino';
import { buildApp } from '../src/app.js';
import { hashToken } from '../src/auth/credentials.js';
import { loadConfig, type AuthMode, type Config } from '../src/config.js';
import { createContext, createLogger, type Context } from '../src/context.js';
import type { Engine } from '../src/db/database.js';
import { startPgBouncer, type PgBouncer } from './pgbouncer.js';

/** The PostgreSQL server tests use; a fresh database is created on it per context. */
export const PG_ADMIN_URL = process.env.TASKCENTER_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let pgAvailable: Promise<string | null> | undefined;

/** Null when PostgreSQL answers, else why it cannot be used. */
export function postgresProblem(): Promise<string | null> {
  pgAvailable ??= (async () => {
    const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('select 1');
      return null;
    } catch (error) {
      return `${PG_ADMIN_URL} is not reachable (${(error as Error).message || (error as { code?: string }).code})`;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return pgAvailable;
}

/**
 * Set by the test runner's PgBouncer pass (scripts/run-tests.js): PostgreSQL is reached
 * through PgBouncer in transaction pooling mode (test/pgbouncer.ts), with
 * `?pooling=transaction`, and only PostgreSQL suites run.
 */
export const THROUGH_PGBOUNCER = process.env.TASKCENTER_TEST_PGBOUNCER === '1';

/** Every engine store tests run on. Set by the test runner (scripts/run-tests.js). */
export const engines: readonly Engine[] = THROUGH_PGBOUNCER
  ? ['postgres']
  : process.env.TASKCENTER_TEST_ENGINES === 'sqlite'
    ? ['sqlite']
    : ['sqlite', 'postgres'];

let pgbouncer: Promise<PgBouncer> | undefined;

/** A database URL on `engine` that no other test uses (through PgBouncer when {@link THROUGH_PGBOUNCER}), and how to drop it. */
export async function freshDatabase(engine: Engine): Promise<{ url: string; drop(): Promise<void> }> {
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'taskcenter-test-'));
    return { url: `sqlite:${join(dir, 'test.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `taskcenter_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: THROUGH_PGBOUNCER ? (await (pgbouncer ??= startPgBouncer(PG_ADMIN_URL))).through(url.toString()) : url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: PG_ADMIN_URL });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

/** Known principals and their tokens. Project ids `proj-a` and `proj-b`. */
export const PROJECT_A = 'proj-a';
export const PROJECT_B = 'proj-b';
export const TOKENS = {
  /** Everything everywhere. */
  admin: 'admin-token-0123456789',
  /** Everything in project A only. */
  alice: 'alice-token-0123456789',
  /** Read-only actions in project A. */
  reader: 'reader-token-0123456789',
  /** Everything in project B only. */
  bob: 'bob-token-0123456789',
} as const;

export const ACCESS_KEYS = {
  admin: { ak: 'ADMINAKADMINAKADMIN1', sk: 'admin-secret-key-0123456789abcdefghijklmno' },
  alice: { ak: 'ALICEAKALICEAKALICE1', sk: 'alice-secret-key-0123456789abcdefghijklmno' },
} as const;

const READ_ACTIONS = ['sdrs:failureJobs:list', 'sdrs:jobs:get', 'kps::getFailedTask', 'kps::getRunningTask', 'kps::getTask', 'taskcenter:jobs:read'];

/** An access key as the credentials file holds it. */
export interface TestAccessKey {
  readonly ak: string;
  readonly sk: string;
}

/**
 * Writes the test credentials file into `dir` (mode 0600) and returns its path. `more`
 * gives `reader` and `bob` access keys of their own and appends further principals.
 */
export function writeTestCredentials(dir: string, more: { readerKey?: TestAccessKey; bobKey?: TestAccessKey; principals?: readonly object[] } = {}): string {
  const path = join(dir, 'credentials.json');
  const keys = (key: TestAccessKey | undefined) => (key === undefined ? {} : { access_keys: [key] });
  const file = {
    principals: [
      { name: 'admin', projects: ['*'], actions: ['*'], tokens: [hashToken(TOKENS.admin)], access_keys: [ACCESS_KEYS.admin] },
      { name: 'alice', projects: [PROJECT_A], actions: ['*'], tokens: [hashToken(TOKENS.alice)], access_keys: [ACCESS_KEYS.alice] },
      { name: 'reader', projects: [PROJECT_A], actions: READ_ACTIONS, tokens: [hashToken(TOKENS.reader)], ...keys(more.readerKey) },
      { name: 'bob', projects: [PROJECT_B], actions: ['*'], tokens: [hashToken(TOKENS.bob)], ...keys(more.bobKey) },
      ...(more.principals ?? []),
    ],
  };
  writeFileSync(path, JSON.stringify(file), { mode: 0o600 });
  return path;
}

/** A context and its app, built for a test. */
export interface TestApp {
  readonly config: Config;
  readonly ctx: Context;
  readonly app: FastifyInstance;
  /** Closes the app, then the context, then undoes what the test set up around them. */
  close(): Promise<void>;
}

/** What {@link buildTestApp} may be given beyond the config. */
export interface TestAppOptions {
  readonly logger?: Logger;
  readonly cleanup?: () => Promise<void> | void;
  /** Runs on the built app before it is ready, while hooks can still be added. */
  readonly beforeReady?: (app: FastifyInstance) => void;
}

/**
 * Builds the context (with `logger`, else the config's own) and a ready app for `config`;
 * `close()` closes both, then runs `cleanup` (dropping a database, removing a folder).
 */
export async function buildTestApp(config: Config, options: TestAppOptions = {}): Promise<TestApp> {
  const ctx = await createContext(config, { logger: options.logger ?? createLogger(config) });
  const app = await buildApp(ctx);
  options.beforeReady?.(app);
  await app.ready();
  return {
    config,
    ctx,
    app,
    async close() {
      await app.close();
      await ctx.close();
      await options.cleanup?.();
    },
  };
}

/**
 * A {@link TestApp} over a fresh database on `engine`, configured by `configure` from the
 * database URL and a new temporary folder (for a credentials file). `close()`, or a
 * failure on the way, drops the database and removes the folder.
 */
export async function createTestApp(
  engine: Engine,
  configure: (databaseUrl: string, dir: string) => Config,
  options: Pick<TestAppOptions, 'beforeReady'> = {},
): Promise<TestApp> {
  const database = await freshDatabase(engine);
  const dir = mkdtempSync(join(tmpdir(), 'taskcenter-creds-'));
  const cleanup = async () => {
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    return await buildTestApp(configure(database.url, dir), { ...options, cleanup });
  } catch (error) {
    await cleanup();
    throw error;
  }
}

export interface TestServer extends TestApp {
  readonly engine: Engine;
}

/** A context and app over a fresh database on `engine`, with the test credentials; `close()` drops everything. */
export async function createTestServer(engine: Engine, options: { auth?: AuthMode } & Pick<TestAppOptions, 'beforeReady'> = {}): Promise<TestServer> {
  const server = await createTestApp(
    engine,
    // No --auth-failure-limit: suites (the fuzz suite most) fail more often from 127.0.0.1 in
    // a minute than the default allows; test/auth/before-body.test.ts tests the limit.
    (db, dir) =>
      loadConfig({ db, auth: options.auth ?? 'static', credentials: writeTestCredentials(dir), logLevel: 'silent', port: '0', authFailureLimit: '0' }, {}),
    options,
  );
  return { engine, ...server };
}

/**
 * Declares `suite` once per engine, each with its own fresh server, closed after. On
 * PostgreSQL the suite is skipped, saying why, when the server cannot be reached.
 */
export function describeEachEngine(name: string, suite: (server: () => TestServer) => void): void {
  for (const engine of engines) {
    describe(`${name} [${engine}]`, () => {
      let server: TestServer | undefined;
      before(async () => {
        server = await createTestServer(engine);
      });
      after(async () => {
        await server?.close();
      });
      suite(() => {
        if (server === undefined) throw new Error('test server not started');
        return server;
      });
    });
  }
}

/** A valid SDRS job document; `overrides` replace top-level fields. */
export function sdrsJob(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    job_id: `job-${randomBytes(6).toString('hex')}`,
    service: 'sdrs',
    job_type: 'createProtectedInstance',
    operation: 'create',
    status: 'FAIL',
    begin_time: '2019-01-21T12:56:35.754Z',
    end_time: '2019-01-21T12:57:01.002Z',
    error_code: 'EVS.2024',
    fail_reason: 'volume is error!',
    resource: { id: 'pi-1', name: 'Protected-Instance-ab14', type: 'protected_instances' },
    server_group_id: 'group-1',
    entities: { protected_instance_id: 'pi-1' },
    ...overrides,
  };
}

/** `prefix-` and ten random hex digits: a project or job id no other test uses. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/** Time `n` seconds after a fixed instant, so fixtures have a known order. */
export function timeAt(n: number): string {
  return new Date(Date.UTC(2024, 0, 1) + n * 1000).toISOString();
}

/** A failed SDRS job on a resource of `type` inside protection group `group`, begun at {@link timeAt}(n). */
export function sdrsInGroupFailure(id: string, group: string, type: string, n: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return sdrsJob({
    job_id: id,
    begin_time: timeAt(n),
    end_time: timeAt(n + 1),
    resource: { id: `res-${id}`, name: `name-${id}`, type },
    server_group_id: group,
    ...extra,
  });
}

/** A valid KPS job document; `overrides` replace top-level fields. */
export function kpsJob(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    job_id: `task-${randomBytes(6).toString('hex')}`,
    service: 'kps',
    job_type: 'resetKeypair',
    operation: 'reset',
    status: 'FAIL',
    begin_time: '2018-04-10T06:35:30.000Z',
    end_time: '2018-04-10T06:36:30.000Z',
    error_code: null,
    fail_reason: 'Update public key error',
    server: { id: 'c9aa197b-a6b6-4c33-b3a6-fa0b4ec50006', name: 'Test' },
    keypair_name: 'KeyPair-xt',
    ...overrides,
  };
}

/** PUTs a job through the producer API as admin and returns the response. */
export async function putJob(
  app: FastifyInstance,
  projectId: string,
  job: Record<string, unknown>,
  token: string = TOKENS.admin,
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'PUT',
    url: `/taskcenter/v1/projects/${projectId}/jobs/${String(job.job_id)}`,
    headers: { 'x-auth-token': token },
    payload: job,
  });
}

/** PUTs a job that does not exist yet (as admin unless `token` is given) and checks it was created. */
export async function putNewJob(app: FastifyInstance, projectId: string, job: Record<string, unknown>, token: string = TOKENS.admin): Promise<void> {
  const response = await putJob(app, projectId, job, token);
  assert.equal(response.statusCode, 201, response.body);
}

/** Reports jobs into `projectId` through the batch producer API as admin and checks each was created. */
export async function reportJobs(app: FastifyInstance, projectId: string, jobs: Record<string, unknown>[]): Promise<void> {
  const response = await app.inject({
    method: 'POST',
    url: '/taskcenter/v1/jobs/batch',
    headers: { 'x-auth-token': TOKENS.admin },
    payload: { jobs: jobs.map((job) => ({ project_id: projectId, ...job })) },
  });
  assert.equal(response.statusCode, 200, response.body);
  const results = response.json().results as { result: string; error?: unknown }[];
  assert.deepEqual(
    results.map((r) => r.result),
    jobs.map(() => 'created'),
    JSON.stringify(results),
  );
}

/** Asserts a 32-hex X-Request-Id header and returns it. */
export function requestIdOf(headers: Record<string, unknown>): string {
  const id = headers['x-request-id'];
  if (typeof id !== 'string' || !/^[0-9a-f]{32}$/.test(id)) throw new Error(`bad X-Request-Id: ${String(id)}`);
  return id;
}

/** Asserts a KPS-dialect error: this status, a request id, and exactly `{"error_code", "error_msg"}` with this code and a matching message. */
export function assertKpsError(
  response: { statusCode: number; body: string; headers: Record<string, unknown> },
  status: number,
  code: string,
  message: RegExp,
): void {
  assert.equal(response.statusCode, status, response.body);
  requestIdOf(response.headers);
  const body = JSON.parse(response.body) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ['error_code', 'error_msg']);
  assert.equal(body.error_code, code);
  assert.match(String(body.error_msg), message);
}

/** A parameter of a documented operation, as `/openapi.json` states it. */
export interface DocumentedParameter {
  readonly in: 'path' | 'query' | 'header';
  readonly name: string;
  readonly schema: Readonly<Record<string, unknown>>;
}

/** One operation `/openapi.json` documents. */
export interface DocumentedRoute {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** The path template, `{name}` for each path parameter. */
  readonly path: string;
  /** The path with `{project_id}` filled in and every other path parameter `some-id`. */
  readonly url: string;
  readonly operationId: string;
  readonly takesBody: boolean;
  /** True when the operation needs no credentials (`security: []`). */
  readonly anonymous: boolean;
  readonly parameters: readonly DocumentedParameter[];
}

/** Every operation `app`'s `/openapi.json` documents, `{project_id}` filled in with `projectId`. */
export async function documentedRoutes(app: FastifyInstance, projectId: string): Promise<DocumentedRoute[]> {
  type Operation = { operationId: string; requestBody?: unknown; security?: unknown[]; parameters?: DocumentedParameter[] };
  const doc = (await app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, Record<string, Operation>> };
  const routes: DocumentedRoute[] = [];
  for (const [path, operations] of Object.entries(doc.paths)) {
    const url = path.replace('{project_id}', projectId).replace(/\{[a-z_]+\}/g, 'some-id');
    for (const [method, operation] of Object.entries(operations)) {
      routes.push({
        method: method.toUpperCase() as DocumentedRoute['method'],
        path,
        url,
        operationId: operation.operationId,
        takesBody: operation.requestBody !== undefined,
        anonymous: operation.security !== undefined && operation.security.length === 0,
        parameters: operation.parameters ?? [],
      });
    }
  }
  return routes;
}
