import type { Selectable } from 'kysely';

/**
 * One row per reported job, keyed by (project_id, job_id). Times are epoch
 * milliseconds. `entities` is a JSON object of string ids. `cleared` is 1 once the
 * failure was deleted from the SDRS or KPS failure list; the job itself stays.
 */
export interface JobsTable {
  project_id: string;
  job_id: string;
  service: 'sdrs' | 'kps';
  job_type: string;
  operation: string;
  status: 'INIT' | 'RUNNING' | 'SUCCESS' | 'FAIL';
  begin_time: number;
  end_time: number | null;
  error_code: string | null;
  fail_reason: string | null;
  resource_id: string | null;
  resource_name: string | null;
  resource_type: string | null;
  server_group_id: string | null;
  entities: string;
  parent_job_id: string | null;
  server_id: string | null;
  server_name: string | null;
  keypair_name: string | null;
  cleared: number;
  created_at: number;
  updated_at: number;
}

export type JobRow = Selectable<JobsTable>;

/** The public lists a job can be shown in: SDRS failures, KPS failed tasks, KPS running tasks. */
export type ListName = 'sdrs' | 'kps_failed' | 'kps_running';

/**
 * Columns of `jobs` derived from the rest on every write (src/jobs/listing.ts): the one
 * list the job is in now, null when it is in none, and its item there as the exact JSON
 * the list shows.
 */
export interface ListingColumns {
  list: ListName | null;
  list_item: string | null;
}

/**
 * `job_counts`: how many jobs of a project are in each count bucket (a list, or a part
 * of the SDRS list a query can ask for), kept exact by every writer in its transaction.
 */
export interface JobCountsTable {
  project_id: string;
  bucket: string;
  n: number;
}

/**
 * `list_versions`: a number per project that every transaction changing one of the
 * project's lists raises; no row means no list of the project ever changed.
 */
export interface ListVersionsTable {
  project_id: string;
  version: number;
}

/**
 * `listing_stamp`: its one row (`id` 1) names the listing code that rendered the stored
 * items and counted `job_counts` (`Listings.stamp`, src/jobs/listing.ts); no row means
 * unknown, which rebuilds at start like any other stamp.
 */
export interface ListingStampTable {
  id: number;
  stamp: string;
  /** When the stored lists were last rebuilt to this stamp (epoch ms). */
  rebuilt_at: number;
}
