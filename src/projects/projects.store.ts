/**
 * SQL of the project reads: which projects have jobs, exact counters read from
 * `job_counts`, and current failures by hour read from the list indexes. Reads only:
 * every counter is written by the listing code in the writing transaction.
 */
import { sql } from 'kysely';
import type { Handle } from '../jobs/jobs.store.js';
import { SDRS_RESOURCE_TYPES } from '../jobs/jobs.schema.js';

/**
 * Up to `limit` project ids that have jobs, in id order, after `marker` (from the first
 * when empty). One index seek per project (a loose index scan over the primary key), so
 * a page costs the same whatever each project holds.
 */
export async function projectsWithJobs(db: Handle, marker: string, limit: number): Promise<string[]> {
  const { rows } = await sql<{ project_id: string }>`
    with recursive next_project(project_id, n) as (
      select (select min(project_id) from jobs where project_id > ${marker}), 1
      union all
      select (select min(j.project_id) from jobs j where j.project_id > p.project_id), p.n + 1
      from next_project p
      where p.project_id is not null and p.n < ${limit}
    )
    select project_id from next_project where project_id is not null order by project_id`.execute(db);
  return rows.map((row) => row.project_id);
}

/** True when the project has at least one job. */
export async function hasJobs(db: Handle, projectId: string): Promise<boolean> {
  const row = await db.selectFrom('jobs').select('job_id').where('project_id', '=', projectId).limit(1).executeTakeFirst();
  return row !== undefined;
}

/** The project's counters of these buckets (src/jobs/listing.ts); a bucket never counted reads 0. */
export async function readCounts(db: Handle, projectId: string, buckets: readonly string[]): Promise<Map<string, number>> {
  const rows = await db.selectFrom('job_counts').select(['bucket', 'n']).where('project_id', '=', projectId).where('bucket', 'in', buckets).execute();
  const counts = new Map(buckets.map((bucket): [string, number] => [bucket, 0]));
  for (const row of rows) counts.set(row.bucket, Number(row.n));
  return counts;
}

const HOUR_MS = 3_600_000;

/**
 * How many jobs of one list began in each hour from `fromHour` (hours since the epoch)
 * on, by hour. The list is a literal and SDRS names every resource type, so each read
 * is a range scan of the list's index (jobs_sdrs_failures_by_type, jobs_kps_tasks) over
 * the window, never a read of the table.
 */
export async function listedPerHour(db: Handle, projectId: string, list: 'sdrs' | 'kps_failed', fromHour: number): Promise<Map<number, number>> {
  let query = db
    .selectFrom('jobs')
    .select([sql<number | string>`begin_time / ${sql.lit(HOUR_MS)}`.as('hour'), (eb) => eb.fn.countAll<number | string>().as('n')])
    .where('project_id', '=', projectId)
    .where('list', '=', sql.lit(list));
  if (list === 'sdrs')
    query = query.where(
      'resource_type',
      'in',
      SDRS_RESOURCE_TYPES.map((type) => sql.lit(type)),
    );
  const rows = await query
    .where('begin_time', '>=', fromHour * HOUR_MS)
    .groupBy(sql`begin_time / ${sql.lit(HOUR_MS)}`)
    .execute();
  return new Map(rows.map((row): [number, number] => [Number(row.hour), Number(row.n)]));
}
