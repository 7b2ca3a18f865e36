/**
 * The SDRS task center over the jobs store: which failures a request covers (the scope
 * rule of API.md §1), clearing them, and a job's status. SDRS sees only `service: sdrs`.
 */
import type { Transaction } from 'kysely';
import { inTransaction, type Database } from '../db/database.js';
import type { DB } from '../db/schema.js';
import { ServiceError, quote } from '../errors.js';
import type { ListAnswer, ListCache } from '../jobs/list-cache.js';
import { ListChanges, sdrsBucket } from '../jobs/listing.js';
import { recordListChanges } from '../jobs/listing.store.js';
import { pageOf, type Page } from '../paging.js';
import type { RenderedJson } from '../rendered-json.js';
import { failureJobListJson, toJobStatus } from './sdrs.presenter.js';
import { operationOf, type JobStatusView, type ListFailureJobsQuery } from './sdrs.schema.js';
import { clearFailure, clearFailures, findSdrsJobWithSubJobs, listFailurePage, type ClearedFailure, type FailureScope } from './sdrs.store.js';

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
  constructor(
    readonly db: Database,
    private readonly pages: ListCache,
  ) {}

  /**
   * ListFailureJobs: a page of the scope's failures and how many match in all, as the
   * exact JSON body (items are stored rendered; the count is a counter read unless a
   * resource name narrows the list), kept while the project's lists do not change; no
   * body when `ifNoneMatch` names the page's current entity tag.
   */
  async listFailureJobs(projectId: string, query: ListFailureJobsQuery, ifNoneMatch?: string): Promise<ListAnswer> {
    const { failure_status, resource_type, server_group_id, resource_name } = query;
    const page = pageOf(query);
    return this.pages.page(
      projectId,
      JSON.stringify(['sdrs failures', projectId, failure_status, resource_type, server_group_id, resource_name, page.limit, page.offset]),
      () => this.#renderFailureJobs(projectId, query, page),
      ifNoneMatch,
    );
  }

  async #renderFailureJobs(projectId: string, query: ListFailureJobsQuery, page: Page): Promise<RenderedJson> {
    const scope = scopeOf(query);
    const narrowing = {
      operation: query.failure_status === undefined ? undefined : operationOf(query.failure_status),
      nameContains: query.resource_name,
    };
    const bucket =
      narrowing.nameContains === undefined
        ? sdrsBucket({
            resourceType: scope.kind === 'type' ? scope.resourceType : undefined,
            serverGroupId: scope.serverGroupId,
            operation: narrowing.operation,
          })
        : undefined;
    const { items, count } = await listFailurePage(this.db.kysely, projectId, scope, narrowing, page, bucket);
    return failureJobListJson(items, count);
  }

  /**
   * DeleteFailureJob: takes one failure off the list; the job stays for ShowJobStatus.
   * Throws `not_found` when the project has no listed failure by that id.
   */
  async deleteFailureJob(projectId: string, jobId: string): Promise<void> {
    const cleared = await this.#clear(async (tx) => {
      const failure = await clearFailure(tx, projectId, jobId, Date.now());
      return failure === undefined ? [] : [failure];
    });
    if (cleared === 0) {
      throw new ServiceError(
        'not_found',
        `failure job ${quote(jobId)} does not exist in project ${quote(projectId)}: it must be a failed SDRS task still in the failure list`,
      );
    }
  }

  /** DeleteAllServerGroupFailureJobs: clears every protection-group-level failure; returns how many. */
  async deleteGroupLevelFailureJobs(projectId: string): Promise<number> {
    return this.#clear((tx) => clearFailures(tx, projectId, { kind: 'type', resourceType: 'server_groups' }, Date.now()));
  }

  /** DeleteServerGroupFailureJobs: clears the failures inside one group (not the group's own); returns how many. */
  async deleteFailureJobsInGroup(projectId: string, serverGroupId: string): Promise<number> {
    return this.#clear((tx) => clearFailures(tx, projectId, { kind: 'inGroup', serverGroupId }, Date.now()));
  }

  /** Runs a clear and takes what it cleared out of the list counts, in one transaction; returns how many. */
  #clear(clear: (tx: Transaction<DB>) => Promise<ClearedFailure[]>): Promise<number> {
    return inTransaction(this.db, async (tx) => {
      const cleared = await clear(tx);
      const changes = new ListChanges();
      for (const failure of cleared) changes.add({ ...failure, cleared: 0 }, -1);
      await recordListChanges(tx, changes);
      return cleared.length;
    });
  }

  /** ShowJobStatus: any SDRS job of the project, with its sub-jobs; throws `not_found`. */
  async showJobStatus(projectId: string, jobId: string): Promise<JobStatusView> {
    const db = this.db.kysely;
    const { job: row, subJobs } = await findSdrsJobWithSubJobs(db, projectId, jobId);
    if (row === undefined) throw new ServiceError('not_found', `job ${quote(jobId)} does not exist in project ${quote(projectId)}`);
    return toJobStatus(row, subJobs);
  }
}
