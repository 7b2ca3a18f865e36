/**
 * All SQL for the producer side of jobs. Every function takes its handle (the database
 * or the caller's transaction) and is scoped by project.
 */
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../db/schema.js';
import type { JobRow, JobsTable, ListingColumns } from './jobs.table.js';
import type { JobStatus, Service } from './jobs.schema.js';

export type Handle = Kysely<DB> | Transaction<DB>;
export interface JobKey {
  readonly project_id: string;
  readonly job_id: string;
}

/** A row to write: the job, with its listing columns when it has been given them. */
export type JobRecord = JobRow & Partial<ListingColumns>;

const COLUMN_SET: Readonly<Record<keyof JobsTable, true>> = {
  project_id: true, job_id: true, service: true, job_type: true, operation: true, status: true, begin_time: true, end_time: true,
  error_code: true, fail_reason: true, resource_id: true, resource_name: true, resource_type: true, server_group_id: true,
  entities: true, parent_job_id: true, server_id: true, server_name: true, keypair_name: true, cleared: true, created_at: true,
  updated_at: true,
};
/** The job's own columns: a row read back is a JobRow, without the listing columns derived from it. */
const JOB_COLUMNS = Object.keys(COLUMN_SET) as (keyof JobsTable)[];

/** Rows per statement: keeps every statement far below both engines' parameter limits. */
const CHUNK = 500;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/**
 * Reads the given jobs and, on PostgreSQL, locks them until the transaction ends (on
 * SQLite the transaction already holds the write lock). Keys are sorted so that two
 * transactions locking overlapping sets take the locks in the same order. One query per
 * project and chunk, `job_id IN (...)`: PostgreSQL plans a list of (project_id, job_id)
 * pairs as an OR of pairs, which took 70 ms for a batch of 1000 new jobs, against one
 * index scan over an array here.
 */
export async function lockJobs(tx: Transaction<DB>, keys: readonly JobKey[]): Promise<JobRow[]> {
  const sorted = [...keys].sort(compareKeys);
  const byProject = new Map<string, string[]>();
  for (const key of sorted) {
    const ids = byProject.get(key.project_id);
    if (ids === undefined) byProject.set(key.project_id, [key.job_id]);
    else ids.push(key.job_id);
  }
  const rows: JobRow[] = [];
  for (const [projectId, ids] of byProject) {
    for (const part of chunks(ids)) {
      rows.push(
        ...(await tx
          .selectFrom('jobs')
          .select(JOB_COLUMNS)
          .where('project_id', '=', projectId)
          .where('job_id', 'in', part)
          .orderBy('job_id')
          .forUpdate()
          .execute()),
      );
    }
  }
  return rows;
}

/**
 * Inserts rows that do not exist yet and returns the keys it inserted; a row another
 * writer inserted first is left alone and missing from the result.
 */
export async function insertNewJobs(tx: Transaction<DB>, rows: readonly JobRecord[]): Promise<JobKey[]> {
  const inserted: JobKey[] = [];
  for (const part of chunks([...rows].sort(compareKeys))) {
    inserted.push(
      ...(await tx
        .insertInto('jobs')
        .values(part)
        .onConflict((oc) => oc.columns(['project_id', 'job_id']).doNothing())
        .returning(['project_id', 'job_id'])
        .execute()),
    );
  }
  return inserted;
}

/** Overwrites a stored job's reported fields and listing (never its key, `cleared` or `created_at`). */
export async function updateJob(tx: Transaction<DB>, row: JobRecord): Promise<void> {
  const { project_id, job_id, cleared: _cleared, created_at: _created, ...fields } = row;
  await tx.updateTable('jobs').set(fields).where('project_id', '=', project_id).where('job_id', '=', job_id).execute();
}

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

function compareKeys(a: JobKey, b: JobKey): number {
  if (a.project_id !== b.project_id) return a.project_id < b.project_id ? -1 : 1;
  return a.job_id < b.job_id ? -1 : a.job_id > b.job_id ? 1 : 0;
}
