/**
 * The `resource_name` filter of the SDRS failure list: a literal, case-sensitive
 * substring (API.md §1), answered from the trigram index of migration 0008 when the text
 * has trigrams to look up, else by reading the scope's rows.
 *
 * - PostgreSQL: `resource_name LIKE '%text%'` over the GIN index (project_id,
 *   resource_name gin_trgm_ops). pg_trgm takes its trigrams from the runs of letters and
 *   digits, folded to lower case, so the index finds candidates and the LIKE keeps the
 *   exact matches. Text without three letters or digits in a row has no trigram to look
 *   up: `strpos`, which no index answers, sends it to the scope's own index instead of a
 *   scan of the whole GIN index.
 * - SQLite: the FTS5 trigram table `jobs_names` (case-sensitive, every character)
 *   gives the rowids of the names that contain the text as a phrase of its trigrams; the
 *   jobs rows are read by rowid and the LIKE decides (it also decides alone, over the
 *   scope's index, for text without a trigram run, as on PostgreSQL).
 *
 * The count of a name-filtered list is the number of those rows: it costs about one row
 * read per name that matches, in any project on SQLite (the FTS index is one for all).
 */
import { SqliteAdapter, sql, type Kysely, type SelectQueryBuilder, type SqlBool } from 'kysely';
import type { Database } from './database.js';
import type { DB } from './schema.js';

/** Three letters or digits in a row: what both engines' trigram indexes can look up. */
const TRIGRAM_RUN = /[\p{L}\p{N}]{3}/u;

/** True when a name search for `text` is answered from the trigram index ({@link nameContains} with `indexed`). */
export function trigramSearchable(text: string): boolean {
  return TRIGRAM_RUN.test(text);
}

/** `%`, `_` and the escape character itself match only themselves after this. */
export function likeContains(text: string): string {
  return `%${text.replace(/[\\%_]/g, '\\$&')}%`;
}

/** The FTS5 query matching names that contain `text`: one phrase, the text's trigrams in order. */
export function ftsPhrase(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

/** The values of a name term: the text as a LIKE pattern, as an FTS5 phrase, and as itself. */
export interface NameValues {
  /** {@link likeContains} of the text. */
  readonly namePattern: string;
  /** {@link ftsPhrase} of the text. */
  readonly namePhrase: string;
  /** The text itself. */
  readonly nameText: string;
}

export function nameValues(text: string | undefined): NameValues {
  return text === undefined
    ? { namePattern: '', namePhrase: '', nameText: '' }
    : { namePattern: likeContains(text), namePhrase: ftsPhrase(text), nameText: text };
}

/**
 * The jobs whose resource name contains the text, as the FROM and WHERE a list query
 * adds its own terms to; every job when `search` is false. `search` is `indexed` when
 * {@link trigramSearchable} said so, else `scan`. Uses the values only as values, so the
 * query can be prepared.
 *
 * On SQLite the FTS5 matches come first, in a CROSS JOIN (which SQLite never reorders):
 * with no statistics, its planner takes the scope's index for the cheaper way in and
 * tests each of the scope's entries against the matches, which reads the whole scope.
 */
export function jobsNamed(db: Kysely<DB>, search: false | 'indexed' | 'scan', values: NameValues): SelectQueryBuilder<DB, 'jobs', object> {
  const jobs = db.selectFrom('jobs');
  if (search === false) return jobs;
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  const like = sql<SqlBool>`jobs.resource_name like ${values.namePattern} escape ${sql.lit('\\')}`;
  if (search === 'scan') return jobs.where(sqlite ? like : sql<SqlBool>`strpos(jobs.resource_name, ${values.nameText}) > 0`);
  if (!sqlite) return jobs.where(like);
  const named = sql<{ id: number }>`(select rowid as id from jobs_names where jobs_names match ${values.namePhrase})`.as('named');
  return db
    .selectFrom(named)
    .crossJoin('jobs')
    .where(sql<SqlBool>`jobs.rowid = named.id`)
    .where(like) as unknown as SelectQueryBuilder<DB, 'jobs', object>;
}

/**
 * SQLite: whether the FTS index of names holds exactly the names of the listed SDRS
 * failures (FTS5 `integrity-check` against its content view); PostgreSQL keeps its own
 * index, so always true there.
 */
export async function checkNameIndex(db: Database): Promise<boolean> {
  if (db.engine !== 'sqlite') return true;
  try {
    await sql`insert into jobs_names (jobs_names, rank) values ('integrity-check', 1)`.execute(db.kysely);
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'SQLITE_CORRUPT_VTAB') return false;
    throw error;
  }
}

/** SQLite: rebuilds the FTS index of names from the rows (after a VACUUM, which may renumber rowids). Nothing to do on PostgreSQL. */
export async function rebuildNameIndex(db: Database): Promise<void> {
  if (db.engine !== 'sqlite') return;
  await sql`insert into jobs_names (jobs_names) values ('rebuild')`.execute(db.kysely);
}
