/**
 * The SQL of the one writer (src/jobs/job-writer.ts): every statement that writes `jobs`,
 * `job_counts` or `list_versions`. Nothing but the writer imports this file
 * (lint rule local/one-writer, eslint-rules/index.js, holds that line); everything else reads.
 */
import { sql, type Compilable, type SqlBool, type Transaction } from 'kysely';
import { jsonRows, jsonRowsValue, writesJsonRows, type JsonRowColumns, type JsonRowsValue } from '../db/json-rows.js';
import { PreparedQuery, PreparedRowsQuery } from '../db/prepared.js';
import type { DB } from '../db/schema.js';
import { JOB_COLUMNS, type JobKey } from './jobs.store.js';
import type { JobRow, ListingColumns } from './jobs.table.js';
import type { ScopeWhere } from './listing.js';

/** A row as stored: the job and its listing. */
export type StoredRow = JobRow & ListingColumns;

/** A change to one bucket of one project. */
export interface CountDelta {
  readonly project_id: string;
  readonly bucket: string;
  readonly n: number;
}

/** Columns an insert writes: the job's own and its listing. */
const INSERT_COLUMNS: readonly (keyof StoredRow)[] = [...JOB_COLUMNS, 'list', 'list_item'];

/** Every column a write sets on a stored job: all but its key. */
const UPDATE_COLUMNS = INSERT_COLUMNS.filter((column) => column !== 'project_id' && column !== 'job_id');

/**
 * Row counts a delete by keys is run with: powers of two, so padding a run up to the
 * next wastes less than half. Each is compiled once per engine; 512 keeps every
 * statement far below both engines' parameter limits.
 */
const ROW_COUNTS = [512, 256, 128, 64, 32, 16, 8, 4, 2, 1] as const;
const MAX_ROWS = ROW_COUNTS[0];

/** Rows per plain (not prepared) statement: far below both engines' parameter limits. */
const CHUNK = 500;

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

/** Keys grouped by project, each group in key order: the shape of every keyed statement here. */
function byProject(keys: readonly JobKey[]): JobKey[][] {
  const groups = new Map<string, JobKey[]>();
  for (const key of [...keys].sort(compareKeys)) {
    const same = groups.get(key.project_id);
    if (same === undefined) groups.set(key.project_id, [key]);
    else same.push(key);
  }
  return [...groups.values()];
}

/** How each stored column is read back from the JSON rows of a statement (src/db/json-rows.ts). */
const STORED_TYPES: JsonRowColumns<StoredRow> = {
  project_id: 'text',
  job_id: 'text',
  service: 'text',
  job_type: 'text',
  operation: 'text',
  status: 'text',
  begin_time: 'bigint',
  end_time: 'bigint',
  error_code: 'text',
  fail_reason: 'text',
  resource_id: 'text',
  resource_name: 'text',
  resource_type: 'text',
  server_group_id: 'text',
  entities: 'text',
  parent_job_id: 'text',
  server_id: 'text',
  server_name: 'text',
  keypair_name: 'text',
  cleared: 'integer',
  list: 'text',
  list_item: 'text',
  created_at: 'bigint',
  updated_at: 'bigint',
};

const KEY_TYPES: JsonRowColumns<JobKey> = { project_id: 'text', job_id: 'text' };
const PROJECT_TYPES: JsonRowColumns<{ project_id: string }> = { project_id: 'text' };
const DELTA_TYPES: JsonRowColumns<CountDelta> = { project_id: 'text', bucket: 'text', n: 'bigint' };

/** The JSON rows parameter of a statement over rows (src/db/json-rows.ts). */
interface JsonRowsParameter {
  readonly rows: JsonRowsValue;
}

/**
 * Stored jobs by key, every key of a batch in one statement: the keys are read first
 * (SQLite takes a CROSS JOIN's order as written), then each job by its primary key.
 */
const lockQuery = new PreparedQuery<JsonRowsParameter, JobRow>(
  (db, { rows }) =>
    db
      .selectFrom(jsonRows<JobKey>(db, rows, KEY_TYPES).as('k'))
      .crossJoin('jobs')
      .select(JOB_COLUMNS.map((column) => `jobs.${column}` as const))
      .whereRef('jobs.project_id', '=', 'k.project_id')
      .whereRef('jobs.job_id', '=', 'k.job_id')
      .orderBy('jobs.project_id')
      .orderBy('jobs.job_id')
      .forUpdate('jobs') as unknown as Compilable<JobRow>,
);

/** A new job, one statement per row; a key already stored is left alone (no row changed). */
const insertRowQuery = new PreparedRowsQuery<StoredRow, never>(INSERT_COLUMNS, (db, rows) =>
  db
    .insertInto('jobs')
    .values(rows)
    .onConflict((oc) => oc.columns(['project_id', 'job_id']).doNothing()),
);

/** New jobs, every row of a batch in one statement (JSON rows); a key already stored is left alone and not returned. */
const insertQuery = new PreparedQuery<JsonRowsParameter, JobKey>((db, { rows }) =>
  db
    .insertInto('jobs')
    .columns(INSERT_COLUMNS)
    .expression(
      db
        .selectFrom(jsonRows<StoredRow>(db, rows, STORED_TYPES).as('r'))
        .select(INSERT_COLUMNS)
        // SQLite reads an upsert after INSERT ... SELECT only when the SELECT has a WHERE.
        .where(sql<SqlBool>`true`),
    )
    .onConflict((oc) => oc.columns(['project_id', 'job_id']).doNothing())
    .returning(['project_id', 'job_id']),
);

/** A stored job overwritten (all but its key), one statement per row. */
const overwriteRowQuery = new PreparedRowsQuery<StoredRow, never>(INSERT_COLUMNS, (db, [row]) => {
  const { project_id, job_id, ...columns } = row as StoredRow;
  return db.updateTable('jobs').set(columns).where('project_id', '=', project_id).where('job_id', '=', job_id);
});

/** Stored jobs overwritten (all but their key), every row of a batch in one statement. */
const overwriteQuery = new PreparedQuery<JsonRowsParameter, never>((db, { rows }) =>
  db
    .updateTable('jobs')
    .from(jsonRows<StoredRow>(db, rows, STORED_TYPES).as('r'))
    .set((eb) => Object.fromEntries(UPDATE_COLUMNS.map((column) => [column, eb.ref(`r.${column}`)])))
    .whereRef('jobs.project_id', '=', 'r.project_id')
    .whereRef('jobs.job_id', '=', 'r.job_id'),
);

const deleteQuery = new PreparedRowsQuery<JobKey, JobKey>(['project_id', 'job_id'], (db, keys) =>
  db
    .deleteFrom('jobs')
    .where('project_id', '=', (keys[0] as JobKey).project_id)
    .where(
      'job_id',
      'in',
      keys.map((k) => k.job_id),
    ),
);

/**
 * Reads the given jobs and, on PostgreSQL, locks them until the transaction ends (on
 * SQLite the transaction already holds the write lock). One statement for all keys,
 * whatever their projects: a round trip per project cost a fleet's batch (50 projects)
 * fifty. Keys are sorted, and the rows locked in key order, so that two transactions
 * locking overlapping sets take the locks in the same order.
 */
export async function lockJobs(tx: Transaction<DB>, keys: readonly JobKey[]): Promise<JobRow[]> {
  if (keys.length === 0) return [];
  return lockQuery.execute(tx, { rows: jsonRowsValue(tx, [...keys].sort(compareKeys), KEY_TYPES) });
}

/**
 * Inserts rows that do not exist yet and returns the keys it inserted; a row another
 * writer inserted first is left alone and missing from the result.
 */
export async function insertNewJobs(tx: Transaction<DB>, rows: readonly StoredRow[]): Promise<JobKey[]> {
  if (rows.length === 0) return [];
  const sorted = [...rows].sort(compareKeys);
  if (writesJsonRows(tx)) return insertQuery.execute(tx, { rows: jsonRowsValue(tx, sorted, STORED_TYPES) });
  const changes = await insertRowQuery.executeEach(tx, sorted);
  return sorted.filter((_, i) => changes[i] === 1).map(({ project_id, job_id }) => ({ project_id, job_id }));
}

/** Overwrites every column but the key of stored jobs (each key at most once). */
export async function overwriteJobs(tx: Transaction<DB>, rows: readonly StoredRow[]): Promise<void> {
  if (rows.length === 0) return;
  const sorted = [...rows].sort(compareKeys);
  if (writesJsonRows(tx)) await overwriteQuery.execute(tx, { rows: jsonRowsValue(tx, sorted, STORED_TYPES) });
  else await overwriteRowQuery.executeEach(tx, sorted);
}

/** Sets the same columns on every job of `keys`. */
export async function updateJobs(tx: Transaction<DB>, keys: readonly JobKey[], fields: Partial<StoredRow>): Promise<void> {
  for (const projectKeys of byProject(keys)) {
    const projectId = (projectKeys[0] as JobKey).project_id;
    for (let i = 0; i < projectKeys.length; i += CHUNK) {
      await tx
        .updateTable('jobs')
        .set(fields)
        .where('project_id', '=', projectId)
        .where(
          'job_id',
          'in',
          projectKeys.slice(i, i + CHUNK).map((k) => k.job_id),
        )
        .execute();
    }
  }
}

/** Deletes jobs by key. */
export async function deleteJobs(tx: Transaction<DB>, keys: readonly JobKey[]): Promise<void> {
  for (const projectKeys of byProject(keys)) {
    for (const run of paddedRuns(projectKeys)) await deleteQuery.execute(tx, run);
  }
}

/** A project's listed jobs in a scope (`where` names the list), locked, in key order. */
export async function lockScope(tx: Transaction<DB>, where: ScopeWhere): Promise<JobRow[]> {
  return tx.selectFrom('jobs').select(JOB_COLUMNS).where(where).orderBy('project_id').orderBy('job_id').forUpdate().execute();
}

/** What {@link selectToDelete} selects. */
export interface DeleteSelection {
  /** Only this project's jobs; every project when absent. */
  readonly projectId?: string | undefined;
  /** Only top-level jobs in no list that ended before this time (epoch ms). */
  readonly finishedBefore?: number | undefined;
  readonly limit: number;
}

/**
 * Up to `limit` jobs to delete, locked: in key order, or, selecting by end time, oldest
 * first from `jobs_finished_unlisted` (migration 0007: a round reads what it deletes, not
 * every job) and passing over rows another transaction holds (PostgreSQL), which a later
 * round finds again, so that retention never waits behind a request.
 */
export async function selectToDelete(tx: Transaction<DB>, selection: DeleteSelection): Promise<JobRow[]> {
  let query = tx.selectFrom('jobs').select(JOB_COLUMNS);
  if (selection.projectId !== undefined) query = query.where('project_id', '=', selection.projectId);
  if (selection.finishedBefore === undefined) return query.orderBy('project_id').orderBy('job_id').limit(selection.limit).forUpdate().execute();
  return query
    .where('parent_job_id', 'is', null)
    .where('list', 'is', null)
    .where('end_time', 'is not', null)
    .where('end_time', '<', selection.finishedBefore)
    .orderBy('end_time')
    .orderBy('project_id')
    .orderBy('job_id')
    .limit(selection.limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

/** The sub-jobs of some jobs of one project, locked. */
export async function lockSubJobs(tx: Transaction<DB>, projectId: string, parentIds: readonly string[]): Promise<JobRow[]> {
  const rows: JobRow[] = [];
  for (let i = 0; i < parentIds.length; i += CHUNK) {
    rows.push(
      ...(await tx
        .selectFrom('jobs')
        .select(JOB_COLUMNS)
        .where('project_id', '=', projectId)
        .where('parent_job_id', 'in', parentIds.slice(i, i + CHUNK))
        .orderBy('job_id')
        .forUpdate()
        .execute()),
    );
  }
  return rows;
}

/**
 * Deletes every job of a project (every project when `projectId` is undefined) and its
 * counters in a few statements; returns how many jobs it deleted. The caller raises the
 * list versions.
 */
export async function deleteAllJobs(tx: Transaction<DB>, projectId: string | undefined): Promise<number> {
  if (projectId === undefined) {
    const { numDeletedRows } = await tx.deleteFrom('jobs').executeTakeFirst();
    await tx.deleteFrom('job_counts').execute();
    return Number(numDeletedRows);
  }
  const { numDeletedRows } = await tx.deleteFrom('jobs').where('project_id', '=', projectId).executeTakeFirst();
  await tx.deleteFrom('job_counts').where('project_id', '=', projectId).execute();
  return Number(numDeletedRows);
}

/** Raises the list version of every project that has one. */
export async function raiseAllListVersions(tx: Transaction<DB>): Promise<void> {
  await tx
    .updateTable('list_versions')
    .set((eb) => ({ version: eb('version', '+', 1) }))
    .execute();
}

/** The list versions of projects raised (created at 1), all in one statement, in the rows' order. */
const raiseVersionsQuery = new PreparedQuery<JsonRowsParameter, never>((db, { rows }) =>
  db
    .insertInto('list_versions')
    .columns(['project_id', 'version'])
    .expression(
      db
        .selectFrom(jsonRows(db, rows, PROJECT_TYPES).as('r'))
        .select(['r.project_id', sql<number>`1`.as('version')])
        .where(sql<SqlBool>`true`),
    )
    .onConflict((oc) => oc.column('project_id').doUpdateSet((eb) => ({ version: eb('list_versions.version', '+', 1) }))),
);

/** Bucket changes added to their counters (created as needed), all in one statement, in the rows' order. */
const addCountsQuery = new PreparedQuery<JsonRowsParameter, never>((db, { rows }) =>
  db
    .insertInto('job_counts')
    .columns(['project_id', 'bucket', 'n'])
    .expression(
      db
        .selectFrom(jsonRows(db, rows, DELTA_TYPES).as('r'))
        .select(['r.project_id', 'r.bucket', 'r.n'])
        .where(sql<SqlBool>`true`),
    )
    .onConflict((oc) => oc.columns(['project_id', 'bucket']).doUpdateSet((eb) => ({ n: eb('job_counts.n', '+', eb.ref('excluded.n')) }))),
);

/** A bucket change added to its counter (created as needed), one statement per change. */
const addCountQuery = new PreparedRowsQuery<CountDelta, never>(['project_id', 'bucket', 'n'], (db, rows) =>
  db
    .insertInto('job_counts')
    .values(rows)
    .onConflict((oc) => oc.columns(['project_id', 'bucket']).doUpdateSet((eb) => ({ n: eb('job_counts.n', '+', eb.ref('excluded.n')) }))),
);

/**
 * Raises the list versions of `projects` (in order), then adds each bucket change to its
 * counter, creating counters as needed. Versions come first: a recount
 * (src/jobs/listing-rebuild.ts) takes a project's version row before it reads, so on
 * PostgreSQL a writer that has not reached its version yet has not touched a counter
 * either, and adds its change to the recounted one. Counters are written in (project,
 * bucket) order, so two transactions lock shared rows in the same order and never wait
 * for each other in a cycle.
 */
export async function recordListChanges(tx: Transaction<DB>, projects: readonly string[], deltas: readonly CountDelta[]): Promise<void> {
  if (projects.length > 0)
    await raiseVersionsQuery.execute(tx, {
      rows: jsonRowsValue(
        tx,
        projects.map((project_id) => ({ project_id })),
        PROJECT_TYPES,
      ),
    });
  if (deltas.length === 0) return;
  if (writesJsonRows(tx)) await addCountsQuery.execute(tx, { rows: jsonRowsValue(tx, deltas, DELTA_TYPES) });
  else await addCountQuery.executeEach(tx, deltas);
}

/** Replaces a project's counters with these (zero counters are left out). */
export async function replaceCounts(tx: Transaction<DB>, projectId: string, counts: ReadonlyMap<string, number>): Promise<void> {
  await tx.deleteFrom('job_counts').where('project_id', '=', projectId).execute();
  const rows = [...counts].filter(([, n]) => n !== 0).map(([bucket, n]) => ({ project_id: projectId, bucket, n }));
  for (let i = 0; i < rows.length; i += CHUNK)
    await tx
      .insertInto('job_counts')
      .values(rows.slice(i, i + CHUNK))
      .execute();
}

/** Up to `limit` stored jobs with their listing after `after` (from the first when undefined), in key order, locked. */
export async function lockRange(tx: Transaction<DB>, after: JobKey | undefined, limit: number): Promise<StoredRow[]> {
  let query = tx.selectFrom('jobs').select(INSERT_COLUMNS);
  if (after !== undefined) query = query.where(sql<SqlBool>`(project_id, job_id) > (${after.project_id}, ${after.job_id})`);
  return query.orderBy('project_id').orderBy('job_id').limit(limit).forUpdate().execute();
}

const setListingQuery = new PreparedQuery<JobKey & ListingColumns, never>((db, { project_id, job_id, list, list_item }) =>
  db.updateTable('jobs').set({ list, list_item }).where('project_id', '=', project_id).where('job_id', '=', job_id),
);

/** Sets the listing columns of one job, leaving the rest (updated_at included) as it is. */
export async function setListing(tx: Transaction<DB>, key: JobKey, listing: ListingColumns): Promise<void> {
  await setListingQuery.execute(tx, { project_id: key.project_id, job_id: key.job_id, ...listing });
}

/** Deletes the counters of projects that have no job (what a recount never visits); returns those projects, in order. */
export async function deleteOrphanCounts(tx: Transaction<DB>): Promise<string[]> {
  const deleted = await tx
    .deleteFrom('job_counts')
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('jobs').select('job_id').whereRef('jobs.project_id', '=', 'job_counts.project_id'))))
    .returning('project_id')
    .execute();
  return [...new Set(deleted.map((r) => r.project_id))].sort();
}

/** Records the stamp of the listing code that rendered the stored lists (src/jobs/listing-rebuild.ts). */
export async function writeStamp(tx: Transaction<DB>, stamp: string, now: number): Promise<void> {
  await tx
    .insertInto('listing_stamp')
    .values({ id: 1, stamp, rebuilt_at: now })
    .onConflict((oc) => oc.column('id').doUpdateSet({ stamp, rebuilt_at: now }))
    .execute();
}

export function compareKeys(a: JobKey, b: JobKey): number {
  if (a.project_id !== b.project_id) return a.project_id < b.project_id ? -1 : 1;
  return a.job_id < b.job_id ? -1 : a.job_id > b.job_id ? 1 : 0;
}
