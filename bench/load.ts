/**
 * The load generator, run as its own process so it never shares a CPU with the server
 * under test more than the OS decides: autocannon at fixed connections and duration,
 * after a warm-up. Reads a JSON spec from argv[2]; prints `{"phase":"measure"}` when the
 * warm-up is over and the measured run starts (the orchestrator reads the server's CPU
 * time then), and one JSON result line at the end.
 *
 * A spec with `batch` posts batches of that many new jobs per request, each with ids
 * never used before, so every job is really ingested; one with `paths` asks them in turn.
 * With `mix: 'fleet'` a batch is what a fleet of producers sends (see {@link fleetBody});
 * with `writes` the spec is a steady producer (see {@link WriteSpec}).
 */
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import type { JobDocument } from '../src/jobs/jobs.schema.js';
import { createEstate, estateSize, randomJobs, type Estate } from '../src/cli/synthetic-jobs.js';
import { Random } from '../src/cli/random.js';

export interface LoadSpec {
  readonly url: string;
  readonly method?: 'GET' | 'POST';
  readonly headers?: Record<string, string>;
  readonly connections: number;
  readonly duration: number;
  readonly warmup: number;
  /** Post batches of this many new jobs (ingest scenario). */
  readonly batch?: number;
  /** Project the batch jobs are reported for. */
  readonly project?: string;
  /** Paths asked in turn, one per request, instead of the URL's own. */
  readonly paths?: readonly string[];
  /** The status every answer should have (200 unless given); others count in `non2xx`. */
  readonly expectStatus?: number;
  /** What a batch holds: `new` (default) new SDRS jobs, 90% successes; `fleet` the seed generator's mix over `projects`. */
  readonly mix?: 'new' | 'fleet';
  /** Projects a `fleet` batch spreads over. */
  readonly projects?: readonly string[];
  /** A steady producer instead of a closed loop. */
  readonly writes?: WriteSpec;
}

/**
 * A producer reporting into one project at a steady rate, alternating a single PUT with
 * a small batch (`url` is the server's base URL); the jobs are the seed generator's mix,
 * some of them failures.
 */
export interface WriteSpec {
  readonly project: string;
  /** Requests per second over all connections. */
  readonly rate: number;
  /** Jobs in every other request's batch; the requests between are single PUTs. */
  readonly batch: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  /** Answers with another status than the expected one (any but 2xx unless `expectStatus` says). */
  readonly non2xx: number;
  /** Jobs sent in the measured run's answered requests (batch and write specs). */
  readonly jobs?: number;
  /** Jobs the measured run's batch answers said were `rejected`. */
  readonly rejected?: number;
}

const prefix = randomBytes(4).toString('hex');
let sequence = 0;

function batchBody(size: number, project: string): string {
  const jobs = [];
  const begin = Date.now();
  for (let i = 0; i < size; i++) {
    const n = sequence++;
    jobs.push({
      project_id: project,
      job_id: `bench-${prefix}-${n}`,
      service: 'sdrs',
      job_type: 'createProtectedInstance',
      operation: 'create',
      status: n % 10 === 0 ? 'FAIL' : 'SUCCESS',
      begin_time: new Date(begin - n).toISOString(),
      end_time: new Date(begin - n + 1000).toISOString(),
      ...(n % 10 === 0 ? { error_code: 'EVS.2024', fail_reason: 'volume is error!' } : {}),
      resource: { id: `pi-${prefix}-${n}`, name: `Protected-Instance-${n}`, type: 'protected_instances' },
      server_group_id: `group-${n % 100}`,
      entities: { protected_instance_id: `pi-${prefix}-${n}` },
    });
  }
  return JSON.stringify({ jobs });
}

const rng = new Random(`fleet/${prefix}`);
const span = { endTime: Date.now(), spanMs: 365 * 24 * 3600 * 1000 };
const estates = new Map<string, Estate>();
/** Unfinished jobs already sent, oldest first, with when: later batches report them moving forward. */
const unfinished: { project: string; doc: JobDocument; at: number }[] = [];
/** A job is moved forward only this long after it was sent, when its batch has surely committed. */
const SETTLE_MS = 3_000;

function estate(project: string): Estate {
  let found = estates.get(project);
  if (found === undefined) {
    found = createEstate(rng, estateSize(10_000));
    estates.set(project, found);
  }
  return found;
}

/** A report of `doc` one step further: INIT starts running, RUNNING finishes (one in eight fails). */
function forward(doc: JobDocument): JobDocument {
  if (doc.status === 'INIT') return { ...doc, status: 'RUNNING' };
  const end = new Date(Date.parse(doc.begin_time) + 60_000).toISOString();
  if (!rng.chance(0.125)) return { ...doc, status: 'SUCCESS', end_time: end };
  return doc.service === 'kps'
    ? { ...doc, status: 'FAIL', end_time: end, error_code: null, fail_reason: 'Update public key error' }
    : { ...doc, status: 'FAIL', end_time: end, error_code: 'SDRS.1014', fail_reason: 'The protection group is in a state that does not allow this operation.' };
}

/**
 * About `size` jobs as a fleet of producers reports them: the seed generator's reports
 * (both services, sub-jobs, every status, failures at group level and inside groups)
 * from projects picked at random, and one report in ten moving a job sent earlier forward.
 */
function fleetJobs(size: number, projects: readonly string[]): (JobDocument & { project_id: string })[] {
  const jobs: (JobDocument & { project_id: string })[] = [];
  const now = Date.now();
  while (jobs.length < size) {
    const oldest = unfinished[0];
    if (oldest !== undefined && now - oldest.at > SETTLE_MS && rng.chance(0.1)) {
      unfinished.shift();
      const next = forward(oldest.doc);
      jobs.push({ ...next, project_id: oldest.project });
      if (next.status === 'RUNNING') unfinished.push({ project: oldest.project, doc: next, at: now });
      continue;
    }
    const project = rng.pick(projects);
    // Fresh ids: the generator's are reproducible, and a run never reports a job twice as new.
    const ids = new Map<string, string>();
    for (const raw of randomJobs(rng, estate(project), span)) {
      if (jobs.length === size) break;
      const id = `${prefix}-${sequence++}`;
      ids.set(raw.job_id, id);
      const parent = raw.parent_job_id == null ? null : (ids.get(raw.parent_job_id) ?? null);
      const doc: JobDocument = { ...raw, job_id: id, ...(raw.parent_job_id === undefined ? {} : { parent_job_id: parent }) };
      jobs.push({ ...doc, project_id: project });
      if (doc.status === 'INIT' || doc.status === 'RUNNING') unfinished.push({ project, doc, at: now });
    }
  }
  return jobs;
}

function fleetBody(size: number, projects: readonly string[]): string {
  return JSON.stringify({ jobs: fleetJobs(size, projects) });
}

let turn = 0;
let rejected = 0;

/** Counts the jobs a batch answer rejected. */
function onBatchResponse(status: number, body: string): void {
  if (status === 200) rejected += body.split('"result":"rejected"').length - 1;
}

function run(spec: LoadSpec, duration: number): Promise<autocannon.Result> {
  const { batch, paths, writes } = spec;
  const request =
    writes !== undefined
      ? { setupRequest: (req: autocannon.Request) => writeRequest(req, writes), onResponse: onBatchResponse }
      : batch !== undefined
        ? {
            setupRequest: (req: autocannon.Request) => ({
              ...req,
              body: spec.mix === 'fleet' ? fleetBody(batch, spec.projects ?? ['bench']) : batchBody(batch, spec.project ?? 'bench'),
            }),
            onResponse: onBatchResponse,
          }
        : paths !== undefined && paths.length > 0
          ? { setupRequest: (req: autocannon.Request) => ({ ...req, path: paths[turn++ % paths.length] as string }) }
          : {};
  return autocannon({
    url: spec.url,
    method: spec.method ?? 'GET',
    headers: { ...(spec.headers ?? {}), ...(spec.batch === undefined && writes === undefined ? {} : { 'content-type': 'application/json' }) },
    connections: spec.connections,
    duration,
    ...(writes === undefined ? {} : { overallRate: writes.rate }),
    requests: [request],
  });
}

let writeTurn = 0;

/** Every other request a single PUT of one job, the others a batch of `writes.batch`. */
function writeRequest(req: autocannon.Request, writes: WriteSpec): autocannon.Request {
  if (writeTurn++ % 2 === 1) {
    return { ...req, method: 'POST', path: '/taskcenter/v1/jobs/batch', body: fleetBody(writes.batch, [writes.project]) };
  }
  // One report: the first job of the generator's next one (a parent, never a sub-job).
  const { project_id: project, ...doc } = fleetJobs(1, [writes.project])[0] as JobDocument & { project_id: string };
  return { ...req, method: 'PUT', path: `/taskcenter/v1/projects/${project}/jobs/${doc.job_id}`, body: JSON.stringify(doc) };
}

/** Jobs per request a write spec sends on average. */
function jobsPerWrite(writes: WriteSpec): number {
  return (1 + writes.batch) / 2;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
if (spec.warmup > 0) await run(spec, spec.warmup);
process.stdout.write(JSON.stringify({ phase: 'measure' }) + '\n');
rejected = 0;
const result = await run(spec, spec.duration);
const out: LoadResult = {
  requests: result.requests.total,
  rps: result.requests.average,
  p50: result.latency.p50,
  p99: result.latency.p99,
  errors: result.errors + result.timeouts,
  non2xx:
    spec.expectStatus === undefined || spec.expectStatus === 200
      ? result.non2xx
      : result.requests.total - (result.statusCodeStats?.[`${spec.expectStatus}`]?.count ?? 0),
  ...(spec.writes !== undefined
    ? { jobs: result.requests.total * jobsPerWrite(spec.writes), rejected }
    : spec.batch !== undefined
      ? { jobs: result.requests.total * spec.batch, rejected }
      : {}),
};
process.stdout.write(JSON.stringify(out) + '\n');
