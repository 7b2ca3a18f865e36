import { sql, type Kysely } from 'kysely';
import type { Engine } from '../database.js';

/**
 * SQLite: two list indexes of migration 0001 carry each job's rendered item
 * (`list_item`) as their last column, so that a page is read from the index alone (a
 * covering index) instead of seeking the table row of each of its items. On the bench's
 * 10,000-job database, `SdrsService.listFailureJobs` (default scope, a page of 100, 39 kB)
 * and `KpsService.listFailedTasks`/`listRunningTasks` with no pages kept cost a quarter
 * to a third less CPU per call. Only the rows of a list are in these indexes (failures
 * and waiting or running KPS tasks), so ingest writes the extra bytes for those alone:
 * a fleet batch of 1000 jobs costs about 1 ms more.
 *
 * `jobs_sdrs_failures_by_group` is left as it is: a group's pages are short, its
 * covering version saved nothing measurable on them and cost ingest another 2 ms a batch
 * (each SDRS failure would then be written in full three times).
 *
 * PostgreSQL keeps its indexes: a B-tree entry there is limited to about 2.7 kB, which
 * a failure's item can pass (its reason alone may be 4096 characters), and an
 * index-only scan still reads the table row of every entry on a page not yet marked
 * all-visible, as those of a list being written to mostly are.
 */
export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  if (engine !== 'sqlite') return;
  const sdrsFailures = sql<boolean>`list = 'sdrs'`;
  await db.schema.dropIndex('jobs_sdrs_failures_by_type').execute();
  await db.schema
    .createIndex('jobs_sdrs_failures_by_type')
    .on('jobs')
    .columns(['project_id', 'resource_type', 'begin_time', 'job_id', 'operation', 'list_item'])
    .where(sdrsFailures)
    .execute();
  await db.schema.dropIndex('jobs_kps_tasks').execute();
  await db.schema
    .createIndex('jobs_kps_tasks')
    .on('jobs')
    .columns(['project_id', 'list', 'begin_time', 'job_id', 'list_item'])
    .where(sql<boolean>`list = 'kps_failed' or list = 'kps_running'`)
    .execute();
}
