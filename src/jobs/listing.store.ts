/**
 * Reads of `job_counts`, the exact size of each list bucket, and of `list_versions`,
 * which tells whether a project's lists changed (src/jobs/listing.ts). Only the one
 * writer writes them (src/jobs/job-writer.ts).
 */
import type { Kysely } from 'kysely';
import { PreparedQuery } from '../db/prepared.js';
import type { DB } from '../db/schema.js';

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
