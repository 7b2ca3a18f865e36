/**
 * Unauthenticated big bodies (issue 11 item 5): what a flood of requests that carry no
 * credential but a 7.8 MB body costs the server. Starts `taskcenter serve` (SQLite, static
 * auth) as a child process, measures /healthz latency and the server's RSS (VmRSS from
 * /proc/<pid>/status) while idle, then while it sends POST /taskcenter/v1/jobs/batch
 * with a 7.8 MB body and no credential at RATE per second for SECONDS, each on its own
 * connection, the way an attacker would.
 *
 * Usage: node dist/bench/flood.js [--repo DIR] [--rate 15] [--seconds 20] [--mb 7.8]
 *   --repo DIR  the checkout whose bin/taskcenter.js to run (default: this one), so the
 *               same client measures a build of another commit.
 * Prints the RSS (idle, peak, at the end), /healthz p50/p99/max under each phase, and
 * what the flood's requests were answered (status counts, how many bytes of each body
 * the client got to send before the answer). Run it under
 * `flock /tmp/taskcenter-bench.lock` and quote `uptime` beside the numbers.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    repo: { type: 'string', default: resolve(dirname(fileURLToPath(import.meta.url)), '../..') },
    rate: { type: 'string', default: '15' },
    seconds: { type: 'string', default: '20' },
    mb: { type: 'string', default: '7.8' },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const BODY_BYTES = Math.round(Number(values.mb) * 1024 * 1024);
const repo = resolve(values.repo);

const dir = mkdtempSync(join(tmpdir(), 'taskcenter-flood-'));
const server = spawn(
  process.execPath,
  [
    join(repo, 'bin/taskcenter.js'),
    'serve',
    '--port',
    '0',
    '--db',
    `sqlite:${join(dir, 'flood.db')}`,
    '--credentials',
    join(dir, 'credentials.json'),
    // The default level, as a server runs: its request lines are part of what a request costs.
    '--log-level',
    'info',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const pid = server.pid as number;

/** The port of the URL in the server's `listening` log line; its later log lines are read and dropped. */
async function serverPort(): Promise<number> {
  let seen = '';
  return new Promise((done, fail) => {
    let found = false;
    server.stdout?.on('data', (chunk: Buffer) => {
      if (found) return;
      seen += chunk.toString();
      const match = /http:\/\/127\.0\.0\.1:(\d+)/.exec(seen);
      if (match === null) return;
      found = true;
      done(Number(match[1]));
    });
    server.once('exit', (code) => fail(new Error(`server exited with ${code}: ${seen}`)));
  });
}

function rssMb(): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** GET /healthz every 50 ms on a kept-alive connection until `until` resolves; the latencies in ms. */
async function probe(port: number, until: Promise<void>): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const latencies: number[] = [];
  let done = false;
  void until.then(() => (done = true));
  while (!done) {
    const start = process.hrtime.bigint();
    await new Promise<void>((ok) => {
      const request = http.get({ host: '127.0.0.1', port, path: '/healthz', agent }, (response) => {
        response.resume();
        response.on('end', ok);
      });
      request.on('error', () => ok());
    });
    latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
    await sleep(50);
  }
  agent.destroy();
  return latencies;
}

/** Samples RSS every 100 ms until `until` resolves; the samples in MB. */
async function sampleRss(until: Promise<void>): Promise<number[]> {
  const samples: number[] = [];
  let done = false;
  void until.then(() => (done = true));
  while (!done) {
    samples.push(rssMb());
    await sleep(100);
  }
  return samples;
}

interface FloodResult {
  readonly status: number | null;
  /** Bytes of the body the client had written when the answer (or the close) came. */
  readonly sentBeforeAnswer: number;
}

const body = Buffer.alloc(BODY_BYTES, 0x20);
body[0] = 0x7b; // '{' then spaces: a body that is only read, never valid JSON

/** One unauthenticated POST of the big body on a new connection. */
function floodOne(port: number): Promise<FloodResult> {
  return new Promise((done) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let sent = 0;
    let answered: FloodResult | null = null;
    let received = '';
    const finish = () => {
      socket.destroy();
      done(answered ?? { status: null, sentBeforeAnswer: sent });
    };
    socket.on('connect', () => {
      socket.write(`POST /taskcenter/v1/jobs/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${BODY_BYTES}\r\n\r\n`);
      // In 64 KiB pieces, so the count of bytes written before the answer means something.
      const step = 64 * 1024;
      const writeMore = () => {
        while (sent < BODY_BYTES && answered === null && !socket.destroyed) {
          const piece = body.subarray(sent, sent + step);
          sent += piece.length;
          if (!socket.write(piece)) {
            socket.once('drain', writeMore);
            return;
          }
        }
      };
      writeMore();
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(received);
      if (status !== null && answered === null && received.includes('\r\n\r\n')) {
        answered = { status: Number(status[1]), sentBeforeAnswer: sent };
        finish();
      }
    });
    socket.on('error', finish);
    socket.on('close', finish);
    socket.setTimeout(30_000, finish);
  });
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function describeLatency(label: string, values: readonly number[]): string {
  return `${label}: /healthz p50 ${percentile(values, 50).toFixed(1)} ms, p99 ${percentile(values, 99).toFixed(1)} ms, max ${Math.max(...values).toFixed(1)} ms (n=${values.length})`;
}

try {
  const port = await serverPort();
  await sleep(1000);
  console.log(`server ${repo} pid ${pid} port ${port}; node ${process.version}`);
  console.log(`flood: ${RATE}/s for ${SECONDS} s, ${(BODY_BYTES / 1024 / 1024).toFixed(1)} MB bodies, no credential`);

  // Idle: 5 s of probes and samples.
  let endIdle!: () => void;
  const idleOver = new Promise<void>((done) => (endIdle = done));
  const idleProbe = probe(port, idleOver);
  const idleRss = sampleRss(idleOver);
  await sleep(5000);
  endIdle();
  const idle = { latency: await idleProbe, rss: await idleRss };

  // Flood.
  let endFlood!: () => void;
  const floodOver = new Promise<void>((done) => (endFlood = done));
  const floodProbe = probe(port, floodOver);
  const floodRss = sampleRss(floodOver);
  const requests: Promise<FloodResult>[] = [];
  const started = Date.now();
  for (let i = 0; i < RATE * SECONDS; i++) {
    const due = started + (i * 1000) / RATE;
    if (due > Date.now()) await sleep(due - Date.now());
    requests.push(floodOne(port));
  }
  const results = await Promise.all(requests);
  endFlood();
  const flood = { latency: await floodProbe, rss: await floodRss };
  const rssAfter = rssMb();

  console.log(`RSS: idle ${Math.max(...idle.rss).toFixed(0)} MB, peak under flood ${Math.max(...flood.rss).toFixed(0)} MB, after ${rssAfter.toFixed(0)} MB`);
  console.log(describeLatency('idle ', idle.latency));
  console.log(describeLatency('flood', flood.latency));
  const statuses = new Map<string, number>();
  for (const r of results) statuses.set(String(r.status ?? 'no answer'), (statuses.get(String(r.status ?? 'no answer')) ?? 0) + 1);
  const sent = results.map((r) => r.sentBeforeAnswer / 1024 / 1024);
  console.log(
    `flood answers: ${[...statuses].map(([s, n]) => `${s}×${n}`).join(', ')}; body MB sent before the answer: p50 ${percentile(sent, 50).toFixed(2)}, max ${Math.max(...sent).toFixed(2)}; took ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
} finally {
  server.kill('SIGTERM');
  await new Promise((done) => server.once('exit', done));
  rmSync(dir, { recursive: true, force: true });
}
