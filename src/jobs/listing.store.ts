/**
 * All SQL of `job_counts`, the exact size of each list bucket (src/jobs/listing.ts).
 * Writers call {@link addToCounts} in the transaction that changes the jobs.
 */
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../db/schema.js';
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

/** The select of one bucket's size, for a list page's count: no row when nothing was ever counted in it. */
export function countOf(db: Kysely<DB>, projectId: string, bucket: string) {
  return db.selectFrom('job_counts').select('n').where('project_id', '=', projectId).where('bucket', '=', bucket);
}
