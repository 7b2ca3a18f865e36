/**
 * Many rows sent to a statement as one parameter, the JSON text of an array of objects
 * keyed by column, and read by it as a table: one parameter instead of one per value,
 * and SQL that does not depend on how many rows there are. A statement over a
 * thousand rows is then one round trip to PostgreSQL (instead of a run per project or
 * per row, each a write to the socket and a wake-up of the backend), parsed and planned
 * once whatever the count, and its parameter is one string that JSON.stringify writes
 * (instead of 24,000 values pg serializes one by one).
 *
 * PostgreSQL reads the text with json_to_recordset, SQLite with json_each. A JSON
 * number is read back as a bigint or integer column, a string as text, null as NULL.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { databaseOf } from './database.js';
import type { DB } from './schema.js';

/** The SQL type of a column read from the JSON rows. */
export type JsonRowType = 'text' | 'bigint' | 'integer';

/**
 * A subquery (alias it with `.as(name)`) whose rows are those of `rows`, a parameter
 * holding the JSON text of an array of objects, with `columns`. Built once per engine
 * inside a prepared query (src/db/prepared.ts): `rows` is the query's placeholder.
 */
export function jsonRows<Row>(db: Kysely<DB>, rows: unknown, columns: Readonly<Record<keyof Row & string, JsonRowType>>): RawBuilder<Row> {
  const names = Object.keys(columns);
  if (databaseOf(db).engine === 'postgres') {
    const definitions = names.map((name) => sql`${sql.id(name)} ${sql.raw(columns[name as keyof Row & string])}`);
    return sql<Row>`(select * from json_to_recordset(${rows}::json) as r(${sql.join(definitions)}))`;
  }
  // `->>` of an object label gives SQLite's value: text for a string, integer for a whole number, NULL for null.
  const fields = names.map((name) => sql`value ->> ${sql.lit(name)} as ${sql.id(name)}`);
  return sql<Row>`(select ${sql.join(fields)} from json_each(${rows}))`;
}

/**
 * Whether a statement that writes many rows should take them as JSON rows on this
 * database. PostgreSQL: yes (one round trip, planned once). SQLite, in-process, reads a
 * multi-row VALUES with a parameter per value faster: it extracts each field from the
 * row's JSON text apart, parsing a thousand rows' text once per column (an insert of
 * 1000 jobs: ~38 ms against ~20).
 */
export function writesJsonRows(db: Kysely<DB>): boolean {
  return databaseOf(db).engine === 'postgres';
}
