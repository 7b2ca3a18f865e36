import { sql, type Kysely } from 'kysely';
import type { Engine } from '../database.js';

/**
 * `list_versions`: one number per project, raised by every transaction that changes one
 * of the project's lists (a job entering, leaving or changing its item in a list). A
 * server keeps rendered list pages and knows with one primary-key read whether a page
 * is still current, also when another process wrote (src/jobs/list-cache.ts).
 */
export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const id = engine === 'postgres' ? sql`text collate "C"` : sql`text`;
  await db.schema
    .createTable('list_versions')
    .addColumn('project_id', id, (c) => c.primaryKey())
    .addColumn('version', 'bigint', (c) => c.notNull())
    .execute();
}
