/**
 * What the API gateway answers for every route: body shapes of 401/403/404/413/400,
 * a request id on every response, nothing internal in any body, 503 in the route's
 * format while the store is unreachable (and recovery after), and logs that carry the
 * request id but never a credential.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import { BODY_LIMIT } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/context.js';
import type { Database, Engine } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { migrations } from '../../src/db/migrations/index.js';
import {
  ACCESS_KEYS,
  buildTestApp,
  createTestServer,
  describeEachEngine,
  engines,
  freshDatabase,
  kpsJob,
  PG_ADMIN_URL,
  PROJECT_A,
  PROJECT_B,
  putJob,
  requestIdOf,
  sdrsJob,
  TOKENS,
  writeTestCredentials,
  type TestApp,
} from '../helpers.js';

/** Asserts the API gateway's body: exactly error_msg, error_code, request_id (= X-Request-Id). */
function gatewayError(response: LightMyRequestResponse, status: number, code: string): string {
  assert.equal(response.statusCode, status, response.body);
  const id = requestIdOf(response.headers);
  const body = response.json() as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ['error_code', 'error_msg', 'request_id']);
  assert.equal(body.error_code, code);
  assert.equal(body.request_id, id);
  return body.error_msg as string;
}

/** Asserts `{"error": {"code", "message"}}` (SDRS, producer API) with this status and code. */
function nestedError(response: LightMyRequestResponse, status: number, code: string): string {
  assert.equal(response.statusCode, status, response.body);
  requestIdOf(response.headers);
  const body = response.json() as { error: { code: string; message: string } };
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message']);
  assert.equal(body.error.code, code);
  return body.error.message;
}

/** Asserts KPS's flat `{"error_code", "error_msg"}` with this status and code. */
function flatError(response: LightMyRequestResponse, status: number, code: string): string {
  assert.equal(response.statusCode, status, response.body);
  requestIdOf(response.headers);
  const body = response.json() as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ['error_code', 'error_msg']);
  assert.equal(body.error_code, code);
  return body.error_msg as string;
}

/** Things no response body may ever contain. */
function assertNothingInternal(body: string): void {
  assert.doesNotMatch(body, /\bat .*\.(js|ts):\d+|node:internal|stack/i, 'a stack trace');
  assert.doesNotMatch(
    body,
    /\b(select|insert|update|delete)\b.*\b(from|into|set)\b|sqlite|postgres|ECONNREFUSED|relation|no such table|127\.0\.0\.1/i,
    'SQL or store internals',
  );
}

const PRODUCER_PUT = `/taskcenter/v1/projects/${PROJECT_A}/jobs/job-1`;

/** One request to each kind of authenticated route, as admin unless told otherwise. */
function everyRoute(token?: string) {
  const headers = token === undefined ? {} : { 'x-auth-token': token };
  return [
    { method: 'PUT' as const, url: PRODUCER_PUT, headers, payload: sdrsJob({ job_id: 'job-1' }) },
    { method: 'POST' as const, url: '/taskcenter/v1/jobs/batch', headers, payload: { jobs: [{ project_id: PROJECT_A, ...sdrsJob() }] } },
    { method: 'GET' as const, url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/job-1`, headers },
    { method: 'GET' as const, url: `/taskcenter/v1/projects/${PROJECT_A}/jobs`, headers },
    { method: 'GET' as const, url: `/v1/${PROJECT_A}/task-center/failure-jobs`, headers },
    { method: 'GET' as const, url: `/v1/${PROJECT_A}/jobs/job-1`, headers },
    { method: 'DELETE' as const, url: `/v1/${PROJECT_A}/task-center/failure-jobs/batch`, headers },
    { method: 'GET' as const, url: `/v3/${PROJECT_A}/failed-tasks`, headers },
    { method: 'GET' as const, url: `/v3/${PROJECT_A}/running-tasks`, headers },
    { method: 'DELETE' as const, url: `/v3/${PROJECT_A}/failed-tasks`, headers },
  ];
}

describeEachEngine('gateway: answers before the route', (server) => {
  it('answers a missing or unknown token with 401 APIGW.0301 on every route', async () => {
    for (const request of [...everyRoute(), ...everyRoute('not-a-token')]) {
      const response = await server().app.inject(request);
      const message = gatewayError(response, 401, 'APIGW.0301');
      assert.match(message, /^Incorrect IAM authentication information: /, `${request.method} ${request.url}`);
    }
    const read = { url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/job-1` };
    const none = gatewayError(await server().app.inject(read), 401, 'APIGW.0301');
    assert.equal(none, 'Incorrect IAM authentication information: no X-Auth-Token header and no AK/SK signature');
    const unknown = gatewayError(await server().app.inject({ ...read, headers: { 'x-auth-token': 'nope' } }), 401, 'APIGW.0301');
    assert.equal(unknown, 'Incorrect IAM authentication information: the token is unknown or expired');
  });

  it('authenticates before it looks at the body or the parameters', async () => {
    const cases = [
      { method: 'PUT' as const, url: PRODUCER_PUT, headers: { 'content-type': 'application/json' }, payload: '{not json' },
      { method: 'PUT' as const, url: PRODUCER_PUT, headers: { 'content-type': 'text/plain' }, payload: 'hello' },
      { method: 'PUT' as const, url: PRODUCER_PUT, headers: { 'content-type': 'application/json' }, payload: '{}' },
      { method: 'GET' as const, url: `/taskcenter/v1/projects/${PROJECT_A}/jobs?limit=abc` },
      { method: 'GET' as const, url: '/taskcenter/v1/projects/bad.project/jobs' },
    ];
    for (const request of cases) {
      gatewayError(await server().app.inject(request), 401, 'APIGW.0301');
      gatewayError(await server().app.inject({ ...request, headers: { ...request.headers, 'x-auth-token': 'wrong' } }), 401, 'APIGW.0301');
    }
  });

  it("answers 403 in the route's own dialect", async () => {
    const producer = await server().app.inject({ url: `/taskcenter/v1/projects/${PROJECT_B}/jobs`, headers: { 'x-auth-token': TOKENS.alice } });
    assert.match(nestedError(producer, 403, 'TASKCENTER.0005'), /^principal 'alice' is not allowed to perform taskcenter:jobs:read in project 'proj-b'$/);
    const sdrs = await server().app.inject({ url: `/v1/${PROJECT_B}/task-center/failure-jobs`, headers: { 'x-auth-token': TOKENS.alice } });
    assert.match(nestedError(sdrs, 403, 'SDRS.0005'), /sdrs:failureJobs:list in project 'proj-b'/);
    const kps = await server().app.inject({ url: `/v3/${PROJECT_B}/failed-tasks`, headers: { 'x-auth-token': TOKENS.alice } });
    assert.match(flatError(kps, 403, 'KPS.9003'), /kps::getFailedTask in project 'proj-b'/);
    const reader = await server().app.inject({ method: 'DELETE', url: `/v3/${PROJECT_A}/failed-tasks`, headers: { 'x-auth-token': TOKENS.reader } });
    flatError(reader, 403, 'KPS.9003');
  });

  it('answers 404 APIGW.0101 for an unknown path and for a wrong method on a known path', async () => {
    const cases = [
      { method: 'GET' as const, url: '/nowhere' },
      { method: 'GET' as const, url: '/taskcenter/v2/projects/p/jobs' },
      { method: 'DELETE' as const, url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/job-1` },
      { method: 'POST' as const, url: `/taskcenter/v1/projects/${PROJECT_A}/jobs` },
      { method: 'GET' as const, url: '/taskcenter/v1/jobs/batch' },
      { method: 'PUT' as const, url: `/v3/${PROJECT_A}/failed-tasks` },
      { method: 'POST' as const, url: '/healthz' },
      { method: 'OPTIONS' as const, url: `/v1/${PROJECT_A}/task-center/failure-jobs` },
    ];
    for (const request of cases) {
      for (const headers of [{}, { 'x-auth-token': TOKENS.admin }, { 'x-auth-token': TOKENS.admin, 'content-type': 'application/json' }]) {
        const response = await server().app.inject({ ...request, headers, ...(request.method === 'POST' ? { payload: '{broken' } : {}) });
        const message = gatewayError(response, 404, 'APIGW.0101');
        assert.equal(message, `No API matches ${request.method} ${request.url}: the API does not exist or has not been published`);
      }
    }
  });

  it('answers 413 APIGW.0201 for a body over the limit, before reading it as JSON; 401 without valid credentials', async () => {
    const payload = JSON.stringify({ jobs: [{ padding: 'x'.repeat(BODY_LIMIT) }] });
    const send = (token: string) =>
      server().app.inject({
        method: 'POST',
        url: '/taskcenter/v1/jobs/batch',
        headers: { 'x-auth-token': token, 'content-type': 'application/json' },
        payload,
      });
    const over = await send(TOKENS.admin);
    assert.equal(gatewayError(over, 413, 'APIGW.0201'), `request body exceeds the ${BODY_LIMIT}-byte limit`);
    assert.equal(over.headers.connection, 'close', 'the rest of the body is not read');
    // Refused from the headers, whatever the body (test/auth/before-body.test.ts shows it unread).
    gatewayError(await send('not-a-token'), 401, 'APIGW.0301');
  });

  it('answers malformed JSON with 400 TASKCENTER.0002, writing nothing', async () => {
    for (const payload of ['{not json', '{"job_id": "job-1",', '']) {
      const response = await server().app.inject({
        method: 'PUT',
        url: PRODUCER_PUT,
        headers: { 'x-auth-token': TOKENS.admin, 'content-type': 'application/json' },
        payload: payload === '' ? '\u0000' : payload,
      });
      assert.match(nestedError(response, 400, 'TASKCENTER.0002'), /^request body is not valid JSON: /);
    }
    const batch = await server().app.inject({
      method: 'POST',
      url: '/taskcenter/v1/jobs/batch',
      headers: { 'x-auth-token': TOKENS.admin, 'content-type': 'application/json' },
      payload: '{"jobs": [',
    });
    nestedError(batch, 400, 'TASKCENTER.0002');
    const read = await server().app.inject({ url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/job-1`, headers: { 'x-auth-token': TOKENS.admin } });
    assert.equal(read.statusCode, 404);
  });

  it('answers a body that is not application/json with 400 naming the Content-Type', async () => {
    const job = JSON.stringify(sdrsJob({ job_id: 'job-1' }));
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const response = await server().app.inject({
        method: 'PUT',
        url: PRODUCER_PUT,
        headers: { 'x-auth-token': TOKENS.admin, 'content-type': type },
        payload: job,
      });
      assert.equal(nestedError(response, 400, 'TASKCENTER.0002'), `Content-Type must be application/json, got '${type}'`);
    }
    const untyped = await server().app.inject({ method: 'PUT', url: PRODUCER_PUT, headers: { 'x-auth-token': TOKENS.admin }, payload: Buffer.from(job) });
    assert.equal(nestedError(untyped, 400, 'TASKCENTER.0002'), "Content-Type must be application/json, got ''");
    const charset = await server().app.inject({
      method: 'PUT',
      url: PRODUCER_PUT,
      headers: { 'x-auth-token': TOKENS.admin, 'content-type': 'application/json; charset=utf-8' },
      payload: job,
    });
    assert.equal(charset.statusCode, 201, charset.body);
  });

  it('answers a path that is not valid percent-encoding with 400 APIGW.0201', async () => {
    for (const url of [`/taskcenter/v1/projects/${PROJECT_A}/jobs/%zz`, '/v1/%E0%A4%A/jobs/x']) {
      const response = await server().app.inject({ url, headers: { 'x-auth-token': TOKENS.admin } });
      assert.equal(gatewayError(response, 400, 'APIGW.0201'), 'the request path is not valid percent-encoding');
    }
  });

  it('puts a fresh 32-hex X-Request-Id on every response, ignoring one sent by the caller', async () => {
    const responses = [
      await server().app.inject({ url: '/healthz', headers: { 'x-request-id': 'mine' } }),
      await server().app.inject({ url: '/readyz' }),
      await server().app.inject({ url: '/openapi.json' }),
      await putJob(server().app, PROJECT_A, sdrsJob()),
      await server().app.inject({ url: `/v3/${PROJECT_A}/failed-tasks`, headers: { 'x-auth-token': TOKENS.admin } }),
      await server().app.inject({ method: 'DELETE', url: `/v1/${PROJECT_A}/task-center/failure-jobs/batch`, headers: { 'x-auth-token': TOKENS.admin } }),
      await server().app.inject({ url: '/nowhere' }),
      await server().app.inject({ url: `/taskcenter/v1/projects/${PROJECT_A}/jobs` }),
      await server().app.inject({ url: `/taskcenter/v1/projects/${PROJECT_A}/jobs?limit=0`, headers: { 'x-auth-token': TOKENS.admin } }),
    ];
    assert.deepEqual(
      responses.map((r) => r.statusCode),
      [200, 200, 200, 201, 200, 204, 404, 401, 400],
    );
    const ids = responses.map((r) => requestIdOf(r.headers));
    assert.equal(new Set(ids).size, ids.length);
  });
});

/** A context and app over an existing database URL, with test credentials and an optional logger. */
async function appOn(url: string, logger?: Logger): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'taskcenter-gw-'));
  const config = loadConfig({ db: url, auth: 'static', credentials: writeTestCredentials(dir), logLevel: 'silent' }, {});
  return buildTestApp(config, { logger, cleanup: () => rmSync(dir, { recursive: true, force: true }) });
}

describeEachEngine('gateway: internal failures', (server) => {
  it('answers an unexpected store error with a generic 500 that names only the request id', async () => {
    const broken = await createTestServer(server().engine);
    try {
      // A column gone is a bug in the store, unlike a whole schema gone (below).
      await sql`alter table jobs rename column project_id to project_id_gone`.execute(broken.ctx.db.kysely);
      const responses = [
        await putJob(broken.app, PROJECT_A, sdrsJob()),
        await broken.app.inject({ url: `/taskcenter/v1/projects/${PROJECT_A}/jobs`, headers: { 'x-auth-token': TOKENS.admin } }),
      ];
      for (const response of responses) {
        const id = requestIdOf(response.headers);
        assert.equal(nestedError(response, 500, 'TASKCENTER.0011'), `internal error; quote request id ${id} when reporting it`);
        assertNothingInternal(response.body);
      }
      const kps = await broken.app.inject({ url: `/v3/${PROJECT_A}/failed-tasks`, headers: { 'x-auth-token': TOKENS.admin } });
      flatError(kps, 500, 'KPS.9999');
      assertNothingInternal(kps.body);
    } finally {
      await broken.close();
    }
  });

  it("answers 503 in each route's format, saying to run taskcenter migrate, when the schema is gone; readiness too; and recovers once migrated", async () => {
    const broken = await createTestServer(server().engine);
    try {
      assert.equal((await putJob(broken.app, PROJECT_A, sdrsJob({ job_id: 'job-1' }))).statusCode, 201);
      assert.deepEqual((await broken.app.inject({ url: '/readyz' })).json(), { status: 'ready' });
      await dropEveryTable(broken.ctx.db);

      const migrateNow = 'the job store has no schema (a table is missing): run taskcenter migrate against it, then retry';
      for (const request of everyRoute(TOKENS.admin)) {
        const response = await broken.app.inject(request);
        const where = `${request.method} ${request.url}`;
        if (request.url.startsWith('/v3/')) assert.equal(flatError(response, 503, 'KPS.9006'), migrateNow, where);
        else if (request.url.startsWith('/v1/')) assert.equal(nestedError(response, 503, 'SDRS.0905'), migrateNow, where);
        else assert.equal(nestedError(response, 503, 'TASKCENTER.0010'), migrateNow, where);
        assertNothingInternal(response.body);
      }
      const ready = await broken.app.inject({ url: '/readyz' });
      assert.equal(ready.statusCode, 503);
      assert.deepEqual(ready.json(), { status: `schema not migrated (missing ${Object.keys(migrations).sort().join(', ')}): run taskcenter migrate` });

      await migrate(broken.ctx.db);
      assert.deepEqual((await broken.app.inject({ url: '/readyz' })).json(), { status: 'ready' });
      assert.equal((await putJob(broken.app, PROJECT_A, sdrsJob({ job_id: 'job-2' }))).statusCode, 201);
      const kps = await broken.app.inject({ url: `/v3/${PROJECT_A}/failed-tasks`, headers: { 'x-auth-token': TOKENS.admin } });
      assert.deepEqual(kps.json(), { total: 0, tasks: [] });
    } finally {
      await broken.close();
    }
  });

  it('is not ready while the schema lacks any migration this code needs, the newest or an older one', async () => {
    const names = Object.keys(migrations).sort();
    // Migrations land out of order: a store may have the newest and lack an older one.
    for (const lacking of [names.at(-1), names[1]] as string[]) {
      const behind = await createTestServer(server().engine);
      try {
        await sql`delete from taskcenter_migrations where name = ${lacking}`.execute(behind.ctx.db.kysely);
        const ready = await behind.app.inject({ url: '/readyz' });
        assert.equal(ready.statusCode, 503, lacking);
        assert.deepEqual(ready.json(), { status: `schema not migrated (missing ${lacking}): run taskcenter migrate` });
      } finally {
        await behind.close();
      }
    }
  });
});

/** Drops every table of the store under a running server, as if the database had been recreated empty. */
async function dropEveryTable(db: Database): Promise<void> {
  if (db.engine === 'postgres') {
    await sql`drop schema public cascade`.execute(db.kysely);
    await sql`create schema public`.execute(db.kysely);
    return;
  }
  // Views first (the name index reads jobs through one), then virtual tables: dropping one
  // drops its shadow tables (the FTS5 name index's jobs_names_data and siblings).
  const { rows } = await sql<{ name: string; type: 'table' | 'view' }>`
    select name, type from sqlite_master where type in ('table', 'view') and name not like 'sqlite_%'
    order by type = 'view' desc, sql like 'CREATE VIRTUAL TABLE%' desc`.execute(db.kysely);
  for (const { name, type } of rows) await sql`drop ${sql.raw(type)} if exists ${sql.id(name)}`.execute(db.kysely);
}

/** A TCP relay to PostgreSQL that can be cut and restored, to make the store unreachable. */
class Relay {
  #server: net.Server | null = null;
  #sockets = new Set<net.Socket>();
  port = 0;

  constructor(
    private readonly host: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, this.host);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.#server = server;
  }

  /** Refuses new connections and cuts every open one. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const socket of this.#sockets) socket.destroy();
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Requests until one answers `status`, at most `tries` times; returns every status seen. */
async function until(app: FastifyInstance, request: InjectOptions, status: number, tries = 5): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < tries; i++) {
    const response = await app.inject(request);
    seen.push(response.statusCode);
    if (response.statusCode === status) break;
  }
  return seen;
}

describe('gateway: store unavailable [postgres]', { skip: !engines.includes('postgres') && 'PostgreSQL suites skipped' }, () => {
  const admin = new URL(PG_ADMIN_URL);

  it("answers 503 in each route's format while the store is unreachable, and recovers by itself", async () => {
    const database = await freshDatabase('postgres');
    const relay = new Relay(admin.hostname, Number(admin.port || 5432));
    await relay.start();
    const url = new URL(database.url);
    url.host = `127.0.0.1:${relay.port}`;
    const server = await appOn(url.toString());
    try {
      const job = sdrsJob({ job_id: 'job-1' });
      assert.equal((await putJob(server.app, PROJECT_A, job)).statusCode, 201);
      assert.equal((await server.app.inject({ url: '/readyz' })).statusCode, 200);

      await relay.stop();
      for (const request of everyRoute(TOKENS.admin)) {
        const response = await server.app.inject(request);
        const where = `${request.method} ${request.url}`;
        assert.notEqual(response.statusCode, 500, `${where}: ${response.body}`);
        if (request.url.startsWith('/v3/')) assert.equal(flatError(response, 503, 'KPS.9006'), 'the job store is unavailable; retry later', where);
        else if (request.url.startsWith('/v1/')) assert.equal(nestedError(response, 503, 'SDRS.0905'), 'the job store is unavailable; retry later', where);
        else assert.equal(nestedError(response, 503, 'TASKCENTER.0010'), 'the job store is unavailable; retry later', where);
        assertNothingInternal(response.body);
      }
      const ready = await server.app.inject({ url: '/readyz' });
      assert.equal(ready.statusCode, 503);
      assert.deepEqual(ready.json(), { status: 'store unavailable' });
      requestIdOf(ready.headers);
      assert.equal((await server.app.inject({ url: '/healthz' })).statusCode, 200);

      await relay.start();
      assert.deepEqual(await until(server.app, { url: '/readyz' }, 200), [200]);
      const back = await putJob(server.app, PROJECT_A, { ...job, fail_reason: 'later' });
      // The job survived, and the store takes writes again (the FAIL job refuses this change).
      assert.equal(back.statusCode, 409, back.body);
      const read = await server.app.inject({ url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/job-1`, headers: { 'x-auth-token': TOKENS.admin } });
      assert.equal(read.json().fail_reason, 'volume is error!');
      assert.equal((await putJob(server.app, PROJECT_A, sdrsJob())).statusCode, 201);
    } finally {
      await server.close();
      await relay.stop();
      await database.drop();
    }
  });

  it('answers 200 or 503, never 500, when the connections are killed, and recovers', async () => {
    const database = await freshDatabase('postgres');
    const server = await appOn(database.url);
    const name = new URL(database.url).pathname.slice(1);
    const killer = new pg.Client({ connectionString: PG_ADMIN_URL });
    await killer.connect();
    try {
      // Fill the pool with several open connections first.
      await Promise.all(Array.from({ length: 5 }, () => putJob(server.app, PROJECT_A, sdrsJob())));
      await killer.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
      const statuses = await Promise.all(Array.from({ length: 6 }, async () => (await putJob(server.app, PROJECT_A, sdrsJob())).statusCode));
      assert.ok(
        statuses.every((s) => s === 201 || s === 503),
        statuses.join(' '),
      );
      const seen = await until(server.app, { url: `/taskcenter/v1/projects/${PROJECT_A}/jobs`, headers: { 'x-auth-token': TOKENS.admin } }, 200, 12);
      assert.equal(seen.at(-1), 200, seen.join(' '));
      assert.ok(
        seen.every((s) => s === 200 || s === 503),
        seen.join(' '),
      );
    } finally {
      await killer.end();
      await server.close();
      await database.drop();
    }
  });

  it('answers 503 when the database is dropped under it', async () => {
    const database = await freshDatabase('postgres');
    const server = await appOn(database.url);
    try {
      assert.equal((await putJob(server.app, PROJECT_A, sdrsJob())).statusCode, 201);
      await database.drop();
      for (let i = 0; i < 3; i++) {
        const response = await putJob(server.app, PROJECT_A, sdrsJob());
        assert.equal(nestedError(response, 503, 'TASKCENTER.0010'), 'the job store is unavailable; retry later');
      }
      const kps = await server.app.inject({ url: `/v3/${PROJECT_A}/failed-tasks`, headers: { 'x-auth-token': TOKENS.admin } });
      flatError(kps, 503, 'KPS.9006');
      assert.equal((await server.app.inject({ url: '/readyz' })).statusCode, 503);
    } finally {
      await server.close();
    }
  });
});

describe('gateway: store busy [sqlite]', () => {
  it('answers a write that cannot get the lock in time with 503, reads go on, and writes resume after', async () => {
    const database = await freshDatabase('sqlite');
    const server = await appOn(database.url);
    const other = new SQLite(database.url.slice('sqlite:'.length));
    try {
      assert.equal((await putJob(server.app, PROJECT_A, sdrsJob({ job_id: 'before' }))).statusCode, 201);
      other.exec('begin immediate');
      const blocked = await putJob(server.app, PROJECT_A, sdrsJob({ job_id: 'during' }));
      assert.equal(nestedError(blocked, 503, 'TASKCENTER.0010'), 'the job store is unavailable; retry later');
      const read = await server.app.inject({ url: `/taskcenter/v1/projects/${PROJECT_A}/jobs`, headers: { 'x-auth-token': TOKENS.admin } });
      assert.deepEqual(
        read.json().jobs.map((j: { job_id: string }) => j.job_id),
        ['before'],
      );
      other.exec('rollback');
      assert.equal((await putJob(server.app, PROJECT_A, sdrsJob({ job_id: 'during' }))).statusCode, 201);
    } finally {
      other.close();
      await server.close();
      await database.drop();
    }
  });
});

/** A writable stream that keeps every log line, parsed. */
function capture(): { stream: Writable; lines: () => Record<string, unknown>[]; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return {
    stream,
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

for (const engine of engines as Engine[]) {
  describe(`gateway: logs [${engine}]`, () => {
    it('carry the request id on every request line and never a token or Authorization header', async () => {
      const database = await freshDatabase(engine);
      const log = capture();
      const server = await appOn(database.url, createLogger({ logLevel: 'trace' }, log.stream));
      const authorization = `SDK-HMAC-SHA256 Access=${ACCESS_KEYS.alice.ak}, SignedHeaders=host;x-sdk-date, Signature=${'ab'.repeat(32)}`;
      const secrets = [...Object.values(TOKENS), 'not-a-real-token-4242', authorization, ACCESS_KEYS.alice.sk, 'Signature=abab'];
      try {
        const requests = [
          { method: 'PUT' as const, url: PRODUCER_PUT, headers: { 'x-auth-token': TOKENS.admin }, payload: sdrsJob({ job_id: 'job-1' }) },
          { method: 'GET' as const, url: `/taskcenter/v1/projects/${PROJECT_B}/jobs`, headers: { 'x-auth-token': TOKENS.alice } },
          { method: 'GET' as const, url: `/taskcenter/v1/projects/${PROJECT_A}/jobs`, headers: { 'x-auth-token': 'not-a-real-token-4242' } },
          { method: 'GET' as const, url: `/v3/${PROJECT_A}/failed-tasks`, headers: { authorization, 'x-sdk-date': '20200101T000000Z' } },
          { method: 'GET' as const, url: `/v1/${PROJECT_A}/task-center/failure-jobs?limit=abc`, headers: { 'x-auth-token': TOKENS.reader } },
          { method: 'PUT' as const, url: PRODUCER_PUT, headers: { 'x-auth-token': TOKENS.admin, 'content-type': 'application/json' }, payload: '{broken' },
          { method: 'GET' as const, url: '/nowhere', headers: { 'x-auth-token': TOKENS.bob, authorization } },
          { method: 'PUT' as const, url: PRODUCER_PUT, headers: { 'x-auth-token': TOKENS.admin }, payload: kpsJob({ job_id: 'job-1' }) },
        ];
        const ids: string[] = [];
        for (const request of requests) ids.push(requestIdOf((await server.app.inject(request)).headers));
        await sql`alter table jobs rename column project_id to project_id_gone`.execute(server.ctx.db.kysely);
        ids.push(requestIdOf((await putJob(server.app, PROJECT_A, sdrsJob(), TOKENS.admin)).headers));

        const text = log.text();
        for (const secret of secrets) assert.ok(!text.includes(secret), `a log line holds '${secret.slice(0, 12)}...'`);
        const lines = log.lines();
        for (const id of ids) {
          const mine = lines.filter((line) => line.reqId === id);
          assert.ok(
            mine.some((line) => line.msg === 'incoming request'),
            `no 'incoming request' line for ${id}`,
          );
          assert.ok(
            mine.some((line) => line.msg === 'request completed'),
            `no 'request completed' line for ${id}`,
          );
        }
        const requestLines = lines.filter((line) => line.req !== undefined || line.res !== undefined || line.err !== undefined);
        assert.ok(requestLines.length >= ids.length * 2);
        for (const line of requestLines) assert.match(String(line.reqId), /^[0-9a-f]{32}$/, JSON.stringify(line));
        // The unexpected error was logged in full, with its request id, while the caller saw none of it.
        const failure = lines.find((line) => line.reqId === ids.at(-1) && line.msg === 'unexpected error');
        assert.ok(failure !== undefined, 'the 500 was not logged with its request id');
      } finally {
        await server.close();
        await database.drop();
      }
    });
  });
}
