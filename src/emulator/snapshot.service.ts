/**
 * Snapshots: every job as one NDJSON line (the producer API's stored job: the reported
 * document plus `failure_cleared`, `created_at` and `updated_at`), in key order, so the
 * same data always exports to the same bytes.
 */
import type { Database } from '../db/database.js';
import { toStoredJob } from '../jobs/job.js';
import { countJobs, jobsAfter, type JobCursor } from './snapshot.store.js';

/** Jobs read per query: a page's rows and its text are all an export holds at once. */
export const EXPORT_PAGE = 1000;

/**
 * The snapshot of `projectId` (or of every project) as NDJSON text, one chunk per page
 * of {@link EXPORT_PAGE} jobs, each line ending in `\n`. Pages are read one at a time as
 * the consumer asks for them, so memory stays flat whatever the number of jobs.
 * `onPage` is told how many jobs each chunk holds.
 */
export async function* exportJobs(db: Database, projectId: string | undefined, onPage?: (jobs: number) => void): AsyncGenerator<string> {
  let after: JobCursor | null = null;
  for (;;) {
    const rows = await jobsAfter(db.kysely, after, projectId, EXPORT_PAGE);
    if (rows.length === 0) return;
    let text = '';
    for (const row of rows) text += JSON.stringify(toStoredJob(row)) + '\n';
    const last = rows[rows.length - 1] as JobCursor;
    after = { project_id: last.project_id, job_id: last.job_id };
    onPage?.(rows.length);
    yield text;
    if (rows.length < EXPORT_PAGE) return;
  }
}

/** How many jobs {@link exportJobs} would write. */
export function snapshotSize(db: Database, projectId: string | undefined): Promise<number> {
  return countJobs(db.kysely, projectId);
}
