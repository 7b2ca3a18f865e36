import { createHash } from 'node:crypto';
import pg from 'pg';
import {
  CompiledQuery,
  Kysely,
  PostgresAdapter,
  PostgresDialect,
  sql,
  PostgresDriver,
  type DatabaseConnection,
  type MigrationLockOptions,
  type Dialect,
  type PostgresPool,
  type PostgresPoolClient,
  type Transaction,
  type TransactionSettings,
} from 'kysely';
import { StoreTimeoutError, cancelled, currentCancellation, type Cancellation } from './cancellation.js';
import type { Batch, Database, StoreLimits } from './database.js';
import type { DB } from './schema.js';

const INT8_OID = 20;

/** How connections reach PostgreSQL: directly or through a session pooler, or through a transaction pooler (`?pooling=transaction`). */
export type Pooling = 'session' | 'transaction';

/**
 * The URL pg is given and the pooling its `pooling` query parameter asks for (`session`
 * when absent); the parameter is ours, so it is taken out. Throws for any other value.
 */
export function poolingOf(url: string): { readonly connectionString: string; readonly pooling: Pooling } {
  const match = /[?&]pooling=([^&#]*)/.exec(url);
  if (match === null) return { connectionString: url, pooling: 'session' };
  const value = decodeURIComponent(match[1] ?? '');
  if (value !== 'session' && value !== 'transaction') {
    throw new Error(`the database URL's pooling parameter must be session or transaction, got '${value}'`);
  }
  const connectionString = url.replace(/([?&])pooling=[^&#]*&?/, '$1').replace(/[?&](#|$)/, '$1');
  return { connectionString, pooling: value };
}

/**
 * Opens a pg pool. BIGINT columns hold epoch milliseconds and counts, all far below
 * 2^53, so they are parsed to numbers rather than pg's default strings.
 *
 * Every wait is bounded by `limits` (see {@link boundedClients}) without session
 * settings. With `?pooling=transaction` in the URL (PgBouncer's `pool_mode =
 * transaction`, where consecutive transactions of one client may run on different
 * server connections) nothing is sent at connection start-up, which PgBouncer would
 * refuse, and no statement is named, since a named statement exists only on the server
 * connection that parsed it.
 */
export function openPostgres(url: string, limits: StoreLimits): Database {
  const { connectionString, pooling } = poolingOf(url);
  const pool = new pg.Pool({
    connectionString,
    max: 10,
    // Covers both opening a connection and waiting for a free one.
    connectionTimeoutMillis: limits.connectTimeoutMs,
    // A peer that vanished (packets dropped) is noticed on idle connections too.
    keepAlive: true,
    // Named statements below are planned for their values on every run, never with a
    // generic plan, which PostgreSQL switches to after five runs: made for the average
    // project, it sorts a big project's whole list to show its first page (104,510 rows
    // read against 105 buffers: bench/results/2026-12-04T07-30-generic-plans.md).
    // Through a transaction pooler every statement is unnamed, and an unnamed statement
    // is planned for its values anyway.
    ...(pooling === 'session' ? { options: '-c plan_cache_mode=force_custom_plan' } : {}),
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
  const statements = new NamedStatements();
  const adapter = new DatabasePostgresAdapter(pooling);
  const kysely = new Kysely<DB>({ dialect: boundedDialect(boundedClients(pool, limits.statementTimeoutMs, statements), limits.statementTimeoutMs, adapter) });
  const database: Database = {
    engine: 'postgres',
    kysely,
    groupedTransaction: (work) => kysely.transaction().execute(work),
    async runPrepared<R>(handle: Kysely<DB>, query: CompiledQuery<R>): Promise<R[]> {
      if (pooling === 'session') statements.add(query.sql);
      return (await handle.executeQuery(query)).rows;
    },
    async runEach(tx, sql, parameters) {
      const changes: number[] = [];
      if (pooling === 'session') statements.add(sql);
      for (const values of parameters) changes.push(Number((await tx.executeQuery(CompiledQuery.raw(sql, [...values]))).numAffectedRows ?? 0));
      return changes;
    },
    snapshot: (work) => kysely.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(work),
    exclusively: <T>(name: string, work: (batch: Batch) => Promise<T>): Promise<T> =>
      // A lock held on one connection while the batches run on others. Through a
      // transaction pooler a session lock could be taken on one server connection and
      // released on another (and so never): there it is a transaction's lock instead,
      // held by a transaction left open on that connection until the work ends.
      kysely.connection().execute(async (connection) => {
        const key = lockKey(name);
        if (pooling === 'transaction') {
          await sql`begin`.execute(connection);
          try {
            await sql`select pg_advisory_xact_lock(${key})`.execute(connection);
            return await work((step) => kysely.transaction().execute(step));
          } finally {
            await sql`rollback`.execute(connection);
          }
        }
        await sql`select pg_advisory_lock(${key})`.execute(connection);
        try {
          return await work((step) => kysely.transaction().execute(step));
        } finally {
          await sql`select pg_advisory_unlock(${key})`.execute(connection);
        }
      }),
    async tryLock(tx: Transaction<DB>, name: string): Promise<boolean> {
      const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${lockKey(name)}) as locked`.execute(tx);
      return rows[0]?.locked === true;
    },
    connections: () => ({ open: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    async close() {
      await kysely.destroy();
    },
  };
  adapter.database = database;
  return database;
}

/** Kysely's PostgreSQL adapter, carrying the database it belongs to (see databaseOf in src/db/database.ts). */
class DatabasePostgresAdapter extends PostgresAdapter {
  database: Database | undefined;

  constructor(private readonly pooling: Pooling) {
    super();
  }

  /**
   * Kysely takes a session lock, runs the migrations' transaction, then unlocks, three
   * round trips on one client connection. Through a transaction pooler each may reach a
   * different server connection: the lock stayed on one nobody unlocks, and every later
   * start waited for it until its time ran out. There the lock is a transaction's, taken
   * in a transaction begun here that the migrations' own then joins (a second BEGIN is
   * only a warning) and ends, releasing it.
   */
  override async acquireMigrationLock(db: Kysely<unknown>, options: MigrationLockOptions): Promise<void> {
    if (this.pooling === 'session') return super.acquireMigrationLock(db, options);
    await sql`begin`.execute(db);
    await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`.execute(db);
  }

  /** Through a transaction pooler, ends the transaction above if the migrations' never began (else a warning, and nothing). */
  override async releaseMigrationLock(db: Kysely<unknown>, options: MigrationLockOptions): Promise<void> {
    if (this.pooling === 'session') return super.releaseMigrationLock(db, options);
    await sql`rollback`.execute(db);
  }
}

/** Kysely's own migration lock key, so that nodes on either pooling exclude each other. */
const MIGRATION_LOCK_KEY = '3853314791062309107';

/** An advisory lock key for a lock name: the first 63 bits of its SHA-256, as a decimal string for bigint. */
function lockKey(name: string): string {
  return (BigInt(`0x${createHash('sha256').update(`taskcenter:${name}`).digest('hex').slice(0, 16)}`) >> 1n).toString();
}

/**
 * The queries compiled once (src/db/prepared.ts) that this database has run, and the
 * statement name of each: per database, so two databases in one process share nothing.
 */
class NamedStatements {
  readonly #names = new Map<string, string>();

  add(text: string): void {
    if (!this.#names.has(text)) this.#names.set(text, `tc_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`);
  }

  /** The statement name of a query compiled once, or undefined for any other query. */
  nameOf(text: string): string | undefined {
    return this.#names.get(text);
  }
}

/**
 * The pool as Kysely sees it, with two things added to each client.
 *
 * Named statements: the queries compiled once (src/db/prepared.ts) run as named
 * statements, which each connection parses once: PostgreSQL then skips parsing and
 * analysing them on every run (a list page: ~700 -> ~460 µs of the server's time). Other
 * queries stay unnamed: their text varies (batch sizes), and each name would hold a
 * statement per connection.
 *
 * Bounded waits: a query not answered within `statementTimeoutMs` (0: no limit), or still
 * running when the work is cancelled (src/db/cancellation.ts: the
 * request's deadline), is abandoned with a {@link StoreTimeoutError}, and so is every
 * later query on that client. Its connection is then closed on release instead of
 * going back to the pool: the server rolls back whatever transaction was open on it,
 * and no later request queues behind the unanswered query. This is the client's half;
 * the server's half (`statement_timeout`, set in each transaction) is in
 * {@link boundedDialect}.
 */
function boundedClients(pool: pg.Pool, statementTimeoutMs: number, statements: NamedStatements): PostgresPool {
  const wrapped = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  const wrap = (client: pg.PoolClient): PostgresPoolClient => {
    let abandoned: StoreTimeoutError | undefined;
    const run = (text: string, values: readonly unknown[] | undefined): Promise<unknown> => {
      const name = statements.nameOf(text);
      return name !== undefined ? client.query({ name, text, values: values as unknown[] }) : client.query(text, values as unknown[]);
    };
    return {
      query: ((text: string, values?: readonly unknown[]) => {
        const cancellation = currentCancellation();
        if (abandoned === undefined && cancellation?.aborted === true) abandoned = cancelled(cancellation);
        if (abandoned !== undefined) return Promise.reject(abandoned);
        if (statementTimeoutMs === 0 && cancellation === undefined) return run(text, values);
        return bounded(run(text, values), statementTimeoutMs, cancellation, (error) => {
          abandoned = error;
        });
      }) as unknown as PostgresPoolClient['query'],
      // An error makes the pool close the connection rather than keep it.
      release: () => client.release(abandoned),
    };
  };
  return {
    async connect() {
      const cancellation = currentCancellation();
      if (cancellation?.aborted === true) throw cancelled(cancellation);
      const pending = pool.connect();
      const client =
        cancellation === undefined
          ? await pending
          : await bounded(pending, 0, cancellation, () => {
              // The connection may still come: give it back unused.
              pending.then(
                (late) => late.release(),
                () => {},
              );
            });
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

/**
 * `pending`, or a {@link StoreTimeoutError} after `timeoutMs` (0: never) or when
 * `cancellation` is cancelled, whichever comes first; `onAbandon` hears of the error
 * before the caller.
 */
function bounded<T>(pending: Promise<T>, timeoutMs: number, cancellation: Cancellation | undefined, onAbandon: (error: StoreTimeoutError) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abandon = (error: StoreTimeoutError) => {
      settle();
      onAbandon(error);
      reject(error);
    };
    const onCancel = () => abandon(cancelled(cancellation as Cancellation));
    const timer = timeoutMs > 0 ? setTimeout(() => abandon(new StoreTimeoutError(`the database did not answer within ${timeoutMs} ms`)), timeoutMs) : undefined;
    cancellation?.listen(onCancel);
    const settle = () => {
      clearTimeout(timer);
      cancellation?.unlisten(onCancel);
    };
    pending.then(
      (value) => {
        settle();
        resolve(value);
      },
      (error: unknown) => {
        settle();
        reject(error);
      },
    );
  });
}

/**
 * Kysely's PostgreSQL dialect whose transactions begin with `SET LOCAL statement_timeout`
 * and `idle_in_transaction_session_timeout`, in the same round trip as `BEGIN`: the
 * server cancels a statement that runs (or waits for a lock) too long, and ends a
 * transaction whose client went silent, so its locks do not outlive a partition. Set per
 * transaction rather than per session (a start-up `options`, or a `SET` on connect),
 * because PgBouncer in transaction pooling mode refuses unknown start-up parameters and
 * hands one session's settings to other clients.
 */
function boundedDialect(pool: PostgresPool, statementTimeoutMs: number, adapter: PostgresAdapter): Dialect {
  const base = new PostgresDialect({ pool });
  const limits =
    statementTimeoutMs > 0 ? `set local statement_timeout = ${statementTimeoutMs}; set local idle_in_transaction_session_timeout = ${statementTimeoutMs}` : '';
  return {
    createAdapter: () => adapter,
    createDriver: () => new BoundedPostgresDriver({ pool }, limits),
    createIntrospector: (db) => base.createIntrospector(db),
    createQueryCompiler: () => base.createQueryCompiler(),
  };
}

class BoundedPostgresDriver extends PostgresDriver {
  constructor(
    config: ConstructorParameters<typeof PostgresDriver>[0],
    private readonly limits: string,
  ) {
    super(config);
  }

  override async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    if (this.limits === '') return super.beginTransaction(connection, settings);
    if (settings.isolationLevel !== undefined || settings.accessMode !== undefined) {
      await super.beginTransaction(connection, settings);
      await connection.executeQuery(CompiledQuery.raw(this.limits));
      return;
    }
    // Without parameters pg sends it as one simple query: one round trip for all three.
    await connection.executeQuery(CompiledQuery.raw(`begin; ${this.limits}`));
  }
}
