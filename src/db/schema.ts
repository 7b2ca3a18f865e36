import type { AuthFailuresTable } from '../auth/auth-failures.table.js';
import type { EmulatorStepsTable } from '../emulator/progress.table.js';
import type { JobCountsTable, JobsTable, ListingColumns, ListingStampTable, ListVersionsTable } from '../jobs/jobs.table.js';
import type { DeliveriesTable, DeliveryAttemptsTable, SubscriptionsTable } from '../notify/notify.table.js';

/** Every table Kysely knows, for typed queries. */
export interface DB {
  jobs: JobsTable & ListingColumns;
  job_counts: JobCountsTable;
  list_versions: ListVersionsTable;
  listing_stamp: ListingStampTable;
  subscriptions: SubscriptionsTable;
  deliveries: DeliveriesTable;
  delivery_attempts: DeliveryAttemptsTable;
  emulator_steps: EmulatorStepsTable;
  auth_failures: AuthFailuresTable;
}
