import { DEFAULTS, envName, loadConfig, redactUrl } from '../config.js';
import { openDatabase } from '../db/open.js';
import { migrate } from '../db/migrate.js';
import { toReportedJob, type ReportedJob } from '../jobs/job.js';
import { JobDocument } from '../jobs/jobs.schema.js';
import { JobService } from '../jobs/jobs.service.js';
import { JobWriter } from '../jobs/job-writer.js';
import { rebuildIfStale } from '../jobs/listing-rebuild.js';
import { createListings } from '../context.js';
import { checkJson } from '../validation.js';
import { Progress } from './progress.js';
import { Random } from './random.js';
import { projectJobs } from './synthetic-jobs.js';
import { UsageError, asUsage, configInput, parseFlags, type Command } from './usage.js';

const MAX_PROJECTS = 1_000_000;
const MAX_JOBS = 100_000_000;
const EXAMPLE_END_TIME = '2026-01-01T00:00:00.000Z';
const SPAN_MS = 365 * 24 * 3600 * 1000;
/** Rows per transaction: large enough that commits cost nothing, small enough to keep memory flat. */
const TRANSACTION_ROWS = 20_000;
/** Rows per transaction with --interleave: a full producer batch, which the writer stores sorted by key. */
const BATCH_ROWS = 1000;

/** The id of the `index`-th seeded project (0-based): `seed-000000`, `seed-000001`, ... */
export function seedProjectId(index: number): string {
  return `seed-${String(index).padStart(6, '0')}`;
}

/** How many jobs the `index`-th of `projects` projects gets when `jobs` are spread evenly. */
export function seedJobCount(index: number, projects: number, jobs: number): number {
  return Math.floor(jobs / projects) + (index < jobs % projects ? 1 : 0);
}

export const seedCommand: Command = {
  name: 'seed',
  usage: `Usage: taskcenter seed --projects N --jobs M [--db URL] [--seed S] [--end-time ISO] [--interleave K]

Adds M synthetic jobs spread over N projects, built exactly as the producer API builds
reported jobs: SDRS jobs on protection groups (every operation and resource type, some
with sub-jobs, failures at group level and inside groups) and KPS key-pair tasks.
About 96% are finished, and about 9% of all jobs (11% of top-level tasks) failed; the
rest are INIT or RUNNING and began in the last half hour before --end-time. Finished
jobs began in the 365 days before it.

Project ids are predictable: seed-000000, seed-000001, ... seed-<N-1, six digits>.
Project i gets floor(M/N) jobs, plus one for each i < M mod N. The same flags always
produce the same job ids, so seeding twice adds nothing the second time; the same
--end-time gives the same jobs. Migrations run first. Progress goes to stderr.

  --projects N      number of projects, 1..${MAX_PROJECTS.toLocaleString('en-US')}
  --jobs M          total number of jobs (sub-jobs included), 1..${MAX_JOBS.toLocaleString('en-US')}
  --db URL          sqlite:<path> or postgres://... (${DEFAULTS.db}; ${envName('db')})
  --seed S          seed of the pseudo-random generator (1)
  --end-time ISO    newest begin time (now)
  --interleave K    write K jobs of each project in turn, ${BATCH_ROWS} per transaction, as a
                    fleet of producers reports them in batches, instead of one project
                    after another (the same jobs either way)`,
  async run(args, io) {
    const values = parseFlags(args, {
      db: { type: 'string' },
      projects: { type: 'string' },
      jobs: { type: 'string' },
      seed: { type: 'string' },
      'end-time': { type: 'string' },
      interleave: { type: 'string' },
    }).values as Record<string, string | undefined>;
    const projects = countFlag('projects', values.projects, MAX_PROJECTS);
    const jobs = countFlag('jobs', values.jobs, MAX_JOBS);
    const seed = values.seed ?? '1';
    if (seed === '') throw new UsageError('--seed must not be empty');
    const endText = values['end-time'];
    const endTime = endText === undefined ? Date.now() : Date.parse(endText);
    if (endText !== undefined && (!/^\d{4}-\d{2}-\d{2}T/.test(endText) || Number.isNaN(endTime))) {
      throw new UsageError(`--end-time must be an ISO 8601 time such as ${EXAMPLE_END_TIME}, got '${endText}'`);
    }
    const interleave = values.interleave === undefined ? 0 : countFlag('interleave', values.interleave, MAX_JOBS);
    const config = asUsage(() => loadConfig(configInput({ db: values.db })));

    const db = openDatabase(config.db);
    try {
      await migrate(db);
      const writer = new JobWriter(createListings());
      // Rows are rendered by this code: a store rendered by another is rebuilt first, so its stamp stays true.
      await rebuildIfStale(db, writer, { info: (_fields, message) => io.err(message) });
      const started = Date.now();
      const progress = new Progress(jobs, 'jobs');
      const jobService = new JobService(db, writer);
      let buffer: ReportedJob[] = [];
      let done = 0;
      let inserted = 0;
      const flush = async () => {
        const rows = buffer;
        buffer = [];
        // One transaction per buffer: a crash leaves whole buffers, and re-running skips them.
        // The service writes each job's listing and list counts with it, as a report would.
        inserted += await jobService.importNew(rows);
        done += rows.length;
        progress.update(done);
      };
      const span = { endTime, spanMs: SPAN_MS };
      const generators = Array.from({ length: projects }, (_, p) => ({
        projectId: seedProjectId(p),
        docs: projectJobs(new Random(`${seed}/${seedProjectId(p)}`), seedJobCount(p, projects, jobs), span),
      }));
      // Without --interleave, one project after another (one generator live at a time).
      const turns = interleave === 0 ? generators.map((g) => [g]) : [generators];
      const take = interleave === 0 ? Infinity : interleave;
      const transactionRows = interleave === 0 ? TRANSACTION_ROWS : BATCH_ROWS;
      for (let pending of turns) {
        while (pending.length > 0) {
          const unfinished: typeof pending = [];
          for (const generator of pending) {
            let finished = false;
            for (let taken = 0; taken < take; taken++) {
              const step = generator.docs.next();
              if (step.done === true) {
                finished = true;
                break;
              }
              // The producer API's own checks: a seeded row is one a producer could have reported.
              buffer.push(toReportedJob(generator.projectId, checkJson<JobDocument>(JobDocument, step.value)));
              if (buffer.length >= transactionRows) await flush();
            }
            if (!finished) unfinished.push(generator);
          }
          pending = unfinished;
        }
      }
      if (buffer.length > 0) await flush();
      progress.finish();
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const range = projects === 1 ? seedProjectId(0) : `${seedProjectId(0)} .. ${seedProjectId(projects - 1)}`;
      io.out(`${redactUrl(config.db)}: ${inserted} jobs added, ${jobs - inserted} already there, in projects ${range} (seed ${seed}), ${seconds} s`);
      return 0;
    } finally {
      await db.close();
    }
  },
};

function countFlag(name: string, text: string | undefined, max: number): number {
  if (text === undefined) throw new UsageError(`--${name} is required`);
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > max) {
    throw new UsageError(`--${name} must be an integer between 1 and ${max.toLocaleString('en-US')}, got '${text}'`);
  }
  return n;
}
