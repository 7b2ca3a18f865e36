import { sql, type Kysely } from 'kysely';
import type { Engine } from '../database.js';

/**
 * The jobs table and the indexes behind each list: every list is an equality prefix
 * plus `begin_time DESC, job_id DESC`, over a partial index holding only the rows that
 * list can return, so a page reads only the rows it shows.
 *
 * `list` names the one public list a job is in now and `list_item` holds its item there,
 * rendered once when the job is written (src/jobs/listing.ts). The partial indexes test
 * `list` by equality, which both engines read from the index alone (an `IS NULL` term,
 * as `parent_job_id is null` was, sends SQLite to the table row for every entry).
 * `job_counts` keeps each list's exact sizes, maintained in the writing transaction, so
 * a count is one primary-key read instead of a scan of every matching index entry.
 */
export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  // Ids sort and compare bytewise on both engines, so pages, markers and tie-breaks agree.
  const id = engine === 'postgres' ? sql`text collate "C"` : sql`text`;
  await db.schema
    .createTable('jobs')
    .addColumn('project_id', id, (c) => c.notNull())
    .addColumn('job_id', id, (c) => c.notNull())
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('job_type', 'text', (c) => c.notNull())
    .addColumn('operation', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('begin_time', 'bigint', (c) => c.notNull())
    .addColumn('end_time', 'bigint')
    .addColumn('error_code', 'text')
    .addColumn('fail_reason', 'text')
    .addColumn('resource_id', 'text')
    .addColumn('resource_name', 'text')
    .addColumn('resource_type', 'text')
    .addColumn('server_group_id', id)
    .addColumn('entities', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('parent_job_id', id)
    .addColumn('server_id', 'text')
    .addColumn('server_name', 'text')
    .addColumn('keypair_name', 'text')
    .addColumn('cleared', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('list', 'text')
    .addColumn('list_item', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('jobs_pk', ['project_id', 'job_id'])
    .execute();

  const sdrsFailures = sql<boolean>`list = 'sdrs'`;
  // operation trails so that a failure_status filter is decided from the index alone.
  await db.schema
    .createIndex('jobs_sdrs_failures_by_type')
    .on('jobs')
    .columns(['project_id', 'resource_type', 'begin_time', 'job_id', 'operation'])
    .where(sdrsFailures)
    .execute();
  // resource_type trails so that "inside the group" (resource_type <> 'server_groups')
  // is decided from the index alone: a deep page never visits the table.
  await db.schema
    .createIndex('jobs_sdrs_failures_by_group')
    .on('jobs')
    .columns(['project_id', 'server_group_id', 'begin_time', 'job_id', 'resource_type', 'operation'])
    .where(sdrsFailures)
    .execute();
  // An OR of equalities (not IN) is what SQLite can prove `list = 'kps_failed'` implies.
  await db.schema
    .createIndex('jobs_kps_tasks')
    .on('jobs')
    .columns(['project_id', 'list', 'begin_time', 'job_id'])
    .where(sql<boolean>`list = 'kps_failed' or list = 'kps_running'`)
    .execute();
  await db.schema
    .createIndex('jobs_sub_jobs')
    .on('jobs')
    .columns(['project_id', 'parent_job_id', 'begin_time'])
    .where(sql<boolean>`parent_job_id is not null`)
    .execute();

  await db.schema
    .createTable('job_counts')
    .addColumn('project_id', id, (c) => c.notNull())
    .addColumn('bucket', id, (c) => c.notNull())
    .addColumn('n', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('job_counts_pk', ['project_id', 'bucket'])
    .execute();
}
