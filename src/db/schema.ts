import type { JobCountsTable, JobsTable, ListingColumns } from '../jobs/jobs.table.js';

/** Every table Kysely knows, for typed queries. */
export interface DB {
  jobs: JobsTable & ListingColumns;
  job_counts: JobCountsTable;
}
