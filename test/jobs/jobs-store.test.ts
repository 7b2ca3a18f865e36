/**
 * The job store's SQL on both engines: keys scoped by project, inserts that never
 * overwrite, updates that keep what the store owns, paging order, large key sets, and
 * on PostgreSQL the row locks that serialize reports of one job.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { sql } from 'kysely';
import { toReportedJob } from '../../src/jobs/job.js';
import type { JobDocument } from '../../src/jobs/jobs.schema.js';
import { insertNewJobs, lockJobs } from '../../src/jobs/job-writer.store.js';
import { findJob, listJobs } from '../../src/jobs/jobs.store.js';
import type { JobRow } from '../../src/jobs/jobs.table.js';
import { describeEachEngine, kpsJob, sdrsJob } from '../helpers.js';

function freshProject(): string {
  return `s-${randomBytes(6).toString('hex')}`;
}

function row(projectId: string, doc: Record<string, unknown>, times: Partial<JobRow> = {}): JobRow {
  return { ...toReportedJob(projectId, doc as JobDocument), cleared: 0, created_at: 1_000, updated_at: 1_000, ...times };
}

/** The columns of `stored` that `like` has: what a test wrote, leaving out columns the store derives. */
function reported(stored: JobRow | undefined, like: JobRow): Partial<JobRow> | undefined {
  if (stored === undefined) return undefined;
  return Object.fromEntries(Object.keys(like).map((key) => [key, stored[key as keyof JobRow]]));
}

describeEachEngine('jobs store', (server) => {
  const db = () => server().ctx.db.kysely;
  /** Inserts rows in no list: these tests check the job's own columns, not the listing derived from them. */
  const insert = (rows: JobRow[]) =>
    db()
      .transaction()
      .execute((tx) =>
        insertNewJobs(
          tx,
          rows.map((r) => ({ ...r, list: null, list_item: null })),
        ),
      );

  it('inserts new rows, returns their keys, and leaves an existing row alone', async () => {
    const project = freshProject();
    const first = row(project, sdrsJob({ job_id: 'j-1' }));
    const inserted = await insert([first]);
    assert.deepEqual(inserted, [{ project_id: project, job_id: 'j-1' }]);

    const clash = row(project, kpsJob({ job_id: 'j-1' }), { created_at: 2_000, updated_at: 2_000 });
    const other = row(project, kpsJob({ job_id: 'j-2' }));
    const second = await insert([clash, other]);
    assert.deepEqual(second, [{ project_id: project, job_id: 'j-2' }]);
    assert.deepEqual(reported(await findJob(db(), project, 'j-1'), first), first);
  });

  it('stores every column as given: epoch milliseconds as numbers, nulls as nulls', async () => {
    const project = freshProject();
    const far = row(project, kpsJob({ job_id: 'far', begin_time: '2100-01-01T00:00:00.000Z', end_time: '2100-01-01T00:00:00.001Z' }), {
      created_at: 4_102_444_800_123,
      updated_at: 4_102_444_800_456,
    });
    await insert([far]);
    const stored = await findJob(db(), project, 'far');
    assert.deepEqual(reported(stored, far), far);
    assert.equal(typeof stored?.begin_time, 'number');
    assert.equal(stored?.begin_time, 4_102_444_800_000);
    assert.equal(stored?.resource_id, null);
    assert.equal(stored?.entities, '{}');
  });

  it('keys jobs by project: the same job_id in two projects is two rows', async () => {
    const a = freshProject();
    const b = freshProject();
    const doc = sdrsJob({ job_id: 'shared' });
    await insert([row(a, doc), row(b, { ...doc, fail_reason: 'other' })]);
    assert.equal((await findJob(db(), a, 'shared'))?.fail_reason, 'volume is error!');
    assert.equal((await findJob(db(), b, 'shared'))?.fail_reason, 'other');
    assert.equal(await findJob(db(), freshProject(), 'shared'), undefined);

    const locked = await db()
      .transaction()
      .execute((tx) => lockJobs(tx, [{ project_id: a, job_id: 'shared' }]));
    assert.deepEqual(
      locked.map((r) => [r.project_id, r.fail_reason]),
      [[a, 'volume is error!']],
    );
  });

  it('updates the reported fields through the writer but never the key, cleared or created_at', async () => {
    const project = freshProject();
    const original = row(project, sdrsJob({ job_id: 'u-1', status: 'RUNNING', end_time: null, error_code: null, fail_reason: null }));
    await insert([original]);
    await db().updateTable('jobs').set({ cleared: 1 }).where('project_id', '=', project).where('job_id', '=', 'u-1').execute();

    const next = row(project, sdrsJob({ job_id: 'u-1' }), { cleared: 0, created_at: 9_999, updated_at: 5_000 });
    await db()
      .transaction()
      .execute(async (tx) => {
        const [before] = await lockJobs(tx, [{ project_id: project, job_id: 'u-1' }]);
        await server().ctx.writer.save(tx, [], [{ before: before as JobRow, after: next }]);
      });
    const stored = await findJob(db(), project, 'u-1');
    assert.equal(stored?.status, 'FAIL');
    assert.equal(stored?.error_code, 'EVS.2024');
    assert.equal(stored?.updated_at, 5_000);
    assert.equal(stored?.created_at, 1_000);
    assert.equal(stored?.cleared, 1);
  });

  it('reads, inserts and locks more keys than one statement holds', async () => {
    const project = freshProject();
    const rows = Array.from({ length: 1_201 }, (_, i) => row(project, kpsJob({ job_id: `bulk-${i}` })));
    const inserted = await insert(rows);
    assert.equal(inserted.length, 1_201);
    const keys = rows.map((r) => ({ project_id: r.project_id, job_id: r.job_id }));
    const locked = await db()
      .transaction()
      .execute((tx) => lockJobs(tx, [...keys, { project_id: project, job_id: 'missing' }]));
    assert.equal(locked.length, 1_201);
    assert.equal(new Set(locked.map((r) => r.job_id)).size, 1_201);
    const again = await insert(rows);
    assert.deepEqual(again, []);
  });

  it('locks the keys of several projects in one call, each stored job once, in key order', async () => {
    const [a, b] = [freshProject(), freshProject()].sort();
    await insert([...['x-1', 'x-2', 'x-3'].map((id) => row(a as string, sdrsJob({ job_id: id }))), row(b as string, kpsJob({ job_id: 'x-2' }))]);
    const keys = [
      [b, 'x-9'],
      [a, 'x-3'],
      [b, 'x-2'],
      [a, 'missing'],
      [a, 'x-1'],
    ].map(([project_id, job_id]) => ({ project_id: project_id as string, job_id: job_id as string }));
    const locked = await db()
      .transaction()
      .execute((tx) => lockJobs(tx, keys));
    assert.deepEqual(
      locked.map((r) => [r.project_id, r.job_id]),
      [
        [a, 'x-1'],
        [a, 'x-3'],
        [b, 'x-2'],
      ],
    );
  });

  it('lists a project in bytewise job_id order, filtered, after the marker, up to the limit', async () => {
    const project = freshProject();
    const ids = ['b', 'B', 'a', 'A', '_', '-', '.', '0', 'Z', 'z', 'ab', 'a-b'];
    await insert(
      ids.map((id, i) =>
        row(project, i % 3 === 0 ? kpsJob({ job_id: id, status: 'RUNNING', end_time: null, error_code: null, fail_reason: null }) : sdrsJob({ job_id: id })),
      ),
    );
    const bytewise = [...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual(
      (await listJobs(db(), project, { limit: 100 })).map((r) => r.job_id),
      bytewise,
    );
    assert.deepEqual(
      (await listJobs(db(), project, { limit: 3 })).map((r) => r.job_id),
      bytewise.slice(0, 3),
    );
    assert.deepEqual(
      (await listJobs(db(), project, { limit: 100, marker: 'Z' })).map((r) => r.job_id),
      bytewise.slice(bytewise.indexOf('Z') + 1),
    );
    assert.deepEqual(
      (await listJobs(db(), project, { limit: 100, marker: 'zz' })).map((r) => r.job_id),
      [],
    );
    const kps = ids.filter((_, i) => i % 3 === 0).sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual(
      (await listJobs(db(), project, { limit: 100, service: 'kps' })).map((r) => r.job_id),
      kps,
    );
    assert.deepEqual(
      (await listJobs(db(), project, { limit: 100, status: 'RUNNING' })).map((r) => r.job_id),
      kps,
    );
    assert.deepEqual(
      (await listJobs(db(), project, { limit: 100, service: 'sdrs', status: 'RUNNING' })).map((r) => r.job_id),
      [],
    );
  });

  it('makes a second writer of the same job wait for the first (PostgreSQL row lock)', async (t) => {
    if (server().engine !== 'postgres') {
      t.skip('SQLite serializes writers with BEGIN IMMEDIATE instead');
      return;
    }
    const project = freshProject();
    await insert([row(project, sdrsJob({ job_id: 'locked' }))]);
    const key = { project_id: project, job_id: 'locked' };
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const first = db()
      .transaction()
      .execute(async (tx) => {
        await lockJobs(tx, [key]);
        locked();
        await held;
        order.push('first commits');
      });
    await lockTaken;
    const second = db()
      .transaction()
      .execute(async (tx) => {
        await lockJobs(tx, [key]);
        order.push('second has the lock');
      });
    // Wait until PostgreSQL reports the second transaction blocked on a lock.
    for (let i = 0; ; i++) {
      const { rows } = await sql<{
        n: number;
      }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(db());
      if ((rows[0]?.n ?? 0) > 0) break;
      assert.ok(i < 500, 'the second transaction never waited for the lock');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    release();
    await Promise.all([first, second]);
    assert.deepEqual(order, ['first commits', 'second has the lock']);
  });
});
