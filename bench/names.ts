/**
 * The dataset of the `resource_name` scenarios: one project with 100,000 live
 * protection-group-level failures (the scope ListFailureJobs shows by default), over the
 * 400 protection groups of the seed generator's largest estate, named as it names them
 * (`erp-prod-pg137`: application, environment, number), so one group's name matches
 * about 250 failures and an application-environment pair about 2,000. Four more projects
 * with 10,000 failures each over groups named the same way share the trigram index with
 * it, as tenants with similar naming do. Written in 1000-job batches through the job
 * service, as `taskcenter seed` writes.
 *
 *   node dist/bench/names.js --db <url>
 */
import { parseArgs } from 'node:util';
import { Random } from '../src/cli/random.js';
import { createEstate, sdrsJobs } from '../src/cli/synthetic-jobs.js';
import { createListings } from '../src/context.js';
import { migrate } from '../src/db/migrate.js';
import { openDatabase } from '../src/db/open.js';
import { toReportedJob, type ReportedJob } from '../src/jobs/job.js';
import { JobWriter } from '../src/jobs/job-writer.js';
import { JobService } from '../src/jobs/jobs.service.js';

/** The project the scenarios read, and how many failures it holds. */
export const NAMES_PROJECT = 'names-000';
export const NAMES_FAILURES = 100_000;
const OTHERS = 4;
const OTHER_FAILURES = 10_000;
const END_TIME = Date.parse('2026-01-01T00:00:00.000Z');
const SPAN_MS = 365 * 24 * 3600 * 1000;
const OPERATIONS = ['create', 'delete', 'start', 'stop', 'reverse', 'failover', 'reprotect'] as const;

/** Writes the dataset into an empty database at `url` (migrating it first). */
export async function seedNames(url: string): Promise<void> {
  const db = openDatabase(url);
  try {
    await migrate(db);
    const service = new JobService(db, new JobWriter(createListings()));
    const projects = [
      { id: NAMES_PROJECT, failures: NAMES_FAILURES },
      ...Array.from({ length: OTHERS }, (_, i) => ({ id: `names-${String(i + 1).padStart(3, '0')}`, failures: OTHER_FAILURES })),
    ];
    for (const project of projects) {
      const rng = new Random(`names/${project.id}`);
      const estate = createEstate(rng, { groups: 400, servers: 1 });
      let batch: ReportedJob[] = [];
      for (let i = 0; i < project.failures; i++) {
        const [job] = sdrsJobs(rng, estate, {
          resourceType: 'server_groups',
          operation: rng.pick(OPERATIONS),
          status: 'FAIL',
          beginTime: END_TIME - Math.floor(rng.next() * SPAN_MS),
        });
        if (job !== undefined) batch.push(toReportedJob(project.id, job));
        if (batch.length === 1000) {
          await service.importNew(batch);
          batch = [];
        }
      }
      if (batch.length > 0) await service.importNew(batch);
    }
  } finally {
    await db.close();
  }
}

if (process.argv[1]?.endsWith('names.js')) {
  const { values } = parseArgs({ options: { db: { type: 'string' } } });
  if (values.db === undefined) throw new Error('usage: node dist/bench/names.js --db <url>');
  await seedNames(values.db);
}
