/**
 * Webhook notifications under batch ingest (issue 15): 20,000 failures reported in
 * batches of 1000 through the producer API (in process, `inject`), once with no
 * subscription and once with one subscription to a local receiver, on each engine.
 * Prints the ingest rate of both runs and, for the second, the latency from each
 * batch's commit (its response, which follows the commit) to the receiver's receipt of
 * each event, p50 and p99, and the time until the last event arrived.
 *
 * Run under the bench lock: `flock /tmp/taskcenter-bench.lock node dist/bench/notify.js [--engines sqlite,postgres] [--jobs 20000]`.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createContext, createLogger } from '../src/context.js';
import type { Engine } from '../src/db/database.js';

const PG_URL = process.env.TASKCENTER_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const { values } = parseArgs({ options: { engines: { type: 'string', default: 'sqlite,postgres' }, jobs: { type: 'string', default: '20000' } } });
const JOBS = Number(values.jobs);
const BATCH = 1000;

async function freshDb(engine: Engine): Promise<{ url: string; drop(): Promise<void> }> {
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'taskcenter-bench-notify-'));
    return { url: `sqlite:${join(dir, 'bench.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `taskcenter_bench_notify_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

function failure(i: number): Record<string, unknown> {
  return {
    project_id: 'bench-project',
    job_id: `f-${String(i).padStart(6, '0')}`,
    service: 'sdrs',
    job_type: 'createProtectedInstance',
    operation: 'create',
    status: 'FAIL',
    begin_time: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString(),
    end_time: new Date(Date.UTC(2024, 0, 1) + i * 1000 + 500).toISOString(),
    error_code: 'EVS.2024',
    fail_reason: 'volume is error!',
    resource: { id: `pi-${i}`, name: `instance-${i}`, type: 'protected_instances' },
    server_group_id: `group-${i % 50}`,
  };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;

async function run(engine: Engine, subscribed: boolean) {
  const database = await freshDb(engine);
  const received = new Map<string, number>();
  let resolveAll: () => void = () => {};
  const all = new Promise<void>((resolve) => (resolveAll = resolve));
  const receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const at = Date.now();
      received.set((JSON.parse(Buffer.concat(chunks).toString()) as { subject: string }).subject, at);
      response.writeHead(204).end();
      if (received.size === JOBS) resolveAll();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as { port: number }).port;
  const config = loadConfig({ db: database.url, auth: 'none', logLevel: 'silent', webhookAllowPrivate: 'true' }, {});
  const ctx = await createContext(config, { logger: createLogger({ logLevel: 'silent' }) });
  const app = await buildApp(ctx);
  await app.ready();
  try {
    if (subscribed) {
      const created = await app.inject({
        method: 'POST',
        url: '/taskcenter/v1/projects/bench-project/subscriptions',
        payload: { url: `http://127.0.0.1:${port}/hook`, events: ['job.failed'] },
      });
      if (created.statusCode !== 201) throw new Error(created.body);
      ctx.delivery.start();
    }
    const committed = new Map<string, number>();
    const started = Date.now();
    for (let i = 0; i < JOBS; i += BATCH) {
      const jobs = Array.from({ length: Math.min(BATCH, JOBS - i) }, (_, k) => failure(i + k));
      const response = await app.inject({ method: 'POST', url: '/taskcenter/v1/jobs/batch', payload: { jobs } });
      if (response.statusCode !== 200) throw new Error(response.body);
      const at = Date.now();
      for (const job of jobs) committed.set(job.job_id as string, at);
    }
    const ingestSeconds = (Date.now() - started) / 1000;
    const result: Record<string, unknown> = { engine, subscribed, jobs: JOBS, ingestSeconds, ingestRate: Math.round(JOBS / ingestSeconds) };
    if (subscribed) {
      await all;
      const latencies = [...received].map(([subject, at]) => at - (committed.get(subject) ?? at)).sort((a, b) => a - b);
      Object.assign(result, {
        latencyP50Ms: percentile(latencies, 50),
        latencyP99Ms: percentile(latencies, 99),
        lastEventAfterIngestS: (Math.max(...received.values()) - started) / 1000 - ingestSeconds,
        deliveredPerSecond: Math.round(JOBS / ((Math.max(...received.values()) - started) / 1000)),
      });
    }
    return result;
  } finally {
    await app.close();
    await ctx.close();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await database.drop();
  }
}

for (const engine of values.engines.split(',') as Engine[]) {
  for (const subscribed of [false, true]) console.log(JSON.stringify(await run(engine, subscribed)));
}
