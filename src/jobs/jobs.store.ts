/**
 * The producer side's reads of jobs. Every function takes its handle (the database or
 * the caller's transaction) and is scoped by project. Writes are the one writer's
 * (src/jobs/job-writer.ts).
 */
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../db/schema.js';
import type { JobRow, JobsTable } from './jobs.table.js';
import type { JobStatus, Service } from './jobs.schema.js';

export type Handle = Kysely<DB> | Transaction<DB>;
export interface JobKey {
  readonly project_id: string;
  readonly job_id: string;
}

const COLUMN_SET: Readonly<Record<keyof JobsTable, true>> = {
  project_id: true,
  job_id: true,
  service: true,
  job_type: true,
  operation: true,
  status: true,
  begin_time: true,
  end_time: true,
  error_code: true,
  fail_reason: true,
  resource_id: true,
  resource_name: true,
  resource_type: true,
  server_group_id: true,
  entities: true,
  parent_job_id: true,
  server_id: true,
  server_name: true,
  keypair_name: true,
  cleared: true,
  created_at: true,
  updated_at: true,
};
/** The job's own columns: a row read back is a JobRow, without the listing columns derived from it. */
export const JOB_COLUMNS = Object.keys(COLUMN_SET) as (keyof JobsTable)[];

export async function findJob(db: Handle, projectId: string, jobId: string): Promise<JobRow | undefined> {
  return db.selectFrom('jobs').select(JOB_COLUMNS).where('project_id', '=', projectId).where('job_id', '=', jobId).executeTakeFirst();
}

export interface JobFilter {
  readonly service?: Service | undefined;
  readonly status?: JobStatus | undefined;
  /** Return jobs whose id sorts after this one. */
  readonly marker?: string | undefined;
  readonly limit: number;
}

/** A project's jobs in job_id order, for marker pagination. */
export async function listJobs(db: Handle, projectId: string, filter: JobFilter): Promise<JobRow[]> {
  let query = db.selectFrom('jobs').select(JOB_COLUMNS).where('project_id', '=', projectId);
  if (filter.service !== undefined) query = query.where('service', '=', filter.service);
  if (filter.status !== undefined) query = query.where('status', '=', filter.status);
  if (filter.marker !== undefined) query = query.where('job_id', '>', filter.marker);
  return query.orderBy('job_id').limit(filter.limit).execute();
}
