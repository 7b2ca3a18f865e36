/**
 * Retention (`serve --retain-days`, src/jobs/retention.service.ts) on both engines: old
 * finished jobs go with their sub-jobs, old failures still in a list and young jobs stay,
 * counters and list versions are untouched and `taskcenter check` finds no drift, rounds
 * work in batches, one node deletes at a time (PostgreSQL advisory lock), delivered
 * webhook deliveries go too, and the metric counts what was deleted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config.js';
import type { Database, Engine } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import { toJobRow, toReportedJob } from '../../src/jobs/job.js';
import type { JobDocument } from '../../src/jobs/jobs.schema.js';
import type { JobRow } from '../../src/jobs/jobs.table.js';
import { checkListings } from '../../src/jobs/listing-check.js';
import { RetentionService, type RetentionOptions } from '../../src/jobs/retention.service.js';
import { deleteDelivered } from '../../src/notify/deliveries.store.js';
import {
  createTestApp,
  createTestServer,
  engines,
  kpsJob,
  postgresProblem,
  putNewJob,
  sdrsJob,
  uniqueId,
  writeTestCredentials,
  type TestServer,
} from '../helpers.js';

const DAY = 24 * 60 * 60 * 1000;
/** The clock of every round here; with 30 days kept, anything that ended before 2024-12-02 is old. */
const NOW = Date.parse('2025-01-01T00:00:00Z');
const OLD = { begin_time: '2024-06-01T00:00:00.000Z', end_time: '2024-06-01T00:05:00.000Z' };
const YOUNG = { begin_time: '2024-12-20T00:00:00.000Z', end_time: '2024-12-20T00:05:00.000Z' };
const OK = { status: 'SUCCESS', error_code: null, fail_reason: null };

function row(projectId: string, doc: Record<string, unknown>, cleared = 0): JobRow {
  return toJobRow(toReportedJob(projectId, doc as JobDocument), cleared, 1_000, 1_000);
}

/** Every job id stored, as `project/job`, sorted. */
async function storedJobs(db: Database): Promise<string[]> {
  const { rows } = await sql<{ project_id: string; job_id: string }>`select project_id, job_id from jobs order by project_id, job_id`.execute(db.kysely);
  return rows.map((r) => `${r.project_id}/${r.job_id}`);
}

/** The counters and list versions, as text, to compare before and after. */
async function derived(db: Database): Promise<string> {
  const counts = await sql<{
    project_id: string;
    bucket: string;
    n: number | string;
  }>`select project_id, bucket, n from job_counts order by project_id, bucket`.execute(db.kysely);
  const versions = await sql<{ project_id: string; version: number | string }>`select project_id, version from list_versions order by project_id`.execute(
    db.kysely,
  );
  return JSON.stringify({
    counts: counts.rows.filter((c) => Number(c.n) !== 0).map((c) => [c.project_id, c.bucket, Number(c.n)]),
    versions: versions.rows.map((v) => [v.project_id, Number(v.version)]),
  });
}

for (const engine of engines as Engine[]) {
  describe(`retention [${engine}]`, () => {
    let server: TestServer | undefined;
    let skip: string | null = null;
    before(async () => {
      skip = engine === 'postgres' ? await postgresProblem() : null;
    });
    /** A fresh store for each test: a round deletes across every project. */
    async function fresh(t: { skip(reason: string): void }): Promise<TestServer | undefined> {
      if (skip !== null) {
        t.skip(skip);
        return undefined;
      }
      await server?.close();
      server = await createTestServer(engine);
      return server;
    }
    after(async () => {
      await server?.close();
    });

    const put = (s: TestServer, rows: JobRow[]) => s.ctx.db.kysely.transaction().execute((tx) => s.ctx.writer.put(tx, rows));
    const retention = (s: TestServer, options: Partial<RetentionOptions> = {}, db: Database = s.ctx.db) =>
      new RetentionService(db, s.ctx.writer, s.ctx.logger, { days: 30, now: () => NOW, ...options });

    it('deletes old finished jobs with their sub-jobs, keeps failures still in a list and young jobs, and leaves the lists exact', async (t) => {
      const s = await fresh(t);
      if (s === undefined) return;
      const [a, b] = [uniqueId('ret-a'), uniqueId('ret-b')];
      await put(s, [
        // Deleted: old, finished, in no list (successes, cleared failures), and their sub-jobs.
        row(a, sdrsJob({ job_id: 'old-ok', ...OK, ...OLD })),
        row(a, sdrsJob({ job_id: 'old-ok-sub-1', parent_job_id: 'old-ok', ...OK, ...OLD })),
        row(a, sdrsJob({ job_id: 'old-ok-sub-2', parent_job_id: 'old-ok', ...OLD })),
        row(a, sdrsJob({ job_id: 'old-cleared', ...OLD }), 1),
        row(a, sdrsJob({ job_id: 'old-cleared-sub', parent_job_id: 'old-cleared', ...OLD })),
        row(b, kpsJob({ job_id: 'old-kps-cleared', ...OLD }), 1),
        row(b, kpsJob({ job_id: 'old-kps-ok', ...OK, ...OLD })),
        // Kept: failures still in a list however old, with their sub-jobs; young jobs; jobs not finished.
        row(a, sdrsJob({ job_id: 'old-failed', ...OLD })),
        row(a, sdrsJob({ job_id: 'old-failed-sub', parent_job_id: 'old-failed', ...OK, ...OLD })),
        row(b, kpsJob({ job_id: 'old-kps-failed', ...OLD })),
        row(b, kpsJob({ job_id: 'old-kps-running', status: 'RUNNING', begin_time: OLD.begin_time, end_time: null, error_code: null, fail_reason: null })),
        row(a, sdrsJob({ job_id: 'old-running', status: 'RUNNING', begin_time: OLD.begin_time, end_time: null, error_code: null, fail_reason: null })),
        row(a, sdrsJob({ job_id: 'young-ok', ...OK, ...YOUNG })),
        row(a, sdrsJob({ job_id: 'young-cleared', ...YOUNG }), 1),
        // An old sub-job whose parent is young goes only with its parent.
        row(b, sdrsJob({ job_id: 'young-parent', ...OK, ...YOUNG })),
        row(b, sdrsJob({ job_id: 'young-parent-old-sub', parent_job_id: 'young-parent', ...OK, ...OLD })),
      ]);
      const before = await derived(s.ctx.db);
      const told: number[] = [];

      const outcome = await retention(s, { onDeleted: (n) => told.push(n) }).runOnce();

      assert.equal(outcome.skipped, false);
      assert.equal(outcome.jobs, 7);
      assert.deepEqual(told, [7]);
      assert.deepEqual(await storedJobs(s.ctx.db), [
        ...['old-failed', 'old-failed-sub', 'old-running', 'young-cleared', 'young-ok'].map((id) => `${a}/${id}`),
        ...['old-kps-failed', 'old-kps-running', 'young-parent', 'young-parent-old-sub'].map((id) => `${b}/${id}`),
      ]);
      assert.equal(await derived(s.ctx.db), before, 'no counter or list version changed: no listed job was deleted');
      const check = await checkListings(s.ctx.db, s.ctx.writer.listings);
      assert.equal(check.drifts, 0, JSON.stringify(check.first));

      // Nothing old is left: the next round deletes nothing; a later clock deletes what has aged since.
      assert.equal((await retention(s).runOnce()).jobs, 0);
      assert.equal((await retention(s, { now: () => NOW + 60 * DAY }).runOnce()).jobs, 4);
      assert.deepEqual(await storedJobs(s.ctx.db), [
        ...['old-failed', 'old-failed-sub', 'old-running'].map((id) => `${a}/${id}`),
        ...['old-kps-failed', 'old-kps-running'].map((id) => `${b}/${id}`),
      ]);
      assert.equal((await checkListings(s.ctx.db, s.ctx.writer.listings)).drifts, 0);
    });

    it('works in batches of top-level jobs, each its own transaction, until nothing old is left', async (t) => {
      const s = await fresh(t);
      if (s === undefined) return;
      const project = uniqueId('ret-batch');
      const rows: JobRow[] = [];
      for (let i = 0; i < 10; i++) {
        rows.push(row(project, sdrsJob({ job_id: `old-${i}`, ...OK, ...OLD, end_time: `2024-06-01T00:${String(10 + i)}:00.000Z` })));
        rows.push(row(project, sdrsJob({ job_id: `old-${i}-sub`, parent_job_id: `old-${i}`, ...OK, ...OLD })));
      }
      rows.push(row(project, sdrsJob({ job_id: 'young', ...OK, ...YOUNG })), row(project, sdrsJob({ job_id: 'failed', ...OLD })));
      await put(s, rows);
      const told: number[] = [];
      const outcome = await retention(s, { batchSize: 3, onDeleted: (n) => told.push(n) }).runOnce();
      // Oldest first, three parents (and their sub-jobs) per batch.
      assert.deepEqual(told, [6, 6, 6, 2]);
      assert.equal(outcome.jobs, 20);
      assert.deepEqual(await storedJobs(s.ctx.db), [`${project}/failed`, `${project}/young`]);
      assert.equal((await checkListings(s.ctx.db, s.ctx.writer.listings)).drifts, 0);
    });

    it('deletes webhook deliveries delivered before the retention period, keeping pending, dead and recent ones', async (t) => {
      const s = await fresh(t);
      if (s === undefined) return;
      const project = uniqueId('ret-hooks');
      const db = s.ctx.db.kysely;
      await sql`insert into subscriptions (id, project_id, url, events, secret, last_seq, created_at, updated_at)
        values ('sub-1', ${project}, 'https://example.com/hook', '["job.failed"]', 'secret', 4, 0, 0)`.execute(db);
      const delivery = (seq: number, state: string, settledAt: number | null) =>
        sql`insert into deliveries (subscription_id, project_id, seq, event_id, event_type, job_id, body, state, attempts, queued_at, next_attempt_at, created_at, settled_at)
          values ('sub-1', ${project}, ${seq}, ${`ev-${seq}`}, 'job.failed', 'j', '{}', ${state}, 1, 0, 0, 0, ${settledAt})`.execute(db);
      await delivery(1, 'delivered', NOW - 40 * DAY);
      await delivery(2, 'dead', NOW - 40 * DAY);
      await delivery(3, 'delivered', NOW - 10 * DAY);
      await delivery(4, 'pending', null);
      await sql`insert into delivery_attempts (delivery_id, attempt, at, status, error, duration_ms)
        select id, 1, 0, 200, null, 5 from deliveries where seq = 1`.execute(db);

      const outcome = await retention(s, { more: [{ name: 'deliveries', deleteBatch: deleteDelivered }] }).runOnce();

      assert.deepEqual(outcome.more, { deliveries: 1 });
      const left = await sql<{ seq: number | string }>`select seq from deliveries order by seq`.execute(db);
      assert.deepEqual(
        left.rows.map((r) => Number(r.seq)),
        [2, 3, 4],
      );
      const attempts = await sql<{ n: number | string }>`select count(*) as n from delivery_attempts`.execute(db);
      assert.equal(Number(attempts.rows[0]?.n), 0, "the deleted delivery's attempts went with it");
    });

    it('lets one node delete at a time: a round that finds the lock taken skips, and two rounds at once delete each job once', async (t) => {
      const s = await fresh(t);
      if (s === undefined) return;
      const project = uniqueId('ret-lock');
      await put(
        s,
        Array.from({ length: 12 }, (_, i) => row(project, sdrsJob({ job_id: `old-${String(i).padStart(2, '0')}`, ...OK, ...OLD }))),
      );
      // A second node: its own connections to the same store. On SQLite the same connection:
      // two in one process would block each other, SQLite waiting for a lock in the calling thread.
      const other = engine === 'postgres' ? openDatabase(s.config.db) : s.ctx.db;
      try {
        if (engine === 'postgres') {
          // Node A's round stops inside a batch, holding the lock, until released.
          let entered!: () => void;
          let release!: () => void;
          const inside = new Promise<void>((resolve) => (entered = resolve));
          const released = new Promise<void>((resolve) => (release = resolve));
          const holding = retention(s, {
            more: [
              {
                name: 'hold',
                deleteBatch: async () => {
                  entered();
                  await released;
                  return 0;
                },
              },
            ],
          }).runOnce();
          await inside;
          const skipped = await retention(s, {}, other).runOnce();
          assert.deepEqual(skipped, { skipped: true, jobs: 0, more: {}, batches: 0 });
          release();
          const held = await holding;
          assert.equal(held.jobs, 12);
          assert.equal(held.skipped, false);
          await put(s, [row(project, sdrsJob({ job_id: 'old-late', ...OK, ...OLD }))]);
          // Released: the other node's next round runs.
          assert.equal((await retention(s, {}, other).runOnce()).jobs, 1);
        }
        // Two rounds at once, on two nodes, small batches: every job deleted once, counted once.
        await put(
          s,
          Array.from({ length: 12 }, (_, i) => row(project, sdrsJob({ job_id: `again-${String(i).padStart(2, '0')}`, ...OK, ...OLD }))),
        );
        const stored = (await storedJobs(s.ctx.db)).length;
        assert.equal(stored, engine === 'postgres' ? 12 : 24);
        const outcomes = await Promise.all([retention(s, { batchSize: 2 }).runOnce(), retention(s, { batchSize: 2 }, other).runOnce()]);
        assert.equal(outcomes[0].jobs + outcomes[1].jobs, stored, JSON.stringify(outcomes));
        assert.deepEqual(await storedJobs(s.ctx.db), []);
        assert.equal((await checkListings(s.ctx.db, s.ctx.writer.listings)).drifts, 0);
      } finally {
        if (other !== s.ctx.db) await other.close();
      }
    });

    it('runs shortly after start() and then every interval, until stop()', async (t) => {
      const s = await fresh(t);
      if (s === undefined) return;
      const project = uniqueId('ret-timer');
      await put(s, [row(project, sdrsJob({ job_id: 'old', ...OK, ...OLD }))]);
      let deleted!: (n: number) => void;
      const first = new Promise<number>((resolve) => (deleted = resolve));
      const service = retention(s, { firstRunMs: 0, intervalMs: 60 * 60 * 1000, onDeleted: (n) => deleted(n) });
      // The service's timers keep no process alive (a server's listening socket does): this one stands for it.
      const alive = setInterval(() => {}, 60_000);
      service.start();
      try {
        assert.equal(await first, 1);
      } finally {
        clearInterval(alive);
        await service.stop();
      }
      assert.deepEqual(await storedJobs(s.ctx.db), []);
    });

    it('is off by default; with --retain-days the server counts what it deletes in taskcenter_retention_deleted_jobs_total', async (t) => {
      const s = await fresh(t);
      if (s === undefined) return;
      assert.equal(s.ctx.retention, null, 'off without --retain-days');
      const app = await createTestApp(engine, (db, dir) =>
        loadConfig({ db, auth: 'static', credentials: writeTestCredentials(dir), logLevel: 'silent', port: '0', retainDays: '30' }, {}),
      );
      try {
        const project = uniqueId('ret-metric');
        // Reported as producers do; these ended in 2019 and 2018, far more than 30 days ago.
        await putNewJob(app.app, project, sdrsJob({ job_id: 'old-ok', status: 'SUCCESS', error_code: null, fail_reason: null }));
        await putNewJob(app.app, project, kpsJob({ job_id: 'old-ok-kps', status: 'SUCCESS', fail_reason: null }));
        await putNewJob(app.app, project, sdrsJob({ job_id: 'old-failed' }));
        const service = app.ctx.retention;
        assert.ok(service !== null);
        assert.equal((await service.runOnce()).jobs, 2);
        const metrics = await app.app.inject({ method: 'GET', url: '/metrics' });
        assert.match(metrics.body, /^taskcenter_retention_deleted_jobs_total 2$/m);
      } finally {
        await app.close();
      }
    });
  });
}
