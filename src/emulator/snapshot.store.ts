/** The SQL of snapshots: reading every job (of one project, or all) in key order, a page at a time. */
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../db/schema.js';
import { JOB_COLUMNS } from '../jobs/jobs.store.js';
import type { JobRow } from '../jobs/jobs.table.js';

type Handle = Kysely<DB> | Transaction<DB>;

/** Where a page starts: after this job. */
export interface JobCursor {
  readonly project_id: string;
  readonly job_id: string;
}

/**
 * Up to `limit` jobs after `after` in (project_id, job_id) order, of `projectId` when
 * given. Keyset paging on the primary key: each page is one index range scan, so the
 * last page of a million jobs costs what the first does.
 */
export async function jobsAfter(db: Handle, after: JobCursor | null, projectId: string | undefined, limit: number): Promise<JobRow[]> {
  let query = db.selectFrom('jobs').select(JOB_COLUMNS);
  if (projectId !== undefined) {
    query = query.where('project_id', '=', projectId);
    if (after !== null) query = query.where('job_id', '>', after.job_id);
  } else if (after !== null) {
    query = query.where((eb) => eb(eb.refTuple('project_id', 'job_id'), '>', eb.tuple(after.project_id, after.job_id)));
  }
  return query.orderBy('project_id').orderBy('job_id').limit(limit).execute();
}

/** How many jobs a snapshot of `projectId` (or of everything) holds. */
export async function countJobs(db: Handle, projectId: string | undefined): Promise<number> {
  let query = db.selectFrom('jobs').select((eb) => eb.fn.countAll<number | string>().as('n'));
  if (projectId !== undefined) query = query.where('project_id', '=', projectId);
  const row = await query.executeTakeFirstOrThrow();
  return Number(row.n);
}
