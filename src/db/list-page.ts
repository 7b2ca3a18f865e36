/**
 * Pages of the public lists, each read in one query in the shape that is fastest on its
 * engine: how many jobs the list holds, and the stored list items (`jobs.list_item`) of
 * one page of them, newest first, ties by job_id descending, at any offset, joined with
 * commas, and the project's list version in the same statement (so in the same snapshot:
 * the page is exactly the lists at that version). One query and one string per page, not
 * a row per item: on PostgreSQL the server process spends most of a list request in the
 * driver, per round trip and per row; on SQLite a hundred strings cost a third of reading
 * the page.
 */
import { SqliteAdapter, sql, type Expression, type Kysely, type SelectQueryBuilder } from 'kysely';
import type { Page } from '../paging.js';
import { PreparedQueries } from './prepared.js';
import type { DB } from './schema.js';

/** One page of a list: how many jobs the whole list holds, the page's items joined with commas, and the list version they were read at. */
export interface ListPage {
  readonly count: number;
  readonly items: string;
  /** The project's list version in the snapshot the page was read from (0 before its lists first changed). */
  readonly version: number;
}

type Filter<V> = (db: Kysely<DB>, values: V) => SelectQueryBuilder<DB, 'jobs', object>;
/** A one-row, one-column select, used as a scalar subquery. */
type Scalar<V> = (db: Kysely<DB>, values: V) => Expression<unknown>;

function listPageOf(row: PageRow | undefined): ListPage {
  return { count: Number(row?.count ?? 0), items: row?.items ?? '', version: Number(row?.version ?? 0) };
}

interface PageRow {
  count: number | string | null;
  items: string | null;
  version: number | string | null;
  /** SQLite's unsorted page only: each item's `begin_time job_id`, in the order of `items` (see {@link newestFirst}). */
  keys?: string | null;
}

/**
 * True when `keys` (`begin_time job_id` pairs joined with commas, as SQLite's unsorted
 * page reads them) are newest first, ties by job_id descending: the order the page asks
 * of its rows. Job ids are ASCII without spaces or commas, so the text splits
 * unambiguously, and comparing them code unit by code unit is SQLite's bytewise
 * comparison. Read in place, digit by digit, with no substring made: a page of 100 took
 * 12 µs with a `slice` and a `Number` per key, 4 so.
 */
export function newestFirst(keys: string): boolean {
  let previousTime = Infinity;
  let previousIdStart = 0;
  let previousIdEnd = 0;
  for (let start = 0; start < keys.length;) {
    let at = start;
    const negative = keys.charCodeAt(at) === MINUS;
    if (negative) at += 1;
    const digits = at;
    let time = 0;
    for (let c = keys.charCodeAt(at); c >= ZERO && c <= NINE; c = keys.charCodeAt(++at)) time = time * 10 + (c - ZERO);
    if (at === digits || keys.charCodeAt(at) !== SPACE) return false;
    if (negative) time = -time;
    let end = keys.indexOf(',', at);
    if (end < 0) end = keys.length;
    if (!(time < previousTime || (time === previousTime && compareIn(keys, at + 1, end, previousIdStart, previousIdEnd) < 0))) return false;
    previousTime = time;
    previousIdStart = at + 1;
    previousIdEnd = end;
    start = end + 1;
  }
  return true;
}

const MINUS = 0x2d;
const SPACE = 0x20;
const ZERO = 0x30;
const NINE = 0x39;

/** `text` from `a` to `aEnd` against `text` from `b` to `bEnd`, code unit by code unit: negative, 0 or positive. */
function compareIn(text: string, a: number, aEnd: number, b: number, bEnd: number): number {
  for (; a < aEnd && b < bEnd; a += 1, b += 1) {
    const difference = text.charCodeAt(a) - text.charCodeAt(b);
    if (difference !== 0) return difference;
  }
  return aEnd - a - (bEnd - b);
}

/**
 * The pages of one kind of list. Each shape, limit and way of skipping the offset is
 * its own prepared query (src/db/prepared.ts); the limit is written into the SQL because
 * SQLite plans with a bound LIMIT's value, and so prepares the statement again every
 * time one is bound (a 1-row page then costs 10 µs instead of 4).
 */
export class ListPages<V extends object> {
  readonly #queries = new PreparedQueries<V & { offset: number }, PageRow>();

  /** `inOrder` checks the keys of a page SQLite read unsorted ({@link newestFirst}; tests give another to reach the sorted read). */
  constructor(private readonly inOrder: (keys: string) => boolean = newestFirst) {}

  /**
   * The count and one page. `filter` selects the list's jobs and must be answerable
   * from the index it scans (the list indexes hold exactly the rows of their list);
   * `count` is a one-row, one-column select of the list's size, `version` one of the
   * project's list version. All must build the same SQL for every call with the same
   * `shape`: they are called only the first time a shape is seen, with placeholders for
   * `values`.
   */
  async read(db: Kysely<DB>, shape: string, values: V, page: Page, filter: Filter<V>, count: Scalar<V>, version: Scalar<V>): Promise<ListPage> {
    // Past the first page, skipping rows by the keys alone pays off on PostgreSQL (below).
    const deep = page.offset > page.limit;
    const pageShape = `${shape} limit ${page.limit}${deep ? ' deep' : ''}`;
    const build = (sorted: boolean) => (kysely: Kysely<DB>, placeholders: V & { offset: number }) =>
      pageQuery(
        kysely,
        filter(kysely, placeholders),
        count(kysely, placeholders),
        version(kysely, placeholders),
        page.limit,
        placeholders.offset,
        deep,
        sorted,
      );
    const parameters = { ...values, offset: page.offset };
    const row = await this.#queries.of(pageShape, build(false)).executeTakeFirst(db, parameters);
    if (row?.keys == null || this.inOrder(row.keys)) return listPageOf(row);
    // SQLite aggregated the page out of its order (never seen): read it again, sorted.
    return listPageOf(await this.#queries.of(`${pageShape} sorted`, build(true)).executeTakeFirst(db, parameters));
  }

  /**
   * The count and one page of a list whose count is the number of rows `filter`
   * selects, read in one pass: the keys of the selected rows are kept, counted, and the
   * page is sorted out of them, its items then read by key. For a filter that reads each
   * selected row anyway and selects few (a name search, src/db/name-search.ts): the plain
   * page and its count would each read them (twice the row reads) and the page would sort
   * every selected item, while a list's own index gives its page without a sort.
   */
  async readOnce(db: Kysely<DB>, shape: string, values: V, page: Page, filter: Filter<V>, version: Scalar<V>): Promise<ListPage> {
    const query = this.#queries.of(`${shape} limit ${page.limit} once`, (kysely, placeholders) =>
      oncePageQuery(kysely, filter(kysely, placeholders), version(kysely, placeholders), page.limit, placeholders.offset),
    );
    return listPageOf(await query.executeTakeFirst(db, { ...values, offset: page.offset }));
  }
}

function oncePageQuery(db: Kysely<DB>, filtered: SelectQueryBuilder<DB, 'jobs', object>, versionQuery: Expression<unknown>, limit: number, offset: number) {
  const aggregate = sql.raw(db.getExecutor().adapter instanceof SqliteAdapter ? 'group_concat' : 'string_agg');
  return db
    .with(
      (cte) => cte('matches').materialized(),
      () => filtered.select(['jobs.project_id', 'jobs.job_id', 'jobs.begin_time']),
    )
    .selectNoFrom((eb) => [
      eb
        .selectFrom('matches')
        .select((m) => m.fn.countAll<number | string>().as('n'))
        .as('count'),
      eb
        .selectFrom(
          eb
            .selectFrom('matches')
            .select(['project_id', 'job_id', 'begin_time'])
            .orderBy('begin_time', 'desc')
            .orderBy('job_id', 'desc')
            .limit(sql.lit(limit))
            .offset(offset)
            .as('page'),
        )
        .innerJoin('jobs', (join) => join.onRef('jobs.project_id', '=', 'page.project_id').onRef('jobs.job_id', '=', 'page.job_id'))
        .select(sql<string | null>`${aggregate}(jobs.list_item, ',' order by page.begin_time desc, page.job_id desc)`.as('items'))
        .as('items'),
      sql<number | string | null>`${versionQuery}`.as('version'),
    ]);
}

function pageQuery(
  db: Kysely<DB>,
  filtered: SelectQueryBuilder<DB, 'jobs', object>,
  countQuery: Expression<unknown>,
  versionQuery: Expression<unknown>,
  limit: number,
  offset: number,
  deep: boolean,
  sorted: boolean,
) {
  const count = sql<number | string | null>`${countQuery}`;
  const version = sql<number | string | null>`${versionQuery}`.as('version');
  const page = filtered.orderBy('begin_time', 'desc').orderBy('job_id', 'desc').limit(sql.lit(limit)).offset(offset);
  if (db.getExecutor().adapter instanceof SqliteAdapter) {
    // SQLite decides the filter and the offset on index entries and seeks a table row
    // only for the rows it returns (none where the list's index carries the items,
    // migration 0009), so the plain page is the cheapest at any offset. The figures below
    // were measured before that migration.
    // An aggregate's input order is only guaranteed by an ORDER BY inside it (SQLite
    // 3.44 and later), which sorts the page's items again in a temporary B-tree: 79 µs
    // for a page of 100 where the page without it costs 42. SQLite in fact aggregates the
    // rows in the order the page reads them, so the items are read unsorted, with their
    // keys in the same order beside them (both aggregates see the same rows in the same
    // order), and the keys are checked (51 µs with the check); `sorted` is the read for a
    // page that fails it.
    const items = sorted
      ? sql<string | null>`group_concat(page.list_item, ',' order by page.begin_time desc, page.job_id desc)`
      : sql<string | null>`group_concat(page.list_item, ',')`;
    const keys = sql<string | null>`group_concat(page.begin_time || ' ' || page.job_id, ',')`.as('keys');
    return db
      .selectFrom(page.select(['list_item', 'begin_time', 'job_id']).as('page'))
      .select([count.as('count'), items.as('items'), ...(sorted ? [] : [keys]), version]);
  }
  // The same ORDER BY inside the aggregate (PostgreSQL 15 sorts the page again for it;
  // cheap next to a round trip). A PostgreSQL index scan
  // fetches the heap row of every entry it passes, skipped ones included: on a deep page
  // the keys are picked by an index-only scan first and only the page's rows are read
  // (offset 10,000: ~140 index pages instead of ~1,500), while on the first pages the
  // plain scan is twice as fast as that join.
  if (!deep) {
    return db
      .selectFrom(page.select(['list_item', 'begin_time', 'job_id']).as('page'))
      .select([count.as('count'), sql<string | null>`string_agg(page.list_item, ',' order by page.begin_time desc, page.job_id desc)`.as('items'), version]);
  }
  return db
    .selectFrom(page.select(['project_id', 'job_id', 'begin_time']).as('page'))
    .innerJoin('jobs', (join) => join.onRef('jobs.project_id', '=', 'page.project_id').onRef('jobs.job_id', '=', 'page.job_id'))
    .select([count.as('count'), sql<string | null>`string_agg(jobs.list_item, ',' order by page.begin_time desc, page.job_id desc)`.as('items'), version]);
}
