import { Migrator, type Kysely } from 'kysely';
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
      getMigrations: async () =>
        Object.fromEntries(Object.entries(migrations).map(([name, m]) => [name, { up: (k: Kysely<unknown>) => m.up(k, db.engine) }])),
    },
    migrationTableName: 'taskcenter_migrations',
    migrationLockTableName: 'taskcenter_migrations_lock',
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return { applied: results.filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}
