/**
 * All SQL for the KPS key-pair task views of the jobs table. A KPS task is a top-level
 * job reported with `service = 'kps'`; every query is scoped by project.
 *
 * The list queries repeat the predicate of the partial index `jobs_kps_tasks` as
 * literal SQL, not bound values: SQLite then uses the index and knows the terms hold for
 * every entry, so counts and skipped offsets read the index alone (with bound values it
 * re-checks each entry against the table row, about ten times slower on a large
 * project); PostgreSQL matches literals against the index predicate even in a generic plan.
 */
import { sql, type SelectQueryBuilder, type SqlBool } from 'kysely';
import type { DB } from '../db/schema.js';
import type { Handle } from '../jobs/jobs.store.js';
import type { JobRow } from '../jobs/jobs.table.js';
import type { Page } from '../paging.js';

/** The columns a failed-task item is made of. */
export type FailedTaskRow = Pick<JobRow, 'job_id' | 'operation' | 'begin_time' | 'error_code' | 'fail_reason' | 'server_name' | 'server_id' | 'keypair_name'>;
/** The columns a running-task item is made of. */
export type RunningTaskRow = Pick<JobRow, 'job_id' | 'operation' | 'begin_time' | 'server_name' | 'server_id' | 'keypair_name'>;
/** The columns ListKeypairTask shows. */
export type TaskRow = Pick<JobRow, 'job_id' | 'operation' | 'status' | 'server_id'>;

/** The rows `jobs_kps_tasks` holds; must stay identical to its WHERE clause. */
const isListedTask = sql<SqlBool>`service = 'kps' and cleared = 0 and parent_job_id is null`;

/** A project's top-level KPS jobs with one status, among those still shown in the lists. */
function listedTasks(db: Handle, projectId: string, status: 'FAIL' | 'INIT' | 'RUNNING') {
  return db.selectFrom('jobs').where('project_id', '=', projectId).where(isListedTask).where('status', '=', sql.lit(status));
}

type KeyColumns = Pick<JobRow, 'project_id' | 'job_id'>;

/** Newest first; job_id breaks ties so pages stay stable when begin_times are equal. */
function newestFirst<S, T extends keyof S & string, O>(query: SelectQueryBuilder<S, T, O>): SelectQueryBuilder<S, T, O> {
  return query.orderBy(sql.ref('begin_time'), 'desc').orderBy(sql.ref('job_id'), 'desc');
}

/**
 * The rows of one page, given a subquery that picks their keys in page order from the
 * index alone: a deep offset then skips index entries, not whole rows (on PostgreSQL,
 * offset 10,000 reads ~140 index pages instead of ~1,500 heap and index pages).
 */
function rowsOf<S, T extends keyof S & string, K extends KeyColumns, C extends keyof JobRow & string>(
  db: Handle,
  keys: SelectQueryBuilder<S, T, K>,
  columns: readonly C[],
) {
  return db
    .selectFrom(keys.as('page'))
    .innerJoin('jobs', (join) => join.onRef('jobs.project_id', '=', 'page.project_id').onRef('jobs.job_id', '=', 'page.job_id'))
    .select(columns.map((c) => `jobs.${c}` as const))
    .orderBy('jobs.begin_time', 'desc')
    .orderBy('jobs.job_id', 'desc');
}

/** How many failures ListFailedTask shows for the project. */
export async function countFailedTasks(db: Handle, projectId: string): Promise<number> {
  const row = await listedTasks(db, projectId, 'FAIL').select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow();
  return Number(row.total);
}

/** One page of the project's listed failures, newest first. */
export async function listFailedTasks(db: Handle, projectId: string, page: Page): Promise<FailedTaskRow[]> {
  const keys = newestFirst(listedTasks(db, projectId, 'FAIL').select(['project_id', 'job_id']))
    .limit(page.limit)
    .offset(page.offset);
  return rowsOf(db, keys, ['job_id', 'operation', 'begin_time', 'error_code', 'fail_reason', 'server_name', 'server_id', 'keypair_name']).execute();
}

/** How many tasks are waiting (INIT) or running in the project. */
export async function countRunningTasks(db: Handle, projectId: string): Promise<number> {
  const row = await db
    .selectFrom('jobs')
    .where('project_id', '=', projectId)
    .where(isListedTask)
    .where(sql<SqlBool>`status in ('INIT', 'RUNNING')`)
    .select((eb) => eb.fn.countAll<number>().as('total'))
    .executeTakeFirstOrThrow();
  return Number(row.total);
}

/**
 * One page of the project's waiting and running tasks, newest first, without sorting
 * them all: `status IN ('INIT', 'RUNNING')` cannot be read in begin_time order from
 * (project_id, status, begin_time, job_id), so each status is read in index order on
 * its own, cut at offset + limit, and the two merged. The cut arms, wrapped in
 * `select * from (...)`, are what lets PostgreSQL 15 plan a Merge Append of two
 * backward index-only scans (an arm with its own WHERE is planned without the outer
 * ORDER BY and gets sorted whole); SQLite merges them too, re-sorting each cut arm.
 * (`cleared = 0` holds for every unfinished job; it is there for the partial index.)
 */
export async function listRunningTasks(db: Handle, projectId: string, page: Page): Promise<RunningTaskRow[]> {
  const arm = (status: 'INIT' | 'RUNNING') =>
    db
      .selectFrom(
        newestFirst(listedTasks(db, projectId, status).select(['project_id', 'job_id', 'begin_time']))
          .limit(page.offset + page.limit)
          .as('arm'),
      )
      .selectAll();
  const keys = newestFirst(arm('INIT').unionAll(arm('RUNNING')))
    .limit(page.limit)
    .offset(page.offset);
  return rowsOf(db, keys, ['job_id', 'operation', 'begin_time', 'server_name', 'server_id', 'keypair_name']).execute();
}

/** A top-level KPS job of the project, cleared or not; undefined when there is none. */
export async function findTask(db: Handle, projectId: string, taskId: string): Promise<TaskRow | undefined> {
  return db
    .selectFrom('jobs')
    .select(['job_id', 'operation', 'status', 'server_id'])
    .where('project_id', '=', projectId)
    .where('job_id', '=', taskId)
    .where('service', '=', 'kps')
    .where('parent_job_id', 'is', null)
    .executeTakeFirst();
}

/**
 * Marks one listed failure cleared at `now` (the job itself stays). Returns how many rows it
 * changed: 0 when the task is not a listed failure of the project.
 */
export async function clearFailedTask(db: Handle, projectId: string, taskId: string, now: number): Promise<number> {
  const result = await db
    .updateTable('jobs')
    .set({ cleared: 1, updated_at: now })
    .where('project_id', '=', projectId)
    .where('job_id', '=', taskId)
    .where(isListedTask)
    .where('status', '=', sql.lit('FAIL'))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Marks every listed failure of the project cleared at `now`; returns how many there were. */
export async function clearAllFailedTasks(db: Handle, projectId: string, now: number): Promise<number> {
  const result = await db
    .updateTable('jobs')
    .set({ cleared: 1, updated_at: now })
    .where('project_id', '=', projectId)
    .where(isListedTask)
    .where('status', '=', sql.lit('FAIL'))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
