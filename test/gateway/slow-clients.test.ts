/**
 * Slow and idle clients (issue 11 item 7): with `--max-connections 100`, header and
 * request timeouts of 1 and 2 s and a keep-alive timeout of 3 s, 2000 idle connections never hold more than 100
 * slots; each one held is answered 408 in the gateway's format and closed once the header
 * timeout passes, the rest are closed as soon as they are accepted; `/healthz` answers
 * throughout on a connection already open, and on a new one after. A slowloris sending
 * its headers byte by byte, and a body sent as slowly, are cut off by their timeouts; an
 * idle kept-alive connection is closed by the server. No store is involved: SQLite only.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { createTestApp, TOKENS, writeTestCredentials, type TestApp } from '../helpers.js';
import { parseResponses, type RawResponse } from '../raw-http.js';

const CAP = 100;
const IDLE = 2000;

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** A raw connection and what the server did with it. */
interface Watched {
  readonly socket: net.Socket;
  readonly received: Buffer[];
  /** Resolves once the connection is closed, by either side. */
  readonly closed: Promise<void>;
}

function watch(port: number): Watched {
  const socket = net.connect({ port, host: '127.0.0.1' });
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  socket.on('error', () => {});
  const closed = new Promise<void>((done) => socket.once('close', () => done()));
  return { socket, received, closed };
}

function assertTimeoutAnswer(watched: Watched): void {
  const responses = parseResponses(Buffer.concat(watched.received));
  assert.equal(responses.length, 1, Buffer.concat(watched.received).toString());
  const response = responses[0] as RawResponse;
  assert.equal(response.status, 408, response.body);
  assert.match(response.headers['x-request-id'] ?? '', /^[0-9a-f]{32}$/);
  const body = JSON.parse(response.body) as Record<string, unknown>;
  assert.equal(body.error_code, 'APIGW.0201');
  assert.equal(body.request_id, response.headers['x-request-id']);
}

describe('slow and idle clients', () => {
  let server: TestApp;
  let port = 0;
  before(async () => {
    server = await createTestApp('sqlite', (db, dir) =>
      loadConfig(
        {
          db,
          credentials: writeTestCredentials(dir),
          logLevel: 'silent',
          port: '0',
          maxConnections: String(CAP),
          headersTimeout: '1',
          receiveTimeout: '2',
          // Above the probes' interval even on a loaded machine: the monitor's connection stays.
          keepAliveTimeout: '3',
        },
        {},
      ),
    );
    await server.app.listen({ host: '127.0.0.1', port: 0 });
    port = (server.app.server.address() as AddressInfo).port;
  });
  after(() => server.close());

  it(`holds at most ${CAP} of ${IDLE} idle connections, answers each held one 408 at the header timeout, and /healthz throughout`, async () => {
    const nodeServer = server.app.server;
    let dropped = 0;
    const onDrop = () => dropped++;
    nodeServer.on('drop', onDrop);
    // A monitor's kept-alive connection, open before the flood.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const health = () =>
      new Promise<number>((done, fail) => {
        http
          .get({ host: '127.0.0.1', port, path: '/healthz', agent }, (response) => {
            response.resume();
            response.on('end', () => done(response.statusCode ?? 0));
          })
          .on('error', fail);
      });
    const idle: Watched[] = [];
    let most = 0;
    const sampler = setInterval(() => nodeServer.getConnections((_error, count) => (most = Math.max(most, count))), 20);
    try {
      assert.equal(await health(), 200);
      // In batches that each connect before the next, as clients arriving over a moment
      // would: all at once, they would overflow the listen backlog and wait on SYN retries.
      const healthWhileOpen: number[] = [];
      for (let i = 0; i < IDLE; i += 100) {
        const batch = Array.from({ length: 100 }, () => watch(port));
        idle.push(...batch);
        await Promise.all(batch.map((w) => new Promise((done) => (w.socket.once('connect', done), w.socket.once('close', done)))));
        healthWhileOpen.push(await health());
      }
      await Promise.all(idle.map((w) => w.closed));
      assert.ok(most <= CAP, `the server held ${most} connections at once`);
      assert.ok(healthWhileOpen.length > 0 && healthWhileOpen.every((status) => status === 200), JSON.stringify(healthWhileOpen));
      // Every connection was closed by the server: a 408 for each it held, nothing for each it dropped.
      const answered = idle.filter((w) => w.received.length > 0);
      for (const w of answered) assertTimeoutAnswer(w);
      assert.equal(answered.length + dropped, IDLE, `${answered.length} answered 408, ${dropped} dropped`);
      assert.ok(answered.length >= CAP - 1, `${answered.length} held`);
      // A new connection is served once the slots are free.
      const fresh = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(fresh.status, 200);
    } finally {
      clearInterval(sampler);
      for (const w of idle) w.socket.destroy();
      nodeServer.off('drop', onDrop);
      agent.destroy();
    }
  });

  it('cuts off a slowloris sending its headers byte by byte at the header timeout, with a 408', async () => {
    const slow = watch(port);
    const head = 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ';
    let sent = 0;
    await new Promise<void>((done) => slow.socket.once('connect', () => done()));
    // Never ends its headers: one byte every 50 ms for as long as the server listens.
    while (!slow.socket.destroyed && slow.received.length === 0) {
      slow.socket.write(sent < head.length ? (head[sent] as string) : 'a');
      sent++;
      await sleep(50);
    }
    await slow.closed;
    // Each byte would have reset an idle timer: the header timeout is what cut it off.
    assert.ok(sent > 1, `the client was cut off while still sending its headers (${sent} bytes sent)`);
    assertTimeoutAnswer(slow);
  });

  it('cuts off a body sent byte by byte at the request timeout, with a 408', async () => {
    const slow = watch(port);
    await new Promise<void>((done) => slow.socket.once('connect', () => done()));
    slow.socket.write(
      `POST /taskcenter/v1/jobs/batch HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${TOKENS.admin}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`,
    );
    let sent = 0;
    while (!slow.socket.destroyed && slow.received.length === 0 && sent < 1000) {
      slow.socket.write(' ');
      sent++;
      await sleep(50);
    }
    await slow.closed;
    assert.ok(sent < 1000, 'cut off before the body was complete');
    assertTimeoutAnswer(slow);
  });

  it('closes a kept-alive connection left idle after its answer', async () => {
    const idle = watch(port);
    await new Promise<void>((done) => idle.socket.once('connect', () => done()));
    idle.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await idle.closed;
    const responses = parseResponses(Buffer.concat(idle.received));
    assert.deepEqual(
      responses.map((r) => r.status),
      [200],
    );
    assert.notEqual(responses[0]?.headers.connection, 'close', 'kept alive, then closed for being idle');
  });
});
