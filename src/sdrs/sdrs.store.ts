/**
 * The SDRS task center's reads. A failure's item is stored rendered (`list_item`); which
 * rows a scope selects is the listing's rule (src/sdrs/sdrs.listing.ts). Clearing goes
 * through the one writer (src/jobs/job-writer.ts).
 */
import { ListPages, type ListPage } from '../db/list-page.js';
import { PreparedQuery } from '../db/prepared.js';
import type { Handle } from '../jobs/jobs.store.js';
import { countOf, versionOf } from '../jobs/listing.store.js';
import type { JobRow } from '../jobs/jobs.table.js';
import type { Page } from '../paging.js';
import { failuresFrom, shapeOf, valuesOf, type FailureNarrowing, type FailureScope, type FailureValues } from './sdrs.listing.js';
import type { JobStatusRow } from './sdrs.presenter.js';

const pages = new ListPages<FailureValues & { bucket: string }>();

/**
 * How many failures match, and one page of them as stored JSON joined with commas,
 * newest first (ties by job_id, descending). The count is the `job_counts` bucket when
 * one is given, else (for filters no bucket covers: a resource name) the number of
 * matching rows: those the trigram index gives for a name it can look up, read once for
 * the count and the page (src/db/name-search.ts), else every row of the scope.
 */
export async function listFailurePage(
  db: Handle,
  projectId: string,
  scope: FailureScope,
  narrowing: FailureNarrowing,
  page: Page,
  bucket: string | undefined,
): Promise<ListPage> {
  const shape = shapeOf(scope, narrowing);
  const counted = bucket !== undefined;
  const values = { ...valuesOf(projectId, scope, narrowing), bucket: bucket ?? '' };
  // A name looked up in the trigram index: its matches are read once, for the count and the page.
  if (shape.name === 'indexed' && !counted) {
    return pages.readOnce(
      db,
      JSON.stringify(shape),
      values,
      page,
      (kysely, placeholders) => failuresFrom(kysely, shape, placeholders),
      (kysely, placeholders) => versionOf(kysely, placeholders.projectId),
    );
  }
  return pages.read(
    db,
    `${JSON.stringify(shape)}${counted ? ' counted' : ''}`,
    values,
    page,
    (kysely, values) => failuresFrom(kysely, shape, values),
    (kysely, values) =>
      counted ? countOf(kysely, values.projectId, values.bucket) : failuresFrom(kysely, shape, values).select((eb) => eb.fn.countAll().as('n')),
    (kysely, values) => versionOf(kysely, values.projectId),
  );
}

const JOB_STATUS_COLUMNS = ['job_id', 'job_type', 'status', 'begin_time', 'end_time', 'error_code', 'fail_reason', 'entities'] as const;

// A UNION, not `job_id = ? or parent_job_id = ?`: SQLite reads the whole project for the OR.
const jobStatusQuery = new PreparedQuery<{ projectId: string; jobId: string }, JobStatusRow & Pick<JobRow, 'parent_job_id'>>((db, { projectId, jobId }) => {
  const sdrsJobs = db
    .selectFrom('jobs')
    .select([...JOB_STATUS_COLUMNS, 'parent_job_id'])
    .where('project_id', '=', projectId)
    .where('service', '=', 'sdrs');
  return sdrsJobs
    .where('job_id', '=', jobId)
    .unionAll(sdrsJobs.where('parent_job_id', '=', jobId))
    .orderBy('begin_time')
    .orderBy('job_id');
});

/**
 * An SDRS job, listed or not, cleared or not (undefined when the project has none by
 * that id), and its SDRS sub-jobs in the order they began. One query: on PostgreSQL a
 * second round trip cost about 15% of the request's CPU time.
 */
export async function findSdrsJobWithSubJobs(
  db: Handle,
  projectId: string,
  jobId: string,
): Promise<{ job: JobStatusRow | undefined; subJobs: JobStatusRow[] }> {
  let job: JobStatusRow | undefined;
  const subJobs: JobStatusRow[] = [];
  // A job is never its own parent, so each row is either the job or one of its sub-jobs.
  for (const { parent_job_id, ...row } of await jobStatusQuery.execute(db, { projectId, jobId })) {
    if (row.job_id === jobId) job = row;
    else if (parent_job_id === jobId) subJobs.push(row);
  }
  return { job, subJobs };
}
