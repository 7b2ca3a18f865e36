/**
 * Every wait on the store is bounded (issue 11 item 4): a PostgreSQL that stops answering
 * (stalled through a TCP proxy started here, as a partition would) or a transaction held
 * in the way, and a SQLite file another process keeps locked. Past `--request-timeout`
 * each route answers 503 in its own format and its work is rolled back; `/readyz` answers
 * within 2 s; `/healthz` answers all along. Durations are printed as diagnostics, never
 * asserted.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import SQLite from 'better-sqlite3';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { StoreTimeoutError } from '../../src/db/cancellation.js';
import { DEFAULT_STORE_LIMITS, isStoreUnavailable } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import { migrate } from '../../src/db/migrate.js';
import {
  buildTestApp,
  engines,
  freshDatabase,
  PG_ADMIN_URL,
  PROJECT_A,
  putJob,
  requestIdOf,
  sdrsJob,
  TOKENS,
  writeTestCredentials,
  type TestApp,
} from '../helpers.js';
import { StallProxy } from '../stall-proxy.js';

const headers = { 'x-auth-token': TOKENS.admin };

/** An app over `url` whose requests may take `requestTimeout` seconds. */
async function appOn(url: string, requestTimeout: string): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'taskcenter-deadline-'));
  const config = loadConfig({ db: url, auth: 'static', credentials: writeTestCredentials(dir), logLevel: 'silent', requestTimeout }, {});
  return buildTestApp(config, { cleanup: () => rmSync(dir, { recursive: true, force: true }) });
}

/** The error code and message of a 503, checked to be in the format of the route's API. */
function unavailable(request: InjectOptions, response: LightMyRequestResponse): { code: string; message: string } {
  const where = `${request.method ?? 'GET'} ${request.url as string}`;
  assert.equal(response.statusCode, 503, `${where}: ${response.body}`);
  requestIdOf(response.headers);
  const body = response.json() as Record<string, unknown>;
  const url = request.url as string;
  if (url.startsWith('/v3/')) {
    assert.deepEqual(Object.keys(body).sort(), ['error_code', 'error_msg'], where);
    assert.equal(body.error_code, 'KPS.9006', where);
    return { code: body.error_code as string, message: body.error_msg as string };
  }
  const error = body.error as { code: string; message: string };
  assert.deepEqual(Object.keys(body), ['error'], where);
  assert.equal(error.code, url.startsWith('/v1/') ? 'SDRS.0905' : 'TASKCENTER.0010', where);
  return error;
}

/** One request of each kind: producer write, batch, read and list; SDRS list and clear; KPS list and clear. */
function routes(jobId: string): InjectOptions[] {
  return [
    { method: 'PUT', url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/${jobId}`, headers, payload: sdrsJob({ job_id: jobId }) },
    { method: 'POST', url: '/taskcenter/v1/jobs/batch', headers, payload: { jobs: [{ project_id: PROJECT_A, ...sdrsJob({ job_id: `${jobId}-batch` }) }] } },
    { method: 'GET', url: `/taskcenter/v1/projects/${PROJECT_A}/jobs`, headers },
    { method: 'GET', url: `/v1/${PROJECT_A}/task-center/failure-jobs`, headers },
    { method: 'DELETE', url: `/v1/${PROJECT_A}/task-center/failure-jobs/batch`, headers },
    { method: 'GET', url: `/v3/${PROJECT_A}/failed-tasks`, headers },
    { method: 'DELETE', url: `/v3/${PROJECT_A}/failed-tasks`, headers },
  ];
}

/** Runs `work`, returning its result and how long it took in ms. */
async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await work();
  return [result, Math.round(performance.now() - start)];
}

/** What `work` rejects with, or undefined when it succeeds. */
function failureOf(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => undefined,
    (e: unknown) => e,
  );
}

/** A stall proxy in front of the test PostgreSQL server. */
function proxyToPostgres(): Promise<StallProxy> {
  const admin = new URL(PG_ADMIN_URL);
  return StallProxy.start({ host: admin.hostname, port: Number(admin.port || 5432) });
}

/** The ids of project A's jobs, read straight from the store. */
async function storedIds(app: TestApp): Promise<string[]> {
  const rows = await app.ctx.db.kysely.selectFrom('jobs').select('job_id').where('project_id', '=', PROJECT_A).orderBy('job_id').execute();
  return rows.map((r) => r.job_id);
}

/** Time to report the durations the test measured. */
function report(t: TestContext, what: string, ms: number): void {
  t.diagnostic(`${what}: ${ms} ms`);
}

const onPostgres = { skip: !engines.includes('postgres') && 'PostgreSQL suites skipped' };

describe('request deadline: a stalled PostgreSQL [postgres]', onPostgres, () => {
  it('answers every route 503 in its format at the deadline, /readyz within 2 s, /healthz all along, and recovers when the network does', async (t) => {
    const database = await freshDatabase('postgres');
    const proxy = await proxyToPostgres();
    const server = await appOn(proxy.route(database.url), '1');
    try {
      assert.equal((await putJob(server.app, PROJECT_A, sdrsJob({ job_id: 'before' }))).statusCode, 201);
      proxy.stall();
      for (const request of routes('during')) {
        const [response, ms] = await timed(() => server.app.inject(request));
        const { message } = unavailable(request, response);
        assert.equal(message, 'the request did not complete within 1 s and was cancelled; retry it');
        report(t, `${request.method} ${request.url as string} with the store stalled (deadline 1 s)`, ms);
      }
      const [ready, readyMs] = await timed(() => server.app.inject({ url: '/readyz' }));
      assert.equal(ready.statusCode, 503);
      assert.deepEqual(ready.json(), { status: 'store unavailable' });
      report(t, '/readyz with the store stalled', readyMs);
      const [health, healthMs] = await timed(() => server.app.inject({ url: '/healthz' }));
      assert.equal(health.statusCode, 200);
      report(t, '/healthz with the store stalled', healthMs);

      proxy.resume();
      assert.equal((await server.app.inject({ url: '/readyz' })).statusCode, 200);
      // Nothing written while stalled: the transactions were abandoned with their connections.
      assert.deepEqual(await storedIds(server), ['before']);
      assert.equal((await putJob(server.app, PROJECT_A, sdrsJob({ job_id: 'after' }))).statusCode, 201);
      assert.deepEqual(await storedIds(server), ['after', 'before']);
    } finally {
      await server.close();
      await proxy.close();
      await database.drop();
    }
  });

  it('answers large batches waiting for a place to be parsed 503 at their deadline, and frees the places', async (t) => {
    const database = await freshDatabase('postgres');
    const proxy = await proxyToPostgres();
    const server = await appOn(proxy.route(database.url), '1');
    const batch = (prefix: string): InjectOptions => ({
      method: 'POST',
      url: '/taskcenter/v1/jobs/batch',
      headers,
      // Over 64 KB: parsed only in one of the few places for large bodies (src/gateway/body-gate.ts).
      payload: { jobs: Array.from({ length: 200 }, (_, i) => ({ project_id: PROJECT_A, ...sdrsJob({ job_id: `${prefix}-${i}` }) })) },
    });
    try {
      assert.equal((await putJob(server.app, PROJECT_A, sdrsJob({ job_id: 'before' }))).statusCode, 201);
      proxy.stall();
      // Two take the places and wait for the stalled store; the others wait for a place.
      const requests = ['a', 'b', 'c', 'd'].map(batch);
      const answers = await Promise.all(requests.map((request) => timed(() => server.app.inject(request))));
      answers.forEach(([response, ms], i) => {
        assert.equal(unavailable(requests[i] as InjectOptions, response).message, 'the request did not complete within 1 s and was cancelled; retry it');
        report(t, `large batch ${i + 1} of 4, store stalled (deadline 1 s)`, ms);
      });
      proxy.resume();
      // Every place was given back: more large batches than there are places go through.
      const after = ['e', 'f', 'g'].map(batch);
      for (const response of await Promise.all(after.map((request) => server.app.inject(request)))) assert.equal(response.statusCode, 200, response.body);
      const stored = await storedIds(server);
      assert.equal(stored.length, 1 + 3 * 200);
      assert.ok(
        stored.every((id) => id === 'before' || /^[efg]-/.test(id)),
        'nothing of the batches answered 503 was stored',
      );
    } finally {
      await server.close();
      await proxy.close();
      await database.drop();
    }
  });

  it('rolls back a write whose transaction is stuck behind a lock when the deadline passes', async (t) => {
    const database = await freshDatabase('postgres');
    const server = await appOn(database.url, '1');
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    try {
      assert.equal((await putJob(server.app, PROJECT_A, sdrsJob({ job_id: 'before' }))).statusCode, 201);
      // Another session holds the project's list version: the write's transaction runs its
      // first statements, then waits inside PostgreSQL.
      await holder.query('begin');
      await holder.query('lock table list_versions in exclusive mode');
      const request: InjectOptions = { method: 'PUT', url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/stuck`, headers, payload: sdrsJob({ job_id: 'stuck' }) };
      const [response, ms] = await timed(() => server.app.inject(request));
      assert.equal(unavailable(request, response).message, 'the request did not complete within 1 s and was cancelled; retry it');
      report(t, 'PUT waiting on a lock (deadline 1 s)', ms);
      await holder.query('commit');
      // The server rolled the abandoned transaction back: the job is not there, now or later.
      assert.deepEqual(await storedIds(server), ['before']);
      const read = await server.app.inject({ url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/stuck`, headers });
      assert.equal(read.statusCode, 404, read.body);
      assert.equal((await putJob(server.app, PROJECT_A, sdrsJob({ job_id: 'stuck' }))).statusCode, 201);
    } finally {
      await holder.end();
      await server.close();
      await database.drop();
    }
  });

  it('bounds a statement outside any request on the client, and in transactions on the server too', async (t) => {
    const database = await freshDatabase('postgres');
    const proxy = await proxyToPostgres();
    const db = openDatabase(proxy.route(database.url), { ...DEFAULT_STORE_LIMITS, statementTimeoutMs: 500, connectTimeoutMs: 500, busyTimeoutMs: 500 });
    try {
      await migrate(db);
      // The server's half: each transaction carries the limits, set with SET LOCAL (no
      // start-up parameter, which PgBouncer in transaction mode would refuse).
      const shown = await db.kysely.transaction().execute(async (tx) => {
        const { rows } = await sql<{
          s: string;
          i: string;
        }>`select current_setting('statement_timeout') as s, current_setting('idle_in_transaction_session_timeout') as i`.execute(tx);
        return rows[0];
      });
      assert.deepEqual(shown, { s: '500ms', i: '500ms' });
      const { rows } = await sql<{ s: string }>`select current_setting('statement_timeout') as s`.execute(db.kysely);
      assert.equal(rows[0]?.s, '0', 'outside a transaction the session keeps its own setting');

      // The client's half: a query sent into a stalled network is abandoned.
      proxy.stall();
      const [error, ms] = await timed(() => failureOf(sql`select 1`.execute(db.kysely)));
      assert.ok(error instanceof StoreTimeoutError, String(error));
      assert.equal(error.message, 'the database did not answer within 500 ms');
      assert.ok(isStoreUnavailable(error));
      report(t, 'a query into the stalled network (statement timeout 500 ms)', ms);
      proxy.resume();
      // The abandoned connection was closed; the pool opens another.
      assert.deepEqual((await sql<{ one: number }>`select 1 as one`.execute(db.kysely)).rows, [{ one: 1 }]);
    } finally {
      await db.close();
      await proxy.close();
      await database.drop();
    }
  });

  it('bounds opening a connection to a database that does not answer', async (t) => {
    const database = await freshDatabase('postgres');
    const proxy = await proxyToPostgres();
    const db = openDatabase(proxy.route(database.url), { ...DEFAULT_STORE_LIMITS, connectTimeoutMs: 500, busyTimeoutMs: 500 });
    try {
      proxy.stall();
      const [error, ms] = await timed(() => failureOf(sql`select 1`.execute(db.kysely)));
      assert.ok(isStoreUnavailable(error), String(error));
      report(t, 'opening a connection into the stalled network (connect timeout 500 ms)', ms);
      proxy.resume();
      assert.deepEqual((await sql<{ one: number }>`select 1 as one`.execute(db.kysely)).rows, [{ one: 1 }]);
    } finally {
      await db.close();
      await proxy.close();
      await database.drop();
    }
  });
});

describe('request deadline: a locked SQLite file [sqlite]', () => {
  it('waits for the write lock without blocking the process, answers 503 at the deadline, and writes nothing', async (t) => {
    const database = await freshDatabase('sqlite');
    const server = await appOn(database.url, '1');
    const other = new SQLite(database.url.slice('sqlite:'.length));
    try {
      assert.equal((await putJob(server.app, PROJECT_A, sdrsJob({ job_id: 'before' }))).statusCode, 201);
      other.exec('begin immediate');
      const request: InjectOptions = {
        method: 'PUT',
        url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/during`,
        headers,
        payload: sdrsJob({ job_id: 'during' }),
      };
      const order: string[] = [];
      const write = timed(() => server.app.inject(request)).then((result) => (order.push('write'), result));
      // While the write waits for the lock, the process answers.
      const health = server.app.inject({ url: '/healthz' }).then((response) => (order.push('healthz'), response));
      const [ready, readyMs] = await timed(() => server.app.inject({ url: '/readyz' }));
      const [response, ms] = await write;
      assert.equal((await health).statusCode, 200);
      assert.deepEqual(order, ['healthz', 'write']);
      assert.equal(unavailable(request, response).message, 'the request did not complete within 1 s and was cancelled; retry it');
      assert.ok(ready.statusCode === 200 || ready.statusCode === 503, ready.body);
      report(t, 'PUT waiting for the write lock (deadline 1 s)', ms);
      report(t, `/readyz while a write waits for the lock (${ready.statusCode})`, readyMs);

      other.exec('rollback');
      assert.deepEqual(await storedIds(server), ['before']);
      assert.equal((await putJob(server.app, PROJECT_A, sdrsJob({ job_id: 'during' }))).statusCode, 201);
    } finally {
      other.close();
      await server.close();
      await database.drop();
    }
  });

  it('gives up on the lock after the busy timeout with SQLITE_BUSY, and the process runs while it waits', async () => {
    const database = await freshDatabase('sqlite');
    const db = openDatabase(database.url, { ...DEFAULT_STORE_LIMITS, connectTimeoutMs: 500, busyTimeoutMs: 300 });
    const other = new SQLite(database.url.slice('sqlite:'.length));
    try {
      await migrate(db);
      other.exec('begin immediate');
      const order: string[] = [];
      const timer = new Promise<void>((resolve) => setTimeout(() => (order.push('timer'), resolve()), 10));
      const error = await failureOf(
        db.kysely.transaction().execute(async (tx) => sql`insert into list_versions (project_id, version) values ('p', 1)`.execute(tx)),
      );
      order.push('gave up');
      await timer;
      assert.equal((error as { code?: string }).code, 'SQLITE_BUSY', String(error));
      assert.ok(isStoreUnavailable(error));
      assert.deepEqual(order, ['timer', 'gave up']);
      other.exec('rollback');
      await db.kysely.transaction().execute(async (tx) => sql`insert into list_versions (project_id, version) values ('p', 1)`.execute(tx));
    } finally {
      other.close();
      await db.close();
      await database.drop();
    }
  });
});
