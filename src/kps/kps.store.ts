/**
 * The KPS key-pair task views' reads of the jobs table. A KPS task is a top-level job
 * reported with `service = 'kps'`; every query is scoped by project. A listed task's
 * `list` is 'kps_failed' or 'kps_running' and `list_item` holds its item
 * (src/kps/kps.listing.ts). Clearing goes through the one writer (src/jobs/job-writer.ts).
 */
import { ListPages, type ListPage } from '../db/list-page.js';
import { PreparedQuery } from '../db/prepared.js';
import type { Handle } from '../jobs/jobs.store.js';
import { countOf, versionOf } from '../jobs/listing.store.js';
import type { Page } from '../paging.js';
import { kpsBucket, listWhere, type KpsList } from './kps.listing.js';
import type { TaskRow } from './kps.presenter.js';

const pages = new ListPages<{ projectId: string }>();

/**
 * How many tasks one list holds (its `job_counts` bucket), and one page of them as
 * stored JSON joined with commas, newest first. The list is a literal, so each list is
 * its own prepared query.
 */
export async function listTaskPage(db: Handle, list: KpsList, projectId: string, page: Page): Promise<ListPage> {
  return pages.read(
    db,
    list,
    { projectId },
    page,
    (kysely, values) => kysely.selectFrom('jobs').where(listWhere(values.projectId, list)),
    (kysely, values) => countOf(kysely, values.projectId, kpsBucket(list)),
    (kysely, values) => versionOf(kysely, values.projectId),
  );
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
