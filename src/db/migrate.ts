import { Migrator, sql, type Kysely, type MigrationResultSet } from 'kysely';
import { isMissingRelation, isStoreUnavailable, type Database } from './database.js';
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
    // Numbers are reserved per issue (0003 to 0006) and land in any order: a database that
    // has 0005 gets 0004 when it arrives. Each migration touches only its own tables.
    allowUnorderedMigrations: true,
  });
  const { error, results = [] } = db.engine === 'sqlite' ? await atomically(db, () => migrator.migrateToLatest()) : await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName;
    const reason = error instanceof Error ? error.message : String(error);
    // No migration named: it failed before running one, on the way to the database.
    throw new Error(failed === undefined ? `${unreachable(error, reason)}; no migration was run` : `migration ${failed} failed: ${reason}`, { cause: error });
  }
  return { applied: results.filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}

/** Says why the migrations could not start: no connection, no such database, no login, or the driver's reason. */
function unreachable(error: unknown, reason: string): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === '3D000') return `${reason}: create it first (createdb), then migrate`;
  if (code === '28P01' || code === '28000') return `cannot log in to the database: ${reason}`;
  if (isStoreUnavailable(error)) return `cannot connect to the database: ${reason}`;
  return `cannot prepare the migrations: ${reason}`;
}

/**
 * The migrations of the index not applied to the database, in name order: all of them when
 * it has none (no migration table). Migrations land out of order (a store at 0006 gets 0003
 * when it arrives), so readiness asks for each one rather than comparing the newest. Names
 * the database has and the index lacks (a newer server migrated ahead of a rollout) are not
 * missing: this code needs none of them.
 */
export async function missingMigrations(db: Database): Promise<readonly string[]> {
  const needed = Object.keys(migrations).sort();
  try {
    const { rows } = await sql<{ name: string }>`select name from taskcenter_migrations`.execute(db.kysely);
    const applied = new Set(rows.map((r) => r.name));
    return needed.filter((name) => !applied.has(name));
  } catch (error) {
    if (isMissingRelation(error)) return needed;
    throw error;
  }
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
