import type { JobsTable } from '../jobs/jobs.table.js';

/** Every table Kysely knows, for typed queries. */
export interface DB {
  jobs: JobsTable;
}
