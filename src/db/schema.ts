import type { JobCountsTable, JobsTable, ListingColumns, ListVersionsTable } from '../jobs/jobs.table.js';

/** Every table Kysely knows, for typed queries. */
export interface DB {
  jobs: JobsTable & ListingColumns;
  job_counts: JobCountsTable;
  list_versions: ListVersionsTable;
}
