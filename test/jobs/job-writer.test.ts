/**
 * The one writer's calls beyond reports and clears (which the HTTP suites drive) on both
 * engines: importing stored state, deleting a project, everything, or finished jobs
 * before a time with their sub-jobs, and observers told every change inside the
 * transaction. After each, the derived data must be exactly what the rows say.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { sql, type Transaction } from 'kysely';
import type { DB } from '../../src/db/schema.js';
import type { JobChange } from '../../src/jobs/job-writer.js';
import { checkListings } from '../../src/jobs/listing-check.js';
import { toJobRow, toReportedJob } from '../../src/jobs/job.js';
import type { JobDocument } from '../../src/jobs/jobs.schema.js';
import { findJob } from '../../src/jobs/jobs.store.js';
import type { JobRow } from '../../src/jobs/jobs.table.js';
import { describeEachEngine, kpsJob, sdrsJob } from '../helpers.js';

function freshProject(): string {
  return `w-${randomBytes(6).toString('hex')}`;
}

function row(projectId: string, doc: Record<string, unknown>, cleared = 0, at = 1_000): JobRow {
  return toJobRow(toReportedJob(projectId, doc as JobDocument), cleared, at, at);
}

describeEachEngine('the one writer', (server) => {
  const ctx = () => server().ctx;
  const inTx = <T>(work: (tx: Transaction<DB>) => Promise<T>) => ctx().db.kysely.transaction().execute(work);

  /** The project's counters and items against what the listings say of its rows. */
  async function assertExact(projectId: string): Promise<void> {
    const rows = (
      await sql<JobRow & { list: string | null; list_item: string | null }>`select * from jobs where project_id = ${projectId}`.execute(ctx().db.kysely)
    ).rows;
    const expected = new Map<string, number>();
    for (const r of rows) {
      const job = { ...r, cleared: Number(r.cleared) } as JobRow;
      const listing = ctx().writer.listings.listingOf(job);
      assert.deepEqual({ list: r.list, list_item: r.list_item }, listing, `item of ${r.job_id}`);
      for (const bucket of ctx().writer.listings.bucketsOf(job)) expected.set(bucket, (expected.get(bucket) ?? 0) + 1);
    }
    const stored = (
      await sql<{ bucket: string; n: number | string }>`select bucket, n from job_counts where project_id = ${projectId}`.execute(ctx().db.kysely)
    ).rows;
    const actual = new Map(stored.filter((s) => Number(s.n) !== 0).map((s) => [s.bucket, Number(s.n)]));
    assert.deepEqual(actual, expected);
  }

  async function version(projectId: string): Promise<number> {
    const { rows } = await sql<{ version: number | string }>`select version from list_versions where project_id = ${projectId}`.execute(ctx().db.kysely);
    return Number(rows[0]?.version ?? 0);
  }

  it('puts rows with their stored state, derives their listing, and leaves equal rows alone', async () => {
    const project = freshProject();
    const failed = row(project, sdrsJob({ job_id: 'f-1' }), 0, 5_000);
    const cleared = row(project, kpsJob({ job_id: 'k-1', status: 'FAIL', error_code: 'KPS.1', fail_reason: 'x' }), 1, 6_000);
    const running = row(project, kpsJob({ job_id: 'k-2', status: 'RUNNING', end_time: null, error_code: null, fail_reason: null }), 0, 7_000);
    assert.deepEqual(await inTx((tx) => ctx().writer.put(tx, [failed, cleared, running])), { written: 3, unchanged: 0 });
    assert.deepEqual(await findJob(ctx().db.kysely, project, 'k-1'), cleared);
    await assertExact(project);

    const moved = { ...running, status: 'FAIL' as const, end_time: 8_000, error_code: 'KPS.2', fail_reason: 'y', updated_at: 8_000 };
    assert.deepEqual(await inTx((tx) => ctx().writer.put(tx, [failed, cleared, moved])), { written: 1, unchanged: 2 });
    assert.equal((await findJob(ctx().db.kysely, project, 'k-2'))?.updated_at, 8_000);
    await assertExact(project);
  });

  it('tells observers every change inside the transaction, and rolls back with them', async () => {
    const project = freshProject();
    const seen: JobChange[] = [];
    const stop = ctx().writer.observe(async (tx, changes) => {
      // The rows are written when an observer runs: it reads them in the same transaction.
      for (const change of changes) {
        const key = (change.after ?? change.before) as JobRow;
        const { rows } = await sql<{
          n: number | string;
        }>`select count(*) as n from jobs where project_id = ${key.project_id} and job_id = ${key.job_id}`.execute(tx);
        assert.equal(Number(rows[0]?.n), change.after === undefined ? 0 : 1);
      }
      seen.push(...changes);
      if (changes.some((c) => c.after?.job_id === 'boom')) throw new Error('observer refused');
    });
    try {
      const job = row(project, sdrsJob({ job_id: 'o-1' }));
      await inTx((tx) => ctx().writer.save(tx, [job], []));
      assert.deepEqual(seen, [{ before: undefined, after: job }]);
      seen.length = 0;
      const before = (await findJob(ctx().db.kysely, project, 'o-1')) as JobRow;
      assert.ok(await inTx((tx) => ctx().writer.clear(tx, project, 'o-1', 'sdrs', 2_000)));
      assert.deepEqual(seen, [{ before, after: { ...before, cleared: 1, updated_at: 2_000 } }]);

      await assert.rejects(
        inTx((tx) => ctx().writer.save(tx, [row(project, sdrsJob({ job_id: 'boom' }))], [])),
        /observer refused/,
      );
      assert.equal(await findJob(ctx().db.kysely, project, 'boom'), undefined);
      await assertExact(project);
    } finally {
      stop();
    }
  });

  it('deletes finished jobs before a time with their sub-jobs, keeping listed failures and newer jobs', async () => {
    const project = freshProject();
    const old = { begin_time: '2020-01-01T00:00:00.000Z', end_time: '2020-01-01T00:01:00.000Z' };
    const rows = [
      row(project, sdrsJob({ job_id: 'old-ok', status: 'SUCCESS', error_code: null, fail_reason: null, ...old })),
      row(project, sdrsJob({ job_id: 'old-ok-sub', parent_job_id: 'old-ok', status: 'SUCCESS', error_code: null, fail_reason: null, ...old })),
      row(project, sdrsJob({ job_id: 'old-failed', ...old })),
      row(project, sdrsJob({ job_id: 'old-cleared', ...old }), 1),
      row(project, kpsJob({ job_id: 'new-ok', status: 'SUCCESS', error_code: null, fail_reason: null, end_time: '2030-01-01T00:00:00.000Z' })),
    ];
    await inTx((tx) => ctx().writer.put(tx, rows));
    const versionBefore = await version(project);
    const deleted = await inTx((tx) => ctx().writer.delete(tx, { projectId: project, finishedBefore: Date.parse('2025-01-01T00:00:00Z') }));
    assert.equal(deleted, 3);
    const left = (await sql<{ job_id: string }>`select job_id from jobs where project_id = ${project} order by job_id`.execute(ctx().db.kysely)).rows;
    assert.deepEqual(
      left.map((r) => r.job_id),
      ['new-ok', 'old-failed'],
    );
    assert.equal(await version(project), versionBefore, 'no list changed');
    await assertExact(project);
  });

  it('deletes a whole project, its counters gone and its list version raised, other projects untouched', async () => {
    const [a, b] = [freshProject(), freshProject()];
    await inTx((tx) => ctx().writer.put(tx, [row(a, sdrsJob()), row(a, kpsJob({ status: 'FAIL', error_code: 'E', fail_reason: 'r' })), row(b, sdrsJob())]));
    const versionA = await version(a);
    // An observer that ignores deletions is not told: the project goes in a few statements.
    const ignored: JobChange[] = [];
    const stopIgnoring = ctx().writer.observe(async (_tx, changes) => void ignored.push(...changes), { deletions: false });
    try {
      assert.equal(await inTx((tx) => ctx().writer.delete(tx, { projectId: a })), 2);
    } finally {
      stopIgnoring();
    }
    assert.deepEqual(ignored, []);
    assert.ok((await version(a)) > versionA);
    await assertExact(a);
    await assertExact(b);

    // With an observer listening, the same delete goes row by row and tells it each job.
    const seen: JobChange[] = [];
    const stop = ctx().writer.observe(async (_tx, changes) => {
      seen.push(...changes);
    });
    try {
      assert.equal(await inTx((tx) => ctx().writer.delete(tx, { projectId: b })), 1);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]?.after, undefined);
      await assertExact(b);
    } finally {
      stop();
    }
  });

  it('check finds the derived data exact after every write above, and names a counter that drifted', async () => {
    assert.deepEqual(await checkListings(ctx().db, ctx().writer.listings), {
      jobs: (await checkListings(ctx().db, ctx().writer.listings)).jobs,
      drifts: 0,
      first: [],
    });
    const project = freshProject();
    await inTx((tx) => ctx().writer.put(tx, [row(project, sdrsJob({ job_id: 'd-1' }))]));
    await sql`update job_counts set n = n + 1 where project_id = ${project} and bucket = 'sdrs type:protected_instances'`.execute(ctx().db.kysely);
    const report = await checkListings(ctx().db, ctx().writer.listings);
    assert.equal(report.drifts, 1);
    assert.deepEqual(report.first, [{ kind: 'count', project_id: project, bucket: 'sdrs type:protected_instances', stored: 2, expected: 1 }]);
    await sql`update job_counts set n = n - 1 where project_id = ${project} and bucket = 'sdrs type:protected_instances'`.execute(ctx().db.kysely);
  });
});
