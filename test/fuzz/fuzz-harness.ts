/**
 * What every fuzz suite shares: the seed and how to replay a case, a listening server
 * per engine, a plain HTTP/1.1 client that sends whatever it is given, and the checks
 * every response must pass (no 5xx, a request id, the route's error format, no stack
 * trace, SQL or file path) with the server still alive and no store error counted.
 *
 * Replaying: every failure names `TASKCENTER_FUZZ_SEED=<seed>` and
 * `TASKCENTER_FUZZ_PATH=<property>:<path>`; run the same file with both set to get the
 * same shrunk case at once. `TASKCENTER_FUZZ_RUNS` multiplies the number of runs (for a
 * longer local hunt).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { checkListings } from '../../src/jobs/listing-check.js';
import { loadConfig } from '../../src/config.js';
import { ACCESS_KEYS, createTestApp, TOKENS, writeTestCredentials, type TestServer } from '../helpers.js';
import type { RawResponse } from '../raw-http.js';

function seedFromEnvironment(): number {
  const text = process.env.TASKCENTER_FUZZ_SEED;
  if (text === undefined || text === '') return (Math.random() * 2 ** 31) | 0;
  const seed = Number(text);
  if (!Number.isSafeInteger(seed)) throw new Error(`TASKCENTER_FUZZ_SEED must be an integer, got '${text}'`);
  return seed;
}

/** The seed of this process's fuzz runs: TASKCENTER_FUZZ_SEED, else a random one (printed). */
export const FUZZ_SEED = seedFromEnvironment();

const RUNS_FACTOR = Number(process.env.TASKCENTER_FUZZ_RUNS || '1');
if (!(RUNS_FACTOR > 0)) throw new Error(`TASKCENTER_FUZZ_RUNS must be a number above 0, got '${process.env.TASKCENTER_FUZZ_RUNS}'`);

/** `TASKCENTER_FUZZ_PATH=<property>:<path>` replays one property's counterexample. */
const REPLAY = /^([^:]+):(.+)$/.exec(process.env.TASKCENTER_FUZZ_PATH ?? '');

/** True when TASKCENTER_FUZZ_PATH replays one case of property `name`, and nothing else runs. */
export function replaying(name: string): boolean {
  return REPLAY !== null && REPLAY[1] === name;
}

/** What one property run did, for the summary line. */
export interface FuzzStats {
  cases: number;
  requests: number;
  readonly statuses: Map<number, number>;
}

export function newStats(): FuzzStats {
  return { cases: 0, requests: 0, statuses: new Map() };
}

/** One line: runs, cases, requests, statuses seen, seed and duration. */
export function summary(name: string, runs: number, stats: FuzzStats, ms: number): string {
  const statuses = [...stats.statuses.entries()]
    .sort(([a], [b]) => a - b)
    .map(([status, n]) => `${status}×${n}`)
    .join(' ');
  return `${name}: ${runs} runs, ${stats.cases} cases, ${stats.requests} requests (${statuses}), seed ${FUZZ_SEED}, ${(ms / 1000).toFixed(1)} s`;
}

/**
 * Runs `property` on `examples`, then `runs` times (times TASKCENTER_FUZZ_RUNS) from
 * {@link FUZZ_SEED}; `name` is the test file's (test/fuzz/<name>.test.ts). A failure is
 * rethrown with the seed, the path and the command that replays it.
 */
export async function runProperty<T>(name: string, runs: number, property: fc.IAsyncProperty<T>, examples: T[] = []): Promise<number> {
  const numRuns = Math.max(1, Math.round(runs * RUNS_FACTOR));
  const details = await fc.check(property, {
    seed: FUZZ_SEED,
    numRuns,
    examples,
    ...(replaying(name) ? { path: REPLAY?.[2], endOnFailure: true } : {}),
  });
  if (details.failed) {
    const replay = `TASKCENTER_FUZZ_SEED=${details.seed} TASKCENTER_FUZZ_PATH='${name}:${details.counterexamplePath ?? ''}'`;
    throw new Error(
      `fuzz property '${name}' failed (seed ${details.seed}, path ${details.counterexamplePath ?? ''}) after ${details.numRuns} runs; ` +
        `replay with ${replay} node scripts/run-tests.js test/fuzz/${name}\n` +
        `counterexample: ${fc.stringify(details.counterexample)}\n${String((details.errorInstance as Error | undefined)?.message ?? details.errorInstance)}`,
    );
  }
  return details.numRuns;
}

/**
 * A test server on `engine` with the test credentials, listening on a free port of
 * 127.0.0.1; with `emulator`, its controls are served (and documented) too.
 */
export async function listeningServer(engine: TestServer['engine'], options: { emulator?: boolean } = {}): Promise<TestServer & { readonly port: number }> {
  const emulator = options.emulator === true ? '1' : '0';
  const server = await createTestApp(engine, (db, dir) =>
    // No limit on failed authentications: it counts per minute, so a replay would see other answers.
    loadConfig({ db, auth: 'static', credentials: writeTestCredentials(dir), logLevel: 'silent', port: '0', emulator, authFailureLimit: '0' }, {}),
  );
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  return { ...server, engine, port: (server.app.server.address() as AddressInfo).port };
}

/**
 * A request as the fuzz client sends it, as given: Node's client only refuses what no
 * request line or header may hold (control bytes, non-latin1), which test/fuzz/raw sends.
 */
export interface WireRequest {
  readonly method: string;
  /** Path and query, exactly as sent. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
}

/** A response as read by the fuzz client. */
export interface WireResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/**
 * Closes the client's connections, then `server`. A connection the server refused before
 * reading its body lingers up to 2 s on an unreferenced timer (lingerOnClose in
 * src/gateway/gateway.ts, whose paused socket never sees the client's FIN): the close
 * waits for it, and with nothing else to run, Node's test runner would call the pending
 * close a failure. A timer of our own keeps the process up meanwhile.
 */
export async function closeServer(server: TestServer | undefined): Promise<void> {
  agent.destroy();
  const hold = setInterval(() => {}, 100);
  try {
    await server?.close();
  } finally {
    clearInterval(hold);
  }
}

/**
 * Sends `request` to `port` over HTTP/1.1 (a kept-alive connection when the server keeps
 * it) and reads the whole answer. Rejects when the server closes without answering.
 */
export function send(port: number, request: WireRequest): Promise<WireResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      {
        host: '127.0.0.1',
        port,
        method: request.method,
        path: request.url,
        headers: { ...(request.body === undefined ? {} : { 'content-length': String(request.body.length) }), ...request.headers },
        agent,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(response.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
          resolve({ status: response.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    outgoing.setTimeout(30_000, () => outgoing.destroy(new Error('no answer within 30 s')));
    outgoing.on('error', reject);
    outgoing.end(request.body);
  });
}

/**
 * What must never appear in a body unless the request itself carried it: a stack frame,
 * a file path, SQL or a driver's words.
 */
const LEAKS: readonly RegExp[] = [
  /\bat (?:async )?[\w$.<>[\]]+ \(/,
  /\bat (?:file:|node:|\/)[^\s]*:\d+/,
  /\/work\//,
  /\/home\//,
  /\/tmp\//,
  /node_modules/,
  /file:\/\//,
  /\.[cm]?[jt]s:\d+/,
  /\bdist\/(?:src|test)\b/,
  /\bSELECT\b/i,
  /\bINSERT\s+INTO\b/i,
  /\bDELETE\s+FROM\b/i,
  /\bUPDATE\s+"?\w+"?\s+SET\b/i,
  /\bON\s+CONFLICT\b/i,
  /sqlite/i,
  /\bpg_\w/,
  /syntax error at or near/i,
  /violates [\w ]*constraint/i,
  /duplicate key value/i,
  /invalid byte sequence/i,
  /invalid input syntax/i,
  /relation "[^"]*"/i,
  /RangeError|TypeError|ReferenceError|SyntaxError|FST_ERR_\w+|ERR_[A-Z_]{4,}|ECONNRESET|EPIPE/,
];

/** What no body may hold, whatever the request carried: the test principals' tokens and secret keys. */
const SECRETS: readonly string[] = [...Object.values(TOKENS), ...Object.values(ACCESS_KEYS).map((key) => key.sk)];

/** What a request carried, which a body may echo back: its bytes, raw and decoded. */
export function carriedText(parts: readonly (string | Buffer)[]): string {
  const texts: string[] = [];
  for (const part of parts) {
    const text = typeof part === 'string' ? part : part.toString('utf8');
    texts.push(text, typeof part === 'string' ? Buffer.from(part, 'latin1').toString('utf8') : part.toString('latin1'), text.replace(/\\u0000/g, '\0'));
    try {
      texts.push(decodeURIComponent(text.replace(/\+/g, ' ')));
    } catch {
      // Not valid percent-encoding: only the raw form can be echoed.
    }
  }
  return texts.join('\n').toLowerCase();
}

/** What `request` carried (see {@link carriedText}). */
export function carriedBy(request: WireRequest): string {
  return carriedText([request.url, ...Object.values(request.headers), request.body ?? '']);
}

/** Leaks in `body` that the request did not carry itself (`carried`, from {@link carriedText}). */
export function leaksIn(body: string, carried: string): string[] {
  // The metrics exposition documents itself (`# HELP ... SQLite ...`): that is no leak.
  const text = body
    .split('\n')
    .filter((line) => !line.startsWith('# HELP '))
    .join('\n');
  const found: string[] = [];
  for (const pattern of LEAKS) {
    const match = pattern.exec(text);
    if (match !== null && !carried.includes(match[0].toLowerCase())) found.push(`${pattern.source} matched ${JSON.stringify(match[0])}`);
  }
  return found;
}

/** Which error formats a response to `path` may carry: the gateway's always, and the route's own. */
function errorFormatProblem(path: string, status: number, body: string, requestId: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return `an error body that is not JSON: ${JSON.stringify(body.slice(0, 200))}`;
  }
  const value = parsed as Record<string, unknown>;
  const keys = Object.keys(value ?? {})
    .sort()
    .join(',');
  if (keys === 'error_code,error_msg,request_id') {
    if (!/^APIGW\.\d{4}$/.test(String(value.error_code))) return `an APIGW body with code ${String(value.error_code)}`;
    if (value.request_id !== requestId) return `an APIGW body whose request_id ${String(value.request_id)} is not the X-Request-Id ${requestId}`;
    return null;
  }
  const dialect = path.startsWith('/v1/') ? 'SDRS' : path.startsWith('/v3/') ? 'KPS' : path.startsWith('/taskcenter/') ? 'TASKCENTER' : null;
  if (dialect === 'KPS' && keys === 'error_code,error_msg' && /^KPS\.\d{4}$/.test(String(value.error_code))) return null;
  if ((dialect === 'SDRS' || dialect === 'TASKCENTER') && keys === 'error') {
    const error = value.error as Record<string, unknown>;
    const inner = Object.keys(error ?? {})
      .sort()
      .join(',');
    if (inner === 'code,message' && new RegExp(`^${dialect}\\.\\d{4}$`).test(String(error.code)) && typeof error.message === 'string') return null;
  }
  return `a ${status} body in no format ${path} may answer in: ${JSON.stringify(body.slice(0, 300))}`;
}

/** The path of a request target, without its query. */
export function pathOf(url: string): string {
  const at = url.indexOf('?');
  return at < 0 ? url : url.slice(0, at);
}

/** What a response is checked against: the request's method and path, and what it carried. */
export interface Sent {
  readonly method: string;
  readonly path: string;
  readonly carried: string;
}

/**
 * Everything wrong with `response` to what was `sent`: a 5xx, no request id, an error
 * body in no format the route may answer in, or a leak. Interim (1xx) answers are skipped.
 */
export function responseProblems(response: WireResponse | RawResponse, sent: Sent): string[] {
  const problems: string[] = [];
  if (response.status >= 500) problems.push(`status ${response.status}`);
  if (response.status < 200) return problems;
  const id = response.headers['x-request-id'] ?? '';
  if (!/^[0-9a-f]{32}$/.test(id)) problems.push(`X-Request-Id ${JSON.stringify(id)}`);
  if (response.status >= 400 && sent.method !== 'HEAD') {
    const format = errorFormatProblem(sent.path, response.status, response.body, id);
    if (format !== null) problems.push(format);
  }
  problems.push(...leaksIn(response.body, sent.carried));
  for (const secret of SECRETS) if (response.body.includes(secret)) problems.push(`a secret in the body: ${secret.slice(0, 6)}...`);
  return problems;
}

/** The value of `taskcenter_store_errors_total` the server reports now. */
export async function storeErrors(port: number): Promise<number> {
  const response = await send(port, { method: 'GET', url: '/metrics', headers: { host: 'fuzz' } });
  assert.equal(response.status, 200, response.body);
  const line = /^taskcenter_store_errors_total (\d+)$/m.exec(response.body);
  assert.ok(line !== null, 'taskcenter_store_errors_total is exported');
  return Number(line[1]);
}

/** Problems with the server's state after a case: /healthz must answer 200, with a request id. */
export async function aliveProblems(port: number): Promise<string[]> {
  try {
    const health = await send(port, { method: 'GET', url: '/healthz', headers: { host: 'fuzz' } });
    return health.status === 200 && /^[0-9a-f]{32}$/.test(health.headers['x-request-id'] ?? '') ? [] : [`/healthz answered ${health.status}`];
  } catch (error) {
    return [`/healthz did not answer: ${(error as Error).message}`];
  }
}

/** Asserts the derived data of `server`'s store equals what its rows say; returns how many jobs it holds. */
export async function assertListingsClean(server: TestServer): Promise<number> {
  const report = await checkListings(server.ctx.db, server.ctx.writer.listings);
  assert.deepEqual({ drifts: report.drifts, first: report.first }, { drifts: 0, first: [] });
  return report.jobs;
}
