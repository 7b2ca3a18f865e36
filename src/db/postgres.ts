import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { Database } from './database.js';
import type { DB } from './schema.js';

const INT8_OID = 20;

/**
 * Opens a pg pool. BIGINT columns hold epoch milliseconds and counts, all far below
 * 2^53, so they are parsed to numbers rather than pg's default strings.
 */
export function openPostgres(url: string): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: 5000,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // A client losing its connection (server restart, backend terminated, network cut)
  // must not crash the process. The pool hears about idle clients; a checked-out client
  // emits 'error' on itself, and with no listener Node throws it as an uncaught
  // exception. Its pending query is rejected either way (and answered 503), and the
  // pool discards it on release, so the next query gets a fresh connection.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const kysely = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return {
    engine: 'postgres',
    kysely,
    async ping() {
      await sql`select 1`.execute(kysely);
    },
    async close() {
      await kysely.destroy();
    },
  };
}
