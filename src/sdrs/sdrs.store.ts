/**
 * All SQL of the SDRS task center. A failure is a top-level SDRS job that failed and has
 * not been deleted from the list: the job's `list` is 'sdrs' and `list_item` holds its
 * item (src/jobs/listing.ts). The predicate is written out literally (not bound) so
 * both engines match it against the partial indexes `jobs_sdrs_failures_by_type` and
 * `jobs_sdrs_failures_by_group`, which hold exactly those rows.
 */
import { sql, type ExpressionBuilder, type Expression, type SqlBool, type Transaction } from 'kysely';
import { ListPages, type ListPage } from '../db/list-page.js';
import { PreparedQuery } from '../db/prepared.js';
import type { DB } from '../db/schema.js';
import type { Handle } from '../jobs/jobs.store.js';
import { countOf } from '../jobs/listing.store.js';
import type { JobRow } from '../jobs/jobs.table.js';
import type { SdrsResourceType } from '../jobs/jobs.schema.js';
import type { Page } from '../paging.js';

/**
 * Which failures a list or a batch delete covers: one resource type (optionally inside
 * one group), or everything inside a group except the group-level failures.
 */
export type FailureScope =
  | { readonly kind: 'type'; readonly resourceType: SdrsResourceType; readonly serverGroupId?: string | undefined }
  | { readonly kind: 'inGroup'; readonly serverGroupId: string };

/** Filters that narrow a scope. */
export interface FailureNarrowing {
  /** Only failures of this operation (`create` for `createFail`). */
  readonly operation?: string | undefined;
  /** Only resources whose name contains this text, literally and case-sensitively. */
  readonly nameContains?: string | undefined;
}

/** The columns a failure list item is made of. */
export type FailureRow = Pick<
  JobRow,
  'job_id' | 'job_type' | 'begin_time' | 'operation' | 'resource_id' | 'resource_name' | 'resource_type' | 'error_code' | 'fail_reason'
>;

/** What a clear reports of each failure it took off the list: enough to uncount it. */
export type ClearedFailure = Pick<JobRow, 'project_id' | 'service' | 'status' | 'parent_job_id' | 'resource_type' | 'server_group_id' | 'operation'>;

/** The columns ShowJobStatus shows. */
export type JobStatusRow = Pick<JobRow, 'job_id' | 'job_type' | 'status' | 'begin_time' | 'end_time' | 'error_code' | 'fail_reason' | 'entities'>;

const GROUP_LEVEL: SdrsResourceType = 'server_groups';

/** The rows the SDRS failure indexes hold; must stay identical to their WHERE clause. */
const isListedFailure = sql<SqlBool>`list = 'sdrs'`;

const CLEARED_COLUMNS = ['project_id', 'service', 'status', 'parent_job_id', 'resource_type', 'server_group_id', 'operation'] as const;

/** `%`, `_` and the escape character itself match only themselves after this. */
export function likeContains(text: string): string {
  return `%${text.replace(/[\\%_]/g, '\\$&')}%`;
}

/** The values a failure query is run with: a prepared query's placeholders, or the values themselves. */
interface FailureValues {
  readonly projectId: string;
  readonly serverGroupId: string;
  readonly operation: string;
  /** A LIKE pattern ({@link likeContains}). */
  readonly namePattern: string;
}

/** Which terms a failure query has; with the scope's resource type, it fixes the SQL. */
interface FailureShape {
  readonly scope: { readonly kind: 'type'; readonly resourceType: SdrsResourceType } | { readonly kind: 'inGroup' };
  readonly group: boolean;
  readonly operation: boolean;
  readonly name: boolean;
}

function shapeOf(scope: FailureScope, narrowing: FailureNarrowing): FailureShape {
  return {
    scope: scope.kind === 'type' ? { kind: 'type', resourceType: scope.resourceType } : { kind: 'inGroup' },
    group: scope.serverGroupId !== undefined,
    operation: narrowing.operation !== undefined,
    name: narrowing.nameContains !== undefined,
  };
}

function valuesOf(projectId: string, scope: FailureScope, narrowing: FailureNarrowing): FailureValues {
  return {
    projectId,
    serverGroupId: scope.serverGroupId ?? '',
    operation: narrowing.operation ?? '',
    namePattern: narrowing.nameContains === undefined ? '' : likeContains(narrowing.nameContains),
  };
}

/** The WHERE clause of a shape; uses the values only as values, so it can be prepared. */
function shapedWhere(shape: FailureShape, values: FailureValues) {
  return (eb: ExpressionBuilder<DB, 'jobs'>): Expression<SqlBool> => {
    const terms: Expression<SqlBool>[] = [eb('project_id', '=', values.projectId), isListedFailure];
    if (shape.scope.kind === 'type') {
      // Literal, like the index predicate, so the planner sees which partial range it reads.
      terms.push(eb('resource_type', '=', sql.lit(shape.scope.resourceType)));
    } else {
      terms.push(eb('resource_type', '<>', sql.lit(GROUP_LEVEL)));
    }
    if (shape.group) terms.push(eb('server_group_id', '=', values.serverGroupId));
    if (shape.operation) terms.push(eb('operation', '=', values.operation));
    if (shape.name) terms.push(sql<SqlBool>`${eb.ref('resource_name')} like ${values.namePattern} escape ${sql.lit('\\')}`);
    return eb.and(terms);
  };
}

function failureWhere(projectId: string, scope: FailureScope, narrowing: FailureNarrowing = {}) {
  return shapedWhere(shapeOf(scope, narrowing), valuesOf(projectId, scope, narrowing));
}

const pages = new ListPages<FailureValues & { bucket: string }>();

/**
 * How many failures match, and one page of them as stored JSON joined with commas,
 * newest first (ties by job_id, descending). The count is the `job_counts` bucket when
 * one is given, else (for filters no bucket covers: a resource name) the number of
 * matching index entries, read whole.
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
  return pages.read(
    db,
    `${JSON.stringify(shape)}${counted ? ' counted' : ''}`,
    { ...valuesOf(projectId, scope, narrowing), bucket: bucket ?? '' },
    page,
    (kysely, values) => kysely.selectFrom('jobs').where(shapedWhere(shape, values)),
    (kysely, values) =>
      counted
        ? countOf(kysely, values.projectId, values.bucket)
        : kysely
            .selectFrom('jobs')
            .select((eb) => eb.fn.countAll().as('n'))
            .where(shapedWhere(shape, values)),
  );
}

/** Takes one failure off the list; returns it, or undefined when no listed failure has that id. */
export async function clearFailure(tx: Transaction<DB>, projectId: string, jobId: string, now: number): Promise<ClearedFailure | undefined> {
  return tx
    .updateTable('jobs')
    .set({ cleared: 1, list: null, list_item: null, updated_at: now })
    .where('project_id', '=', projectId)
    .where('job_id', '=', jobId)
    .where(isListedFailure)
    .returning(CLEARED_COLUMNS)
    .executeTakeFirst();
}

/** Takes every failure of a scope off the list; returns them. */
export async function clearFailures(tx: Transaction<DB>, projectId: string, scope: FailureScope, now: number): Promise<ClearedFailure[]> {
  return tx
    .updateTable('jobs')
    .set({ cleared: 1, list: null, list_item: null, updated_at: now })
    .where(failureWhere(projectId, scope))
    .returning(CLEARED_COLUMNS)
    .execute();
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
