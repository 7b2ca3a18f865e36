/**
 * What an open database is, whichever engine: the {@link Database} interface that
 * src/db/sqlite.ts and src/db/postgres.ts each implement (src/db/open.ts picks one for a
 * `--db` URL), and the few engine-specific questions the rest of the code has.
 */
import type { CompiledQuery, Kysely, Transaction } from 'kysely';
import type { DB } from './schema.js';

export type Engine = 'sqlite' | 'postgres';

/** Runs one step of a long piece of work in a transaction (see {@link Database.exclusively}). */
export type Batch = <R>(step: (tx: Transaction<DB>) => Promise<R>) => Promise<R>;

/** An open database: the Kysely handle plus engine-level operations. */
export interface Database {
  readonly engine: Engine;
  readonly kysely: Kysely<DB>;
  /**
   * Runs a query compiled once (src/db/prepared.ts) on `handle`, this database or one of
   * its transactions, the engine's fastest way. SQLite runs a read outside a transaction
   * at once on its connection, past Kysely's queue (which costs a primary-key read about
   * ten times the read itself in a busy server); PostgreSQL runs it as a named statement
   * that each connection parses once (unnamed through a transaction pooler, where the
   * next transaction may run on another server connection).
   */
  runPrepared<R>(handle: Kysely<DB>, query: CompiledQuery<R>): Promise<R[]>;
  /**
   * Runs the statement `sql` once per list of `parameters`, in order, in transaction `tx`,
   * and resolves to the number of rows each run changed (triggers' changes not counted).
   * SQLite runs them back to back on its connection, in this turn of the event loop: a
   * thousand one-row statements cost it less than the same rows in multi-row statements
   * (an insert of a fleet batch: ~9 ms against ~16). PostgreSQL runs them one after
   * another; it takes many rows as JSON rows instead (src/db/json-rows.ts).
   */
  runEach(tx: Transaction<DB>, sql: string, parameters: readonly (readonly unknown[])[]): Promise<number[]>;
  /**
   * Runs `work` in a write transaction and resolves once it committed. On SQLite the
   * transaction may hold other callers' work asked for at the same time, one after
   * another, so that one sync commits them all (src/db/group-commit.ts): when one throws
   * or the shared transaction fails, each caller's `work` runs again in a transaction of
   * its own, so it must be safe to repeat, and a throw fails only the thrower. On
   * PostgreSQL, whose connections commit side by side, it is a transaction of its own.
   */
  groupedTransaction<T>(work: (tx: Transaction<DB>) => Promise<T>): Promise<T>;
  /**
   * Runs `work` over one consistent snapshot of the store, writing nothing, while writers
   * go on: a read-only repeatable-read transaction on PostgreSQL, a read transaction on
   * SQLite (WAL). `work` must use the handle it is given.
   */
  snapshot<T>(work: (db: Kysely<DB>) => Promise<T>): Promise<T>;
  /**
   * Runs `work` while holding the store-wide lock `name`, which one process at a time
   * holds (the others wait for it). On PostgreSQL it is an advisory lock (a session's, or
   * through a transaction pooler an open transaction's) and each
   * `batch` is a transaction of its own, so requests go on between batches; on SQLite it
   * is the write lock, held for the whole of `work`, whose batches share one transaction
   * (readers go on, writers wait; an interrupted `work` leaves nothing).
   */
  exclusively<T>(name: string, work: (batch: Batch) => Promise<T>): Promise<T>;
  /**
   * Takes the store-wide lock `name` for the rest of transaction `tx` if no other
   * transaction holds it, and says whether it did: on PostgreSQL a transaction-level
   * advisory lock (`pg_try_advisory_xact_lock`: never waits, released at commit or
   * rollback, and so safe through PgBouncer in transaction pooling mode); on SQLite always
   * true, since the write transaction already excludes every other writer of the file.
   */
  tryLock(tx: Transaction<DB>, name: string): Promise<boolean>;
  /** The connections at this moment: open, idle among them, and queries waiting for one (the store metrics). */
  connections(): { readonly open: number; readonly idle: number; readonly waiting: number };
  /** Closes every connection; the handle is unusable afterwards. */
  close(): Promise<void>;
}

/**
 * The database a Kysely handle (the database's own or one of its transactions) belongs
 * to. Each engine's dialect adapter carries it, so code given only a handle (a store)
 * reaches the engine's operations without any module keeping track.
 */
export function databaseOf(handle: Kysely<DB>): Database {
  const database = (handle.getExecutor().adapter as { readonly database?: Database }).database;
  if (database === undefined) throw new Error('not a handle of a database opened by openDatabase');
  return database;
}

/** How long store work may wait; each engine applies the ones it has. */
export interface StoreLimits {
  /**
   * PostgreSQL: the longest a statement may run or go unanswered, checked by the server
   * in each transaction and by the client on every query; 0 for no limit.
   */
  readonly statementTimeoutMs: number;
  /** PostgreSQL: the longest wait to open a connection or to get a free one from the pool. */
  readonly connectTimeoutMs: number;
  /** SQLite: the longest a transaction waits for another process's write lock. */
  readonly busyTimeoutMs: number;
  /** SQLite: megabytes of database pages its page cache may hold (its own default is 2). */
  readonly sqliteCacheMb: number;
}

/** What the CLI's commands get: long-running work (seed, import) is not cut short, and scans keep SQLite's own small page cache. */
export const DEFAULT_STORE_LIMITS: StoreLimits = Object.freeze({ statementTimeoutMs: 0, connectTimeoutMs: 5000, busyTimeoutMs: 5000, sqliteCacheMb: 2 });

const UNAVAILABLE_CODES = new Set([
  // Node network errors on the way to PostgreSQL; ETIMEDOUT is also a StoreTimeoutError
  // (src/db/cancellation.ts): no answer in time, or the work was cancelled.
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  // PostgreSQL: connection exceptions, shutdown, too many connections, read-only/recovery,
  // and the database itself gone or refusing the login (dropped, renamed, role revoked).
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  // Cancelled by statement_timeout (or a cancel request), and a transaction ended by
  // idle_in_transaction_session_timeout: the store did not answer in time.
  '57014',
  '25P03',
  '57P01',
  '57P02',
  '57P03',
  '57P04',
  '53300',
  '25006',
  '3D000',
  '28000',
  '28P01',
  // SQLite: locked past busy_timeout, disk or I/O trouble.
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_IOERR',
  'SQLITE_FULL',
  'SQLITE_CANTOPEN',
  'SQLITE_READONLY',
]);

/**
 * True when an error means the store cannot be reached or cannot take the write now
 * (answered 503, retried by the caller), as opposed to a bug in a query.
 */
export function isStoreUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('SQLITE_IOERR'))) return true;
  return (
    typeof message === 'string' &&
    /Connection terminated|timeout exceeded when trying to connect|connection is closed|Client has encountered a connection error/i.test(message)
  );
}

/**
 * True when an error says a table does not exist (PostgreSQL 42P01 undefined_table,
 * SQLite "no such table"): the schema was never migrated, or was dropped under a running
 * server. Answered 503 with a pointer to `taskcenter migrate`, not as a bug.
 */
export function isMissingRelation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === '42P01' || (code === 'SQLITE_ERROR' && typeof message === 'string' && message.startsWith('no such table'));
}

/**
 * True when a transaction lost a race with another writer (PostgreSQL deadlock or
 * serialization failure) and running it again is the fix.
 */
export function isRetryableConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

const TRANSACTION_ATTEMPTS = 3;

/**
 * Runs `work` in a transaction, running it again (up to three times in all) when it
 * loses a race with another writer ({@link isRetryableConflict}); `work` must be safe to
 * repeat, which a rolled-back transaction is.
 */
export async function inTransaction<T>(db: Database, work: (tx: Transaction<DB>) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.kysely.transaction().execute(work);
    } catch (error) {
      if (attempt < TRANSACTION_ATTEMPTS && isRetryableConflict(error)) continue;
      throw error;
    }
  }
}
