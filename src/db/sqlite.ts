import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  OperationNodeTransformer,
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
  type UnknownRow,
} from 'kysely';
import type { Database } from './database.js';
import type { DB } from './schema.js';

/** Opens a better-sqlite3 file (created with its folder if missing) or `:memory:`, in WAL mode. */
export function openSqlite(path: string): Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SQLite(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  // LIKE is case-sensitive on PostgreSQL; make SQLite agree so filters match the same rows.
  sqlite.pragma('case_sensitive_like = ON');
  const kysely = new Kysely<DB>({
    dialect: immediateSqliteDialect(sqlite),
    plugins: [new DropRowLocksPlugin()],
  });
  return {
    engine: 'sqlite',
    kysely,
    async ping() {
      sqlite.prepare('select 1').get();
    },
    async close() {
      await kysely.destroy();
    },
  };
}

/**
 * Opens write transactions with BEGIN IMMEDIATE: a transaction that reads before it
 * writes must hold the write lock from the start, or two processes sharing the file can
 * both read and then fail to upgrade (SQLITE_BUSY without waiting).
 */
function immediateSqliteDialect(database: SQLite.Database): Dialect {
  const base = new SqliteDialect({ database });
  return {
    createAdapter: () => base.createAdapter(),
    createDriver: () => new ImmediateSqliteDriver({ database }),
    createIntrospector: (db) => base.createIntrospector(db),
    createQueryCompiler: () => base.createQueryCompiler(),
  };
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
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
