/**
 * Snapshots: every job as one NDJSON line (the producer API's stored job: the reported
 * document plus `failure_cleared`, `created_at` and `updated_at`), in key order, so the
 * same data always exports to the same bytes.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Database } from '../db/database.js';
import { ServiceError } from '../errors.js';
import { toJobRow, toReportedJob, toStoredJob } from '../jobs/job.js';
import type { JobRow } from '../jobs/jobs.table.js';
import { checkJson, parseJsonBody } from '../validation.js';
import { SnapshotLine } from './emulator.schema.js';
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

/**
 * The row one snapshot line stores: read as a request body is (nesting bounded before
 * anything walks it), checked as a report is (schema, then the rules across fields),
 * with its stored state kept. Throws `invalid_parameter` whose message
 * starts `line N:`.
 */
export function parseSnapshotLine(text: string, line: number): JobRow {
  try {
    const { project_id, failure_cleared, created_at, updated_at, ...doc } = checkJson<SnapshotLine>(SnapshotLine, parseJsonBody(Buffer.from(text)));
    return toJobRow(toReportedJob(project_id, doc), failure_cleared ? 1 : 0, Date.parse(created_at), Date.parse(updated_at));
  } catch (error) {
    if (error instanceof ServiceError) throw new ServiceError('invalid_parameter', `line ${line}: ${error.message}`, error.field);
    if (error instanceof SyntaxError) throw new ServiceError('invalid_parameter', `line ${line}: not valid JSON: ${error.message}`);
    throw error;
  }
}

/**
 * The lines of a stream, read from now on: readline drops lines that arrive before a
 * consumer asks for them, and an import asks only once its transaction has begun.
 */
export function readLines(input: Readable): AsyncIterable<string> {
  const lines = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();
  return { [Symbol.asyncIterator]: () => lines };
}
