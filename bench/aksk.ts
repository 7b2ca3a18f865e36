/**
 * What AK/SK signature verification costs per request, beside token authentication:
 * 1. the authenticator alone (StaticAuthenticator.authenticate) on N distinct signed
 *    requests (a list page signed as the official SDK signs it, a GET with a query and
 *    more signed headers, and a PUT with a 1 KiB JSON body), and on tokens;
 * 2. a whole request through the app (`inject`, no sockets) signed vs. with a token,
 *    so the signature's share of a request is visible.
 *
 * Usage: node dist/bench/aksk.js [N]   (default 20000; the inject part runs N/10)
 * Prints µs/request per case. Single-threaded, CPU-bound: run it on a quiet machine.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/app.js';
import { signRequest } from '../src/auth/aksk.js';
import { StaticAuthenticator, type AuthRequest } from '../src/auth/authenticator.js';
import { hashToken } from '../src/auth/credentials.js';
import { loadConfig } from '../src/config.js';
import { createContext, createLogger } from '../src/context.js';

const N = Number(process.argv[2] ?? 20_000);
const KEY = { ak: 'BENCHAKBENCHAKBENCH1', sk: 'bench-secret-key-0123456789abcdefghijklmno' };
const TOKEN = 'bench-token-0123456789abcdefghijklmnopqrstuvwxyz';
const HOST = '127.0.0.1:8080';

const dir = mkdtempSync(join(tmpdir(), 'taskcenter-bench-aksk-'));
const credentials = join(dir, 'credentials.json');
writeFileSync(
  credentials,
  JSON.stringify({ principals: [{ name: 'bench', projects: ['*'], actions: ['*'], tokens: [hashToken(TOKEN)], access_keys: [KEY] }] }),
  { mode: 0o600 },
);

function µs(start: bigint, count: number): string {
  return (Number(process.hrtime.bigint() - start) / 1000 / count).toFixed(2);
}

/** Runs `fn` over `inputs` once to warm up, then times a second pass. */
async function time<T>(label: string, inputs: readonly T[], fn: (input: T) => unknown): Promise<void> {
  for (const input of inputs.slice(0, Math.min(1000, inputs.length))) await fn(input);
  const start = process.hrtime.bigint();
  for (const input of inputs) await fn(input);
  console.log(`${label.padEnd(58)} ${µs(start, inputs.length).padStart(8)} µs/request  (n=${inputs.length})`);
}

const body = JSON.stringify({ job_id: 'x', service: 'sdrs', fail_reason: 'y'.repeat(900) });
const now = Date.now();
function signed(i: number, method: 'GET' | 'PUT'): AuthRequest {
  const url =
    method === 'GET' ? `/v1/proj-a/task-center/failure-jobs?limit=10&offset=${i}&resource_name=name%20${i}` : `/taskcenter/v1/projects/proj-a/jobs/job-${i}`;
  const headers = signRequest(
    { method, url, host: HOST, headers: { 'content-type': 'application/json', 'x-project-id': 'proj-a' }, ...(method === 'PUT' ? { body } : {}) },
    KEY,
    now,
  );
  return { method, url, headers, body: Buffer.from(method === 'PUT' ? body : ''), projectId: 'proj-a' };
}

const auth = new StaticAuthenticator(credentials);
// What `npm run bench` sends: only host and x-sdk-date signed, a query of plain characters.
const pages: AuthRequest[] = Array.from({ length: N }, (_, i) => {
  const url = `/v1/proj-a/task-center/failure-jobs?limit=100&offset=${i}`;
  return { method: 'GET', url, headers: signRequest({ method: 'GET', url, host: HOST }, KEY, now), body: Buffer.alloc(0), projectId: 'proj-a' };
});
const gets = Array.from({ length: N }, (_, i) => signed(i, 'GET'));
const puts = Array.from({ length: N }, (_, i) => signed(i, 'PUT'));
const tokens: AuthRequest[] = Array.from({ length: N }, (_, i) => ({
  method: 'GET',
  url: `/v1/proj-a/task-center/failure-jobs?offset=${i}`,
  headers: { host: HOST, 'x-auth-token': TOKEN },
  body: Buffer.alloc(0),
}));

console.log(`node ${process.version}, ${N} requests per case`);
console.log('authenticator alone:');
await time('  X-Auth-Token (sha256 of the token + map lookup)', tokens, (r) => auth.authenticate(r));
await time('  AK/SK, list page signed as the SDK signs it', pages, (r) => auth.authenticate(r));
await time('  AK/SK, GET with a 3-parameter query', gets, (r) => auth.authenticate(r));
await time('  AK/SK, PUT with a 1 KiB JSON body', puts, (r) => auth.authenticate(r));

const config = loadConfig({ db: `sqlite:${join(dir, 'bench.db')}`, auth: 'static', credentials, logLevel: 'silent' }, {});
const ctx = await createContext(config, { logger: createLogger(config) });
const app = await buildApp(ctx);
await app.ready();
const M = Math.max(100, Math.floor(N / 10));
const list = '/v1/proj-a/task-center/failure-jobs?limit=10';
console.log('whole request through the app (inject, empty list, no sockets):');
await time(
  '  ListFailureJobs with X-Auth-Token',
  Array.from({ length: M }, () => 0),
  () => app.inject({ method: 'GET', url: list, headers: { host: HOST, 'x-auth-token': TOKEN } }),
);
// Signed up front: the timing is the server's, not the client's signing.
const signedLists = Array.from({ length: M }, () => signRequest({ method: 'GET', url: list, host: HOST, headers: { 'x-project-id': 'proj-a' } }, KEY));
await time('  ListFailureJobs signed with AK/SK', signedLists, (headers) => app.inject({ method: 'GET', url: list, headers }));
await app.close();
await ctx.close();
rmSync(dir, { recursive: true, force: true });
