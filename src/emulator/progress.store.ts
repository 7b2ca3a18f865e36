/** The SQL of progressing jobs: their next steps in `emulator_steps`. */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { DB } from '../db/schema.js';
import type { EmulatorStepsTable } from './progress.table.js';

type Handle = Kysely<DB> | Transaction<DB>;
export type StepRow = Selectable<EmulatorStepsTable>;

export async function insertSteps(tx: Transaction<DB>, rows: readonly StepRow[]): Promise<void> {
  if (rows.length > 0)
    await tx
      .insertInto('emulator_steps')
      .values([...rows])
      .execute();
}

/**
 * Up to `limit` steps due at `now`, earliest first, locked until the transaction ends;
 * on PostgreSQL a step another process has locked is skipped, not waited for (on
 * SQLite the transaction holds the whole file).
 */
export async function lockDueSteps(tx: Transaction<DB>, now: number, limit: number): Promise<StepRow[]> {
  return tx.selectFrom('emulator_steps').selectAll().where('due_at', '<=', now).orderBy('due_at').limit(limit).forUpdate().skipLocked().execute();
}

/** One job's next step, locked until the transaction ends (waiting for another process that holds it). */
export async function lockStep(tx: Transaction<DB>, projectId: string, jobId: string): Promise<StepRow | undefined> {
  return tx.selectFrom('emulator_steps').selectAll().where('project_id', '=', projectId).where('job_id', '=', jobId).forUpdate().executeTakeFirst();
}

/** A job's pending sub-job steps. */
export async function subJobSteps(db: Handle, projectId: string, jobIds: readonly string[]): Promise<StepRow[]> {
  if (jobIds.length === 0) return [];
  return db
    .selectFrom('emulator_steps')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('job_id', 'in', [...jobIds])
    .execute();
}

export async function moveStep(tx: Transaction<DB>, row: StepRow, next: Pick<StepRow, 'next_status' | 'due_at'>): Promise<void> {
  await tx.updateTable('emulator_steps').set(next).where('project_id', '=', row.project_id).where('job_id', '=', row.job_id).execute();
}

export async function deleteStep(tx: Transaction<DB>, row: Pick<StepRow, 'project_id' | 'job_id'>): Promise<void> {
  await tx.deleteFrom('emulator_steps').where('project_id', '=', row.project_id).where('job_id', '=', row.job_id).execute();
}

/** Deletes the steps of one project, or every step; for a reset. */
export async function deleteSteps(tx: Transaction<DB>, projectId: string | undefined): Promise<void> {
  let query = tx.deleteFrom('emulator_steps');
  if (projectId !== undefined) query = query.where('project_id', '=', projectId);
  await query.execute();
}

/** When the earliest step is due; null when none is pending. */
export async function nextDue(db: Handle): Promise<number | null> {
  const row = await db
    .selectFrom('emulator_steps')
    .select((eb) => eb.fn.min('due_at').as('due'))
    .executeTakeFirst();
  return row?.due == null ? null : Number(row.due);
}
