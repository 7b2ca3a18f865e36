/**
 * Several nodes, run like production: a fresh PostgreSQL database, three `taskcenter serve`
 * processes and Debian's HAProxy with the shipped docs/haproxy.cfg (only its ports
 * changed), under steady mixed load from this process through HAProxy (SDRS and KPS list
 * reads, ShowJobStatus, producer reports, clears):
 * - a rolling restart (each node in turn: SIGTERM, exit 0, start again, ready) fails no
 *   request;
 * - a node killed with SIGKILL fails only the writes it held: HAProxy retries the reads
 *   it held on another node, and sends elsewhere what it could not connect for;
 * - afterwards every node, asked directly, gives the same lists, counts and job states,
 *   which are what the successful requests said, and `taskcenter check` is clean.
 * It prints the figures (requests sent, failed, latency during the restart).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, startTaskcenter, taskcenter, type Running } from '../cli-helpers.js';
import { engines, freshDatabase, THROUGH_PGBOUNCER, kpsJob, sdrsJob, TOKENS, uniqueId, writeTestCredentials } from '../helpers.js';
import { describeWithTools, freePort, HAPROXY, locate } from '../tools.js';

/** Seconds each node drains on SIGTERM: above HAProxy's time to mark it down (1 s + 250 ms, with check latency). */
const DRAIN_SECONDS = '3';
/** Requests in flight at once from the load generator. */
const WORKERS = 4;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 100 ms until it returns true; fails after `ms` saying `what`. */
async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(100);
  }
}

/** One `taskcenter serve` node on a fixed port. */
class Node {
  process: Running | undefined;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly args: readonly string[],
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.process = startTaskcenter(['serve', '--port', String(this.port), '--log-level', 'warn', '--drain-seconds', DRAIN_SECONDS, ...this.args]);
    const running = this.process;
    try {
      await until(
        `${this.name} ready`,
        async () => {
          if (running.child.exitCode !== null) throw new Error(`${this.name} exited ${running.child.exitCode}: ${running.stderr()}`);
          return (await fetch(`${this.url}/readyz`)).status === 200;
        },
        60_000,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\nstdout: ${running.stdout().slice(-2000)}\nstderr: ${running.stderr().slice(-2000)}`);
    }
  }

  /** Resolves with the exit code, or the signal that ended it. */
  exited(): Promise<number | string | null> {
    const child = this.process?.child;
    if (child === undefined) return Promise.resolve(null);
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? child.signalCode);
    return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  }

  signal(signal: NodeJS.Signals): void {
    this.process?.child.kill(signal);
  }
}

/** HAProxy running docs/haproxy.cfg with this test's ports, and its log lines. */
class Haproxy {
  readonly lines: string[] = [];
  readonly #child: ChildProcess;

  constructor(
    config: string,
    readonly port: number,
    readonly statsPort: number,
  ) {
    this.#child = spawn(locate(HAPROXY.command) ?? HAPROXY.command, ['-f', config, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    const collect = (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      this.lines.push(...lines);
    };
    this.#child.stdout?.on('data', collect);
    this.#child.stderr?.on('data', collect);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Each server's status in HAProxy's eyes (UP, DOWN, ...), from the stats page's CSV. */
  async states(): Promise<Map<string, string>> {
    const csv = await (await fetch(`http://127.0.0.1:${this.statsPort}/stats;csv`)).text();
    const [header = '', ...rows] = csv.split('\n');
    const columns = header.replace(/^# /, '').split(',');
    const [px, sv, st] = ['pxname', 'svname', 'status'].map((c) => columns.indexOf(c)) as [number, number, number];
    const states = new Map<string, string>();
    for (const row of rows) {
      const cells = row.split(',');
      if (cells[px] === 'taskcenter_nodes' && !['FRONTEND', 'BACKEND'].includes(cells[sv] ?? ''))
        states.set(cells[sv] ?? '', (cells[st] ?? '').split(' ')[0] ?? '');
    }
    return states;
  }

  waitFor(server: string, state: 'UP' | 'DOWN'): Promise<void> {
    return until(`HAProxy sees ${server} ${state}`, async () => (await this.states()).get(server) === state);
  }

  /**
   * The requests HAProxy logged (option httplog: `... ac/fc/bc/sc/rc sq/bq "METHOD ...`)
   * from line `from` on: each one's method and how many times it was retried (`rc`, `+`
   * when sent to another server).
   */
  requests(from = 0): { method: string; retries: number }[] {
    return this.lines.slice(from).flatMap((line) => {
      const m = / taskcenter taskcenter_nodes\/\S+ .* \d+\/\d+\/\d+\/\d+\/\+?(\d+) \d+\/\d+ "(\S+) /.exec(line);
      return m === null ? [] : [{ retries: Number(m[1]), method: m[2] ?? '' }];
    });
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.kill('SIGTERM');
    await exited;
  }
}

/** docs/haproxy.cfg with the test's ports in place of the example's. */
function haproxyConfig(front: number, nodes: readonly number[], stats: number): string {
  let text = readFileSync(join(REPO_ROOT, 'docs', 'haproxy.cfg'), 'utf8');
  const swap = (from: string, to: string) => {
    assert.equal(text.split(from).length, 2, `docs/haproxy.cfg has '${from}' once`);
    text = text.replace(from, to);
  };
  swap('bind :8080', `bind 127.0.0.1:${front}`);
  swap('bind 127.0.0.1:8404', `bind 127.0.0.1:${stats}`);
  nodes.forEach((port, i) => swap(`127.0.0.1:${8081 + i} check`, `127.0.0.1:${port} check`));
  return text;
}

interface Outcome {
  readonly op: string;
  readonly method: string;
  readonly started: number;
  readonly ended: number;
  readonly ok: boolean;
  readonly detail: string;
}

interface TrackedJob {
  readonly project: string;
  readonly id: string;
  readonly service: 'sdrs' | 'kps';
  status: 'RUNNING' | 'FAIL' | 'SUCCESS';
  cleared: boolean;
}

/**
 * Steady mixed load through HAProxy from {@link WORKERS} loops. It remembers the state
 * every successful write left each job in; a job whose write failed may or may not have
 * changed, so it is set aside ("unknown") and never touched again.
 */
class Load {
  readonly outcomes: Outcome[] = [];
  readonly jobs = new Map<string, TrackedJob>();
  readonly unknown = new Set<string>();
  readonly #busy = new Set<string>();
  #running = false;
  #loops: Promise<void>[] = [];
  #next = 0;

  constructor(
    private readonly base: string,
    readonly projects: readonly string[],
  ) {}

  start(): void {
    this.#running = true;
    this.#loops = Array.from({ length: WORKERS }, () => this.#loop());
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  /** Outcomes of requests in flight at some point of [from, to). */
  between(from: number, to: number): Outcome[] {
    return this.outcomes.filter((o) => o.ended >= from && o.started < to);
  }

  async #loop(): Promise<void> {
    while (this.#running) {
      await this.#one();
      await sleep(10);
    }
  }

  #pick(filter: (job: TrackedJob) => boolean): TrackedJob | undefined {
    const candidates = [...this.jobs.values()].filter((job) => !this.#busy.has(key(job)) && filter(job));
    return candidates[Math.floor(Math.random() * candidates.length)];
  }

  async #one(): Promise<void> {
    const project = this.projects[Math.floor(Math.random() * this.projects.length)] ?? '';
    const roll = Math.random() * 100;
    if (roll < 18) return this.#read('ListFailureJobs', `/v1/${project}/task-center/failure-jobs`);
    if (roll < 32) return this.#read('ListFailedTask', `/v3/${project}/failed-tasks`);
    if (roll < 37) return this.#read('ListRunningTask', `/v3/${project}/running-tasks`);
    if (roll < 52) {
      const job = this.#pick((j) => j.service === 'sdrs');
      if (job !== undefined) return this.#read('ShowJobStatus', `/v1/${job.project}/jobs/${job.id}`);
      return this.#read('ListFailureJobs', `/v1/${project}/task-center/failure-jobs`);
    }
    if (roll < 74) {
      const service = Math.random() < 0.5 ? 'sdrs' : 'kps';
      const status = Math.random() < 0.6 ? 'FAIL' : 'RUNNING';
      const job: TrackedJob = { project, id: `n${String(this.#next++).padStart(5, '0')}`, service, status, cleared: false };
      return this.#write('report', job, 'PUT', `/taskcenter/v1/projects/${project}/jobs/${job.id}`, 201, document(job), () => this.jobs.set(key(job), job));
    }
    if (roll < 86) {
      const job = this.#pick((j) => j.status === 'RUNNING');
      if (job === undefined) return;
      const status = Math.random() < 0.5 ? 'FAIL' : 'SUCCESS';
      return this.#write('progress', job, 'PUT', `/taskcenter/v1/projects/${job.project}/jobs/${job.id}`, 200, document({ ...job, status }), () => {
        job.status = status;
      });
    }
    const job = this.#pick((j) => j.status === 'FAIL' && !j.cleared);
    if (job === undefined) return;
    const path = job.service === 'sdrs' ? `/v1/${job.project}/task-center/failure-jobs/${job.id}` : `/v3/${job.project}/failed-tasks/${job.id}`;
    return this.#write('clear', job, 'DELETE', path, job.service === 'sdrs' ? 204 : 200, undefined, () => {
      job.cleared = true;
    });
  }

  async #read(op: string, path: string): Promise<void> {
    await this.#send(op, 'GET', path, 200);
  }

  async #write(op: string, job: TrackedJob, method: string, path: string, expected: number, body: unknown, onSuccess: () => void): Promise<void> {
    this.#busy.add(key(job));
    try {
      if (await this.#send(op, method, path, expected, body)) onSuccess();
      else {
        this.jobs.delete(key(job));
        this.unknown.add(key(job));
      }
    } finally {
      this.#busy.delete(key(job));
    }
  }

  async #send(op: string, method: string, path: string, expected: number, body?: unknown): Promise<boolean> {
    const started = Date.now();
    let ok = false;
    let detail = '';
    try {
      const response = await fetch(this.base + path, {
        method,
        headers: { 'x-auth-token': TOKENS.admin, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await response.text();
      ok = response.status === expected;
      detail = `${response.status} ${text.slice(0, 200)}`;
    } catch (error) {
      detail = String((error as Error).cause ?? error);
    }
    this.outcomes.push({ op, method, started, ended: Date.now(), ok, detail: `${method} ${path}: ${detail}` });
    return ok;
  }
}

const key = (job: { project: string; id: string }) => `${job.project}/${job.id}`;

/** The report a producer sends for `job` in its state. */
function document(job: TrackedJob): Record<string, unknown> {
  const now = new Date().toISOString();
  const terminal = job.status !== 'RUNNING';
  const failure = job.status === 'FAIL';
  const common = {
    job_id: job.id,
    status: job.status,
    begin_time: '2026-01-01T00:00:00.000Z',
    end_time: terminal ? now : null,
    error_code: failure ? 'EVS.2024' : null,
    fail_reason: failure ? 'volume is error!' : null,
  };
  if (job.service === 'kps') return kpsJob(common);
  return sdrsJob({
    ...common,
    job_type: 'createServerGroup',
    resource: { id: `g-${job.id}`, name: `pg-${job.id}`, type: 'server_groups' },
    server_group_id: `g-${job.id}`,
    entities: { server_group_id: `g-${job.id}` },
  });
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/** One node's answer to GET `path`, as admin, straight from the node. */
async function ask(node: Node, path: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(node.url + path, { headers: { 'x-auth-token': TOKENS.admin } });
  return { status: response.status, body: await response.json() };
}

/**
 * The scenario, over the database at `nodeDb` (what the nodes are given) whose direct
 * URL is `directDb` (what `taskcenter check` reads).
 */
function severalNodes(label: string, databases: () => Promise<{ nodeDb: string; directDb: string; drop(): Promise<void> }>): void {
  describe(label, () => {
    let dir: string;
    let drop: (() => Promise<void>) | undefined;
    let directDb = '';
    let nodes: Node[] = [];
    let haproxy: Haproxy | undefined;
    let load: Load | undefined;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'taskcenter-nodes-'));
      const created = await databases();
      drop = created.drop;
      directDb = created.directDb;
      const credentials = writeTestCredentials(dir);
      const ports = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
      const [front = 0, stats = 0, ...nodePorts] = ports;
      nodes = nodePorts.map((port, i) => new Node(`node${i + 1}`, port, ['--db', created.nodeDb, '--credentials', credentials]));
      // One node first: it migrates the fresh database, the others find it current.
      await nodes[0]?.start();
      await Promise.all(nodes.slice(1).map((node) => node.start()));
      const config = join(dir, 'haproxy.cfg');
      writeFileSync(config, haproxyConfig(front, nodePorts, stats));
      haproxy = new Haproxy(config, front, stats);
      for (const node of nodes) await haproxy.waitFor(node.name, 'UP');
    });

    after(async () => {
      await load?.stop();
      await haproxy?.stop();
      for (const node of nodes) {
        node.signal('SIGKILL');
        await node.exited();
      }
      await drop?.();
      rmSync(dir, { recursive: true, force: true });
    });

    it(
      'serves steady load through HAProxy: a rolling restart fails nothing, a killed node only the writes it held, and every node agrees after',
      { timeout: 240_000 },
      async () => {
        assert.ok(haproxy !== undefined);
        const proxy = haproxy;
        const traffic = new Load(proxy.url, [uniqueId('nodes'), uniqueId('nodes')]);
        load = traffic;
        traffic.start();
        await sleep(1000);

        // (a) Rolling restart.
        const rollStart = Date.now();
        for (const node of nodes) {
          node.signal('SIGTERM');
          assert.equal(await node.exited(), 0, `${node.name} did not exit 0 after SIGTERM: ${node.process?.stderr() ?? ''}`);
          await node.start();
          await proxy.waitFor(node.name, 'UP');
        }
        const rollEnd = Date.now();
        const rolling = traffic.between(rollStart, rollEnd);
        const rollingFailed = rolling.filter((o) => !o.ok);
        const latencies = rolling.map((o) => o.ended - o.started);
        console.log(
          `[${label}] rolling restart of 3 nodes (drain ${DRAIN_SECONDS} s) in ${((rollEnd - rollStart) / 1000).toFixed(1)} s: ` +
            `${rolling.length} requests sent, ${rollingFailed.length} failed; latency p50 ${percentile(latencies, 50)} ms, ` +
            `p99 ${percentile(latencies, 99)} ms, max ${Math.max(0, ...latencies)} ms`,
        );
        assert.ok(rolling.length > 0, 'no request was sent during the restart');
        assert.deepEqual(
          rollingFailed.map((o) => o.detail),
          [],
          'requests failed during the rolling restart',
        );

        // (b) A node killed while it holds requests: frozen first (SIGSTOP), so requests
        // pile up on it, then SIGKILL.
        const victim = nodes[1] as Node;
        const logFrom = proxy.lines.length;
        const killStart = Date.now();
        victim.signal('SIGSTOP');
        await sleep(500);
        const killedAt = Date.now();
        victim.signal('SIGKILL');
        assert.equal(await victim.exited(), 'SIGKILL');
        await proxy.waitFor(victim.name, 'DOWN');
        const downAt = Date.now();
        await sleep(500);
        const killEnd = Date.now();
        const killWindow = traffic.between(killStart, killEnd);
        const killFailed = killWindow.filter((o) => !o.ok);
        // HAProxy logs a request it retried with its retry count; one that failed on the
        // killed node over a reused connection it does not log: it closes the client's
        // connection without an answer, as the node did.
        const retried = proxy.requests(logFrom).filter((r) => r.retries > 0);
        const retriedReads = retried.filter((r) => r.method === 'GET').length;
        console.log(
          `[${label}] ${victim.name} frozen 0.5 s then SIGKILLed: ${killWindow.length} requests in flight meanwhile, ${killFailed.length} failed ` +
            `(${killFailed.map((o) => o.method).join(', ') || 'none'}); HAProxy retried ${retriedReads} reads on another node ` +
            `and sent ${retried.length - retriedReads} writes elsewhere after a refused connection`,
        );
        assert.deepEqual(
          killFailed.filter((o) => o.method === 'GET').map((o) => o.detail),
          [],
          'a read failed: HAProxy should have retried it on another node',
        );
        for (const failed of killFailed) {
          // Sent while the node was frozen, or after its death over a connection HAProxy
          // still kept to it (a write is not retried on another node: it may have been
          // applied), before HAProxy took the node out; answered only by its death.
          assert.ok(failed.started < downAt && failed.ended >= killedAt, `failed but not held by the killed node: ${failed.detail}`);
        }
        assert.ok(killFailed.length <= WORKERS, 'more requests failed than were in flight');
        assert.ok(killFailed.length + retriedReads > 0, 'the killed node held no request: the kill proved nothing');
        await victim.start();
        await proxy.waitFor(victim.name, 'UP');
        await sleep(500);
        await traffic.stop();
        const sent = traffic.outcomes.length;
        console.log(
          `[${label}] in all: ${sent} requests, ${traffic.outcomes.filter((o) => !o.ok).length} failed; ${traffic.jobs.size} jobs in a known state, ${traffic.unknown.size} unknown`,
        );

        // (c) Every node, asked directly, says the same, and what the successful requests said.
        for (const project of traffic.projects) {
          const paths = [`/v1/${project}/task-center/failure-jobs`, `/v3/${project}/failed-tasks`, `/v3/${project}/running-tasks`];
          for (const path of paths) {
            const answers = await Promise.all(nodes.map((node) => ask(node, path)));
            for (const [i, answer] of answers.entries()) {
              assert.equal(answer.status, 200, path);
              assert.deepEqual(answer.body, answers[0]?.body, `${nodes[i]?.name} and ${nodes[0]?.name} disagree on ${path}`);
            }
          }
          const sdrs = (await ask(nodes[0] as Node, paths[0] as string)).body as { failure_jobs: { job_id: string }[]; count: number };
          const kps = (await ask(nodes[0] as Node, paths[1] as string)).body as { tasks: { task_id: string }[]; total: number };
          const running = (await ask(nodes[0] as Node, paths[2] as string)).body as { tasks: { task_id: string }[]; total: number };
          assert.equal(sdrs.count, sdrs.failure_jobs.length);
          assert.equal(kps.total, kps.tasks.length);
          assert.equal(running.total, running.tasks.length);
          const listed = {
            sdrs: new Set(sdrs.failure_jobs.map((j) => j.job_id)),
            kps: new Set(kps.tasks.map((t) => t.task_id)),
            running: new Set(running.tasks.map((t) => t.task_id)),
          };
          for (const job of traffic.jobs.values()) {
            if (job.project !== project) continue;
            const failed = job.status === 'FAIL' && !job.cleared;
            assert.equal(listed[job.service].has(job.id), failed, `${job.service} job ${job.id} (${job.status}, cleared ${job.cleared}) listed: ${!failed}`);
            if (job.service === 'kps') assert.equal(listed.running.has(job.id), job.status === 'RUNNING', `kps task ${job.id} (${job.status}) among running`);
          }
          const knownOrUnknown = (id: string) => traffic.jobs.has(`${project}/${id}`) === true || traffic.unknown.has(`${project}/${id}`) === true;
          for (const id of [...listed.sdrs, ...listed.kps]) assert.ok(knownOrUnknown(id), `listed job ${id} was never reported`);
        }
        for (const job of traffic.jobs.values()) {
          const path = job.service === 'sdrs' ? `/v1/${job.project}/jobs/${job.id}` : `/v3/${job.project}/tasks/${job.id}`;
          const answers = await Promise.all(nodes.map((node) => ask(node, path)));
          for (const [i, answer] of answers.entries()) {
            assert.equal(answer.status, 200, path);
            assert.deepEqual(answer.body, answers[0]?.body, `${nodes[i]?.name} and ${nodes[0]?.name} disagree on ${path}`);
          }
          if (job.service === 'sdrs') assert.equal((answers[0]?.body as { status: string }).status, job.status, path);
        }
        const check = await taskcenter(['check', '--db', directDb]);
        assert.equal(check.code, 0, check.stdout + check.stderr);
        assert.match(check.stdout, /no difference/);
      },
    );
  });
}

if (engines.includes('postgres')) {
  describeWithTools('several nodes behind HAProxy', [HAPROXY], () => {
    severalNodes(THROUGH_PGBOUNCER ? 'three nodes, one PostgreSQL through PgBouncer (transaction pooling)' : 'three nodes, one PostgreSQL', async () => {
      const database = await freshDatabase('postgres');
      return { nodeDb: database.url, directDb: database.url, drop: () => database.drop() };
    });
  });
}
