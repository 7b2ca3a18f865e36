import { sql, type Kysely } from 'kysely';
import type { Engine } from '../database.js';

/**
 * `auth_failures`: bad AK/SK signatures counted per access key and client address
 * (src/auth/lockout.store.ts), in the store so that every server process counts the same
 * failures and refuses the same locked pairs. `locked_until` is epoch ms, 0 when the pair
 * is not locked.
 */
export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const id = engine === 'postgres' ? sql`text collate "C"` : sql`text`;
  await db.schema
    .createTable('auth_failures')
    .addColumn('access_key', id, (c) => c.notNull())
    .addColumn('address', id, (c) => c.notNull())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('locked_until', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('auth_failures_pk', ['access_key', 'address'])
    .execute();
}
