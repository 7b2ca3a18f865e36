/**
 * Nothing costly before authentication (issue 11 item 5): a request is authenticated from
 * its headers before any of its body is read. Over a raw socket, a request that announces
 * a 7.8 MB body and sends 1 KB of it is answered 401 (403, 413) and its connection closed:
 * had the server waited for the body, no answer would come. Callers that authenticate
 * still send bodies up to the full limit; an AK/SK signature, which covers the body, is
 * checked once the body is in. Failed authentications are limited per client address,
 * which `--trust-proxy` takes from X-Forwarded-For.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { BODY_LIMIT } from '../../src/app.js';
import { UNAUTHENTICATED_BODY_LIMIT } from '../../src/auth/auth.hook.js';
import { formatSdkDate, signRequest } from '../../src/auth/aksk.js';
import { loadConfig, type ConfigInput } from '../../src/config.js';
import { ACCESS_KEYS, createTestApp, engines, PROJECT_A, sdrsJob, TOKENS, uniqueId, writeTestCredentials, type TestApp } from '../helpers.js';
import { exchange, parseResponses, type RawResponse } from '../raw-http.js';

/** What the flood of issue 11 sent: 7.8 MB. */
const BIG = Math.round(7.8 * 1024 * 1024);
const BATCH = '/taskcenter/v1/jobs/batch';

function serve(engine: (typeof engines)[number], more: ConfigInput = {}): Promise<TestApp> {
  return createTestApp(engine, (db, dir) =>
    loadConfig({ db, auth: 'static', credentials: writeTestCredentials(dir), logLevel: 'silent', port: '0', ...more }, {}),
  );
}

/** The head of a request announcing `length` bytes of JSON, with `headers` as `name: value` lines. */
function head(method: string, path: string, length: number, headers: readonly string[] = []): string {
  return [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Content-Type: application/json', `Content-Length: ${length}`, ...headers, '', ''].join('\r\n');
}

/** Sends the head and 1 KB of a 7.8 MB body, and asserts the one answer came without the rest, the connection closed after it. */
async function refusedUnread(port: number, headers: readonly string[], path = BATCH, method = 'POST'): Promise<RawResponse> {
  const { raw, closed } = await exchange(port, [head(method, path, BIG, headers), '{' + ' '.repeat(1023)]);
  const responses = parseResponses(raw);
  assert.equal(responses.length, 1, `no answer before the body was sent: ${raw.toString().slice(0, 200)}`);
  const response = responses[0] as RawResponse;
  assert.equal(response.headers.connection, 'close', JSON.stringify(response.headers));
  assert.ok(closed, 'the server closes the connection rather than read the rest of the body');
  return response;
}

function gatewayBody(response: RawResponse, status: number, code: string): string {
  assert.equal(response.status, status, response.body);
  const body = JSON.parse(response.body) as Record<string, unknown>;
  assert.equal(body.error_code, code);
  assert.equal(body.request_id, response.headers['x-request-id']);
  return String(body.error_msg);
}

/** A batch of one job padded with whitespace to `size` bytes: valid JSON, as big as wanted. */
function paddedBatch(size: number): { body: Buffer; jobId: string } {
  const jobId = uniqueId('big');
  const json = JSON.stringify({ jobs: [{ project_id: PROJECT_A, ...sdrsJob({ job_id: jobId }) }] });
  return { body: Buffer.concat([Buffer.from(json.slice(0, -1)), Buffer.alloc(size - json.length, 0x20), Buffer.from('}')]), jobId };
}

/** The headers of a batch POST signed with `key`, for fetch (which sets Host itself, as signed). */
function signedBatch(port: number, body: Buffer, key: { ak: string; sk: string }): Record<string, string> {
  const { host: _host, ...headers } = signRequest(
    { method: 'POST', url: BATCH, host: `127.0.0.1:${port}`, headers: { 'content-type': 'application/json' }, body },
    key,
  );
  return headers;
}

for (const engine of engines) {
  describe(`authentication before the body [${engine}]`, () => {
    let server: TestApp;
    let app: FastifyInstance;
    let port = 0;
    before(async () => {
      // No failure limit here: the lockout case below fails five times from one address.
      server = await serve(engine, { authFailureLimit: '0' });
      app = server.app;
      await app.listen({ host: '127.0.0.1', port: 0 });
      port = (app.server.address() as AddressInfo).port;
    });
    after(() => server.close());

    it('answers 401 to a big body without valid credentials before reading it, and closes the connection', async () => {
      const now = formatSdkDate(Date.now());
      const signature = 'Signature=' + '0'.repeat(64);
      const cases: [headers: string[], says: RegExp][] = [
        [[], /no X-Auth-Token header and no AK\/SK signature/],
        [['X-Auth-Token: not-a-token'], /the token is unknown or expired/],
        [['Authorization: Bearer abc'], /not an SDK-HMAC-SHA256 signature/],
        [['Authorization: SDK-HMAC-SHA256 Access=AK'], /no SignedHeaders/],
        [[`Authorization: SDK-HMAC-SHA256 Access=UNKNOWNAK, SignedHeaders=host;x-sdk-date, ${signature}`, `X-Sdk-Date: ${now}`], /unknown access key/],
        [[`Authorization: SDK-HMAC-SHA256 Access=${ACCESS_KEYS.alice.ak}, SignedHeaders=host;x-sdk-date, ${signature}`], /no X-Sdk-Date header/],
        [
          [`Authorization: SDK-HMAC-SHA256 Access=${ACCESS_KEYS.alice.ak}, SignedHeaders=host;x-sdk-date, ${signature}`, 'X-Sdk-Date: 20200101T000000Z'],
          /outside the 15-minute window/,
        ],
        [
          [`Authorization: SDK-HMAC-SHA256 Access=${ACCESS_KEYS.alice.ak}, SignedHeaders=host;x-sdk-date;x-project-id, ${signature}`, `X-Sdk-Date: ${now}`],
          /the signed header 'x-project-id' is not in the request/,
        ],
      ];
      for (const [headers, says] of cases) {
        const response = await refusedUnread(port, headers);
        assert.match(gatewayBody(response, 401, 'APIGW.0301'), says, headers.join(' | '));
      }
    });

    it('answers 403 in the route format to a caller not allowed there, before reading the body', async () => {
      const response = await refusedUnread(port, [`X-Auth-Token: ${TOKENS.reader}`], `/taskcenter/v1/projects/${PROJECT_A}/jobs/job-1`, 'PUT');
      assert.equal(response.status, 403);
      assert.equal((JSON.parse(response.body) as { error: { code: string } }).error.code, 'TASKCENTER.0005');
    });

    it('refuses an access key locked out from the address before reading the body', async () => {
      const url = `/taskcenter/v1/projects/${PROJECT_A}/jobs/${uniqueId('locked')}`;
      const wrong = { ak: ACCESS_KEYS.alice.ak, sk: 'not-the-secret' };
      for (let i = 0; i < 5; i++) {
        const headers = signRequest({ method: 'GET', url, host: '127.0.0.1' }, wrong);
        assert.equal((await app.inject({ method: 'GET', url, headers, remoteAddress: '127.0.0.1' })).statusCode, 401);
      }
      const signed = signRequest({ method: 'PUT', url, host: '127.0.0.1', headers: { 'content-type': 'application/json' } }, ACCESS_KEYS.alice);
      const lines = Object.entries(signed)
        .filter(([name]) => name !== 'host' && name !== 'content-type')
        .map(([name, value]) => `${name}: ${value}`);
      const response = await refusedUnread(port, lines, url, 'PUT');
      assert.match(gatewayBody(response, 401, 'APIGW.0301'), /is locked from this address/);
    });

    it('reads at most 64 KiB from a request that is not authenticated: a public or unknown route answers 413 and closes', async () => {
      for (const path of ['/healthz', '/nowhere']) {
        const response = await refusedUnread(port, [`X-Auth-Token: ${TOKENS.admin}`], path);
        assert.equal(
          gatewayBody(response, 413, 'APIGW.0201'),
          `request body exceeds the ${UNAUTHENTICATED_BODY_LIMIT}-byte limit of a request that is not authenticated`,
        );
      }
      // Chunked, with no length to refuse up front: cut off once past the limit.
      const chunk = (n: number) => `${n.toString(16)}\r\n${' '.repeat(n)}\r\n`;
      const chunked = 'POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
      const { raw, closed } = await exchange(port, [chunked, ...Array.from({ length: 20 }, () => chunk(8192))]);
      const [response] = parseResponses(raw);
      assert.ok(response !== undefined, raw.toString());
      gatewayBody(response, 413, 'APIGW.0201');
      assert.ok(closed);
      // A small body on a public route is still read and answered as before.
      const small = await exchange(port, [
        'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}',
      ]);
      assert.equal(parseResponses(small.raw)[0]?.status, 200);
    });

    it('takes a body just under the full limit from a caller with a token or a good AK/SK signature', async () => {
      for (const how of ['token', 'aksk'] as const) {
        const { body, jobId } = paddedBatch(BODY_LIMIT - 1024);
        const headers = how === 'token' ? { 'x-auth-token': TOKENS.admin, 'content-type': 'application/json' } : signedBatch(port, body, ACCESS_KEYS.admin);
        const response = await fetch(`http://127.0.0.1:${port}${BATCH}`, { method: 'POST', headers, body });
        const text = await response.text();
        assert.equal(response.status, 200, text);
        assert.deepEqual(
          (JSON.parse(text) as { results: { job_id: string; result: string }[] }).results.map((r) => [r.job_id, r.result]),
          [[jobId, 'created']],
        );
      }
    });

    it('reads the body of a request with a known key before it can tell a bad signature: the lockout bounds that', async () => {
      const { body } = paddedBatch(64 * 1024);
      const headers = signedBatch(port, body, { ak: ACCESS_KEYS.admin.ak, sk: 'wrong' });
      const response = await fetch(`http://127.0.0.1:${port}${BATCH}`, { method: 'POST', headers, body });
      assert.equal(response.status, 401);
      assert.match(((await response.json()) as { error_msg: string }).error_msg, /signature mismatch/);
    });
  });

  describe(`failed authentications per client address [${engine}]`, () => {
    let server: TestApp;
    before(async () => {
      server = await serve(engine, { authFailureLimit: '3', trustProxy: '127.0.0.1' });
    });
    after(() => server.close());
    const list = `/v1/${PROJECT_A}/task-center/failure-jobs`;
    const from = (client: string, token: string) =>
      server.app.inject({ url: list, headers: { 'x-auth-token': token, 'x-forwarded-for': client }, remoteAddress: '127.0.0.1' });

    it('answers 429 APIGW.0308 with Retry-After, before authenticating, once an address failed its count, and only that address', async () => {
      for (let i = 0; i < 3; i++) assert.equal((await from('203.0.113.5', 'wrong')).statusCode, 401);
      for (const token of ['wrong', TOKENS.admin]) {
        const refused = await from('203.0.113.5', token);
        assert.equal(refused.statusCode, 429, refused.body);
        const body = refused.json();
        assert.deepEqual(Object.keys(body).sort(), ['error_code', 'error_msg', 'request_id']);
        assert.equal(body.error_code, 'APIGW.0308');
        assert.match(body.error_msg, /^The throttling threshold has been reached: policy ip over ratelimit, limit:3 failed authentications, time:60 seconds/);
        const retryAfter = Number(refused.headers['retry-after']);
        assert.ok(retryAfter >= 1 && retryAfter <= 60, String(refused.headers['retry-after']));
      }
      // Another client behind the same trusted proxy is untouched, and so are public routes.
      assert.equal((await from('198.51.100.9', TOKENS.admin)).statusCode, 200);
      const health = await server.app.inject({ url: '/healthz', headers: { 'x-forwarded-for': '203.0.113.5' }, remoteAddress: '127.0.0.1' });
      assert.equal(health.statusCode, 200);
    });

    it('counts by the peer when the peer is not a trusted proxy: its X-Forwarded-For is ignored', async () => {
      const direct = (client: string, token: string) =>
        server.app.inject({ url: list, headers: { 'x-auth-token': token, 'x-forwarded-for': client }, remoteAddress: '192.0.2.44' });
      for (let i = 0; i < 3; i++) assert.equal((await direct(`203.0.113.${100 + i}`, 'wrong')).statusCode, 401);
      assert.equal((await direct('203.0.113.200', TOKENS.admin)).statusCode, 429);
    });
  });
}
