/**
 * `npm run bench`: builds datasets with `taskcenter seed`, starts the server as its own
 * process on each, loads it from another process (bench/load.ts) after a warm-up, and
 * prints one table: scenario, dataset size, req/s, p50, p99, ratio to the ceiling
 * (bench/ceiling.ts serving the byte-identical body), server CPU time per request,
 * server peak RSS. Results also go to bench/results/<date>.json.
 *
 * A dataset is reused while it has its jobs and was seeded by the same schema, seed
 * and list-item code (a fingerprint of the compiled files beside it); otherwise it is
 * seeded again. Datasets are seeded with `--interleave`: the projects' jobs written in
 * turn, as producers' traffic writes them, not one project after another. PostgreSQL is
 * skipped, saying why, when it cannot be reached.
 *
 * The mixed scenarios run on a copy of the dataset (their writers add jobs to the read
 * project), so every other scenario keeps reading the dataset its size names.
 *
 * Flags: {@link USAGE}.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import pg from 'pg';
import { sql } from 'kysely';
import { hashToken } from '../src/auth/credentials.js';
import { type Engine } from '../src/db/database.js';
import { openDatabase } from '../src/db/open.js';
import { KPS_FAILED_BUCKET } from '../src/kps/kps.listing.js';
import { sdrsBucket } from '../src/sdrs/sdrs.listing.js';
import type { LoadResult, LoadSpec } from './load.js';
import { NAMES_FAILURES, NAMES_PROJECT, seedNames } from './names.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DATA = join(ROOT, 'bench', 'data');
const RESULTS = join(ROOT, 'bench', 'results');
const BIN = join(ROOT, 'bin', 'taskcenter.js');
const LOAD = join(ROOT, 'dist', 'bench', 'load.js');
const CEILING = join(ROOT, 'dist', 'bench', 'ceiling.js');
const PG_URL = process.env.TASKCENTER_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const TOKEN = 'bench-token-0123456789abcdef';
/** Jobs of each project written in turn when seeding: a fleet of producers' traffic, projects interleaved. */
const INTERLEAVE = 20;
const AK = 'BENCHAKBENCHAKBENCH1';
const SK = 'bench-secret-key-0123456789abcdefghijklmno';

/** What a dataset's content depends on: if any of these compiled files changes, it is seeded again. */
const DATA_SOURCES = [
  'dist/src/db/migrations',
  'dist/src/cli/seed.js',
  'dist/src/cli/synthetic-jobs.js',
  'dist/src/cli/random.js',
  'dist/src/jobs/job.js',
  'dist/src/jobs/listing.js',
  'dist/src/sdrs/sdrs.presenter.js',
  'dist/src/sdrs/sdrs.listing.js',
  'dist/src/kps/kps.presenter.js',
  'dist/src/kps/kps.listing.js',
];

const OPTIONS = {
  full: { type: 'boolean', default: false },
  sizes: { type: 'string' },
  engines: { type: 'string', default: 'sqlite,postgres' },
  duration: { type: 'string', default: '8' },
  warmup: { type: 'string', default: '2' },
  connections: { type: 'string', default: '32' },
  only: { type: 'string' },
  scenario: { type: 'string', multiple: true },
  profile: { type: 'boolean', default: false },
  pooling: { type: 'string', default: 'session' },
  help: { type: 'boolean', default: false },
} as const;

const USAGE = `Usage: npm run bench -- [flags]

  --sizes N,N         dataset sizes in jobs (10000,1000000)
  --full              adds 10,000,000 to the sizes
  --engines E,E       sqlite, postgres or both (sqlite,postgres)
  --duration S        seconds measured per scenario (8)
  --warmup S          seconds of warm-up before each (2)
  --connections N     connections of the load (32)
  --only TEXT         only the scenarios whose name contains TEXT
  --scenario NAME     only the scenario of exactly this name; repeatable, all in one run
  --profile           one server per scenario under node --cpu-prof; the top self-time
                      functions of each go to bench/results/<date>-profiles.md
  --pooling MODE      transaction: the PostgreSQL servers get ?pooling=transaction (no
                      named statements, as behind PgBouncer), on a direct connection
  --help              this text`;

const { values: flags } = (() => {
  try {
    return parseArgs({ options: OPTIONS });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
    process.exit(2);
  }
})();
if (flags.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const sizes = (flags.sizes ?? (flags.full ? '10000,1000000,10000000' : '10000,1000000')).split(',').map(Number);
const engines = (flags.engines ?? '').split(',') as Engine[];
const duration = Number(flags.duration);
const warmup = Number(flags.warmup);
const connections = Number(flags.connections);
const date = new Date().toISOString().slice(0, 19).replace(/:/g, '-');
const profileDir = join(RESULTS, `${date}-profiles`);

/** One row of the table. */
interface Row {
  scenario: string;
  engine: Engine;
  jobs: number;
  rps: number;
  p50: number;
  p99: number;
  ceilingRps: number | null;
  /** The ceiling's p99 (ms) under the same load: what the machine alone gives a bare server. */
  ceilingP99?: number;
  ratio: number | null;
  jobsPerSecond: number | null;
  /** Server CPU time (user + system) per request during the measured run, µs. */
  serverCpuUs: number;
  ceilingCpuUs: number | null;
  peakRssMb: number;
  errors: number;
  /** Mixed scenarios: the writers' achieved jobs/s and request p99 (ms) while the readers ran. */
  writeJobsPerSecond?: number;
  writeP99?: number;
}

/** What the dataset offers to aim requests at. */
interface Targets {
  sdrsProject: string;
  sdrsFailures: number;
  /** Up to 100 projects with a full first page of protection-group-level failures, the largest first. */
  sdrsProjects: string[];
  kpsProject: string;
  kpsFailures: number;
  jobProject: string;
  jobId: string;
  /** The group of `sdrsProject` with the most failures inside it. */
  sdrsGroup?: string;
  /** The names dataset (bench/names.ts): a name filter matching one protection group, and one matching an application and environment. */
  nameOne?: string;
  namePair?: string;
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

function projectsFor(jobs: number): number {
  return Math.max(1, Math.round(jobs / 10_000));
}

function dbName(jobs: number): string {
  return `taskcenter_bench_${jobs}`;
}

function dbUrl(engine: Engine, jobs: number): string {
  if (engine === 'sqlite') return `sqlite:${join(DATA, `sqlite-${jobs}.db`)}`;
  const url = new URL(PG_URL);
  url.pathname = `/${dbName(jobs)}`;
  return url.toString();
}

function fingerprint(): string {
  const hash = createHash('sha256').update(`interleave ${INTERLEAVE}`);
  for (const source of DATA_SOURCES) {
    const path = join(ROOT, source);
    const files =
      existsSync(path) && !source.endsWith('.js')
        ? readdirSync(path)
            .filter((f) => f.endsWith('.js'))
            .sort()
            .map((f) => join(path, f))
        : [path];
    // Named relative to the checkout, so that two checkouts of the same code share the PostgreSQL datasets.
    for (const file of files) hash.update(relative(ROOT, file)).update(existsSync(file) ? readFileSync(file) : 'missing');
  }
  return hash.digest('hex').slice(0, 16);
}

function fingerprintFile(engine: Engine, jobs: number): string {
  return join(DATA, `${engine}-${jobs}.fingerprint`);
}

/** How many seeded jobs the dataset holds; -1 when it cannot be read (missing, or an older schema). */
async function seededJobs(url: string): Promise<number> {
  const db = openDatabase(url);
  try {
    const row = await sql<{ n: number | string }>`select count(*) as n from jobs where project_id like 'seed-%'`.execute(db.kysely);
    await sql`select n from job_counts limit 1`.execute(db.kysely);
    return Number(row.rows[0]?.n ?? 0);
  } catch {
    return -1;
  } finally {
    await db.close();
  }
}

/** Null when PostgreSQL answers, else why it cannot be used. */
async function postgresProblem(): Promise<string | null> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return null;
  } catch (error) {
    return (error as Error).message || String((error as { code?: string }).code);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Seeds the dataset unless one of that size, seeded by the same code, is already there. */
async function ensureDataset(engine: Engine, jobs: number): Promise<string> {
  const url = dbUrl(engine, jobs);
  const expected = fingerprint();
  const stamp = fingerprintFile(engine, jobs);
  const current = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
  if (engine === 'postgres') {
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    const exists = (await admin.query('select 1 from pg_database where datname = $1', [dbName(jobs)])).rowCount === 1;
    if (exists && current === expected && (await seededJobs(url)) >= jobs) {
      await admin.end();
      return url;
    }
    await admin.query(`drop database if exists ${dbName(jobs)} with (force)`);
    await admin.query(`create database ${dbName(jobs)}`);
    await admin.end();
  } else {
    const path = url.slice('sqlite:'.length);
    if (existsSync(path) && current === expected && (await seededJobs(url)) >= jobs) return url;
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  }
  rmSync(stamp, { force: true });
  log(`seeding ${jobs} jobs into ${engine} (${projectsFor(jobs)} projects)`);
  const started = Date.now();
  // A fixed --end-time: the same dataset at every reseed, whenever it runs.
  const args = [
    'seed',
    '--db',
    url,
    '--projects',
    String(projectsFor(jobs)),
    '--jobs',
    String(jobs),
    '--end-time',
    '2026-01-01T00:00:00.000Z',
    '--interleave',
    String(INTERLEAVE),
  ];
  const seeded = spawnSync(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (seeded.status !== 0) throw new Error(`seed failed with exit code ${seeded.status}`);
  if (engine === 'postgres') await vacuumAnalyze(url);
  writeFileSync(stamp, expected + '\n');
  log(`seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return url;
}

/** The names dataset (bench/names.ts), written unless one seeded by the same code is there. */
async function ensureNamesDataset(engine: Engine): Promise<string> {
  const expected = createHash('sha256')
    .update(fingerprint())
    .update(readFileSync(join(ROOT, 'dist', 'bench', 'names.js')))
    .digest('hex')
    .slice(0, 16);
  const stamp = join(DATA, `${engine}-names.fingerprint`);
  const current = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
  const url = engine === 'sqlite' ? `sqlite:${join(DATA, 'sqlite-names.db')}` : Object.assign(new URL(PG_URL), { pathname: `/${dbName(0)}_names` }).toString();
  if (current === expected) return url;
  if (engine === 'postgres') {
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`drop database if exists ${dbName(0)}_names with (force)`);
    await admin.query(`create database ${dbName(0)}_names`);
    await admin.end();
  } else {
    for (const suffix of ['', '-wal', '-shm']) rmSync(url.slice('sqlite:'.length) + suffix, { force: true });
  }
  rmSync(stamp, { force: true });
  log(`writing the names dataset into ${engine}`);
  const started = Date.now();
  await seedNames(url);
  if (engine === 'postgres') await vacuumAnalyze(url);
  writeFileSync(stamp, expected + '\n');
  log(`written in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return url;
}

/** What the name scenarios ask for: the newest failure's name (`erp-prod-pg137`), its last five characters (that group) and its first eight. */
async function nameTargets(url: string): Promise<Targets> {
  const db = openDatabase(url);
  try {
    const newest = await sql<{ resource_name: string | null }>`
      select resource_name from jobs where list = 'sdrs' and project_id = ${NAMES_PROJECT} and resource_type = 'server_groups'
      order by begin_time desc, job_id desc limit 1`.execute(db.kysely);
    const name = newest.rows[0]?.resource_name ?? 'none';
    return {
      sdrsProject: NAMES_PROJECT,
      sdrsFailures: NAMES_FAILURES,
      sdrsProjects: [],
      kpsProject: 'none',
      kpsFailures: 0,
      jobProject: NAMES_PROJECT,
      jobId: 'none',
      nameOne: name.slice(-5),
      namePair: name.slice(0, 8),
    };
  } finally {
    await db.close();
  }
}

/** Fresh statistics and visibility map, as autovacuum would leave a database that was loaded a while ago. */
async function vacuumAnalyze(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('vacuum analyze');
  await client.end();
}

async function findTargets(url: string): Promise<Targets> {
  const db = openDatabase(url);
  try {
    const sdrs = await sql<{ project_id: string; n: number | string }>`
      select project_id, n from job_counts where bucket = ${sdrsBucket({ resourceType: 'server_groups' })} and project_id like 'seed-%' and n >= 100
      order by n desc, project_id limit 100`.execute(db.kysely);
    const kps = await sql<{ project_id: string; n: number | string }>`
      select project_id, n from job_counts where bucket = ${KPS_FAILED_BUCKET} and project_id like 'seed-%'
      order by n desc, project_id limit 1`.execute(db.kysely);
    const sdrsProject = sdrs.rows[0]?.project_id ?? 'none';
    // A job with sub-jobs, so ShowJobStatus shows its whole shape.
    const job = await sql<{ job_id: string }>`
      select parent_job_id as job_id from jobs where project_id = ${sdrsProject} and service = 'sdrs' and parent_job_id is not null
      order by parent_job_id limit 1`.execute(db.kysely);
    const group = await sql<{ server_group_id: string }>`
      select server_group_id, count(*) as n from jobs where list = 'sdrs' and project_id = ${sdrsProject} and resource_type <> 'server_groups'
      group by server_group_id order by n desc, server_group_id limit 1`.execute(db.kysely);
    return {
      sdrsProject,
      sdrsGroup: group.rows[0]?.server_group_id ?? 'none',
      sdrsFailures: Number(sdrs.rows[0]?.n ?? 0),
      sdrsProjects: sdrs.rows.map((r) => r.project_id),
      kpsProject: kps.rows[0]?.project_id ?? 'none',
      kpsFailures: Number(kps.rows[0]?.n ?? 0),
      jobProject: sdrsProject,
      jobId: job.rows[0]?.job_id ?? 'none',
    };
  } finally {
    await db.close();
  }
}

/**
 * Deletes the jobs an ingest run added, so that a dataset stays what its size says. The
 * project's list version stays: versions never go back, or a server could take a page
 * it kept before for a current one.
 */
async function removeProject(url: string, projectId: string): Promise<void> {
  const db = openDatabase(url);
  try {
    await sql`delete from jobs where project_id = ${projectId}`.execute(db.kysely);
    await sql`delete from job_counts where project_id = ${projectId}`.execute(db.kysely);
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

/** Starts `taskcenter serve` on a free port (under the CPU profiler when `profile` names a folder); resolves once it answers /healthz. */
async function startServer(
  url: string,
  credentials: string,
  port: number,
  serveFlags: readonly string[],
  profile?: string,
): Promise<{ child: ChildProcess; base: string }> {
  const node = profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profile}`];
  const child = spawn(
    process.execPath,
    [...node, BIN, 'serve', '--db', url, '--port', String(port), '--credentials', credentials, '--log-level', 'warn', '--drain-seconds', '0', ...serveFlags],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
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

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** CPU time (user + system) a process has used, µs; 0 when it cannot be read. */
function cpuMicros(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
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

/** Runs the load generator; `server` is the process whose CPU time is measured over the measured run. */
function load(spec: LoadSpec, server: number | undefined): Promise<LoadResult & { cpuUs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOAD, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let cpuAtStart = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (cpuAtStart === 0 && out.includes('"phase":"measure"')) cpuAtStart = cpuMicros(server);
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const cpu = cpuMicros(server) - cpuAtStart;
      if (code !== 0) return reject(new Error(`load generator failed (${code}): ${err}`));
      const result = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as LoadResult;
      resolve({ ...result, cpuUs: result.requests > 0 ? cpu / result.requests : 0 });
    });
  });
}

/** Headers an official SDK would send for a GET, signed with the bench AK/SK by the SDK's own signer. */
function sdkSignedHeaders(url: string): Record<string, string> {
  const require = createRequire(import.meta.url);
  const { AKSKSigner } = require('@huaweicloud/huaweicloud-sdk-core/auth/AKSKSigner') as {
    AKSKSigner: { sign(request: object, credential: object): Record<string, string> };
  };
  const parsed = new URL(url);
  const queryParams = Object.fromEntries(parsed.searchParams.entries());
  return AKSKSigner.sign({ method: 'GET', endpoint: `${parsed.origin}${parsed.pathname}`, headers: {}, queryParams }, { getAk: () => AK, getSk: () => SK });
}

interface Scenario {
  name: string;
  path: (t: Targets) => string;
  auth: 'token' | 'aksk';
  /** `taskcenter serve` flags beyond the usual ones; a scenario with others gets a server of its own. */
  serverFlags?: readonly string[];
  /** Paths asked in turn instead of `path` (which the ceiling serves); the scenario is left out with fewer than 10. */
  paths?: (t: Targets) => string[];
  /** Asked with If-None-Match naming the page's current ETag, as a client polling an unchanged list: answered 304. */
  conditional?: boolean;
  /** Connections of the load (and of its ceiling), when not --connections. */
  connections?: number;
}

const READS: Scenario[] = [
  { name: 'sdrs list, default scope, limit 100', path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?limit=100`, auth: 'token' },
  {
    // The same request with no kept pages: every request reads its page from the store.
    name: 'sdrs list, default scope, limit 100, pages not kept',
    path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?limit=100`,
    auth: 'token',
    serverFlags: ['--list-cache-mb', '0'],
  },
  {
    // Many tenants polling: each request is another project's page, so fewer share a version read.
    name: 'sdrs list, default scope, limit 100, 100 projects in turn',
    path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?limit=100`,
    paths: (t) => t.sdrsProjects.map((project) => `/v1/${project}/task-center/failure-jobs?limit=100`),
    auth: 'token',
  },
  {
    // The same from the store: each page's rows are read where they lie, in many tenants' pages.
    name: 'sdrs list, default scope, limit 100, 100 projects in turn, pages not kept',
    path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?limit=100`,
    paths: (t) => t.sdrsProjects.map((project) => `/v1/${project}/task-center/failure-jobs?limit=100`),
    auth: 'token',
    serverFlags: ['--list-cache-mb', '0'],
  },
  {
    // A client polling an unchanged list with the ETag of its last answer: 304, no body.
    name: 'sdrs list, default scope, limit 100, unchanged (304)',
    path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?limit=100`,
    auth: 'token',
    conditional: true,
  },
  {
    // The emulator journals every request and checks its fault rules (none here): what that costs the hot path.
    name: 'sdrs list, default scope, limit 100, emulator on',
    path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?limit=100`,
    auth: 'token',
    serverFlags: ['--emulator'],
  },
  {
    // The per-principal throttle at a rate no client reaches: what checking it costs a request.
    name: 'sdrs list, default scope, limit 100, throttle on (not reached)',
    path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?limit=100`,
    auth: 'token',
    serverFlags: ['--throttle', '1000000'],
  },
  { name: 'sdrs list, default scope, limit 100 (AK/SK)', path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?limit=100`, auth: 'aksk' },
  { name: 'sdrs list, default scope, limit 1000', path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?limit=1000`, auth: 'token' },
  {
    name: 'sdrs list, failure_status filter, limit 100',
    path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?failure_status=createFail&limit=100`,
    auth: 'token',
  },
  {
    name: 'sdrs list, failure_status filter, limit 100, pages not kept',
    path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?failure_status=createFail&limit=100`,
    auth: 'token',
    serverFlags: ['--list-cache-mb', '0'],
  },
  {
    // The failures inside one protection group (its instances, replication pairs, drills).
    name: 'sdrs list, in one group, limit 100, pages not kept',
    path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?server_group_id=${t.sdrsGroup ?? 'none'}&limit=100`,
    auth: 'token',
    serverFlags: ['--list-cache-mb', '0'],
  },
  {
    name: 'sdrs list, limit 100, last full page',
    path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?limit=100&offset=${Math.max(0, t.sdrsFailures - 100)}`,
    auth: 'token',
  },
  {
    name: 'sdrs list, resource_name filter (counted by rows), limit 100',
    path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?resource_name=pg&limit=100`,
    auth: 'token',
  },
  { name: 'kps failed-tasks, limit 100', path: (t) => `/v3/${t.kpsProject}/failed-tasks?limit=100`, auth: 'token' },
  {
    name: 'kps failed-tasks, limit 100, pages not kept',
    path: (t) => `/v3/${t.kpsProject}/failed-tasks?limit=100`,
    auth: 'token',
    serverFlags: ['--list-cache-mb', '0'],
  },
  {
    name: 'kps running-tasks, limit 100, pages not kept',
    path: (t) => `/v3/${t.kpsProject}/running-tasks?limit=100`,
    auth: 'token',
    serverFlags: ['--list-cache-mb', '0'],
  },
  { name: 'kps failed-tasks, limit 100 (AK/SK)', path: (t) => `/v3/${t.kpsProject}/failed-tasks?limit=100`, auth: 'aksk' },
  // ShowJobStatus is never kept: every request reads the job and its sub-jobs from the store.
  { name: 'sdrs ShowJobStatus, with sub-jobs (never kept)', path: (t) => `/v1/${t.jobProject}/jobs/${t.jobId}`, auth: 'token' },
];

/**
 * The resource_name filter on the names dataset (bench/names.ts: one project with 100,000
 * live group-level failures), every request read from the store, asked by one client in
 * a loop so that p50 is the latency of one request, not a queue's.
 */
const NAME_READS: Scenario[] = [
  {
    name: "sdrs list, resource_name = one group's name, 100 k failures, limit 100, pages not kept, 1 client",
    path: (t) => `/v1/${NAMES_PROJECT}/task-center/failure-jobs?resource_name=${encodeURIComponent(t.nameOne ?? '')}&limit=100`,
    auth: 'token',
    serverFlags: ['--list-cache-mb', '0'],
    connections: 1,
  },
  {
    name: 'sdrs list, resource_name = app-env prefix, 100 k failures, limit 100, pages not kept, 1 client',
    path: (t) => `/v1/${NAMES_PROJECT}/task-center/failure-jobs?resource_name=${encodeURIComponent(t.namePair ?? '')}&limit=100`,
    auth: 'token',
    serverFlags: ['--list-cache-mb', '0'],
    connections: 1,
  },
  {
    // Two characters have no trigram: the scope's 100,000 rows are read.
    name: 'sdrs list, resource_name = 2 characters (no trigram), 100 k failures, limit 100, pages not kept, 1 client',
    path: () => `/v1/${NAMES_PROJECT}/task-center/failure-jobs?resource_name=pg&limit=100`,
    auth: 'token',
    serverFlags: ['--list-cache-mb', '0'],
    connections: 1,
  },
];

/** How a batch ingest scenario's requests are made. */
interface Ingest {
  name: string;
  mix: 'new' | 'fleet';
  /** Projects the batches spread over (each a new one, removed afterwards). */
  projects: number;
}

const INGESTS: Ingest[] = [
  // What a fleet sends: the seed generator's mix (both services, sub-jobs, every status,
  // group-level and in-group failures) over many projects, a tenth of reports moving a job sent earlier forward.
  { name: 'ingest, fleet mix: 1000-job batches over 50 projects', mix: 'fleet', projects: 50 },
  { name: 'ingest, 1000 new jobs into one project, 90% successes', mix: 'new', projects: 1 },
];

/**
 * Readers poll one list of the hot project with 32 connections while producers report
 * into that project at a steady rate: every report raises the project's list version,
 * so polls keep going to the store.
 */
interface Mixed {
  name: string;
  path: (t: Targets) => string;
  project: (t: Targets) => string;
}

const MIXED: Mixed[] = [
  {
    name: 'mixed: sdrs list, default scope, limit 100, while producers write',
    path: (t) => `/v1/${t.sdrsProject}/task-center/failure-jobs?limit=100`,
    project: (t) => t.sdrsProject,
  },
  {
    name: 'mixed: kps failed-tasks, limit 100, while producers write',
    path: (t) => `/v3/${t.kpsProject}/failed-tasks?limit=100`,
    project: (t) => t.kpsProject,
  },
];
/** The producers: 80 requests/s, a single PUT and a 9-job batch in turn (400 jobs/s), over 4 connections. */
const WRITES = { rate: 80, batch: 9, connections: 4 };

function selected(name: string): boolean {
  return (flags.only === undefined || name.includes(flags.only)) && (flags.scenario === undefined || flags.scenario.includes(name));
}

/** A server for one dataset: one for all its scenarios with the same flags, or one per scenario when profiling. */
class Servers {
  #current: { child: ChildProcess; base: string; flags: string } | undefined;
  #port: number;

  constructor(
    private readonly url: string,
    private readonly credentials: string,
    private readonly label: string,
    port: number,
  ) {
    this.#port = port;
  }

  async for(scenario: string, serverFlags: readonly string[] = []): Promise<{ child: ChildProcess; base: string }> {
    const key = serverFlags.join(' ');
    if (flags.profile || (this.#current !== undefined && this.#current.flags !== key)) await this.close();
    if (this.#current === undefined) {
      const profile = flags.profile ? join(profileDir, `${this.label} ${scenario}`.replace(/[^A-Za-z0-9._-]+/g, '_')) : undefined;
      this.#current = { ...(await startServer(this.url, this.credentials, this.#port++, serverFlags, profile)), flags: key };
    }
    return this.#current;
  }

  async close(): Promise<void> {
    if (this.#current !== undefined) await stop(this.#current.child);
    this.#current = undefined;
  }
}

async function measureReads(
  engine: Engine,
  jobs: number,
  servers: Servers,
  targets: Targets,
  rows: Row[],
  scenarios: readonly Scenario[] = READS,
): Promise<void> {
  for (const scenario of scenarios) {
    if (!selected(scenario.name)) continue;
    const paths = scenario.paths?.(targets);
    if (paths !== undefined && paths.length < 10) {
      log(`${engine} ${jobs} ${scenario.name}: only ${paths.length} projects with a full page; skipped`);
      continue;
    }
    const { child, base } = await servers.for(scenario.name, scenario.serverFlags);
    const url = base + scenario.path(targets);
    const signed: Record<string, string> = scenario.auth === 'token' ? { 'x-auth-token': TOKEN } : sdkSignedHeaders(url);
    const probe = await fetch(url, { headers: signed });
    const body = Buffer.from(await probe.arrayBuffer());
    if (probe.status !== 200) {
      log(`${scenario.name}: server answered ${probe.status} ${body.toString().slice(0, 200)}; skipped`);
      continue;
    }
    const etag = probe.headers.get('etag') ?? '';
    const headers = scenario.conditional === true ? { ...signed, 'if-none-match': etag } : signed;
    const expectStatus = scenario.conditional === true ? 304 : 200;
    const bodyFile = join(DATA, 'ceiling-body.tmp');
    writeFileSync(bodyFile, body);
    const ceiling = spawn(process.execPath, [CEILING, '0', bodyFile, probe.headers.get('content-type') ?? 'application/json', String(expectStatus), etag], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const ceilingPort = Number((await waitForLine(ceiling, /listening (\d+)/))[1]);
    const clients = scenario.connections ?? connections;
    const ceilingResult = await load(
      { url: `http://127.0.0.1:${ceilingPort}${scenario.path(targets)}`, headers, connections: clients, duration, warmup, expectStatus },
      ceiling.pid,
    );
    await stop(ceiling);
    const result = await load({ url, headers, connections: clients, duration, warmup, expectStatus, ...(paths === undefined ? {} : { paths }) }, child.pid);
    const row: Row = {
      scenario: scenario.name,
      engine,
      jobs,
      rps: result.rps,
      p50: result.p50,
      p99: result.p99,
      ceilingRps: ceilingResult.rps,
      ceilingP99: ceilingResult.p99,
      ratio: ceilingResult.rps > 0 ? result.rps / ceilingResult.rps : null,
      jobsPerSecond: null,
      serverCpuUs: result.cpuUs,
      ceilingCpuUs: ceilingResult.cpuUs,
      peakRssMb: peakRssMb(child.pid),
      errors: result.errors + result.non2xx,
    };
    rows.push(row);
    log(
      `${engine} ${jobs} ${scenario.name}: ${result.rps.toFixed(0)} req/s (ceiling ${ceilingResult.rps.toFixed(0)}), ` +
        `p50 ${result.p50} ms, p99 ${result.p99} ms, ${result.cpuUs.toFixed(0)} µs server CPU/request, ${body.length} bytes`,
    );
  }
}

async function measureIngest(engine: Engine, jobs: number, url: string, servers: Servers, rows: Row[]): Promise<void> {
  for (const ingest of INGESTS) {
    if (!selected(ingest.name)) continue;
    const { child, base } = await servers.for(ingest.name);
    // Projects of their own, removed afterwards: the dataset keeps its size for the next run.
    const run = randomBytes(4).toString('hex');
    const projects = Array.from({ length: ingest.projects }, (_, i) => `bench-ingest-${run}-${String(i).padStart(2, '0')}`);
    try {
      const result = await load(
        {
          url: `${base}/taskcenter/v1/jobs/batch`,
          method: 'POST',
          headers: { 'x-auth-token': TOKEN },
          connections: 4,
          duration,
          warmup,
          batch: 1000,
          mix: ingest.mix,
          project: projects[0] as string,
          projects,
        },
        child.pid,
      );
      rows.push({
        scenario: ingest.name,
        engine,
        jobs,
        rps: result.rps,
        p50: result.p50,
        p99: result.p99,
        ceilingRps: null,
        ratio: null,
        // From the total: a batch can take longer than a second, and autocannon's per-second mean rounds.
        jobsPerSecond: (result.jobs ?? 0) / duration,
        serverCpuUs: result.cpuUs,
        ceilingCpuUs: null,
        peakRssMb: peakRssMb(child.pid),
        errors: result.errors + result.non2xx + (result.rejected ?? 0),
      });
      log(
        `${engine} ${jobs} ${ingest.name}: ${((result.jobs ?? 0) / duration).toFixed(0)} jobs/s, p50 ${result.p50} ms, p99 ${result.p99} ms, ${result.cpuUs.toFixed(0)} µs server CPU/request`,
      );
    } finally {
      await servers.close();
      for (const project of projects) await removeProject(url, project);
    }
  }
}

/** A scratch copy of the dataset for scenarios that write into its projects; `drop` removes it. */
async function scratchCopy(engine: Engine, jobs: number, url: string): Promise<{ url: string; drop: () => Promise<void> }> {
  if (engine === 'sqlite') {
    const source = url.slice('sqlite:'.length);
    const path = join(DATA, `sqlite-${jobs}-scratch.db`);
    const drop = async () => {
      for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
    };
    await drop();
    for (const suffix of ['', '-wal']) if (existsSync(source + suffix)) copyFileSync(source + suffix, path + suffix);
    return { url: `sqlite:${path}`, drop };
  }
  const name = `${dbName(jobs)}_scratch`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.query(`create database ${name} template ${dbName(jobs)}`);
  await admin.end();
  const copy = new URL(PG_URL);
  copy.pathname = `/${name}`;
  return {
    url: copy.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

async function measureMixed(engine: Engine, jobs: number, url: string, targets: Targets, rows: Row[]): Promise<void> {
  for (const mixed of MIXED) {
    if (!selected(mixed.name)) continue;
    const scratch = await scratchCopy(engine, jobs, url);
    const servers = new Servers(scratch.url, credentials, `${engine}-${jobs}-mixed`, port);
    port += 10;
    try {
      const { child, base } = await servers.for(mixed.name);
      const headers = { 'x-auth-token': TOKEN };
      const probe = await fetch(base + mixed.path(targets), { headers });
      const body = Buffer.from(await probe.arrayBuffer());
      if (probe.status !== 200) {
        log(`${mixed.name}: server answered ${probe.status} ${body.toString().slice(0, 200)}; skipped`);
        continue;
      }
      // The ceiling serves the page as it was before the writers started, alone on the machine.
      const bodyFile = join(DATA, 'ceiling-body.tmp');
      writeFileSync(bodyFile, body);
      const ceiling = spawn(process.execPath, [CEILING, '0', bodyFile, probe.headers.get('content-type') ?? 'application/json'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const ceilingPort = Number((await waitForLine(ceiling, /listening (\d+)/))[1]);
      const ceilingResult = await load({ url: `http://127.0.0.1:${ceilingPort}${mixed.path(targets)}`, headers, connections, duration, warmup }, ceiling.pid);
      await stop(ceiling);
      const writes = { project: mixed.project(targets), rate: WRITES.rate, batch: WRITES.batch };
      const [result, written] = await Promise.all([
        load({ url: base + mixed.path(targets), headers, connections, duration, warmup }, child.pid),
        load({ url: base, headers, connections: WRITES.connections, duration, warmup, writes }, undefined),
      ]);
      rows.push({
        scenario: mixed.name,
        engine,
        jobs,
        rps: result.rps,
        p50: result.p50,
        p99: result.p99,
        ceilingRps: ceilingResult.rps,
        ceilingP99: ceilingResult.p99,
        ratio: ceilingResult.rps > 0 ? result.rps / ceilingResult.rps : null,
        jobsPerSecond: null,
        serverCpuUs: result.cpuUs,
        ceilingCpuUs: ceilingResult.cpuUs,
        peakRssMb: peakRssMb(child.pid),
        errors: result.errors + result.non2xx + written.errors + written.non2xx + (written.rejected ?? 0),
        writeJobsPerSecond: (written.jobs ?? 0) / duration,
        writeP99: written.p99,
      });
      log(
        `${engine} ${jobs} ${mixed.name}: readers ${result.rps.toFixed(0)} req/s (ceiling ${ceilingResult.rps.toFixed(0)}), p50 ${result.p50} ms, p99 ${result.p99} ms; ` +
          `writers ${((written.jobs ?? 0) / duration).toFixed(0)} jobs/s, p99 ${written.p99} ms, ${written.errors + written.non2xx} errors, ${written.rejected ?? 0} jobs rejected`,
      );
    } finally {
      await servers.close();
      await scratch.drop();
    }
  }
}

function table(rows: Row[]): string {
  const header = [
    'scenario',
    'engine',
    'jobs',
    'req/s',
    'p50 ms',
    'p99 ms (ceiling)',
    'vs ceiling (req/s)',
    'server CPU µs/req',
    'jobs/s',
    'writers: jobs/s, p99 ms',
    'peak RSS MB',
    'errors',
  ];
  const lines = rows.map((r) => [
    r.scenario,
    r.engine,
    r.jobs.toLocaleString('en-US'),
    r.rps.toFixed(0),
    String(r.p50),
    r.ceilingP99 === undefined ? String(r.p99) : `${r.p99} (${r.ceilingP99})`,
    r.ratio === null ? '' : `${r.ratio.toFixed(2)} (${(r.ceilingRps ?? 0).toFixed(0)})`,
    r.ceilingCpuUs === null ? r.serverCpuUs.toFixed(0) : `${r.serverCpuUs.toFixed(0)} (ceiling ${r.ceilingCpuUs.toFixed(0)})`,
    r.jobsPerSecond === null ? '' : r.jobsPerSecond.toFixed(0),
    r.writeJobsPerSecond === undefined ? '' : `${r.writeJobsPerSecond.toFixed(0)}, ${r.writeP99 ?? ''}`,
    String(r.peakRssMb),
    String(r.errors),
  ]);
  return [header, header.map(() => '---'), ...lines].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/** The top self-time functions of each profile, as markdown. */
function profileSummaries(): string {
  if (!existsSync(profileDir)) return '';
  const sections: string[] = [];
  for (const dir of readdirSync(profileDir).sort()) {
    for (const file of readdirSync(join(profileDir, dir)).filter((f) => f.endsWith('.cpuprofile'))) {
      sections.push(`### ${dir}\n\n${summarizeProfile(JSON.parse(readFileSync(join(profileDir, dir, file), 'utf8')) as CpuProfile)}`);
    }
  }
  return sections.join('\n\n');
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * Self time by function, as a share of the time the server was busy: it idles while the
 * ceiling of each scenario is measured, so idle samples are left out.
 */
function summarizeProfile(profile: CpuProfile, top = 20): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)?.callFrame;
    const dt = profile.timeDeltas[i] ?? 0;
    if (frame === undefined || frame.functionName === '(idle)') return;
    total += dt;
    const where = frame.url.replace(/.*node_modules\//, '').replace(/.*\/dist\//, '');
    const key = `${frame.functionName || '(anonymous)'} ${where}${where === '' ? '' : `:${frame.lineNumber + 1}`}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  const lines = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, t]) => `| ${((100 * t) / total).toFixed(1)}% | \`${key}\` |`);
  return ['| share of busy time | function (self time) |', '| --- | --- |', ...lines].join('\n');
}

const rows: Row[] = [];
const credentials = writeCredentials();
let port = 18_400;
for (const engine of engines) {
  if (engine === 'postgres') {
    const problem = await postgresProblem();
    if (problem !== null) {
      log(`PostgreSQL skipped: ${PG_URL} is not reachable (${problem}); set TASKCENTER_BENCH_PG to a server`);
      continue;
    }
  }
  for (const jobs of sizes) {
    const url = await ensureDataset(engine, jobs);
    const targets = await findTargets(url);
    log(
      `${engine} ${jobs}: sdrs project ${targets.sdrsProject} (${targets.sdrsFailures} group-level failures), kps project ${targets.kpsProject} (${targets.kpsFailures} failed tasks)`,
    );
    // --pooling transaction: the servers run as behind a transaction pooler (unnamed statements), the rest as usual.
    const serverUrl = engine === 'postgres' && flags.pooling === 'transaction' ? `${url}?pooling=transaction` : url;
    const servers = new Servers(serverUrl, credentials, `${engine}-${jobs}`, port);
    port += 100;
    try {
      await measureReads(engine, jobs, servers, targets, rows);
      await measureIngest(engine, jobs, url, servers, rows);
    } finally {
      await servers.close();
    }
    await measureMixed(engine, jobs, url, targets, rows);
  }
  if (NAME_READS.some((scenario) => selected(scenario.name))) {
    const url = await ensureNamesDataset(engine);
    const servers = new Servers(url, credentials, `${engine}-names`, port);
    port += 100;
    try {
      await measureReads(engine, NAMES_FAILURES, servers, await nameTargets(url), rows, NAME_READS);
    } finally {
      await servers.close();
    }
  }
}

const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version };
mkdirSync(RESULTS, { recursive: true });
writeFileSync(join(RESULTS, `${date}.json`), JSON.stringify({ date, machine, duration, warmup, connections, rows }, null, 2) + '\n');
process.stdout.write(
  `\nMachine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB, Node ${machine.node}; ${connections} connections, ${warmup} s warm-up, ${duration} s per run\n\n`,
);
process.stdout.write(table(rows) + '\n');
process.stdout.write(`\nSaved bench/results/${date}.json\n`);
if (flags.profile) {
  writeFileSync(join(RESULTS, `${date}-profiles.md`), `# CPU profiles, ${date}\n\n${profileSummaries()}\n`);
  process.stdout.write(`Profiles: bench/results/${date}-profiles.md (and ${date}-profiles/)\n`);
}
