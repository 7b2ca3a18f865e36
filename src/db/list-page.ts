/**
 * The one list query whose fastest shape differs by engine: a page of the stored list
 * items (`jobs.list_item`) of the jobs a filtered query selects, newest first, ties by
 * job_id descending, at any offset.
 */
import { SqliteAdapter, sql, type Compilable, type Kysely, type SelectQueryBuilder } from 'kysely';
import type { Page } from '../paging.js';
import type { DB } from './schema.js';

/** A row of a list page. */
export interface ListItemRow {
  list_item: string | null;
}

/**
 * The query of one page. `filtered` must be answerable from the index it scans (the
 * list indexes hold exactly the rows of their list). The offset is only passed on, so
 * it can be a placeholder of a prepared query (src/db/prepared.ts); the limit is written
 * into the SQL, so each limit is a query of its own: SQLite plans with a bound LIMIT's
 * value, and so prepares the statement again every time one is bound (a 1-row page
 * then costs 10 µs instead of 4).
 */
export function listItemsQuery(db: Kysely<DB>, filtered: SelectQueryBuilder<DB, 'jobs', object>, page: Page): Compilable<ListItemRow> {
  const limit = sql.lit(page.limit);
  if (db.getExecutor().adapter instanceof SqliteAdapter) {
    // SQLite decides the filter and the offset on index entries and seeks a table row
    // only for the rows it returns, so the plain query is the cheapest: a join back
    // would look each row up twice (primary-key index, then table).
    return filtered.select('list_item').orderBy('begin_time', 'desc').orderBy('job_id', 'desc').limit(limit).offset(page.offset);
  }
  // A PostgreSQL index scan fetches the heap row of every entry it passes, skipped ones
  // included; the keys of the page are picked by an index-only scan first and only the
  // page's rows are read (offset 10,000: ~140 index pages instead of ~1,500 pages).
  const keys = filtered
    .select(['project_id', 'job_id', 'begin_time'])
    .orderBy('begin_time', 'desc')
    .orderBy('job_id', 'desc')
    .limit(limit)
    .offset(page.offset)
    .as('page');
  return db
    .selectFrom(keys)
    .innerJoin('jobs', (join) => join.onRef('jobs.project_id', '=', 'page.project_id').onRef('jobs.job_id', '=', 'page.job_id'))
    .select('jobs.list_item')
    .orderBy('page.begin_time', 'desc')
    .orderBy('page.job_id', 'desc');
}
