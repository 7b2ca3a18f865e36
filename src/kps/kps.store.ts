/**
 * All SQL for the KPS key-pair task views of the jobs table. A KPS task is a top-level
 * job reported with `service = 'kps'`; every query is scoped by project.
 *
 * The list queries repeat the whole predicate of the partial index `jobs_kps_tasks`
 * (`service = 'kps' and cleared = 0 and parent_job_id is null`) so both engines can use
 * it: SQLite only uses a partial index whose WHERE terms appear in the query.
 */
import type { ExpressionBuilder, SelectQueryBuilder } from 'kysely';
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

type Where = ExpressionBuilder<DB, 'jobs'>;

/** A project's top-level KPS jobs still shown in the lists (the partial index's rows). */
function listedTasks(db: Handle, projectId: string) {
  return db
    .selectFrom('jobs')
    .where('project_id', '=', projectId)
    .where('service', '=', 'kps')
    .where('cleared', '=', 0)
    .where('parent_job_id', 'is', null);
}

const failed = (eb: Where) => eb('status', '=', 'FAIL');

/** Newest first; job_id breaks ties so pages stay stable when begin_times are equal. */
function newestFirst<O>(query: SelectQueryBuilder<DB, 'jobs', O>): SelectQueryBuilder<DB, 'jobs', O> {
  return query.orderBy('begin_time', 'desc').orderBy('job_id', 'desc');
}

/** How many failures ListFailedTask shows for the project. */
export async function countFailedTasks(db: Handle, projectId: string): Promise<number> {
  const row = await listedTasks(db, projectId).where(failed).select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow();
  return Number(row.total);
}

/** One page of the project's listed failures, newest first. */
export async function listFailedTasks(db: Handle, projectId: string, page: Page): Promise<FailedTaskRow[]> {
  return newestFirst(
    listedTasks(db, projectId)
      .where(failed)
      .select(['job_id', 'operation', 'begin_time', 'error_code', 'fail_reason', 'server_name', 'server_id', 'keypair_name']),
  )
    .limit(page.limit)
    .offset(page.offset)
    .execute();
}

/** How many tasks are waiting (INIT) or running in the project. */
export async function countRunningTasks(db: Handle, projectId: string): Promise<number> {
  const row = await listedTasks(db, projectId)
    .where('status', 'in', ['INIT', 'RUNNING'])
    .select((eb) => eb.fn.countAll<number>().as('total'))
    .executeTakeFirstOrThrow();
  return Number(row.total);
}

/**
 * One page of the project's waiting and running tasks, newest first. Written as a
 * UNION ALL of one branch per status, each read in index order from
 * (project_id, status, begin_time, job_id), and merged: `status IN (...)` over that index
 * would make both engines sort every running row of the project for each page.
 * (`cleared = 0` holds for every unfinished job; it is there for the partial index.)
 */
export async function listRunningTasks(db: Handle, projectId: string, page: Page): Promise<RunningTaskRow[]> {
  const columns = ['job_id', 'operation', 'begin_time', 'server_name', 'server_id', 'keypair_name'] as const;
  const branch = (status: 'INIT' | 'RUNNING') => listedTasks(db, projectId).where('status', '=', status).select(columns);
  return newestFirst(branch('INIT').unionAll(branch('RUNNING')))
    .limit(page.limit)
    .offset(page.offset)
    .execute();
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
 * Marks one listed failure cleared (the job itself stays). Returns how many rows it
 * changed: 0 when the task is not a listed failure of the project.
 */
export async function clearFailedTask(db: Handle, projectId: string, taskId: string): Promise<number> {
  const result = await db
    .updateTable('jobs')
    .set({ cleared: 1 })
    .where('project_id', '=', projectId)
    .where('job_id', '=', taskId)
    .where('service', '=', 'kps')
    .where('status', '=', 'FAIL')
    .where('cleared', '=', 0)
    .where('parent_job_id', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Marks every listed failure of the project cleared; returns how many there were. */
export async function clearAllFailedTasks(db: Handle, projectId: string): Promise<number> {
  const result = await db
    .updateTable('jobs')
    .set({ cleared: 1 })
    .where('project_id', '=', projectId)
    .where('service', '=', 'kps')
    .where('status', '=', 'FAIL')
    .where('cleared', '=', 0)
    .where('parent_job_id', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
