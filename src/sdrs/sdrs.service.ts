/**
 * The SDRS task center over the jobs store: which failures a request covers (the scope
 * rule of API.md §1), clearing them, and a job's status. SDRS sees only `service: sdrs`.
 */
import type { Database } from '../db/database.js';
import { ServiceError, quote } from '../errors.js';
import { pageOf } from '../paging.js';
import { toFailureJob, toJobStatus } from './sdrs.presenter.js';
import { operationOf, type FailureJobList, type JobStatusView, type ListFailureJobsQuery } from './sdrs.schema.js';
import { clearFailure, clearFailures, countFailures, findSdrsJob, listFailures, listSubJobs, type FailureScope } from './sdrs.store.js';

/**
 * The scope of ListFailureJobs: `resource_type` decides when given (within the group
 * when `server_group_id` is given too); `server_group_id` alone means the failures
 * inside that group, not the group's own; neither means the group-level failures.
 */
export function scopeOf(query: Pick<ListFailureJobsQuery, 'resource_type' | 'server_group_id'>): FailureScope {
  if (query.resource_type !== undefined) return { kind: 'type', resourceType: query.resource_type, serverGroupId: query.server_group_id };
  if (query.server_group_id !== undefined) return { kind: 'inGroup', serverGroupId: query.server_group_id };
  return { kind: 'type', resourceType: 'server_groups' };
}

/** The SDRS operations, one method per API operation; callers pass validated input. */
export class SdrsService {
  constructor(readonly db: Database) {}

  /** ListFailureJobs: a page of the scope's failures and how many match in all. */
  async listFailureJobs(projectId: string, query: ListFailureJobsQuery): Promise<FailureJobList> {
    const scope = scopeOf(query);
    const narrowing = {
      operation: query.failure_status === undefined ? undefined : operationOf(query.failure_status),
      nameContains: query.resource_name,
    };
    const db = this.db.kysely;
    const [rows, count] = await Promise.all([
      listFailures(db, projectId, scope, narrowing, pageOf(query)),
      countFailures(db, projectId, scope, narrowing),
    ]);
    return { failure_jobs: rows.map(toFailureJob), count };
  }

  /**
   * DeleteFailureJob: takes one failure off the list; the job stays for ShowJobStatus.
   * Throws `not_found` when the project has no listed failure by that id.
   */
  async deleteFailureJob(projectId: string, jobId: string): Promise<void> {
    if (!(await clearFailure(this.db.kysely, projectId, jobId, Date.now()))) {
      throw new ServiceError(
        'not_found',
        `failure job ${quote(jobId)} does not exist in project ${quote(projectId)}: it must be a failed SDRS task still in the failure list`,
      );
    }
  }

  /** DeleteAllServerGroupFailureJobs: clears every protection-group-level failure; returns how many. */
  async deleteGroupLevelFailureJobs(projectId: string): Promise<number> {
    return clearFailures(this.db.kysely, projectId, { kind: 'type', resourceType: 'server_groups' }, Date.now());
  }

  /** DeleteServerGroupFailureJobs: clears the failures inside one group (not the group's own); returns how many. */
  async deleteFailureJobsInGroup(projectId: string, serverGroupId: string): Promise<number> {
    return clearFailures(this.db.kysely, projectId, { kind: 'inGroup', serverGroupId }, Date.now());
  }

  /** ShowJobStatus: any SDRS job of the project, with its sub-jobs; throws `not_found`. */
  async showJobStatus(projectId: string, jobId: string): Promise<JobStatusView> {
    const db = this.db.kysely;
    const [row, subJobs] = await Promise.all([findSdrsJob(db, projectId, jobId), listSubJobs(db, projectId, jobId)]);
    if (row === undefined) throw new ServiceError('not_found', `job ${quote(jobId)} does not exist in project ${quote(projectId)}`);
    return toJobStatus(row, subJobs);
  }
}
