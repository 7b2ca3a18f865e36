import { sql, type Kysely } from 'kysely';

/**
 * `listing_stamp`: one row saying which listing code rendered the stored list items and
 * counted `job_counts` (src/jobs/listing.ts, `Listings.stamp`). No row means unknown: a
 * store migrated from before the stamp, or a new one. At start a stamp other than the
 * code's rebuilds every item and counter first (src/jobs/listing-rebuild.ts), then
 * records the code's stamp here.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('listing_stamp')
    // One row: the key is always 1.
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('stamp', 'text', (c) => c.notNull())
    .addColumn('rebuilt_at', 'bigint', (c) => c.notNull())
    .execute();
}
