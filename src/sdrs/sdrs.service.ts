/**
 * The SDRS task center over the jobs store: which failures a request covers (the scope
 * rule of API.md §1), clearing them, and a job's status. SDRS sees only `service: sdrs`.
 */
import { inTransaction, type Database } from '../db/database.js';
import { ServiceError, quote } from '../errors.js';
import type { JobWriter } from '../jobs/job-writer.js';
import type { ListAnswer, ListCache, RenderedPage } from '../jobs/list-cache.js';
import { pageOf, type Page } from '../paging.js';
import { bucketOf, GROUP_LEVEL_SCOPE, scopeOf, scopeWhere, type FailureScope } from './sdrs.listing.js';
import { failureJobListJson, toJobStatus } from './sdrs.presenter.js';
import { operationOf, type JobStatusView, type ListFailureJobsQuery } from './sdrs.schema.js';
import { findSdrsJobWithSubJobs, listFailurePage } from './sdrs.store.js';

/** The SDRS operations, one method per API operation; callers pass validated input. */
export class SdrsService {
  constructor(
    readonly db: Database,
    private readonly writer: JobWriter,
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

  async #renderFailureJobs(projectId: string, query: ListFailureJobsQuery, page: Page): Promise<RenderedPage> {
    const scope = scopeOf(query);
    const narrowing = {
      operation: query.failure_status === undefined ? undefined : operationOf(query.failure_status),
      nameContains: query.resource_name,
    };
    const { items, count, version } = await listFailurePage(this.db.kysely, projectId, scope, narrowing, page, bucketOf(scope, narrowing));
    return { body: failureJobListJson(items, count), version };
  }

  /**
   * DeleteFailureJob: takes one failure off the list; the job stays for ShowJobStatus.
   * Throws `not_found` when the project has no listed failure by that id.
   */
  async deleteFailureJob(projectId: string, jobId: string): Promise<void> {
    const cleared = await inTransaction(this.db, (tx) => this.writer.clear(tx, projectId, jobId, 'sdrs', Date.now()));
    if (cleared === undefined) {
      throw new ServiceError(
        'not_found',
        `failure job ${quote(jobId)} does not exist in project ${quote(projectId)}: it must be a failed SDRS task still in the failure list`,
      );
    }
  }

  /** DeleteAllServerGroupFailureJobs: clears every protection-group-level failure; returns how many. */
  async deleteGroupLevelFailureJobs(projectId: string): Promise<number> {
    return this.#clear(projectId, GROUP_LEVEL_SCOPE);
  }

  /** DeleteServerGroupFailureJobs: clears the failures inside one group (not the group's own); returns how many. */
  async deleteFailureJobsInGroup(projectId: string, serverGroupId: string): Promise<number> {
    return this.#clear(projectId, { kind: 'inGroup', serverGroupId });
  }

  /** Clears every failure of a scope in one transaction; returns how many. */
  #clear(projectId: string, scope: FailureScope): Promise<number> {
    return inTransaction(this.db, (tx) => this.writer.clearScope(tx, scopeWhere(projectId, scope), Date.now()));
  }

  /** ShowJobStatus: any SDRS job of the project, with its sub-jobs; throws `not_found`. */
  async showJobStatus(projectId: string, jobId: string): Promise<JobStatusView> {
    const db = this.db.kysely;
    const { job: row, subJobs } = await findSdrsJobWithSubJobs(db, projectId, jobId);
    if (row === undefined) throw new ServiceError('not_found', `job ${quote(jobId)} does not exist in project ${quote(projectId)}`);
    return toJobStatus(row, subJobs);
  }
}
