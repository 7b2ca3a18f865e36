/**
 * The one list query whose fastest shape differs by engine: a page of the stored list
 * items (`jobs.list_item`) of the jobs a filtered query selects, newest first, ties by
 * job_id descending, at any offset.
 */
import { SqliteAdapter, type Kysely, type SelectQueryBuilder } from 'kysely';
import type { Page } from '../paging.js';
import type { DB } from './schema.js';

/**
 * The items of one page, in page order. `filtered` must be answerable from the index
 * it scans (the list indexes hold exactly the rows of their list).
 */
export async function listItemsPage(db: Kysely<DB>, filtered: SelectQueryBuilder<DB, 'jobs', object>, page: Page): Promise<string[]> {
  if (page.limit === 0) return [];
  if (db.getExecutor().adapter instanceof SqliteAdapter) {
    // SQLite decides the filter and the offset on index entries and seeks a table row
    // only for the rows it returns, so the plain query is the cheapest: a join back
    // would look each row up twice (primary-key index, then table).
    const rows = await filtered
      .select('list_item')
      .orderBy('begin_time', 'desc')
      .orderBy('job_id', 'desc')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    return rows.map((r) => r.list_item as string);
  }
  // A PostgreSQL index scan fetches the heap row of every entry it passes, skipped ones
  // included; the keys of the page are picked by an index-only scan first and only the
  // page's rows are read (offset 10,000: ~140 index pages instead of ~1,500 pages).
  // Ordering by the subquery's columns keeps its order without sorting again.
  const keys = filtered
    .select(['project_id', 'job_id', 'begin_time'])
    .orderBy('begin_time', 'desc')
    .orderBy('job_id', 'desc')
    .limit(page.limit)
    .offset(page.offset)
    .as('page');
  const rows = await db
    .selectFrom(keys)
    .innerJoin('jobs', (join) => join.onRef('jobs.project_id', '=', 'page.project_id').onRef('jobs.job_id', '=', 'page.job_id'))
    .select('jobs.list_item')
    .orderBy('page.begin_time', 'desc')
    .orderBy('page.job_id', 'desc')
    .execute();
  return rows.map((r) => r.list_item as string);
}
