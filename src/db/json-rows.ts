/**
 * Many rows sent to a statement as one parameter, a JSON array holding each row as an
 * array of its values, and read by the statement as a table: one parameter instead of
 * one per value, and SQL that does not depend on how many rows there are. A statement
 * over a thousand rows is then one round trip to PostgreSQL (instead of a run per
 * project or per row, each a write to the socket and a wake-up of the backend), parsed
 * and planned once whatever the count, and its parameter is written by JSON.stringify
 * (instead of 24,000 values pg serializes one by one).
 *
 * Rows are arrays, not objects keyed by column: the keys were over 40% of an insert's
 * text (~750 kB for 1000 jobs, ~460 kB as arrays), text the server parsed and the
 * client wrote, copied and sent for every batch.
 *
 * PostgreSQL reads the rows with jsonb_array_elements, SQLite with json_each. A JSON
 * number is read back as a bigint or integer column, a string as text, null as NULL.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { databaseOf } from './database.js';
import type { DB } from './schema.js';

/** The SQL type of a column read from the JSON rows. */
export type JsonRowType = 'text' | 'bigint' | 'integer';

/** The columns of JSON rows with their types; each row holds its values in this order. */
export type JsonRowColumns<Row> = Readonly<Record<keyof Row & string, JsonRowType>>;

/** The value of a JSON rows parameter: what {@link jsonRowsValue} makes for the engine. */
export type JsonRowsValue = string | Buffer;

/**
 * A subquery (alias it with `.as(name)`) whose rows are those of `rows`, a parameter
 * holding {@link jsonRowsValue} of the rows, with `columns`. Built once per engine
 * inside a prepared query (src/db/prepared.ts): `rows` is the query's placeholder.
 */
export function jsonRows<Row>(db: Kysely<DB>, rows: unknown, columns: JsonRowColumns<Row>): RawBuilder<Row> {
  const names = Object.keys(columns) as (keyof Row & string)[];
  if (databaseOf(db).engine === 'postgres') {
    // jsonb, not json: each value is then found by its index in the parsed row, where
    // `->>` on json text parses the row again up to the value, for every column.
    const fields = names.map((name, i) => sql`(e ->> ${sql.lit(i)})::${sql.raw(columns[name])} as ${sql.id(name)}`);
    return sql<Row>`(select ${sql.join(fields)} from jsonb_array_elements(${rows}::jsonb) as e)`;
  }
  // `->>` of an array index gives SQLite's value: text for a string, integer for a whole number, NULL for null.
  const fields = names.map((name, i) => sql`value ->> ${sql.lit(i)} as ${sql.id(name)}`);
  return sql<Row>`(select ${sql.join(fields)} from json_each(${rows}))`;
}

/** jsonb's binary input format: a version byte, then the JSON text. */
const JSONB_VERSION = 1;

/**
 * The parameter for `rows` in a {@link jsonRows} subquery with the same `columns`. For
 * PostgreSQL it is UTF-8 bytes (sent in jsonb's binary format) written a row at a time:
 * the batch's text as one string is over 128 kB, which V8 allocates in pages of its own,
 * mapped and faulted in for each batch and unmapped after (~3 ms of CPU for 500 kB, 20
 * times a string of small pieces), and pg encodes a string into bytes once more anyway.
 */
export function jsonRowsValue<Row>(db: Kysely<DB>, rows: readonly Row[], columns: JsonRowColumns<Row>): JsonRowsValue {
  const names = Object.keys(columns) as (keyof Row & string)[];
  const valuesOf = (row: Row) => names.map((name) => row[name]);
  if (databaseOf(db).engine !== 'postgres') return JSON.stringify(rows.map(valuesOf));
  const texts = rows.map((row) => JSON.stringify(valuesOf(row)));
  // The version byte, the brackets and a comma between rows.
  let size = 3 + Math.max(texts.length - 1, 0);
  for (const text of texts) size += Buffer.byteLength(text);
  const bytes = Buffer.allocUnsafe(size);
  bytes[0] = JSONB_VERSION;
  bytes[1] = 0x5b;
  let at = 2;
  for (let i = 0; i < texts.length; i++) {
    if (i > 0) bytes[at++] = 0x2c;
    at += bytes.write(texts[i] as string, at);
  }
  bytes[at] = 0x5d;
  return bytes;
}

/**
 * Whether a statement that writes many rows should take them as JSON rows on this
 * database. PostgreSQL: yes (one round trip, planned once). SQLite, in-process, runs a
 * one-row statement per row faster (`Database.runEach`): it extracts each field
 * from the row's JSON text apart, parsing a thousand rows' text once per column (an
 * insert of 1000 jobs: ~38 ms against ~20 in multi-row statements and ~10 row by row).
 */
export function writesJsonRows(db: Kysely<DB>): boolean {
  return databaseOf(db).engine === 'postgres';
}
