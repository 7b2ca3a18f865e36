/**
 * Every SQL statement the server sends while answering an API request is scoped to one
 * project: it names `project_id` in its WHERE clause (`project_id = ...` or
 * `project_id in (...)`) or, for an INSERT, in its key. That is what lets the schema be
 * sharded by project on a distributed PostgreSQL (README, "Beyond one PostgreSQL").
 *
 * The statements are recorded at the drivers (pg's Client.query, better-sqlite3's
 * statements), below every cache and shortcut of src/db/, while the test drives every
 * operation of /openapi.json through the app, one request at a time; the few that are
 * not scoped to one project are listed in EXCEPTIONS with the reason.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createContext, type Context } from '../../src/context.js';
import { engines, freshDatabase, kpsJob, PROJECT_A, PROJECT_B, sdrsJob, TOKENS, writeTestCredentials } from '../helpers.js';

/** Statements that are not scoped to one project, with why that is right. */
const EXCEPTIONS: readonly { readonly sql: RegExp; readonly operations: readonly string[]; readonly why: string }[] = [
  {
    sql: /^(begin|begin immediate|commit|rollback|savepoint \S+|release savepoint \S+|rollback to savepoint \S+)$/,
    operations: ['*'],
    why: 'transaction control names no table',
  },
  {
    sql: /^(begin; set local statement_timeout = \d+; set local idle_in_transaction_session_timeout = \d+|pragma busy_timeout = \d+)$/,
    operations: ['*'],
    why: "a transaction's time limits (PostgreSQL) and the lock wait around BEGIN IMMEDIATE (SQLite) name no table",
  },
  {
    sql: /auth_failures/,
    operations: ['*'],
    why: 'the AK/SK lockout counts bad signatures per access key and client address, before any project is known (on Citus a table distributed by access_key)',
  },
  {
    sql: /^select name from taskcenter_migrations$/,
    operations: ['CheckReadiness'],
    why: 'readiness reads which migrations were applied, a table of the database, not of a project (on Citus a reference table)',
  },
  {
    sql: /^with recursive next_project\(project_id, n\) as/,
    operations: ['ListProjects'],
    why: 'lists the projects that have jobs for a caller allowed every project ("projects": ["*"]): it walks the primary key across projects, so on a sharded database it asks every shard',
  },
];

/** The operations of /openapi.json this test does not drive: the emulator's controls exist only with --emulator, never in a deployment. */
const NOT_DRIVEN = /^\/taskcenter\/v1\/emulator\//;

const SCOPED_WHERE = /\bwhere\b.*\bproject_id\s*(=|in\s*\()/;
const KEYED_INSERT = /^insert into \w+ \([^)]*\bproject_id\b[^)]*\)/;

/** The SQL as compared: lower case, identifiers unquoted, whitespace collapsed. */
function normalize(sql: string): string {
  return sql.replace(/"/g, '').replace(/\s+/g, ' ').trim().toLowerCase();
}

function isScoped(sql: string): boolean {
  return SCOPED_WHERE.test(sql) || KEYED_INSERT.test(sql);
}

/** Records the SQL text of every statement both drivers send, while on. */
class StatementRecorder {
  recording = false;
  readonly seen: string[] = [];
  readonly #undo: (() => void)[] = [];

  install(): void {
    const record = (sql: unknown) => {
      if (this.recording && typeof sql === 'string') this.seen.push(sql);
    };
    const clientProto = pg.Client.prototype as unknown as Record<string, unknown>;
    this.#wrap(clientProto, 'query', (config: unknown) => record(typeof config === 'string' ? config : (config as { text?: unknown } | null)?.text));
    const probe = new SQLite(':memory:');
    const statementProto = Object.getPrototypeOf(probe.prepare('select 1')) as Record<string, unknown>;
    probe.close();
    for (const method of ['run', 'get', 'all', 'iterate']) {
      this.#wrap(statementProto, method, function (this: { source: string }) {
        record(this.source);
      });
    }
    this.#wrap(SQLite.prototype as unknown as Record<string, unknown>, 'exec', (sql: unknown) => record(sql));
  }

  uninstall(): void {
    for (const undo of this.#undo.splice(0)) undo();
  }

  /** Replaces `target[name]` with a function that calls `spy` with the same `this` and arguments, then the original. */
  #wrap(target: Record<string, unknown>, name: string, spy: (this: never, ...args: unknown[]) => void): void {
    const original = target[name] as (...args: unknown[]) => unknown;
    target[name] = function (this: unknown, ...args: unknown[]) {
      spy.apply(this as never, args);
      return original.apply(this, args);
    };
    this.#undo.push(() => (target[name] = original));
  }
}

interface Call {
  readonly method: string;
  readonly url: string;
  readonly token?: string;
  readonly payload?: unknown;
  readonly headers?: Record<string, string>;
}

for (const engine of engines)
  describe(`SQL sent while serving API requests [${engine}]`, () => {
    const recorder = new StatementRecorder();
    /** Statements by operationId, in the order first sent. */
    const byOperation = new Map<string, Set<string>>();
    let app: FastifyInstance;
    let ctx: Context;
    let cleanup: () => Promise<void>;

    async function call({ method, url, token = TOKENS.admin, payload, headers = {} }: Call) {
      recorder.seen.length = 0;
      recorder.recording = true;
      const response = await app.inject({ method: method as 'GET', url, payload: payload as object, headers: { 'x-auth-token': token, ...headers } });
      recorder.recording = false;
      const operation = response.headers['x-test-operation'];
      assert.ok(typeof operation === 'string', `${method} ${url} matched an operation`);
      assert.ok(response.statusCode < 500, `${method} ${url}: ${response.statusCode} ${response.body}`);
      const statements = byOperation.get(operation) ?? new Set();
      for (const sql of recorder.seen) statements.add(normalize(sql));
      byOperation.set(operation, statements);
      return response;
    }

    before(async () => {
      const database = await freshDatabase(engine);
      const dir = mkdtempSync(join(tmpdir(), 'taskcenter-scope-'));
      cleanup = async () => {
        await database.drop();
        rmSync(dir, { recursive: true, force: true });
      };
      const config = loadConfig({ db: database.url, credentials: writeTestCredentials(dir), logLevel: 'silent' }, {});
      ctx = await createContext(config);
      app = await buildApp(ctx);
      // Which operation answered, on the response: the test's own hook, added before the app is ready.
      app.addHook('onSend', (request, reply, payload, done) => {
        void reply.header('x-test-operation', request.routeOptions.schema?.operationId ?? 'none');
        done(null, payload);
      });
      await app.ready();
      recorder.install();
    });
    after(async () => {
      recorder.uninstall();
      await app?.close();
      await ctx?.close();
      await cleanup?.();
    });

    it('drives every operation of /openapi.json', async () => {
      const group = (n: number, extra: Record<string, unknown> = {}) =>
        sdrsJob({
          job_id: `g-${n}`,
          resource: { id: `group-${n}`, name: `pg-${n}`, type: 'server_groups' },
          server_group_id: undefined,
          entities: {},
          ...extra,
        });
      const inGroup = (n: number, extra: Record<string, unknown> = {}) =>
        sdrsJob({ job_id: `i-${n}`, resource: { id: `pi-${n}`, name: `pi-${n}`, type: 'protected_instances' }, server_group_id: 'group-1', ...extra });
      const running = { status: 'RUNNING', end_time: null, error_code: null, fail_reason: null };
      const put = (project: string, job: Record<string, unknown>) =>
        call({ method: 'PUT', url: `/taskcenter/v1/projects/${project}/jobs/${String(job.job_id)}`, payload: job });

      // Reports: created, updated, unchanged, refused (backwards), and sub-jobs.
      await put(PROJECT_A, group(1, running));
      await put(PROJECT_A, group(1));
      await put(PROJECT_A, group(1));
      await put(PROJECT_A, group(1, running));
      await put(PROJECT_A, inGroup(1));
      await put(PROJECT_A, sdrsJob({ job_id: 'sub-1', parent_job_id: 'g-1', resource: { id: 'pi-9', name: 'pi-9', type: 'protected_instances' } }));
      await put(PROJECT_A, kpsJob({ job_id: 'k-1' }));
      await put(PROJECT_A, kpsJob({ job_id: 'k-2', ...running }));
      // A batch of two projects, new and known jobs.
      await call({
        method: 'POST',
        url: '/taskcenter/v1/jobs/batch',
        payload: {
          jobs: [
            { project_id: PROJECT_A, ...group(2) },
            { project_id: PROJECT_A, ...group(1) },
            { project_id: PROJECT_A, ...inGroup(2) },
            { project_id: PROJECT_B, ...group(3) },
            { project_id: PROJECT_B, ...kpsJob({ job_id: 'k-3' }) },
          ],
        },
      });
      for (let n = 10; n < 40; n++) await put(PROJECT_A, group(n));

      // Reads of the producer API.
      await call({ method: 'GET', url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/g-1` });
      await call({ method: 'GET', url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/nope` });
      for (const query of ['', '?service=sdrs', '?status=FAIL', '?service=kps&status=RUNNING', '?limit=2&marker=g-1']) {
        await call({ method: 'GET', url: `/taskcenter/v1/projects/${PROJECT_A}/jobs${query}` });
      }

      // SDRS: every filter, shallow and deep pages, a conditional request.
      const sdrs = `/v1/${PROJECT_A}/task-center/failure-jobs`;
      for (const query of [
        '',
        '?failure_status=createFail',
        '?resource_type=server_groups',
        '?resource_type=protected_instances',
        '?server_group_id=group-1',
        '?server_group_id=group-1&resource_type=protected_instances&failure_status=createFail',
        '?resource_name=pg-1',
        '?limit=2&offset=10',
        '?limit=1&offset=0',
      ]) {
        await call({ method: 'GET', url: sdrs + query });
      }
      const first = await call({ method: 'GET', url: sdrs });
      await call({ method: 'GET', url: sdrs, headers: { 'if-none-match': String(first.headers.etag) } });
      await call({ method: 'GET', url: `/v1/${PROJECT_A}/jobs/g-1` });
      await call({ method: 'GET', url: `/v1/${PROJECT_A}/jobs/nope` });

      // KPS reads.
      for (const path of ['failed-tasks', 'running-tasks', 'failed-tasks?limit=1&offset=1', 'tasks/k-1', 'tasks/nope']) {
        await call({ method: 'GET', url: `/v3/${PROJECT_A}/${path}` });
      }

      // Project reads, by a caller of every project and by one of a single project.
      await call({ method: 'GET', url: '/taskcenter/v1/me' });
      await call({ method: 'GET', url: '/taskcenter/v1/projects' });
      await call({ method: 'GET', url: `/taskcenter/v1/projects?marker=${PROJECT_A}&limit=1` });
      await call({ method: 'GET', url: '/taskcenter/v1/projects', token: TOKENS.alice });
      await call({ method: 'GET', url: `/taskcenter/v1/projects/${PROJECT_A}/summary` });

      // Clears.
      await call({ method: 'DELETE', url: `/v1/${PROJECT_A}/task-center/failure-jobs/i-1` });
      await call({ method: 'DELETE', url: `/v1/${PROJECT_A}/task-center/failure-jobs/nope` });
      await call({ method: 'DELETE', url: `/v1/${PROJECT_A}/task-center/group-1/failure-jobs/batch` });
      await call({ method: 'DELETE', url: `/v1/${PROJECT_A}/task-center/failure-jobs/batch` });
      await call({ method: 'DELETE', url: `/v3/${PROJECT_A}/failed-tasks/k-1` });
      await call({ method: 'DELETE', url: `/v3/${PROJECT_B}/failed-tasks` });

      // Webhook subscriptions and their deliveries (src/notify/).
      const subscriptions = `/taskcenter/v1/projects/${PROJECT_A}/subscriptions`;
      const created = await call({ method: 'POST', url: subscriptions, payload: { url: 'https://203.0.113.10/hook', events: ['job.*'] } });
      const subscription = `${subscriptions}/${String(created.json().id)}`;
      await call({ method: 'GET', url: subscriptions });
      await call({ method: 'GET', url: subscription });
      await call({ method: 'POST', url: `${subscription}/rotate-secret` });
      await call({ method: 'GET', url: `${subscription}/deliveries?state=dead` });
      await call({ method: 'GET', url: `${subscription}/deliveries/1` });
      await call({ method: 'POST', url: `${subscription}/deliveries/1/redeliver` });
      await call({ method: 'DELETE', url: subscription });

      // Operations.
      for (const url of ['/healthz', '/readyz', '/metrics']) await call({ method: 'GET', url });

      const doc = (await app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, Record<string, { operationId: string }>> };
      const expected = Object.entries(doc.paths)
        .filter(([path]) => !NOT_DRIVEN.test(path))
        .flatMap(([, methods]) => Object.values(methods).map((op) => op.operationId))
        .sort();
      assert.deepEqual(
        expected.filter((id) => !byOperation.has(id)),
        [],
        'every operation was driven',
      );
    });

    it('sends only statements that name project_id in their WHERE clause or key, apart from the listed exceptions', () => {
      const unscoped: string[] = [];
      const excepted = new Map<string, string>();
      for (const [operation, statements] of byOperation) {
        for (const sql of statements) {
          if (isScoped(sql)) continue;
          const exception = EXCEPTIONS.find((e) => e.sql.test(sql) && (e.operations.includes('*') || e.operations.includes(operation)));
          if (exception === undefined) unscoped.push(`${operation}: ${sql}`);
          else if (!exception.operations.includes('*')) excepted.set(`${operation}: ${sql.slice(0, 60)}...`, exception.why);
        }
      }
      assert.deepEqual(unscoped, []);
      const total = [...byOperation.values()].reduce((n, s) => n + s.size, 0);
      assert.ok(total > 20, `recorded ${total} distinct statements`);
      for (const [statement, why] of excepted) console.log(`  [${engine}] not scoped to one project: ${statement} (${why})`);
    });
  });
