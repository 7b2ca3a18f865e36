/**
 * What a small write costs the server, in one process, on a real database:
 *
 *   node dist/bench/writes.js --db <url> [--count 2000] [--warmup 300]
 *
 * Reports single jobs (`JobService.report`, what a PUT runs) and 9-job batches
 * (`JobService.reportBatch`) in turn into a project of its own, jobs from the seed
 * generator, and prints the median and mean CPU of each: the process's user and system
 * time, so that the thread pool's sync of SQLite's log counts. No HTTP, no load
 * generator: the figure to set against another build's, run after run, where the mixed
 * scenario of `npm run bench` (the same writes over HTTP) moves more between runs than
 * between builds. The project is deleted afterwards, through the writer. Point it at a
 * copy, such as the bench's datasets (bench/data), never at a database in use.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createEstate, estateSize, randomJobs } from '../src/cli/synthetic-jobs.js';
import { Random } from '../src/cli/random.js';
import { loadConfig } from '../src/config.js';
import { createContext } from '../src/context.js';
import type { JobDocument } from '../src/jobs/jobs.schema.js';

const { values: flags } = parseArgs({
  options: { db: { type: 'string' }, count: { type: 'string', default: '2000' }, warmup: { type: 'string', default: '300' } },
});
if (flags.db === undefined) throw new Error('usage: node dist/bench/writes.js --db <url> [--count N] [--warmup N]');
const count = Number(flags.count);
const warmup = Number(flags.warmup);

const run = randomBytes(4).toString('hex');
const project = `bench-writes-${run}`;
const rng = new Random(`writes/${run}`);
const estate = createEstate(rng, estateSize(10_000));
const span = { endTime: Date.now(), spanMs: 365 * 24 * 3600 * 1000 };
let sequence = 0;

/** `n` new jobs as the seed generator makes them, with ids of this run (a parent's sub-jobs follow it). */
function jobs(n: number): JobDocument[] {
  const out: JobDocument[] = [];
  while (out.length < n) {
    const ids = new Map<string, string>();
    for (const raw of randomJobs(rng, estate, span)) {
      if (out.length === n) break;
      const id = `${run}-${sequence++}`;
      ids.set(raw.job_id, id);
      const parent = raw.parent_job_id == null ? null : (ids.get(raw.parent_job_id) ?? null);
      out.push({ ...raw, job_id: id, ...(raw.parent_job_id === undefined ? {} : { parent_job_id: parent }) });
    }
  }
  return out;
}

// Built and turned to text first, and parsed before each call, as the server has them.
const bodies = Array.from({ length: 2 * (warmup + count) }, (_, i) =>
  JSON.stringify(i % 2 === 0 ? jobs(1)[0] : jobs(9).map((job) => ({ ...job, project_id: project }))),
);

const ctx = await createContext(loadConfig({ db: flags.db, auth: 'none', logLevel: 'silent', listCacheMb: '0' }, {}));
const principal = { name: 'bench', projects: ['*'], actions: ['*'] };
const cpu = { report: [] as number[], batch: [] as number[] };
try {
  for (const [i, body] of bodies.entries()) {
    const parsed = JSON.parse(body) as unknown;
    const start = process.cpuUsage();
    if (i % 2 === 0) await ctx.jobs.report(project, parsed as JobDocument);
    else await ctx.jobs.reportBatch(principal, parsed as unknown[]);
    const used = process.cpuUsage(start);
    if (i >= 2 * warmup) (i % 2 === 0 ? cpu.report : cpu.batch).push(used.user + used.system);
  }
} finally {
  await ctx.db.kysely.transaction().execute((tx) => ctx.writer.delete(tx, { projectId: project }));
  await ctx.close();
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? 0;
const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;
console.log(`${ctx.db.engine}, ${count} of each after ${warmup}, CPU µs per call (median, mean):`);
console.log(`  a single job (report):     ${median(cpu.report).toFixed(0)}, ${mean(cpu.report).toFixed(0)}`);
console.log(`  9 jobs (reportBatch):      ${median(cpu.batch).toFixed(0)}, ${mean(cpu.batch).toFixed(0)}`);
