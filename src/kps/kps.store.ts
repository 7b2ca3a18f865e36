/**
 * All SQL for the KPS key-pair task views of the jobs table. A KPS task is a top-level
 * job reported with `service = 'kps'`; every query is scoped by project. A listed task's
 * `list` is 'kps_failed' or 'kps_running' and `list_item` holds its item
 * (src/jobs/listing.ts).
 *
 * The list queries compare `list` with a literal, not a bound value: both engines then
 * match it against the partial index `jobs_kps_tasks` and know it holds for every entry,
 * so skipped offsets read the index alone.
 */
import { sql, type Transaction } from 'kysely';
import { ListPages, type ListPage } from '../db/list-page.js';
import { PreparedQuery } from '../db/prepared.js';
import type { DB } from '../db/schema.js';
import type { Handle } from '../jobs/jobs.store.js';
import { KPS_FAILED_BUCKET, KPS_RUNNING_BUCKET } from '../jobs/listing.js';
import { countOf } from '../jobs/listing.store.js';
import type { JobRow } from '../jobs/jobs.table.js';
import type { Page } from '../paging.js';

/** The columns a failed-task item is made of. */
export type FailedTaskRow = Pick<JobRow, 'job_id' | 'operation' | 'begin_time' | 'error_code' | 'fail_reason' | 'server_name' | 'server_id' | 'keypair_name'>;
/** The columns a running-task item is made of. */
export type RunningTaskRow = Pick<JobRow, 'job_id' | 'operation' | 'begin_time' | 'server_name' | 'server_id' | 'keypair_name'>;
/** The columns ListKeypairTask shows. */
export type TaskRow = Pick<JobRow, 'job_id' | 'operation' | 'status' | 'server_id'>;

const pages = new ListPages<{ projectId: string }>();

/**
 * How many tasks one list holds (its `job_counts` bucket), and one page of them as
 * stored JSON joined with commas, newest first. The list is a literal, so each list is
 * its own prepared query.
 */
async function listPage(db: Handle, list: 'kps_failed' | 'kps_running', bucket: string, projectId: string, page: Page): Promise<ListPage> {
  return pages.read(
    db,
    list,
    { projectId },
    page,
    (kysely, values) => kysely.selectFrom('jobs').where('project_id', '=', values.projectId).where('list', '=', sql.lit(list)),
    (kysely, values) => countOf(kysely, values.projectId, bucket),
  );
}

/** The project's listed failures: how many, and one page, newest first. */
export async function listFailedTaskPage(db: Handle, projectId: string, page: Page): Promise<ListPage> {
  return listPage(db, 'kps_failed', KPS_FAILED_BUCKET, projectId, page);
}

/** The project's waiting (INIT) and running tasks: how many, and one page, newest first. */
export async function listRunningTaskPage(db: Handle, projectId: string, page: Page): Promise<ListPage> {
  return listPage(db, 'kps_running', KPS_RUNNING_BUCKET, projectId, page);
}

const taskQuery = new PreparedQuery<{ projectId: string; taskId: string }, TaskRow>((db, { projectId, taskId }) =>
  db
    .selectFrom('jobs')
    .select(['job_id', 'operation', 'status', 'server_id'])
    .where('project_id', '=', projectId)
    .where('job_id', '=', taskId)
    .where('service', '=', 'kps')
    .where('parent_job_id', 'is', null),
);

/** A top-level KPS job of the project, cleared or not; undefined when there is none. */
export async function findTask(db: Handle, projectId: string, taskId: string): Promise<TaskRow | undefined> {
  return taskQuery.executeTakeFirst(db, { projectId, taskId });
}

/**
 * Marks one listed failure cleared at `now` (the job itself stays). Returns how many rows it
 * changed: 0 when the task is not a listed failure of the project.
 */
export async function clearFailedTask(tx: Transaction<DB>, projectId: string, taskId: string, now: number): Promise<number> {
  const result = await tx
    .updateTable('jobs')
    .set({ cleared: 1, list: null, list_item: null, updated_at: now })
    .where('project_id', '=', projectId)
    .where('job_id', '=', taskId)
    .where('list', '=', sql.lit('kps_failed'))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Marks every listed failure of the project cleared at `now`; returns how many there were. */
export async function clearAllFailedTasks(tx: Transaction<DB>, projectId: string, now: number): Promise<number> {
  const result = await tx
    .updateTable('jobs')
    .set({ cleared: 1, list: null, list_item: null, updated_at: now })
    .where('project_id', '=', projectId)
    .where('list', '=', sql.lit('kps_failed'))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
