/**
 * The real server process (`node bin/taskcenter.js serve`): SIGTERM drains for
 * --drain-seconds (/readyz 503, requests still served), then lets the request in flight
 * finish, closes the store and exits 0; a first start without a credentials file
 * creates one (mode 0600) and prints its token once, and that token works.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { addPrincipal } from '../../src/auth/credentials.js';
import { engines, freshDatabase, sdrsJob } from '../helpers.js';

const BIN = fileURLToPath(new URL('../../../bin/taskcenter.js', import.meta.url));

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'taskcenter-server-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A `taskcenter serve` child process and what it has written so far. */
class ServerProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  #waiters: (() => void)[] = [];

  constructor(args: string[]) {
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TASKCENTER_')));
    this.child = spawn(process.execPath, [BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--log-level', 'info', '--drain-seconds', '0', ...args], { env });
    this.child.stdout.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    void this.exited.then(() => {
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** The JSON log lines written so far. */
  logs(): Record<string, unknown>[] {
    return this.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** Resolves with the first log line whose msg is `msg`; rejects if the process exits first. */
  async logLine(msg: string): Promise<Record<string, unknown>> {
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      const line = this.logs().find((l) => l.msg === msg);
      if (line !== undefined) return line;
      if (exited) throw new Error(`exited before logging '${msg}'\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  async url(): Promise<string> {
    return String((await this.logLine('listening')).url);
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** A request whose body is sent in two halves; `finish()` sends the rest and resolves with the response. */
function halfSentPut(url: string, path: string, headers: Record<string, string>, body: string) {
  const bytes = Buffer.from(body);
  const half = Math.floor(bytes.length / 2);
  let resolveResponse!: (r: { status: number; body: string }) => void;
  let rejectResponse!: (e: Error) => void;
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    resolveResponse = resolve;
    rejectResponse = reject;
  });
  const request = http.request(`${url}${path}`, {
    method: 'PUT',
    agent: false,
    headers: { ...headers, 'content-type': 'application/json', 'content-length': String(bytes.length) },
  });
  request.on('response', (res) => {
    let text = '';
    res.on('data', (chunk: Buffer) => (text += chunk.toString()));
    res.on('end', () => resolveResponse({ status: res.statusCode ?? 0, body: text }));
  });
  request.on('error', rejectResponse);
  request.write(bytes.subarray(0, half));
  return {
    finish() {
      request.end(bytes.subarray(half));
      return response;
    },
  };
}

for (const engine of engines) {
  describe(`taskcenter serve: SIGTERM [${engine}]`, () => {
    it('finishes the request in flight, closes the store and exits 0', { timeout: 60_000 }, async () => {
      const database = await freshDatabase(engine);
      const server = new ServerProcess(['--db', database.url, '--auth', 'none']);
      try {
        const url = await server.url();
        assert.match(server.stderr, /AUTHENTICATION IS OFF/);
        const job = sdrsJob();
        const inFlight = halfSentPut(url, `/taskcenter/v1/projects/p1/jobs/${String(job.job_id)}`, {}, JSON.stringify(job));
        // The server has routed the request and waits for the rest of its body.
        await server.logLine('incoming request');
        server.child.kill('SIGTERM');
        await server.logLine('draining in-flight requests');

        const response = await inFlight.finish();
        assert.equal(response.status, 201, response.body);
        assert.equal(JSON.parse(response.body).job_id, job.job_id);
        assert.equal(await server.exited, 0, server.stderr);
        await server.logLine('stopped');
        // New connections are refused once it has stopped.
        await assert.rejects(fetch(`${url}/healthz`));
        if (engine === 'sqlite') {
          // SQLite removes the WAL file only when the last connection closes cleanly.
          const file = database.url.slice('sqlite:'.length);
          assert.ok(existsSync(file));
          assert.ok(!existsSync(`${file}-wal`), 'the store was not closed: its WAL file is still there');
        }
        // What the drained request wrote is durable.
        const again = new ServerProcess(['--db', database.url, '--auth', 'none']);
        try {
          const read = await fetch(`${await again.url()}/taskcenter/v1/projects/p1/jobs/${String(job.job_id)}`);
          assert.equal(read.status, 200);
        } finally {
          assert.equal(await again.stop(), 0);
        }
      } finally {
        await server.stop();
        await database.drop();
      }
    });
  });
}

/** GET on a new connection: status, the Connection header and the body. */
function getOnce(url: string): Promise<{ status: number; connection: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
      })
      .on('error', reject);
  });
}

describe('taskcenter serve: --drain-seconds', () => {
  const DRAINING = 'draining: /readyz answers 503, requests are still served';

  it('on SIGTERM answers /readyz 503 and keeps serving until the drain ends; a second signal ends it', { timeout: 60_000 }, async () => {
    // A drain far longer than the test: only the second signal ends it.
    const server = new ServerProcess(['--db', `sqlite:${join(dir, 'drain.db')}`, '--auth', 'none', '--drain-seconds', '600']);
    try {
      const url = await server.url();
      assert.equal((await getOnce(`${url}/readyz`)).status, 200);
      const held = sdrsJob({ job_id: 'held-through-the-drain' });
      const inFlight = halfSentPut(url, `/taskcenter/v1/projects/p1/jobs/${String(held.job_id)}`, {}, JSON.stringify(held));
      await server.logLine('incoming request');
      server.child.kill('SIGTERM');
      assert.deepEqual((await server.logLine(DRAINING)).seconds, 600);

      const ready = await getOnce(`${url}/readyz`);
      assert.deepEqual([ready.status, JSON.parse(ready.body)], [503, { status: 'draining' }]);
      assert.equal(ready.connection, 'close', 'a draining node keeps no connection open');
      const job = sdrsJob({ job_id: 'reported-while-draining' });
      const put = await fetch(`${url}/taskcenter/v1/projects/p1/jobs/${String(job.job_id)}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(job),
      });
      assert.equal(put.status, 201, await put.text());
      const read = await getOnce(`${url}/taskcenter/v1/projects/p1/jobs/${String(job.job_id)}`);
      assert.equal(read.status, 200, read.body);
      assert.equal(read.connection, 'close');
      assert.equal(server.child.exitCode, null, 'it stopped before the drain ended');
      assert.ok(!server.logs().some((l) => l.msg === 'draining in-flight requests'), 'it stopped accepting during the drain');

      server.child.kill('SIGTERM');
      await server.logLine('draining in-flight requests');
      const response = await inFlight.finish();
      assert.equal(response.status, 201, response.body);
      assert.equal(await server.exited, 0, server.stderr);
      await server.logLine('stopped');
      await assert.rejects(fetch(`${url}/healthz`), 'it still accepts connections after stopping');
    } finally {
      await server.stop();
    }
  });

  it('then stops accepting by itself, finishes the request in flight and exits 0', { timeout: 60_000 }, async () => {
    const db = `sqlite:${join(dir, 'drain-ends.db')}`;
    const server = new ServerProcess(['--db', db, '--auth', 'none', '--drain-seconds', '0.5']);
    const job = sdrsJob({ job_id: 'held-past-the-drain' });
    try {
      const url = await server.url();
      const inFlight = halfSentPut(url, `/taskcenter/v1/projects/p1/jobs/${String(job.job_id)}`, {}, JSON.stringify(job));
      await server.logLine('incoming request');
      server.child.kill('SIGTERM');
      await server.logLine(DRAINING);
      // The drain ends by itself: no second signal.
      await server.logLine('draining in-flight requests');
      const response = await inFlight.finish();
      assert.equal(response.status, 201, response.body);
      assert.equal(await server.exited, 0, server.stderr);
      await server.logLine('stopped');
    } finally {
      await server.stop();
    }
    const again = new ServerProcess(['--db', db, '--auth', 'none']);
    try {
      assert.equal((await getOnce(`${await again.url()}/taskcenter/v1/projects/p1/jobs/${String(job.job_id)}`)).status, 200);
    } finally {
      assert.equal(await again.stop(), 0, again.stderr);
    }
  });

  it('SIGINT (Ctrl-C) does not drain: it stops at once', { timeout: 60_000 }, async () => {
    const server = new ServerProcess(['--db', `sqlite:${join(dir, 'drain-int.db')}`, '--auth', 'none', '--drain-seconds', '600']);
    try {
      await server.url();
      server.child.kill('SIGINT');
      assert.equal(await server.exited, 0, server.stderr);
      assert.ok(!server.logs().some((l) => l.msg === DRAINING), 'SIGINT drained');
      assert.equal(server.logs().find((l) => l.msg === 'draining in-flight requests')?.signal, 'SIGINT');
    } finally {
      await server.stop();
    }
  });
});

describe('taskcenter serve: requests arriving while it stops', () => {
  it("are refused with 503 in the route's format and a request id, after the request in flight is answered", { timeout: 60_000 }, async () => {
    const server = new ServerProcess(['--db', `sqlite:${join(dir, 'pipelined.db')}`, '--auth', 'none']);
    try {
      const port = Number(new URL(await server.url()).port);
      const job = JSON.stringify(sdrsJob({ job_id: 'in-flight' }));
      const socket = net.connect(port, '127.0.0.1');
      let received = '';
      socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
      const closed = new Promise((resolve) => socket.on('close', resolve));
      socket.write(
        `PUT /taskcenter/v1/projects/p1/jobs/in-flight HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${job.length}\r\n\r\n${job.slice(0, 20)}`,
      );
      await server.logLine('incoming request');
      server.child.kill('SIGTERM');
      await server.logLine('draining in-flight requests');
      // The rest of the body, and a second request pipelined behind it on the same connection.
      socket.write(`${job.slice(20)}GET /taskcenter/v1/projects/p1/jobs HTTP/1.1\r\nHost: t\r\n\r\n`);
      await closed;
      assert.equal(await server.exited, 0, server.stderr);

      const responses = received.split(/(?=HTTP\/1\.1 )/);
      assert.equal(responses.length, 2, received);
      assert.match(responses[0] ?? '', /^HTTP\/1\.1 201 /);
      const refused = responses[1] ?? '';
      assert.match(refused, /^HTTP\/1\.1 503 /);
      assert.match(refused, /\r\nx-request-id: [0-9a-f]{32}\r\n/i);
      const body = JSON.parse(refused.slice(refused.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };
      assert.deepEqual(body, { error: { code: 'TASKCENTER.0010', message: 'the server is shutting down; retry the request' } });
    } finally {
      await server.stop();
    }
  });
});

/** Sends raw bytes on a new connection and resolves with everything the server writes back before closing. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
  });
}

describe('taskcenter serve: requests that are not HTTP', () => {
  it('are answered by the gateway with a request id, not dropped or answered bare', { timeout: 60_000 }, async () => {
    const server = new ServerProcess(['--db', `sqlite:${join(dir, 'raw.db')}`, '--auth', 'none']);
    try {
      const port = Number(new URL(await server.url()).port);
      const cases: [string, number, string][] = [
        ['HELLO THERE\r\n\r\n', 400, 'the request is not valid HTTP'],
        [`GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'the request headers are too large'],
      ];
      for (const [bytes, status, message] of cases) {
        const response = await rawExchange(port, bytes);
        assert.match(response, new RegExp(`^HTTP/1\\.1 ${status} `), response);
        const id = /\r\nX-Request-Id: ([0-9a-f]{32})\r\n/i.exec(response)?.[1];
        assert.ok(id !== undefined, response);
        const body = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
        assert.deepEqual(body, { error_msg: message, error_code: 'APIGW.0201', request_id: id });
      }
      assert.equal((await fetch(`${await server.url()}/healthz`)).status, 200, 'the server still serves');
    } finally {
      assert.equal(await server.stop(), 0, server.stderr);
    }
  });
});

describe('taskcenter serve: first start with static auth', () => {
  it('creates a 0600 credentials file, prints its token once, and that token works', { timeout: 60_000 }, async () => {
    const credentials = join(dir, 'creds', 'credentials.json');
    const db = `sqlite:${join(dir, 'first.db')}`;
    const first = new ServerProcess(['--db', db, '--credentials', credentials]);
    let token = '';
    try {
      const url = await first.url();
      const printed = /^ {2}X-Auth-Token: (\S+)$/m.exec(first.stdout);
      assert.ok(printed?.[1] !== undefined, `no token printed:\n${first.stdout}`);
      token = printed[1];
      assert.match(first.stdout, new RegExp(`Created ${credentials.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(mode 0600\\)`));
      assert.equal(first.stdout.split(token).length - 1, 1, 'the token is printed exactly once');
      assert.equal(statSync(credentials).mode & 0o777, 0o600);
      assert.ok(!readFileSync(credentials, 'utf8').includes(token), 'the token is stored in clear');

      const list = (headers: Record<string, string>) => fetch(`${url}/taskcenter/v1/projects/any-project/jobs`, { headers });
      const ok = await list({ 'x-auth-token': token });
      assert.equal(ok.status, 200);
      assert.match(ok.headers.get('x-request-id') ?? '', /^[0-9a-f]{32}$/);
      assert.equal((await list({ 'x-auth-token': `${token}x` })).status, 401);
      assert.equal((await list({})).status, 401);
    } finally {
      assert.equal(await first.stop(), 0, first.stderr);
    }
    assert.equal(first.stdout.split(token).length - 1, 1, 'the token appeared again after the first print');
    assert.ok(!first.stderr.includes(token));

    const second = new ServerProcess(['--db', db, '--credentials', credentials]);
    try {
      const url = await second.url();
      assert.doesNotMatch(second.stdout, /X-Auth-Token:|Created /, 'a second start issued new secrets');
      assert.equal((await fetch(`${url}/taskcenter/v1/projects/p/jobs`, { headers: { 'x-auth-token': token } })).status, 200);
    } finally {
      assert.equal(await second.stop(), 0, second.stderr);
    }
  });
});

describe('taskcenter serve: SIGHUP', () => {
  it('re-reads the credentials file, and keeps the old credentials when the new file is invalid', { timeout: 60_000 }, async () => {
    const credentials = join(dir, 'hup-credentials.json');
    const first = addPrincipal(credentials, { name: 'first', projects: ['p1'], actions: ['*'], token: true, aksk: false });
    const server = new ServerProcess(['--db', `sqlite:${join(dir, 'hup.db')}`, '--credentials', credentials]);
    try {
      const url = await server.url();
      const status = async (token: string | undefined) =>
        (await fetch(`${url}/taskcenter/v1/projects/p1/jobs`, { headers: { 'x-auth-token': token ?? '' } })).status;
      assert.equal(await status(first.token), 200);
      const second = addPrincipal(credentials, { name: 'second', projects: ['p1'], actions: ['*'], token: true, aksk: false });
      assert.equal(await status(second.token), 401, 'known before the reload');

      server.child.kill('SIGHUP');
      await server.logLine('credentials reloaded');
      assert.equal(await status(second.token), 200);
      assert.equal(await status(first.token), 200);

      writeFileSync(credentials, '{"principals": [');
      server.child.kill('SIGHUP');
      await server.logLine('credentials reload failed; keeping the previous credentials');
      assert.equal(await status(second.token), 200);
      assert.equal(server.child.exitCode, null, 'a bad file on reload stopped the server');
    } finally {
      assert.equal(await server.stop(), 0, server.stderr);
    }
  });
});
