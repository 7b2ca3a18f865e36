/**
 * The KPS key-pair tasks (API.md §2) over the jobs store: lists of failed and running
 * tasks, one task's state, and clearing failures. Sees only top-level `kps` jobs.
 */
import { inTransaction, type Database } from '../db/database.js';
import { ServiceError, quote } from '../errors.js';
import type { JobWriter } from '../jobs/job-writer.js';
import type { ListAnswer, ListCache } from '../jobs/list-cache.js';
import type { Page } from '../paging.js';
import { listWhere, type KpsList } from './kps.listing.js';
import type { KeypairTask } from './kps.schema.js';
import { taskListJson, toKeypairTask } from './kps.presenter.js';
import { findTask, listTaskPage } from './kps.store.js';

/** The KPS operations, one method per API call; errors are `ServiceError`s the KPS dialect renders. */
export class KpsService {
  constructor(
    readonly db: Database,
    private readonly writer: JobWriter,
    private readonly pages: ListCache,
  ) {}

  /**
   * A page of the project's uncleared failures, newest first, with their total, as the
   * exact JSON body; no body when `ifNoneMatch` names the page's current entity tag.
   */
  async listFailedTasks(projectId: string, page: Page, ifNoneMatch?: string): Promise<ListAnswer> {
    return this.#page('kps_failed', projectId, page, ifNoneMatch);
  }

  /**
   * A page of the project's waiting (INIT) and running tasks, newest first, with their
   * total, as the exact JSON body; no body when `ifNoneMatch` names the page's current entity tag.
   */
  async listRunningTasks(projectId: string, page: Page, ifNoneMatch?: string): Promise<ListAnswer> {
    return this.#page('kps_running', projectId, page, ifNoneMatch);
  }

  /** One page of a list, kept while the project's lists do not change. */
  #page(list: KpsList, projectId: string, page: Page, ifNoneMatch: string | undefined): Promise<ListAnswer> {
    return this.pages.page(
      projectId,
      JSON.stringify([list, projectId, page.limit, page.offset]),
      async () => {
        const { count, items, version } = await listTaskPage(this.db.kysely, list, projectId, page);
        return { body: taskListJson(count, items), version };
      },
      ifNoneMatch,
    );
  }

  /**
   * One task's state, cleared failures included; throws `not_found` on `task_id` (KPS
   * answers 400 KPS.0001, illegal task id: KPS.0005 says a *failed* task is not found).
   */
  async getTask(projectId: string, taskId: string): Promise<KeypairTask> {
    const row = await findTask(this.db.kysely, projectId, taskId);
    if (row === undefined) throw new ServiceError('not_found', `task_id ${quote(taskId)} names no task in project ${quote(projectId)}`, 'task_id');
    return toKeypairTask(row);
  }

  /**
   * Removes one failure from ListFailedTask; the task stays readable by getTask. Throws
   * `not_found` when it is not a listed failure (unknown, not failed, or already cleared).
   */
  async deleteFailedTask(projectId: string, taskId: string): Promise<void> {
    const cleared = await inTransaction(this.db, (tx) => this.writer.clear(tx, projectId, taskId, 'kps_failed', Date.now()));
    if (cleared === undefined) {
      throw new ServiceError(
        'not_found',
        `Failed task is not found: ${quote(taskId)} is not a failed task listed in project ${quote(projectId)} (only tasks shown by ListFailedTask can be deleted)`,
      );
    }
  }

  /** Removes every failure of the project from ListFailedTask; succeeds when there is none. */
  async deleteAllFailedTasks(projectId: string): Promise<void> {
    await inTransaction(this.db, (tx) => this.writer.clearScope(tx, listWhere(projectId, 'kps_failed'), Date.now()));
  }
}
