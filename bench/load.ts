/**
 * The load generator, run as its own process so it never shares a CPU with the server
 * under test more than the OS decides: autocannon at fixed connections and duration,
 * after a warm-up. Reads a JSON spec from argv[2]; prints `{"phase":"measure"}` when the
 * warm-up is over and the measured run starts (the orchestrator reads the server's CPU
 * time then), and one JSON result line at the end.
 *
 * A spec with `batch` posts batches of that many new jobs per request, each with ids
 * never used before, so every job is really ingested; one with `paths` asks them in turn.
 */
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';

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
}

export interface LoadResult {
  readonly requests: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  /** Answers with another status than the expected one (any but 2xx unless `expectStatus` says). */
  readonly non2xx: number;
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

let turn = 0;

function run(spec: LoadSpec, duration: number): Promise<autocannon.Result> {
  const { batch, paths } = spec;
  const request =
    batch !== undefined
      ? { setupRequest: (req: autocannon.Request) => ({ ...req, body: batchBody(batch, spec.project ?? 'bench') }) }
      : paths !== undefined && paths.length > 0
        ? { setupRequest: (req: autocannon.Request) => ({ ...req, path: paths[turn++ % paths.length] as string }) }
        : {};
  return autocannon({
    url: spec.url,
    method: spec.method ?? 'GET',
    headers: { ...(spec.headers ?? {}), ...(spec.batch === undefined ? {} : { 'content-type': 'application/json' }) },
    connections: spec.connections,
    duration,
    requests: [request],
  });
}

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
if (spec.warmup > 0) await run(spec, spec.warmup);
process.stdout.write(JSON.stringify({ phase: 'measure' }) + '\n');
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
};
process.stdout.write(JSON.stringify(out) + '\n');
