import { sql, type Kysely } from 'kysely';
import type { Engine } from '../database.js';

/**
 * `emulator_steps`: the next step of each job the emulator moves by itself
 * (src/emulator/progress.service.ts): to `next_status` once `due_at` (epoch ms) has
 * passed, then, after RUNNING, to `outcome` `run_ms` later. Kept in the store so a
 * restart resumes them, and taken under a row lock in the transaction that writes the
 * job, so two processes on one PostgreSQL never take the same step.
 */
export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const id = engine === 'postgres' ? sql`text collate "C"` : sql`text`;
  await db.schema
    .createTable('emulator_steps')
    .addColumn('project_id', id, (c) => c.notNull())
    .addColumn('job_id', id, (c) => c.notNull())
    .addColumn('next_status', 'text', (c) => c.notNull())
    .addColumn('due_at', 'bigint', (c) => c.notNull())
    .addColumn('run_ms', 'bigint', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('error_code', 'text')
    .addColumn('fail_reason', 'text')
    .addPrimaryKeyConstraint('emulator_steps_pkey', ['project_id', 'job_id'])
    .execute();
  await db.schema.createIndex('emulator_steps_due').on('emulator_steps').columns(['due_at']).execute();
}
