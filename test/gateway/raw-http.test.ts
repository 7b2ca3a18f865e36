/**
 * Requests Node's HTTP parser answers before any route (issue 11 item 2): every response
 * the process writes carries X-Request-Id and the API gateway's body, and requests
 * pipelined before garbage are answered, in order, before the refusal. A client that
 * hangs up mid-body is a client error, not a store failure (item 3).
 */
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/context.js';
import { buildTestApp, createTestApp, describeEachEngine, engines, PROJECT_A, TOKENS, writeTestCredentials } from '../helpers.js';
import { exchange, parseResponses, type RawResponse } from '../raw-http.js';

/** Asserts a 32-hex X-Request-Id and, for an error, the gateway's APIGW body carrying the same id. */
function assertGatewayAnswer(response: RawResponse, status: number, message?: RegExp): void {
  assert.equal(response.status, status, JSON.stringify(response));
  const id = response.headers['x-request-id'];
  assert.match(id ?? '', /^[0-9a-f]{32}$/, JSON.stringify(response.headers));
  if (status < 400) return;
  const body = JSON.parse(response.body) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ['error_code', 'error_msg', 'request_id']);
  assert.match(String(body.error_code), /^APIGW\.\d{4}$/);
  assert.equal(body.request_id, id);
  if (message !== undefined) assert.match(String(body.error_msg), message);
}

describeEachEngine('raw HTTP the parser sees', (server) => {
  let port = 0;
  before(async () => {
    await server().app.listen({ host: '127.0.0.1', port: 0 });
    port = (server().app.server.address() as AddressInfo).port;
  });

  it('refuses an HTTP/1.1 request without a Host header with 400 APIGW.0201 and a request id', async () => {
    for (const path of ['/healthz', `/v3/${PROJECT_A}/failed-tasks`, '/nowhere']) {
      const { raw } = await exchange(port, [`GET ${path} HTTP/1.1\r\nX-Auth-Token: ${TOKENS.admin}\r\nConnection: close\r\n\r\n`]);
      const responses = parseResponses(raw);
      assert.equal(responses.length, 1, raw.toString());
      assertGatewayAnswer(responses[0] as RawResponse, 400, /Host header/);
    }
    // HTTP/1.0 needs no Host.
    const { raw } = await exchange(port, ['GET /healthz HTTP/1.0\r\n\r\n']);
    assertGatewayAnswer(parseResponses(raw)[0] as RawResponse, 200);
  });

  it('answers the requests pipelined before garbage, in order, then refuses the garbage and closes', async () => {
    const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${TOKENS.admin}\r\n\r\n`;
    const pipelined = get('/healthz') + get('/readyz') + get(`/v3/${PROJECT_A}/failed-tasks`) + get('/nowhere');
    for (const garbage of ['\x00\x01garbage\r\n\r\n', 'NOT HTTP AT ALL\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n']) {
      const { raw, closed } = await exchange(port, [pipelined + garbage]);
      const responses = parseResponses(raw);
      assert.deepEqual(
        responses.map((r) => r.status),
        [200, 200, 200, 404, 400],
        raw.toString(),
      );
      for (const response of responses) assertGatewayAnswer(response, response.status);
      assert.match((responses[4] as RawResponse).body, /not valid HTTP/);
      assert.ok(closed, 'the connection is closed after the refusal');
      // Written in pieces, the garbage arriving while the first answers are on their way.
      const split = await exchange(port, [pipelined, garbage]);
      assert.deepEqual(
        parseResponses(split.raw).map((r) => r.status),
        [200, 200, 200, 404, 400],
      );
    }
  });

  it('answers broken request lines, bad headers and oversized headers with a request id and an APIGW body', async () => {
    const cases: [string, number][] = [
      ['GARBAGE\r\n\r\n', 400],
      ['GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n', 400],
      ['GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 400],
      ['GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
      ['POST /taskcenter/v1/jobs/batch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400],
      [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
      ['GET /he\x7fal HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ];
    for (const [request, status] of cases) {
      const { raw } = await exchange(port, [request]);
      const responses = parseResponses(raw);
      assert.equal(responses.length, 1, `${JSON.stringify(request.slice(0, 60))}: ${raw.toString().slice(0, 300)}`);
      assertGatewayAnswer(responses[0] as RawResponse, status);
    }
    // The server still answers after all of that.
    const { raw } = await exchange(port, ['GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    assertGatewayAnswer(parseResponses(raw)[0] as RawResponse, 200);
  });
});

describeEachEngine('raw HTTP Node would answer by itself', (server) => {
  let port = 0;
  before(async () => {
    await server().app.listen({ host: '127.0.0.1', port: 0 });
    port = (server().app.server.address() as AddressInfo).port;
  });

  it('answers an Expect it cannot meet, a CONNECT and a second Host header as the gateway, after what was pipelined before', async () => {
    const cases: [request: string, status: number, message: RegExp][] = [
      ['GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: nonsense\r\nConnection: close\r\n\r\n', 417, /only 100-continue is supported/],
      ['CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n', 404, /^No API matches CONNECT/],
      ['GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n', 400, /one Host header, not several/],
      [
        `GET /v3/${PROJECT_A}/failed-tasks HTTP/1.1\r\nHost: x\r\nhost: x\r\nX-Auth-Token: ${TOKENS.admin}\r\nConnection: close\r\n\r\n`,
        400,
        /one Host header/,
      ],
    ];
    const first = `GET /v3/${PROJECT_A}/failed-tasks HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${TOKENS.admin}\r\n\r\n`;
    for (const [request, status, message] of cases) {
      for (const pipelined of [0, 1]) {
        const { raw, closed } = await exchange(port, [first.repeat(pipelined) + request]);
        const responses = parseResponses(raw);
        assert.deepEqual(
          responses.map((r) => r.status),
          [...Array(pipelined).fill(200), status],
          raw.toString(),
        );
        assertGatewayAnswer(responses[pipelined] as RawResponse, status, message);
        assert.ok(closed, 'the connection is closed after the refusal');
      }
    }
    // Expect: 100-continue still goes through to the route (here: none for POST /healthz).
    const { raw } = await exchange(port, ['POST /healthz HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 0\r\nConnection: close\r\n\r\n']);
    assert.deepEqual(
      parseResponses(raw).map((r) => r.status),
      [100, 404],
      raw.toString(),
    );
  });
});

describe('a client that hangs up mid-body', () => {
  for (const engine of engines) {
    it(`is logged as a client error, never as the store being unavailable, and counts no store error [${engine}]`, async () => {
      const lines: string[] = [];
      const stream = new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      });
      const server = await createTestApp(engine, (db, dir) =>
        loadConfig({ db, auth: 'static', credentials: writeTestCredentials(dir), logLevel: 'silent', port: '0' }, {}),
      );
      const logged = await buildTestApp(server.config, { logger: createLogger({ logLevel: 'info' }, stream) });
      try {
        await logged.app.listen({ host: '127.0.0.1', port: 0 });
        const port = (logged.app.server.address() as AddressInfo).port;
        const head = (token: string) =>
          `POST /taskcenter/v1/jobs/batch HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${token}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{`;
        for (let i = 0; i < 3; i++) {
          const socket = net.connect({ port, host: '127.0.0.1' });
          await new Promise<void>((resolve) => socket.on('connect', () => socket.write(head(TOKENS.admin), () => resolve())));
          await new Promise<void>((resolve) => socket.end(resolve));
          socket.destroy();
        }
        // Until the server has seen all three hang up (each logs a line when it does).
        for (let tries = 0; tries < 200 && lines.filter((line) => line.includes('broke off')).length < 3; tries++) {
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        const metrics = await logged.app.inject({ url: '/metrics' });
        assert.match(metrics.body, /^taskcenter_store_errors_total 0$/m);
        const text = lines.join('');
        assert.doesNotMatch(text, /store unavailable/);
        assert.equal(lines.filter((line) => line.includes('broke off')).length, 3, text);
        for (const line of lines.filter((l) => l.includes('broke off'))) assert.equal(JSON.parse(line).level, 30);
        const ready = await logged.app.inject({ url: '/readyz' });
        assert.equal(ready.statusCode, 200, ready.body);
      } finally {
        await logged.close();
        await server.close();
      }
    });
  }
});
