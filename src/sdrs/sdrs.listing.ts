/**
 * The SDRS failure list (API.md §1) as a listing (src/jobs/listing.ts): which jobs it
 * holds, their item, and the scope rule of ListFailureJobs written once, as the scopes
 * a request can name, the SQL that selects a scope and the count buckets a failure adds
 * to, side by side so that they cannot disagree.
 *
 * A failure is a top-level SDRS job that failed and was not cleared: its `list` is
 * 'sdrs'. The predicate is written out literally (not bound) so both engines match it
 * against the partial indexes `jobs_sdrs_failures_by_type` and
 * `jobs_sdrs_failures_by_group`, which hold exactly those rows.
 */
import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import { jobsNamed, nameValues, trigramSearchable, type NameValues } from '../db/name-search.js';
import type { DB } from '../db/schema.js';
import type { SdrsResourceType } from '../jobs/jobs.schema.js';
import type { JobRow } from '../jobs/jobs.table.js';
import type { Listing, ScopeWhere } from '../jobs/listing.js';
import { toFailureJob } from './sdrs.presenter.js';
import type { ListFailureJobsQuery } from './sdrs.schema.js';

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

const GROUP_LEVEL: SdrsResourceType = 'server_groups';

/** The group-level failures: what ListFailureJobs shows with no filter, and what DeleteAllServerGroupFailureJobs clears. */
export const GROUP_LEVEL_SCOPE: FailureScope = { kind: 'type', resourceType: GROUP_LEVEL };

/**
 * The scope of ListFailureJobs: `resource_type` decides when given (within the group
 * when `server_group_id` is given too); `server_group_id` alone means the failures
 * inside that group, not the group's own; neither means the group-level failures.
 */
export function scopeOf(query: Pick<ListFailureJobsQuery, 'resource_type' | 'server_group_id'>): FailureScope {
  if (query.resource_type !== undefined) return { kind: 'type', resourceType: query.resource_type, serverGroupId: query.server_group_id };
  if (query.server_group_id !== undefined) return { kind: 'inGroup', serverGroupId: query.server_group_id };
  return GROUP_LEVEL_SCOPE;
}

/** True when a listed failure is in the scope and narrowing (the same rule as {@link shapedWhere}, for rows in memory). */
function inScope(job: Pick<JobRow, 'resource_type' | 'server_group_id' | 'operation'>, scope: FailureScope, operation: string | undefined): boolean {
  if (scope.kind === 'type' ? job.resource_type !== scope.resourceType : job.resource_type === GROUP_LEVEL) return false;
  if (scope.serverGroupId !== undefined && job.server_group_id !== scope.serverGroupId) return false;
  return operation === undefined || job.operation === operation;
}

/**
 * The count bucket of a scope and operation: the counter a list request reads for its
 * `count`. Resource types and operations come from fixed vocabularies; the group id is
 * free text, so it goes last, after a fixed prefix, which keeps every key unambiguous.
 */
export function sdrsBucket(scope: {
  readonly resourceType?: string | undefined;
  readonly serverGroupId?: string | undefined;
  readonly operation?: string | undefined;
}): string {
  let key = scope.resourceType === undefined ? 'sdrs in-group' : `sdrs type:${scope.resourceType}`;
  if (scope.operation !== undefined) key += ` op:${scope.operation}`;
  if (scope.serverGroupId !== undefined) key += ` group:${scope.serverGroupId}`;
  return key;
}

/** The bucket counting a request's failures, or undefined when a resource name narrows it (no bucket counts names). */
export function bucketOf(scope: FailureScope, narrowing: FailureNarrowing): string | undefined {
  if (narrowing.nameContains !== undefined) return undefined;
  return sdrsBucket({
    resourceType: scope.kind === 'type' ? scope.resourceType : undefined,
    serverGroupId: scope.serverGroupId,
    operation: narrowing.operation,
  });
}

/**
 * Every bucket a listed failure counts in: the bucket of each counted scope (every
 * scope without a name) whose list shows it. A listed failure is a top-level job, which
 * always has a resource type; a job with no group is in no group's scope.
 */
function failureBuckets(job: JobRow): string[] {
  const resourceType = (job.resource_type ?? '') as SdrsResourceType;
  const group = job.server_group_id ?? undefined;
  const scopes: FailureScope[] = [{ kind: 'type', resourceType }];
  if (group !== undefined) scopes.push({ kind: 'type', resourceType, serverGroupId: group }, { kind: 'inGroup', serverGroupId: group });
  const buckets: string[] = [];
  for (const scope of scopes) {
    for (const operation of [undefined, job.operation]) {
      if (inScope(job, scope, operation)) buckets.push(bucketOf(scope, { operation }) as string);
    }
  }
  return buckets;
}

/** The SDRS listing: failed, uncleared top-level SDRS jobs, rendered as ListFailureJobs shows them. */
export const sdrsListing: Listing = {
  service: 'sdrs',
  version: 1,
  listOf: (job) => (job.status === 'FAIL' ? 'sdrs' : null),
  render: (_list, job) => JSON.stringify(toFailureJob(job)),
  bucketsOf: (_list, job) => failureBuckets(job),
};

/** The rows the SDRS failure indexes hold; must stay identical to their WHERE clause. */
const isListedFailure = sql<SqlBool>`list = 'sdrs'`;

/** The values a failure query is run with: a prepared query's placeholders, or the values themselves. */
export interface FailureValues extends NameValues {
  readonly projectId: string;
  readonly serverGroupId: string;
  readonly operation: string;
}

/** Which terms a failure query has; with the scope's resource type, it fixes the SQL. */
export interface FailureShape {
  readonly scope: { readonly kind: 'type'; readonly resourceType: SdrsResourceType } | { readonly kind: 'inGroup' };
  readonly group: boolean;
  readonly operation: boolean;
  /** Whether a resource name narrows it, and how: looked up in the trigram index, or read from the scope's rows (src/db/name-search.ts). */
  readonly name: false | 'indexed' | 'scan';
}

export function shapeOf(scope: FailureScope, narrowing: FailureNarrowing): FailureShape {
  return {
    scope: scope.kind === 'type' ? { kind: 'type', resourceType: scope.resourceType } : { kind: 'inGroup' },
    group: scope.serverGroupId !== undefined,
    operation: narrowing.operation !== undefined,
    name: narrowing.nameContains === undefined ? false : trigramSearchable(narrowing.nameContains) ? 'indexed' : 'scan',
  };
}

export function valuesOf(projectId: string, scope: FailureScope, narrowing: FailureNarrowing): FailureValues {
  return {
    projectId,
    serverGroupId: scope.serverGroupId ?? '',
    operation: narrowing.operation ?? '',
    ...nameValues(narrowing.nameContains),
  };
}

/**
 * The WHERE clause of a shape, but for the resource name, which {@link failuresFrom}
 * decides; uses the values only as values, so it can be prepared.
 */
export function shapedWhere(shape: FailureShape, values: FailureValues) {
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
    return eb.and(terms);
  };
}

/** The SQL selecting a project's listed failures in a scope: what a batch delete clears. */
export function scopeWhere(projectId: string, scope: FailureScope): ScopeWhere {
  return shapedWhere(shapeOf(scope, {}), valuesOf(projectId, scope, {}));
}

/** The failures of a shape, selected from jobs on `db`: the jobs of the shape's resource name, narrowed by {@link shapedWhere}. */
export function failuresFrom(db: Kysely<DB>, shape: FailureShape, values: FailureValues) {
  return jobsNamed(db, shape.name, values).where(shapedWhere(shape, values));
}
