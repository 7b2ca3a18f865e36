import { sql, type Kysely } from 'kysely';

/**
 * The indexes retention (src/jobs/retention.service.ts, `serve --retain-days`) reads its
 * batches from, oldest first, so that a round costs what it deletes and not a scan of
 * every job or delivery:
 *
 * - `jobs_finished_unlisted`: the top-level jobs in no list, by end time. Only those can
 *   be deleted (a failure still in a list is kept however old; sub-jobs go with their
 *   parent), so listed and sub-job rows stay out of it.
 * - `deliveries_delivered`: delivered webhook deliveries, by when they settled.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('jobs_finished_unlisted')
    .on('jobs')
    .column('end_time')
    .where(sql<boolean>`parent_job_id is null and list is null and end_time is not null`)
    .execute();
  await db.schema
    .createIndex('deliveries_delivered')
    .on('deliveries')
    .column('settled_at')
    .where(sql<boolean>`state = 'delivered'`)
    .execute();
}
