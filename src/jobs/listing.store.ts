/**
 * All SQL of `job_counts`, the exact size of each list bucket, and of `list_versions`,
 * which tells whether a project's lists changed (src/jobs/listing.ts). Writers call
 * {@link recordListChanges} in the transaction that changes the jobs.
 */
import type { Kysely, Transaction } from 'kysely';
import { PreparedQuery } from '../db/prepared.js';
import type { DB } from '../db/schema.js';
import type { ListChanges } from './listing.js';

/** Rows per statement: far below both engines' parameter limits. */
const CHUNK = 500;

/**
 * Adds each bucket change to its counter, creating counters as needed, then raises the
 * list version of every project whose lists changed. Counters and versions are written
 * in (project, bucket) and project order, so on PostgreSQL two transactions lock shared
 * rows in the same order and never wait for each other in a cycle.
 */
export async function recordListChanges(tx: Transaction<DB>, changes: ListChanges): Promise<void> {
  const deltas = changes.deltas();
  for (let i = 0; i < deltas.length; i += CHUNK) {
    await tx
      .insertInto('job_counts')
      .values(deltas.slice(i, i + CHUNK).map(({ project_id, bucket, n }) => ({ project_id, bucket, n })))
      .onConflict((oc) => oc.columns(['project_id', 'bucket']).doUpdateSet((eb) => ({ n: eb('job_counts.n', '+', eb.ref('excluded.n')) })))
      .execute();
  }
  const projects = changes.projects();
  for (let i = 0; i < projects.length; i += CHUNK) {
    await tx
      .insertInto('list_versions')
      .values(projects.slice(i, i + CHUNK).map((project_id) => ({ project_id, version: 1 })))
      .onConflict((oc) => oc.column('project_id').doUpdateSet((eb) => ({ version: eb('list_versions.version', '+', 1) })))
      .execute();
  }
}

/** The select of one bucket's size, for a list page's count: no row when nothing was ever counted in it. */
export function countOf(db: Kysely<DB>, projectId: string, bucket: string) {
  return db.selectFrom('job_counts').select('n').where('project_id', '=', projectId).where('bucket', '=', bucket);
}

const listVersionQuery = new PreparedQuery<{ projectId: string }, { version: number }>((db, { projectId }) =>
  db.selectFrom('list_versions').select('version').where('project_id', '=', projectId),
);

/** The project's list version: 0 until its lists first change, then raised by every change. */
export async function listVersion(db: Kysely<DB>, projectId: string): Promise<number> {
  const row = await listVersionQuery.executeTakeFirst(db, { projectId });
  return row?.version ?? 0;
}
