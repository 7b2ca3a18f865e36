import { Migrator, sql, type Kysely, type MigrationResultSet } from 'kysely';
import type { Database } from './database.js';
import { migrations } from './migrations/index.js';

/** What {@link migrate} applied; empty when the schema was already current. */
export interface MigrationReport {
  readonly applied: readonly string[];
}

/**
 * Brings the schema up to date. Throws, having applied nothing of the failing
 * migration, when one fails; the caller exits non-zero.
 */
export async function migrate(db: Database): Promise<MigrationReport> {
  const migrator = new Migrator({
    db: db.kysely,
    provider: {
      getMigrations: async () => Object.fromEntries(Object.entries(migrations).map(([name, m]) => [name, { up: (k: Kysely<unknown>) => m.up(k, db.engine) }])),
    },
    migrationTableName: 'taskcenter_migrations',
    migrationLockTableName: 'taskcenter_migrations_lock',
  });
  const { error, results = [] } = db.engine === 'sqlite' ? await atomically(db, () => migrator.migrateToLatest()) : await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return { applied: results.filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}

/**
 * Kysely runs PostgreSQL migrations in a transaction but not SQLite's, although SQLite
 * DDL is transactional too: without one, a migration failing halfway leaves its first
 * tables behind (and every later run fails on them), and a second process starting on
 * the same file runs the same migrations at the same time. SQLite is one connection
 * here, so a transaction opened around the migrator holds everything it does; BEGIN
 * IMMEDIATE makes the second process wait for the first, then find nothing to do.
 */
async function atomically(db: Database, run: () => Promise<MigrationResultSet>): Promise<MigrationResultSet> {
  await sql`begin immediate`.execute(db.kysely);
  let outcome: MigrationResultSet;
  try {
    outcome = await run();
  } catch (error) {
    await sql`rollback`.execute(db.kysely);
    throw error;
  }
  await (outcome.error === undefined ? sql`commit` : sql`rollback`).execute(db.kysely);
  return outcome;
}
