/**
 * `npm run bench`: builds datasets with `taskcenter seed`, starts the server as its own
 * process on each, loads it from another process (bench/load.ts) after a warm-up, and
 * prints one table: scenario, dataset size, req/s, p50, p99, ratio to the ceiling
 * (bench/ceiling.ts serving the byte-identical body), server peak RSS. Results also go
 * to bench/results/<date>.json.
 *
 * Flags: --full (adds 10 M jobs), --sizes 10000,1000000, --engines sqlite,postgres,
 * --duration S, --warmup S, --connections N, --only <scenario substring>.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import pg from 'pg';
import { sql } from 'kysely';
import { hashToken } from '../src/auth/credentials.js';
import { openDatabase, type Engine } from '../src/db/database.js';
import type { LoadResult, LoadSpec } from './load.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DATA = join(ROOT, 'bench', 'data');
const RESULTS = join(ROOT, 'bench', 'results');
const BIN = join(ROOT, 'bin', 'taskcenter.js');
const LOAD = join(ROOT, 'dist', 'bench', 'load.js');
const CEILING = join(ROOT, 'dist', 'bench', 'ceiling.js');
const PG_URL = process.env.TASKCENTER_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const TOKEN = 'bench-token-0123456789abcdef';
const AK = 'BENCHAKBENCHAKBENCH1';
const SK = 'bench-secret-key-0123456789abcdefghijklmno';

const { values: flags } = parseArgs({
  options: {
    full: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    engines: { type: 'string', default: 'sqlite,postgres' },
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '32' },
    only: { type: 'string' },
  },
});

const sizes = (flags.sizes ?? (flags.full ? '10000,1000000,10000000' : '10000,1000000')).split(',').map(Number);
const engines = (flags.engines ?? '').split(',') as Engine[];
const duration = Number(flags.duration);
const warmup = Number(flags.warmup);
const connections = Number(flags.connections);

/** One row of the table. */
interface Row {
  scenario: string;
  engine: Engine;
  jobs: number;
  rps: number;
  p50: number;
  p99: number;
  ceilingRps: number | null;
  ratio: number | null;
  jobsPerSecond: number | null;
  peakRssMb: number;
  errors: number;
}

/** What the dataset offers to aim requests at. */
interface Targets {
  sdrsProject: string;
  sdrsFailures: number;
  kpsProject: string;
  kpsFailures: number;
  jobProject: string;
  jobId: string;
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

function projectsFor(jobs: number): number {
  return Math.max(1, Math.round(jobs / 10_000));
}

function dbUrl(engine: Engine, jobs: number): string {
  if (engine === 'sqlite') return `sqlite:${join(DATA, `sqlite-${jobs}.db`)}`;
  const url = new URL(PG_URL);
  url.pathname = `/taskcenter_bench_${jobs}`;
  return url.toString();
}

async function jobCount(url: string): Promise<number> {
  const db = openDatabase(url);
  try {
    const row = await sql<{ n: number | string }>`select count(*) as n from jobs`.execute(db.kysely);
    return Number(row.rows[0]?.n ?? 0);
  } catch {
    return -1;
  } finally {
    await db.close();
  }
}

/** Seeds the dataset unless a database of that size is already there. */
async function ensureDataset(engine: Engine, jobs: number): Promise<string> {
  const url = dbUrl(engine, jobs);
  if (engine === 'postgres') {
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    const name = `taskcenter_bench_${jobs}`;
    const exists = (await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
    if (exists && (await jobCount(url)) >= jobs) {
      await admin.end();
      return url;
    }
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.query(`create database ${name}`);
    await admin.end();
  } else {
    const path = url.slice('sqlite:'.length);
    if (existsSync(path) && (await jobCount(url)) >= jobs) return url;
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  }
  log(`seeding ${jobs} jobs into ${engine} (${projectsFor(jobs)} projects)`);
  const started = Date.now();
  const seeded = spawnSync(process.execPath, [BIN, 'seed', '--db', url, '--projects', String(projectsFor(jobs)), '--jobs', String(jobs)], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (seeded.status !== 0) throw new Error(`seed failed with exit code ${seeded.status}`);
  log(`seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return url;
}

async function findTargets(url: string): Promise<Targets> {
  const db = openDatabase(url);
  try {
    const sdrs = await sql<{ project_id: string; n: number | string }>`
      select project_id, count(*) as n from jobs
      where service = 'sdrs' and status = 'FAIL' and cleared = 0 and parent_job_id is null and resource_type = 'server_groups'
      group by project_id order by n desc limit 1`.execute(db.kysely);
    const kps = await sql<{ project_id: string; n: number | string }>`
      select project_id, count(*) as n from jobs
      where service = 'kps' and status = 'FAIL' and cleared = 0 and parent_job_id is null
      group by project_id order by n desc limit 1`.execute(db.kysely);
    const sdrsProject = sdrs.rows[0]?.project_id ?? 'none';
    const job = await sql<{ job_id: string }>`
      select job_id from jobs where project_id = ${sdrsProject} and service = 'sdrs' and parent_job_id is null
      order by job_id limit 1`.execute(db.kysely);
    return {
      sdrsProject,
      sdrsFailures: Number(sdrs.rows[0]?.n ?? 0),
      kpsProject: kps.rows[0]?.project_id ?? 'none',
      kpsFailures: Number(kps.rows[0]?.n ?? 0),
      jobProject: sdrsProject,
      jobId: job.rows[0]?.job_id ?? 'none',
    };
  } finally {
    await db.close();
  }
}

function writeCredentials(): string {
  mkdirSync(DATA, { recursive: true });
  const path = join(DATA, 'credentials.json');
  const file = { principals: [{ name: 'bench', projects: ['*'], actions: ['*'], tokens: [hashToken(TOKEN)], access_keys: [{ ak: AK, sk: SK }] }] };
  writeFileSync(path, JSON.stringify(file), { mode: 0o600 });
  return path;
}

function waitForLine(child: ChildProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = buffer.match(pattern);
      if (match !== null) {
        child.stdout?.off('data', onData);
        resolve(match);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`process exited (${code}) before printing ${pattern}: ${buffer}`)));
  });
}

async function waitForHealth(base: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server at ${base} did not become healthy`);
}

/** Starts `taskcenter serve` on a free port; resolves once it answers /healthz. */
async function startServer(url: string, credentials: string, port: number): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--db', url, '--port', String(port), '--credentials', credentials, '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  await waitForHealth(base);
  return { child, base };
}

function peakRssMb(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return Math.round(kb / 1024);
  } catch {
    return 0;
  }
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function load(spec: LoadSpec): LoadResult {
  const run = spawnSync(process.execPath, [LOAD, JSON.stringify(spec)], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`load generator failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as LoadResult;
}

/** Headers an official SDK would send for a GET, signed with the bench AK/SK by the SDK's own signer. */
function sdkSignedHeaders(url: string): Record<string, string> {
  const require = createRequire(import.meta.url);
  const { AKSKSigner } = require('@huaweicloud/huaweicloud-sdk-core/auth/AKSKSigner') as {
    AKSKSigner: { sign(request: object, credential: object): Record<string, string> };
  };
  const parsed = new URL(url);
  const queryParams = Object.fromEntries(parsed.searchParams.entries());
  return AKSKSigner.sign(
    { method: 'GET', endpoint: `${parsed.origin}${parsed.pathname}`, headers: {}, queryParams },
    { getAk: () => AK, getSk: () => SK },
  );
}

interface Scenario {
  name: string;
  path: (t: Targets) => string;
  auth: 'token' | 'aksk';
}

const READS: Scenario[] = [
  { name: 'sdrs list, default scope, limit 100', path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?limit=100`, auth: 'token' },
  { name: 'sdrs list, default scope, limit 100 (AK/SK)', path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?limit=100`, auth: 'aksk' },
  { name: 'sdrs list, default scope, limit 1000', path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?limit=1000`, auth: 'token' },
  {
    name: 'sdrs list, failure_status filter, limit 100',
    path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?failure_status=createFail&limit=100`,
    auth: 'token',
  },
  { name: 'sdrs list, limit 100, offset 10000', path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?limit=100&offset=10000`, auth: 'token' },
  { name: 'kps failed-tasks, limit 100', path: (t) => `/v3/${t.kpsProject}/failed-tasks?limit=100`, auth: 'token' },
  { name: 'kps failed-tasks, limit 100 (AK/SK)', path: (t) => `/v3/${t.kpsProject}/failed-tasks?limit=100`, auth: 'aksk' },
  { name: 'sdrs ShowJobStatus', path: (t) => `/v1/${t.jobProject}/jobs/${t.jobId}`, auth: 'token' },
];

async function measureReads(engine: Engine, jobs: number, base: string, targets: Targets, serverPid: number | undefined, rows: Row[]): Promise<void> {
  for (const scenario of READS) {
    if (flags.only !== undefined && !scenario.name.includes(flags.only)) continue;
    const url = base + scenario.path(targets);
    const headers = scenario.auth === 'token' ? { 'x-auth-token': TOKEN } : sdkSignedHeaders(url);
    const probe = await fetch(url, { headers });
    const body = Buffer.from(await probe.arrayBuffer());
    if (probe.status !== 200) {
      log(`${scenario.name}: server answered ${probe.status} ${body.toString().slice(0, 200)}; skipped`);
      continue;
    }
    const bodyFile = join(DATA, 'ceiling-body.tmp');
    writeFileSync(bodyFile, body);
    const ceiling = spawn(process.execPath, [CEILING, '0', bodyFile, probe.headers.get('content-type') ?? 'application/json'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const ceilingPort = Number((await waitForLine(ceiling, /listening (\d+)/))[1]);
    const ceilingResult = load({ url: `http://127.0.0.1:${ceilingPort}${scenario.path(targets)}`, headers, connections, duration, warmup });
    await stop(ceiling);
    const result = load({ url, headers, connections, duration, warmup });
    const row: Row = {
      scenario: scenario.name,
      engine,
      jobs,
      rps: result.rps,
      p50: result.p50,
      p99: result.p99,
      ceilingRps: ceilingResult.rps,
      ratio: ceilingResult.rps > 0 ? result.rps / ceilingResult.rps : null,
      jobsPerSecond: null,
      peakRssMb: peakRssMb(serverPid),
      errors: result.errors + result.non2xx,
    };
    rows.push(row);
    log(`${engine} ${jobs} ${scenario.name}: ${result.rps.toFixed(0)} req/s (ceiling ${ceilingResult.rps.toFixed(0)}), p50 ${result.p50} ms, p99 ${result.p99} ms`);
  }
}

function measureIngest(engine: Engine, jobs: number, base: string, serverPid: number | undefined, rows: Row[]): void {
  const name = 'batch ingest, 1000 jobs per request';
  if (flags.only !== undefined && !name.includes(flags.only)) return;
  const result = load({
    url: `${base}/taskcenter/v1/jobs/batch`,
    method: 'POST',
    headers: { 'x-auth-token': TOKEN },
    connections: 4,
    duration,
    warmup,
    batch: 1000,
    project: 'bench-ingest',
  });
  rows.push({
    scenario: name,
    engine,
    jobs,
    rps: result.rps,
    p50: result.p50,
    p99: result.p99,
    ceilingRps: null,
    ratio: null,
    jobsPerSecond: result.rps * 1000,
    peakRssMb: peakRssMb(serverPid),
    errors: result.errors + result.non2xx,
  });
  log(`${engine} ${jobs} ${name}: ${(result.rps * 1000).toFixed(0)} jobs/s, p50 ${result.p50} ms, p99 ${result.p99} ms`);
}

function table(rows: Row[]): string {
  const header = ['scenario', 'engine', 'jobs', 'req/s', 'p50 ms', 'p99 ms', 'vs ceiling', 'jobs/s', 'peak RSS MB', 'errors'];
  const lines = rows.map((r) => [
    r.scenario,
    r.engine,
    r.jobs.toLocaleString('en-US'),
    r.rps.toFixed(0),
    String(r.p50),
    String(r.p99),
    r.ratio === null ? '' : `${r.ratio.toFixed(2)} (${(r.ceilingRps ?? 0).toFixed(0)})`,
    r.jobsPerSecond === null ? '' : r.jobsPerSecond.toFixed(0),
    String(r.peakRssMb),
    String(r.errors),
  ]);
  return [header, header.map(() => '---'), ...lines].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

const rows: Row[] = [];
const credentials = writeCredentials();
let port = 18_400;
for (const engine of engines) {
  for (const jobs of sizes) {
    const url = await ensureDataset(engine, jobs);
    const targets = await findTargets(url);
    log(`${engine} ${jobs}: sdrs project ${targets.sdrsProject} (${targets.sdrsFailures} group-level failures), kps project ${targets.kpsProject} (${targets.kpsFailures} failed tasks)`);
    const { child, base } = await startServer(url, credentials, port++);
    try {
      await measureReads(engine, jobs, base, targets, child.pid, rows);
      measureIngest(engine, jobs, base, child.pid, rows);
    } finally {
      await stop(child);
    }
  }
}

const date = new Date().toISOString().slice(0, 19).replace(/:/g, '-');
const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version };
mkdirSync(RESULTS, { recursive: true });
writeFileSync(join(RESULTS, `${date}.json`), JSON.stringify({ date, machine, duration, warmup, connections, rows }, null, 2) + '\n');
process.stdout.write(`\nMachine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB, Node ${machine.node}; ${connections} connections, ${warmup} s warm-up, ${duration} s per run\n\n`);
process.stdout.write(table(rows) + '\n');
process.stdout.write(`\nSaved bench/results/${date}.json\n`);
