/**
 * All SQL of the SDRS task center. A failure is a top-level SDRS job that failed and has
 * not been deleted from the list; the predicate is written out literally (not bound) so
 * both engines match it against the partial indexes `jobs_sdrs_failures_by_type` and
 * `jobs_sdrs_failures_by_group`, which hold exactly those rows.
 */
import { sql, type ExpressionBuilder, type Expression, type SqlBool } from 'kysely';
import type { DB } from '../db/schema.js';
import type { Handle } from '../jobs/jobs.store.js';
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

/** The columns ShowJobStatus shows. */
export type JobStatusRow = Pick<JobRow, 'job_id' | 'job_type' | 'status' | 'begin_time' | 'end_time' | 'error_code' | 'fail_reason' | 'entities'>;

const GROUP_LEVEL: SdrsResourceType = 'server_groups';

/** The rows the SDRS failure indexes hold; must stay identical to their WHERE clause. */
const isListedFailure = sql<SqlBool>`service = 'sdrs' and status = 'FAIL' and cleared = 0 and parent_job_id is null`;

/** `%`, `_` and the escape character itself match only themselves after this. */
export function likeContains(text: string): string {
  return `%${text.replace(/[\\%_]/g, '\\$&')}%`;
}

function failureWhere(projectId: string, scope: FailureScope, narrowing: FailureNarrowing = {}) {
  return (eb: ExpressionBuilder<DB, 'jobs'>): Expression<SqlBool> => {
    const terms: Expression<SqlBool>[] = [eb('project_id', '=', projectId), isListedFailure];
    if (scope.kind === 'type') {
      // Literal, like the index predicate, so the planner sees which partial range it reads.
      terms.push(eb('resource_type', '=', sql.lit(scope.resourceType)));
      if (scope.serverGroupId !== undefined) terms.push(eb('server_group_id', '=', scope.serverGroupId));
    } else {
      terms.push(eb('server_group_id', '=', scope.serverGroupId), eb('resource_type', '<>', sql.lit(GROUP_LEVEL)));
    }
    if (narrowing.operation !== undefined) terms.push(eb('operation', '=', narrowing.operation));
    if (narrowing.nameContains !== undefined) {
      terms.push(sql<SqlBool>`${eb.ref('resource_name')} like ${likeContains(narrowing.nameContains)} escape ${sql.lit('\\')}`);
    }
    return eb.and(terms);
  };
}

/**
 * One page of failures, newest first (ties by job_id, descending). The keys of the page
 * are picked from the index alone and the rows joined back after, so a deep offset
 * skips index entries rather than whole rows.
 */
export async function listFailures(
  db: Handle,
  projectId: string,
  scope: FailureScope,
  narrowing: FailureNarrowing,
  page: Page,
): Promise<FailureRow[]> {
  if (page.limit === 0) return [];
  const keys = db
    .selectFrom('jobs')
    .select(['project_id', 'job_id'])
    .where(failureWhere(projectId, scope, narrowing))
    .orderBy('begin_time', 'desc')
    .orderBy('job_id', 'desc')
    .limit(page.limit)
    .offset(page.offset)
    .as('page');
  return db
    .selectFrom(keys)
    .innerJoin('jobs', (join) => join.onRef('jobs.project_id', '=', 'page.project_id').onRef('jobs.job_id', '=', 'page.job_id'))
    .select([
      'jobs.job_id',
      'jobs.job_type',
      'jobs.begin_time',
      'jobs.operation',
      'jobs.resource_id',
      'jobs.resource_name',
      'jobs.resource_type',
      'jobs.error_code',
      'jobs.fail_reason',
    ])
    .orderBy('jobs.begin_time', 'desc')
    .orderBy('jobs.job_id', 'desc')
    .execute();
}

/** How many failures match, across all pages. */
export async function countFailures(db: Handle, projectId: string, scope: FailureScope, narrowing: FailureNarrowing): Promise<number> {
  const row = await db
    .selectFrom('jobs')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where(failureWhere(projectId, scope, narrowing))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Takes one failure off the list; false when no listed failure has that id. */
export async function clearFailure(db: Handle, projectId: string, jobId: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('jobs')
    .set({ cleared: 1, updated_at: now })
    .where('project_id', '=', projectId)
    .where('job_id', '=', jobId)
    .where(isListedFailure)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Takes every failure of a scope off the list; returns how many. */
export async function clearFailures(db: Handle, projectId: string, scope: FailureScope, now: number): Promise<number> {
  const result = await db
    .updateTable('jobs')
    .set({ cleared: 1, updated_at: now })
    .where(failureWhere(projectId, scope))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** An SDRS job, listed or not, cleared or not; undefined when the project has none by that id. */
export async function findSdrsJob(db: Handle, projectId: string, jobId: string): Promise<JobStatusRow | undefined> {
  return db
    .selectFrom('jobs')
    .select(['job_id', 'job_type', 'status', 'begin_time', 'end_time', 'error_code', 'fail_reason', 'entities'])
    .where('project_id', '=', projectId)
    .where('job_id', '=', jobId)
    .where('service', '=', 'sdrs')
    .executeTakeFirst();
}

/** A job's SDRS sub-jobs, in the order they began. */
export async function listSubJobs(db: Handle, projectId: string, parentJobId: string): Promise<JobStatusRow[]> {
  return db
    .selectFrom('jobs')
    .select(['job_id', 'job_type', 'status', 'begin_time', 'end_time', 'error_code', 'fail_reason', 'entities'])
    .where('project_id', '=', projectId)
    .where('parent_job_id', '=', parentJobId)
    .where('service', '=', 'sdrs')
    .orderBy('begin_time')
    .orderBy('job_id')
    .execute();
}
