/**
 * The KPS key-pair tasks (API.md §2) over the jobs store: lists of failed and running
 * tasks, one task's state, and clearing failures. Sees only top-level `kps` jobs.
 */
import type { Database } from '../db/database.js';
import { ServiceError, quote } from '../errors.js';
import type { Page } from '../paging.js';
import type { FailedTaskList, KeypairTask, RunningTaskList } from './kps.schema.js';
import { toFailedTask, toKeypairTask, toRunningTask } from './kps.presenter.js';
import {
  clearAllFailedTasks,
  clearFailedTask,
  countFailedTasks,
  countRunningTasks,
  findTask,
  listFailedTasks,
  listRunningTasks,
} from './kps.store.js';

/** The KPS operations, one method per API call; errors are `ServiceError`s the KPS dialect renders. */
export class KpsService {
  constructor(readonly db: Database) {}

  /** A page of the project's uncleared failures, newest first, with their total. */
  async listFailedTasks(projectId: string, page: Page): Promise<FailedTaskList> {
    const db = this.db.kysely;
    const [total, rows] = await Promise.all([
      countFailedTasks(db, projectId),
      page.limit === 0 ? [] : listFailedTasks(db, projectId, page),
    ]);
    return { total, tasks: rows.map(toFailedTask) };
  }

  /** A page of the project's waiting (INIT) and running tasks, newest first, with their total. */
  async listRunningTasks(projectId: string, page: Page): Promise<RunningTaskList> {
    const db = this.db.kysely;
    const [total, rows] = await Promise.all([
      countRunningTasks(db, projectId),
      page.limit === 0 ? [] : listRunningTasks(db, projectId, page),
    ]);
    return { total, tasks: rows.map(toRunningTask) };
  }

  /** One task's state, cleared failures included; throws `not_found` (KPS answers 400 KPS.0005). */
  async getTask(projectId: string, taskId: string): Promise<KeypairTask> {
    const row = await findTask(this.db.kysely, projectId, taskId);
    if (row === undefined) throw new ServiceError('not_found', `Task ${quote(taskId)} is not found in project ${quote(projectId)}`);
    return toKeypairTask(row);
  }

  /**
   * Removes one failure from ListFailedTask; the task stays readable by getTask. Throws
   * `not_found` when it is not a listed failure (unknown, not failed, or already cleared).
   */
  async deleteFailedTask(projectId: string, taskId: string): Promise<void> {
    const cleared = await clearFailedTask(this.db.kysely, projectId, taskId, Date.now());
    if (cleared === 0) {
      throw new ServiceError(
        'not_found',
        `Failed task is not found: ${quote(taskId)} is not a failed task listed in project ${quote(projectId)} (only tasks shown by ListFailedTask can be deleted)`,
      );
    }
  }

  /** Removes every failure of the project from ListFailedTask; succeeds when there is none. */
  async deleteAllFailedTasks(projectId: string): Promise<void> {
    await clearAllFailedTasks(this.db.kysely, projectId, Date.now());
  }
}
