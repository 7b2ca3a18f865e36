/**
 * Listings: which public list a job is in, its item there, and the count buckets it adds
 * to, all decided when the job is written rather than on every read. A list request then
 * reads ready JSON strings and joins them, and its `count` is one primary-key read of
 * `job_counts` (src/jobs/listing.store.ts).
 *
 * A job is in at most one list at a time: a top-level SDRS job that failed and was not
 * cleared is an SDRS failure; a top-level KPS job is a failed task when it failed and
 * was not cleared, a running task while INIT or RUNNING. Items are rendered by the
 * presenters of those APIs, so there is one source of truth for each shape.
 */
import { toFailedTask, toRunningTask } from '../kps/kps.presenter.js';
import { toFailureJob } from '../sdrs/sdrs.presenter.js';
import type { ReportedJob } from './job.js';
import type { JobRow, ListingColumns, ListName } from './jobs.table.js';

/** What deciding a job's list needs: a reported job and whether its failure was cleared. */
export type ListedJob = ReportedJob & Pick<JobRow, 'cleared'>;

/** The list a job belongs in now, or null. */
export function listOf(job: Pick<JobRow, 'service' | 'status' | 'cleared' | 'parent_job_id'>): ListName | null {
  if (job.parent_job_id !== null || job.cleared !== 0) return null;
  if (job.service === 'sdrs') return job.status === 'FAIL' ? 'sdrs' : null;
  if (job.status === 'FAIL') return 'kps_failed';
  return job.status === 'INIT' || job.status === 'RUNNING' ? 'kps_running' : null;
}

/** The listing columns to store with a job: its list and its item there, as JSON. */
export function listingOf(job: ListedJob): ListingColumns {
  const list = listOf(job);
  switch (list) {
    case 'sdrs':
      return { list, list_item: JSON.stringify(toFailureJob(job)) };
    case 'kps_failed':
      return { list, list_item: JSON.stringify(toFailedTask(job)) };
    case 'kps_running':
      return { list, list_item: JSON.stringify(toRunningTask(job)) };
    case null:
      return { list: null, list_item: null };
  }
}

/** Which SDRS failures a count covers; the same fields as the ListFailureJobs query. */
export interface SdrsCountScope {
  /** One resource type; absent means every type except `server_groups` (inside a group). */
  readonly resourceType?: string | undefined;
  readonly serverGroupId?: string | undefined;
  readonly operation?: string | undefined;
}

/** The count bucket of KPS failed tasks. */
export const KPS_FAILED_BUCKET = 'kps failed';
/** The count bucket of KPS waiting and running tasks. */
export const KPS_RUNNING_BUCKET = 'kps running';

/**
 * The count bucket of an SDRS scope. Resource types and operations come from fixed
 * vocabularies; the group id is free text, so it goes last, after a fixed prefix,
 * which keeps every key unambiguous. A scope "inside a group" always has a group.
 */
export function sdrsBucket(scope: SdrsCountScope): string {
  let key = scope.resourceType === undefined ? 'sdrs in-group' : `sdrs type:${scope.resourceType}`;
  if (scope.operation !== undefined) key += ` op:${scope.operation}`;
  if (scope.serverGroupId !== undefined) key += ` group:${scope.serverGroupId}`;
  return key;
}

/** Every bucket a job counts in: none unless it is listed. */
export function countBucketsOf(
  job: Pick<JobRow, 'service' | 'status' | 'cleared' | 'parent_job_id' | 'resource_type' | 'server_group_id' | 'operation'>,
): string[] {
  const list = listOf(job);
  if (list === 'kps_failed') return [KPS_FAILED_BUCKET];
  if (list === 'kps_running') return [KPS_RUNNING_BUCKET];
  if (list === null) return [];
  // A listed SDRS failure is a top-level job, which always has a resource type and a group.
  const resourceType = job.resource_type ?? '';
  const operation = job.operation;
  const buckets = [sdrsBucket({ resourceType }), sdrsBucket({ resourceType, operation })];
  const group = job.server_group_id;
  if (group === null) return buckets;
  buckets.push(sdrsBucket({ resourceType, serverGroupId: group }), sdrsBucket({ resourceType, serverGroupId: group, operation }));
  if (resourceType !== 'server_groups') {
    buckets.push(sdrsBucket({ serverGroupId: group }), sdrsBucket({ serverGroupId: group, operation }));
  }
  return buckets;
}

/** A change to one bucket of one project. */
export interface CountDelta {
  readonly project_id: string;
  readonly bucket: string;
  readonly n: number;
}

/**
 * What a transaction's writes do to the lists: the sum of their bucket changes, applied
 * in one statement, and which projects saw a list change at all (a job entering or
 * leaving a list, or written again while listed), whose list versions it raises
 * (src/jobs/listing.store.ts).
 */
export class ListChanges {
  readonly #deltas = new Map<string, { project_id: string; bucket: string; n: number }>();
  readonly #projects = new Set<string>();

  /** Adds `sign` (1 or -1) to every bucket `job` counts in. */
  add(job: Parameters<typeof countBucketsOf>[0] & Pick<JobRow, 'project_id'>, sign: number): void {
    for (const bucket of countBucketsOf(job)) this.addTo(job.project_id, bucket, sign);
  }

  /**
   * Counts the change from `before` (undefined for a new job) to `after`. A listed job
   * written again changes its project's lists even when its buckets stay the same: its
   * item may have changed.
   */
  change(before: ListedJob | undefined, after: ListedJob): void {
    if (before !== undefined) this.add(before, -1);
    this.add(after, 1);
  }

  addTo(projectId: string, bucket: string, n: number): void {
    this.#projects.add(projectId);
    const key = `${projectId}\u0000${bucket}`;
    const delta = this.#deltas.get(key);
    if (delta === undefined) this.#deltas.set(key, { project_id: projectId, bucket, n });
    else delta.n += n;
  }

  /**
   * The non-zero changes in (project, bucket) order: every transaction touches counter
   * rows in the same order, so two of them never wait for each other's rows in a cycle.
   */
  deltas(): CountDelta[] {
    return [...this.#deltas.values()]
      .filter((d) => d.n !== 0)
      .sort((a, b) => (a.project_id !== b.project_id ? (a.project_id < b.project_id ? -1 : 1) : a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0));
  }

  /** The projects whose lists changed, in order, for the same reason as {@link deltas}. */
  projects(): string[] {
    return [...this.#projects].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}
