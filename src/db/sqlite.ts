import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  OperationNodeTransformer,
  sql,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Dialect,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type SelectQueryNode,
  type SqliteDatabase,
  type SqliteStatement,
  type UnknownRow,
} from 'kysely';
import { setTimeout as sleep } from 'node:timers/promises';
import { cancelled, currentCancellation, type Cancellation } from './cancellation.js';
import type { Batch, Database, StoreLimits } from './database.js';
import { GroupCommit } from './group-commit.js';
import type { DB } from './schema.js';
import { LogFile, WalSync } from './wal-sync.js';

/**
 * Opens a better-sqlite3 file (created with its folder if missing) or `:memory:`, in WAL
 * mode. A transaction waits up to `limits.busyTimeoutMs` for another process's write lock
 * without blocking the event loop (see {@link ImmediateSqliteDriver}), and its commit is
 * made durable off the event loop before the transaction resolves (see {@link WalSync}).
 */
export function openSqlite(path: string, limits: StoreLimits): Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SQLite(path);
  sqlite.pragma('journal_mode = WAL');
  // A response means the write is durable (DESIGN.md). FULL would sync the log inside
  // every COMMIT, in this thread: the process answers nothing for the length of an fsync
  // (readers of the lists too, the very thing WAL lets go on past a writer). NORMAL
  // leaves the log to the driver, which syncs it in the thread pool after each commit
  // and before the transaction resolves: as durable as FULL, shared by the commits
  // that land while one sync runs. Checkpoints still sync the database file themselves.
  const log = path === ':memory:' ? undefined : new LogFile(`${path}-wal`);
  const wal = log === undefined ? undefined : new WalSync(() => log.sync());
  sqlite.pragma(wal === undefined ? 'synchronous = FULL' : 'synchronous = NORMAL');
  // For statements outside the driver's transactions (migrations at start): SQLite sleeps
  // in the calling thread, so the process answers nothing while it waits.
  sqlite.pragma(`busy_timeout = ${limits.busyTimeoutMs}`);
  sqlite.pragma('foreign_keys = ON');
  // A list page reads its rows by key, one database page each wherever the rows lie: once
  // the pages the polled projects touch outgrow the cache, every row is a read call. And a
  // transaction whose changed pages outgrow it writes them to the log before its commit,
  // then reads them back for its next rows (a fleet batch changes ~400 pages, 1.6 MB).
  sqlite.pragma(`cache_size = -${limits.sqliteCacheMb * 1024}`);
  // The writer runs a statement per row (src/jobs/job-writer.store.ts), each with a
  // statement journal to undo it if it fails halfway. A journal that once outgrows 64 KB
  // in a transaction becomes a temporary file for the rest of it, and every later row
  // writes its journal there: four 1000-job batches into one project in one transaction
  // cost 34 ms of inserts per batch so, 20 with journals in memory. Temporary tables and
  // sorts stay in memory too; the server's are a page or one project's name matches.
  sqlite.pragma('temp_store = MEMORY');
  // SQLite checkpoints in the committing thread once the log holds this many frames (1000
  // by default), and each checkpoint syncs the log and the database file there. A fleet
  // batch writes ~400 frames, mostly the same index pages as the batches before it: a log
  // ten times longer checkpoints a tenth as often and copies each page once for many
  // commits. Four batches per transaction, `JobService.reportBatch` in one process, the
  // same batches alternated: 39.1 → 33.4 and 43.2 → 35.7 ms per batch; 4000 frames gave
  // most of it back, 30000 no more. The log file stays at its longest, ~40 MB.
  sqlite.pragma('wal_autocheckpoint = 10000');
  // LIKE is case-sensitive on PostgreSQL; make SQLite agree so filters match the same rows.
  sqlite.pragma('case_sensitive_like = ON');
  const statements = cachingStatements(sqlite);
  const adapter = new DatabaseSqliteAdapter();
  const kysely = new Kysely<DB>({
    dialect: immediateSqliteDialect(statements, sqlite, limits.busyTimeoutMs, adapter, wal),
    plugins: [new DropRowLocksPlugin()],
  });
  const grouped = new GroupCommit(kysely, () => sqlite.inTransaction);
  const database: Database = {
    engine: 'sqlite',
    kysely,
    groupedTransaction: (work) => grouped.run(work),
    async runPrepared<R>(handle: Kysely<DB>, query: CompiledQuery<R>): Promise<R[]> {
      // Kysely's queue only keeps other queries out of an open transaction, and a read
      // outside one sees only committed data, like every other reader.
      if (!handle.isTransaction && !sqlite.inTransaction) {
        const statement = statements.prepare(query.sql);
        if (statement.reader && /^\s*select\b/i.test(query.sql)) return statement.all(query.parameters) as R[];
      }
      return (await handle.executeQuery(query)).rows;
    },
    async runEach(tx, sql, parameters) {
      // The transaction holds the one connection, and this runs without yielding, so no
      // other work's statement comes between; prepare() refuses cancelled work.
      if (!tx.isTransaction || !sqlite.inTransaction) throw new Error('runEach runs inside a transaction');
      const statement = statements.prepare(sql);
      return parameters.map((values) => Number(statement.run(values).changes));
    },
    snapshot: (work) =>
      kysely.connection().execute(async (connection) => {
        // A deferred transaction: its first read fixes the snapshot, and it never takes the write lock.
        await sql`begin`.execute(connection);
        try {
          return await work(connection);
        } finally {
          await sql`commit`.execute(connection);
        }
      }),
    async exclusively<T>(_name: string, work: (batch: Batch) => Promise<T>): Promise<T> {
      for (;;) {
        try {
          return await kysely.transaction().execute((tx) => work((step) => step(tx)));
        } catch (error) {
          // Another process held the write lock past the busy timeout: wait for it, then check again.
          if ((error as { code?: unknown }).code !== 'SQLITE_BUSY' || sqlite.inTransaction) throw error;
        }
      }
    },
    // BEGIN IMMEDIATE took the file's write lock: no other transaction writes until this one ends.
    tryLock: async () => true,
    // One connection, used synchronously: between two turns of the event loop it is idle.
    connections: () => ({ open: 1, idle: 1, waiting: 0 }),
    async close() {
      await kysely.destroy();
      await log?.close();
    },
  };
  adapter.database = database;
  return database;
}

/** Kysely's SQLite adapter, carrying the database it belongs to (see databaseOf in src/db/database.ts). */
class DatabaseSqliteAdapter extends SqliteAdapter {
  database: Database | undefined;
}

/** Statements kept prepared; past this many, the least recently prepared is dropped. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * What Kysely's SQLite driver runs queries on, made cheaper in two ways. The driver
 * prepares every query it runs, so SQLite parses and plans the same SQL again each
 * time, which costs more than running a page query: the same SQL text gets the same
 * prepared statement here instead. And better-sqlite3 builds each result row as an
 * object from C++, property by property (a third of a 100-row page read); rows are
 * read as arrays instead and turned into objects by a function compiled once per
 * statement for its columns. A statement is never run twice at once: the driver runs
 * one query at a time on its single connection.
 */
function cachingStatements(database: SQLite.Database): SqliteDatabase {
  const statements = new Map<string, SqliteStatement>();
  return {
    close: () => database.close(),
    prepare(sql) {
      // Work whose caller gave up (src/db/cancellation.ts) runs nothing more, but may
      // still roll back what it began: Kysely's rollback is this exact text.
      const cancellation = currentCancellation();
      if (cancellation?.aborted === true && sql !== 'rollback') throw cancelled(cancellation);
      let statement = statements.get(sql);
      if (statement === undefined) {
        statement = fastStatement(database, sql);
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string);
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

function fastStatement(database: SQLite.Database, sql: string): SqliteStatement {
  const statement = database.prepare(sql);
  if (!statement.reader) return statement;
  statement.raw(true);
  // Keys are written as JSON string literals, so any column name is a safe key.
  const keys = statement.columns().map((c, i) => `${JSON.stringify(c.name)}: row[${i}]`);
  const toObject = new Function('row', `return { ${keys.join(', ')} };`) as (row: unknown[]) => unknown;
  return {
    reader: true,
    all: (parameters) => (statement.all(parameters) as unknown[][]).map(toObject),
    run: (parameters) => statement.run(parameters),
    // Streaming is rare: it gets a statement of its own, returning objects.
    iterate: (parameters) => database.prepare(sql).iterate(parameters),
  };
}

/**
 * Opens write transactions with BEGIN IMMEDIATE: a transaction that reads before it
 * writes must hold the write lock from the start, or two processes sharing the file can
 * both read and then fail to upgrade (SQLITE_BUSY without waiting).
 */
function immediateSqliteDialect(
  database: SqliteDatabase,
  sqlite: SQLite.Database,
  busyTimeoutMs: number,
  adapter: SqliteAdapter,
  wal: WalSync | undefined,
): Dialect {
  const base = new SqliteDialect({ database });
  return {
    createAdapter: () => adapter,
    createDriver: () => new ImmediateSqliteDriver({ database }, sqlite, busyTimeoutMs, wal),
    createIntrospector: (db) => base.createIntrospector(db),
    createQueryCompiler: () => base.createQueryCompiler(),
  };
}

/** The longest pause between two tries for the write lock. */
const MAX_LOCK_PAUSE_MS = 50;

/**
 * Waits for the write lock between tries rather than in SQLite's busy handler, which
 * sleeps in the calling thread: with the lock held by another process for seconds, the
 * process keeps answering (health, readiness, reads) instead of freezing. Gives up with
 * SQLITE_BUSY (a 503) after `busyTimeoutMs`, or as soon as the work is cancelled.
 *
 * With a {@link WalSync}, work that committed (a transaction's COMMIT, or a write outside
 * one) gives the connection back first, so the next writer goes on, and then waits for
 * the log to be synced: a transaction or query resolves only once what it wrote is durable.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  readonly #noWait: SQLite.Statement;
  readonly #wait: SQLite.Statement;
  /** The connection as handed out: the driver's own, noting a commit that needs a sync. */
  #connection: DatabaseConnection | undefined;
  /** Set when the work holding the connection committed, until the connection is released. */
  #committed = false;

  constructor(
    config: ConstructorParameters<typeof SqliteDriver>[0],
    private readonly sqlite: SQLite.Database,
    private readonly busyTimeoutMs: number,
    private readonly wal: WalSync | undefined,
  ) {
    super(config);
    this.#noWait = sqlite.prepare('pragma busy_timeout = 0');
    this.#wait = sqlite.prepare(`pragma busy_timeout = ${busyTimeoutMs}`);
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await super.acquireConnection();
    if (this.wal === undefined) return connection;
    this.#connection ??= {
      executeQuery: async <R>(query: CompiledQuery): Promise<QueryResult<R>> => {
        const result = await connection.executeQuery<R>(query);
        // A statement that wrote and left no transaction open committed (a rollback wrote nothing).
        if (result.numAffectedRows !== undefined && !this.sqlite.inTransaction && query.sql !== 'rollback') this.#committed = true;
        return result;
      },
      streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
    };
    return this.#connection;
  }

  override async releaseConnection(): Promise<void> {
    const committed = this.#committed;
    this.#committed = false;
    await super.releaseConnection();
    if (committed) await this.wal?.sync();
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    const giveUpAt = Date.now() + this.busyTimeoutMs;
    for (let pause = 1; ; pause = Math.min(pause * 2, MAX_LOCK_PAUSE_MS)) {
      this.#noWait.get();
      try {
        await connection.executeQuery(CompiledQuery.raw('begin immediate'));
        return;
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() + pause > giveUpAt) throw error;
      } finally {
        this.#wait.get();
      }
      const cancellation = currentCancellation();
      try {
        await sleep(pause, undefined, { signal: cancellation?.signal });
      } catch {
        throw cancelled(cancellation as Cancellation);
      }
    }
  }
}

/**
 * SQLite has no row locks (the whole file is locked by BEGIN IMMEDIATE), and rejects
 * `FOR UPDATE` as a syntax error; the stores write it once for both engines.
 */
const ROW_LOCKS = new Set(['ForUpdate', 'ForNoKeyUpdate', 'ForShare', 'ForKeyShare', 'NoWait', 'SkipLocked']);

class DropRowLocksPlugin implements KyselyPlugin {
  readonly #transformer = new (class extends OperationNodeTransformer {
    protected override transformSelectQuery(node: SelectQueryNode): SelectQueryNode {
      const transformed = super.transformSelectQuery(node);
      const kept = transformed.endModifiers?.filter((m) => !ROW_LOCKS.has(m.modifier ?? ''));
      return kept?.length === transformed.endModifiers?.length ? transformed : { ...transformed, endModifiers: kept };
    }
  })();

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.#transformer.transformNode(args.node);
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}
