import { createHash } from 'node:crypto';
import pg from 'pg';
import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient } from 'kysely';
import type { Database } from './database.js';
import { isPrepared } from './prepared.js';
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
    // Named statements below are planned for their values on every run, never with a
    // generic plan (which PostgreSQL switches to after five runs, and which made the
    // first page of a list twenty times slower before the list indexes became literal).
    options: '-c plan_cache_mode=force_custom_plan',
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
  const kysely = new Kysely<DB>({ dialect: new PostgresDialect({ pool: namingStatements(pool) }) });
  return {
    engine: 'postgres',
    kysely,
    async close() {
      await kysely.destroy();
    },
  };
}

/**
 * Runs the queries compiled once (src/db/prepared.ts) as named statements, which each
 * connection parses once: PostgreSQL then skips parsing and analysing them on every
 * run (a list page: ~700 -> ~460 µs of the server's time). Other queries stay unnamed:
 * their text varies (batch sizes), and each name would hold a statement per connection.
 */
function namingStatements(pool: pg.Pool): PostgresPool {
  const wrapped = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  const wrap = (client: pg.PoolClient): PostgresPoolClient => ({
    query: ((text: unknown, values?: readonly unknown[]) =>
      typeof text === 'string' && isPrepared(text)
        ? client.query({ name: statementName(text), text, values: values as unknown[] })
        : client.query(text as string, values as unknown[])) as unknown as PostgresPoolClient['query'],
    release: () => client.release(),
  });
  return {
    async connect() {
      const client = await pool.connect();
      // The driver keeps per-client state keyed by the client object: always the same wrapper.
      let wrapper = wrapped.get(client);
      if (wrapper === undefined) {
        wrapper = wrap(client);
        wrapped.set(client, wrapper);
      }
      return wrapper;
    },
    end: () => pool.end(),
  };
}

const names = new Map<string, string>();

function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `tc_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    names.set(text, name);
  }
  return name;
}
