/**
 * All SQL of `job_counts`, the exact size of each list bucket (src/jobs/listing.ts).
 * Writers call {@link addToCounts} in the transaction that changes the jobs.
 */
import type { Transaction } from 'kysely';
import { PreparedQuery } from '../db/prepared.js';
import type { DB } from '../db/schema.js';
import type { Handle } from './jobs.store.js';
import type { CountDelta } from './listing.js';

/** Rows per statement: far below both engines' parameter limits. */
const CHUNK = 500;

/**
 * Adds each delta to its counter, creating counters as needed. Pass the deltas in
 * (project, bucket) order (CountChanges.deltas() does), so that on PostgreSQL two
 * transactions lock shared counters in the same order.
 */
export async function addToCounts(tx: Transaction<DB>, deltas: readonly CountDelta[]): Promise<void> {
  for (let i = 0; i < deltas.length; i += CHUNK) {
    await tx
      .insertInto('job_counts')
      .values(deltas.slice(i, i + CHUNK).map(({ project_id, bucket, n }) => ({ project_id, bucket, n })))
      .onConflict((oc) => oc.columns(['project_id', 'bucket']).doUpdateSet((eb) => ({ n: eb('job_counts.n', '+', eb.ref('excluded.n')) })))
      .execute();
  }
}

const countQuery = new PreparedQuery<{ projectId: string; bucket: string }, { n: number }>((db, { projectId, bucket }) =>
  db.selectFrom('job_counts').select('n').where('project_id', '=', projectId).where('bucket', '=', bucket),
);

/** The size of one bucket of a project; 0 when nothing was ever counted in it. */
export async function readCount(db: Handle, projectId: string, bucket: string): Promise<number> {
  const row = await countQuery.executeTakeFirst(db, { projectId, bucket });
  return row === undefined ? 0 : Number(row.n);
}
