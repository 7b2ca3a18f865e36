/**
 * All SQL of the SDRS task center. A failure is a top-level SDRS job that failed and has
 * not been deleted from the list: the job's `list` is 'sdrs' and `list_item` holds its
 * item (src/jobs/listing.ts). The predicate is written out literally (not bound) so
 * both engines match it against the partial indexes `jobs_sdrs_failures_by_type` and
 * `jobs_sdrs_failures_by_group`, which hold exactly those rows.
 */
import { sql, type ExpressionBuilder, type Expression, type SqlBool, type Transaction } from 'kysely';
import { listItemsPage } from '../db/list-page.js';
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

/** The items of one page of failures, as stored JSON, newest first (ties by job_id, descending). */
export async function listFailureItems(
  db: Handle,
  projectId: string,
  scope: FailureScope,
  narrowing: FailureNarrowing,
  page: Page,
): Promise<string[]> {
  return listItemsPage(db, db.selectFrom('jobs').where(failureWhere(projectId, scope, narrowing)), page);
}

/**
 * How many failures match, across all pages, by reading every matching index entry.
 * Only for filters `job_counts` has no bucket for (a resource name).
 */
export async function countFailures(db: Handle, projectId: string, scope: FailureScope, narrowing: FailureNarrowing): Promise<number> {
  const row = await db
    .selectFrom('jobs')
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .where(failureWhere(projectId, scope, narrowing))
    .executeTakeFirstOrThrow();
  return Number(row.count);
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
