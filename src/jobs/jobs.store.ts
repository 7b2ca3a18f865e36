/**
 * All SQL for the producer side of jobs. Every function takes its handle (the database
 * or the caller's transaction) and is scoped by project.
 */
import type { Kysely, Transaction } from 'kysely';
import { PreparedRowsQuery } from '../db/prepared.js';
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
const JOB_COLUMNS = Object.keys(COLUMN_SET) as (keyof JobsTable)[];

/** Columns an insert writes: the job's own and its listing. */
const INSERT_COLUMNS: readonly (keyof JobRow | keyof ListingColumns)[] = [...JOB_COLUMNS, 'list', 'list_item'];

/**
 * Row counts a statement over rows is run with: powers of two, so any number of rows
 * is a sum of a few of them and padding a run up to the next wastes less than half.
 * Each is compiled once per engine; 512 keeps every statement far below both engines'
 * parameter limits.
 */
const ROW_COUNTS = [512, 256, 128, 64, 32, 16, 8, 4, 2, 1] as const;
const MAX_ROWS = ROW_COUNTS[0];

/** `items` cut, in order, into runs of the row counts, largest first (1,201 = 512 + 512 + 128 + 32 + 16 + 1). */
function runs<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  let start = 0;
  for (const count of ROW_COUNTS) {
    for (; items.length - start >= count; start += count) out.push(items.slice(start, start + count));
  }
  return out;
}

/** `items` cut, in order, into runs of at most {@link MAX_ROWS}, each padded to a row count with copies of its last item. */
function paddedRuns<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += MAX_ROWS) {
    const run = items.slice(start, start + MAX_ROWS);
    let count: number = MAX_ROWS;
    for (const c of ROW_COUNTS) if (c >= run.length) count = c;
    const last = run[run.length - 1] as T;
    while (run.length < count) run.push(last);
    out.push(run);
  }
  return out;
}

/** Jobs of one project by id: the keys of one run share their project. */
const lockQuery = new PreparedRowsQuery<JobKey, JobRow>(['project_id', 'job_id'], (db, keys) =>
  db
    .selectFrom('jobs')
    .select(JOB_COLUMNS)
    .where('project_id', '=', (keys[0] as JobKey).project_id)
    .where(
      'job_id',
      'in',
      keys.map((k) => k.job_id),
    )
    .orderBy('job_id')
    .forUpdate(),
);

const insertQuery = new PreparedRowsQuery<JobRow & ListingColumns, JobKey>(INSERT_COLUMNS, (db, rows) =>
  db
    .insertInto('jobs')
    .values(rows)
    .onConflict((oc) => oc.columns(['project_id', 'job_id']).doNothing())
    .returning(['project_id', 'job_id']),
);

/**
 * Reads the given jobs and, on PostgreSQL, locks them until the transaction ends (on
 * SQLite the transaction already holds the write lock). Keys are sorted so that two
 * transactions locking overlapping sets take the locks in the same order. One query per
 * project and run of ids, `job_id IN (...)`: PostgreSQL plans a list of (project_id,
 * job_id) pairs as an OR of pairs, which took 70 ms for a batch of 1000 new jobs, against
 * one index scan over an array here. A run is padded by repeating an id, which an `IN`
 * list ignores, so that it has one of a few compiled shapes.
 */
export async function lockJobs(tx: Transaction<DB>, keys: readonly JobKey[]): Promise<JobRow[]> {
  const sorted = [...keys].sort(compareKeys);
  const byProject = new Map<string, JobKey[]>();
  for (const key of sorted) {
    const same = byProject.get(key.project_id);
    if (same === undefined) byProject.set(key.project_id, [key]);
    else same.push(key);
  }
  const rows: JobRow[] = [];
  for (const projectKeys of byProject.values()) {
    for (const run of paddedRuns(projectKeys)) rows.push(...(await lockQuery.execute(tx, run)));
  }
  return rows;
}

/**
 * Inserts rows that do not exist yet and returns the keys it inserted; a row another
 * writer inserted first is left alone and missing from the result.
 */
export async function insertNewJobs(tx: Transaction<DB>, rows: readonly (JobRow & ListingColumns)[]): Promise<JobKey[]> {
  const inserted: JobKey[] = [];
  for (const run of runs([...rows].sort(compareKeys))) inserted.push(...(await insertQuery.execute(tx, run)));
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
