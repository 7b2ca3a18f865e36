/**
 * The KPS key-pair task lists (API.md §2) as a listing (src/jobs/listing.ts): a
 * top-level KPS job is a failed task when it failed and was not cleared, a running task
 * while INIT or RUNNING; each list is one count bucket, and the SQL that selects a list
 * compares `list` with a literal, so both engines match it against the partial index
 * `jobs_kps_tasks` and skipped offsets read the index alone.
 */
import { sql } from 'kysely';
import type { ListName } from '../jobs/jobs.table.js';
import type { Listing, ScopeWhere } from '../jobs/listing.js';
import { toFailedTask, toRunningTask } from './kps.presenter.js';

/** The KPS lists. */
export type KpsList = Extract<ListName, 'kps_failed' | 'kps_running'>;

/** The count bucket of KPS failed tasks. */
export const KPS_FAILED_BUCKET = 'kps failed';
/** The count bucket of KPS waiting and running tasks. */
export const KPS_RUNNING_BUCKET = 'kps running';

/** The count bucket of one list. */
export function kpsBucket(list: KpsList): string {
  return list === 'kps_failed' ? KPS_FAILED_BUCKET : KPS_RUNNING_BUCKET;
}

/** The KPS listing: failed (uncleared) and waiting or running top-level KPS tasks. */
export const kpsListing: Listing = {
  service: 'kps',
  version: 1,
  listOf(job) {
    if (job.status === 'FAIL') return 'kps_failed';
    return job.status === 'INIT' || job.status === 'RUNNING' ? 'kps_running' : null;
  },
  render: (list, job) => JSON.stringify(list === 'kps_failed' ? toFailedTask(job) : toRunningTask(job)),
  bucketsOf: (list) => [kpsBucket(list as KpsList)],
};

/** The SQL selecting a project's tasks in one list. */
export function listWhere(projectId: string, list: KpsList): ScopeWhere {
  return (eb) => eb.and([eb('project_id', '=', projectId), eb('list', '=', sql.lit(list))]);
}
