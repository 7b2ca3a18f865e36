/**
 * What HTTP parsers see, over raw sockets to a listening server on each engine (issue 11
 * item 8): a table of known-hostile requests (no Host, pipelining before garbage, bad
 * chunked encoding, huge headers, invalid methods, bad percent-encoding, NUL bytes,
 * duplicate Content-Length, smuggling framings), then generated requests assembled from
 * hostile parts, some pipelined after valid requests, some cut short by the client
 * hanging up. Every answer carries an X-Request-Id and an error body in a format the
 * path may answer in, never a 5xx or a leak; valid requests pipelined before anything
 * are answered, in order; /healthz answers after each case and no store error is counted.
 *
 * Seeded: see ./fuzz-harness.ts for TASKCENTER_FUZZ_SEED and TASKCENTER_FUZZ_PATH.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { engines, PROJECT_A, TOKENS } from '../helpers.js';
import { exchange, parseResponses, type RawResponse } from '../raw-http.js';
import {
  aliveProblems,
  carriedText,
  closeServer,
  listeningServer,
  newStats,
  responseProblems,
  runProperty,
  storeErrors,
  summary,
  type FuzzStats,
} from './fuzz-harness.js';

/** Generated raw cases per engine. */
const RUNS = 150;

const AUTH = `X-Auth-Token: ${TOKENS.admin}\r\n`;
/** A valid KPS report of job `id`. */
const job = (id: string) =>
  JSON.stringify({
    job_id: id,
    service: 'kps',
    job_type: 'resetKeypair',
    operation: 'reset',
    status: 'RUNNING',
    begin_time: '2024-01-01T00:00:00.000Z',
    server: { id: 's0', name: 'raw' },
    keypair_name: 'kp',
  });
const put = (id: string) =>
  `PUT /taskcenter/v1/projects/${PROJECT_A}/jobs/${id} HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Type: application/json\r\nConnection: close\r\n`;
const JOB = job('raw-1');
const PUT_HEAD = put('raw-1');

/** A valid request that must be answered 200, kept alive: what is pipelined before the hostile part. */
const VALID = [`GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`, `GET /v3/${PROJECT_A}/failed-tasks?limit=1 HTTP/1.1\r\nHost: x\r\n${AUTH}\r\n`] as const;

interface RawCase {
  readonly name: string;
  readonly bytes: string | Buffer;
  /** The statuses the responses must have, in order; omitted: any number, each checked. */
  readonly statuses?: readonly number[];
  readonly hangUp?: boolean;
  readonly idleMs?: number;
}

const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${AUTH}${extra}Connection: close\r\n\r\n`;
const chunked = (body: string) =>
  `POST /taskcenter/v1/jobs/batch HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body}`;

const TABLE: readonly RawCase[] = [
  { name: 'no Host header', bytes: `GET /v3/${PROJECT_A}/failed-tasks HTTP/1.1\r\n${AUTH}Connection: close\r\n\r\n`, statuses: [400] },
  { name: 'no Host header, HTTP/1.0', bytes: 'GET /healthz HTTP/1.0\r\n\r\n', statuses: [200] },
  { name: 'two Host headers', bytes: `GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n`, statuses: [400] },
  { name: 'pipelined before garbage', bytes: `${VALID[0]}${VALID[1]}\x00\x01garbage\r\n\r\n`, statuses: [200, 200, 400] },
  { name: 'pipelined before a bad request line', bytes: `${VALID[1]}${VALID[0]}GET / HTTP/1.1 extra\r\n\r\n`, statuses: [200, 200, 400] },
  { name: 'chunked: size not hex', bytes: chunked('zz\r\n{}\r\n0\r\n\r\n'), statuses: [400] },
  { name: 'chunked: negative size', bytes: chunked('-1\r\n{}\r\n0\r\n\r\n'), statuses: [400] },
  { name: 'chunked: size overflows', bytes: chunked('fffffffffffffffffffff\r\n{}\r\n0\r\n\r\n'), statuses: [400] },
  { name: 'chunked: data longer than its size', bytes: chunked('1\r\n{}\r\n0\r\n\r\n'), statuses: [400] },
  { name: 'chunked: bad extension', bytes: chunked('2;\x00=\r\n{}\r\n0\r\n\r\n'), statuses: [400] },
  { name: 'chunked: no last chunk, client hangs up', bytes: chunked('2\r\n{}\r\n'), hangUp: true },
  // A body nobody reads (no credentials, a method the route lacks) cut short by a bad chunk:
  // once took the process down with an uncaught "aborted" when the connection closed.
  ...['TRACE', 'OPTIONS', 'PATCH'].map((method) => ({
    name: `chunked: bad size in an unread ${method} body`,
    bytes: `${method} /taskcenter/v1/jobs/batch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
    statuses: [400],
  })),
  { name: 'chunked and Content-Length', bytes: `${PUT_HEAD}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, statuses: [400] },
  { name: 'Transfer-Encoding: chunked twice', bytes: `${PUT_HEAD}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n` },
  { name: 'Transfer-Encoding: gzip, chunked', bytes: `${PUT_HEAD}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n` },
  { name: 'Transfer-Encoding: chunked, gzip', bytes: `${PUT_HEAD}Transfer-Encoding: chunked, gzip\r\n\r\n2\r\n{}\r\n0\r\n\r\n`, statuses: [400] },
  { name: 'Transfer-Encoding: xchunked', bytes: `${PUT_HEAD}Transfer-Encoding: xchunked\r\n\r\n{}`, statuses: [400] },
  { name: 'duplicate Content-Length, same', bytes: `${PUT_HEAD}Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}`, statuses: [400] },
  { name: 'duplicate Content-Length, different', bytes: `${PUT_HEAD}Content-Length: 2\r\nContent-Length: 5\r\n\r\n{}`, statuses: [400] },
  { name: 'Content-Length list', bytes: `${PUT_HEAD}Content-Length: 2, 2\r\n\r\n{}`, statuses: [400] },
  { name: 'Content-Length negative', bytes: `${PUT_HEAD}Content-Length: -2\r\n\r\n{}`, statuses: [400] },
  { name: 'Content-Length with a plus', bytes: `${PUT_HEAD}Content-Length: +2\r\n\r\n{}`, statuses: [400] },
  { name: 'Content-Length far over the limit', bytes: `${PUT_HEAD}Content-Length: 99999999999\r\n\r\n{}`, statuses: [413] },
  { name: 'Content-Length over the body, client hangs up', bytes: `${PUT_HEAD}Content-Length: 500\r\n\r\n{`, hangUp: true },
  { name: 'one header of 20 KB', bytes: get('/healthz', `X-Big: ${'a'.repeat(20_000)}\r\n`), statuses: [431] },
  { name: '300 headers of 100 bytes', bytes: get('/healthz', `X-H: ${'b'.repeat(94)}\r\n`.repeat(300)), statuses: [431] },
  { name: '3,000 small headers', bytes: get('/healthz', 'X: y\r\n'.repeat(3000)) },
  { name: 'a header name of 20 KB', bytes: get('/healthz', `${'N'.repeat(20_000)}: v\r\n`), statuses: [431] },
  { name: 'a path of 20 KB', bytes: get(`/v3/${PROJECT_A}/tasks/${'t'.repeat(20_000)}`), statuses: [431] },
  { name: 'lower-case method', bytes: 'get /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', statuses: [400] },
  { name: 'unknown method', bytes: 'FOO /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', statuses: [400] },
  { name: 'method with a symbol', bytes: 'G@T /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', statuses: [400] },
  { name: 'no method', bytes: ' /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', statuses: [400] },
  { name: 'a WebDAV method', bytes: `PROPFIND /v3/${PROJECT_A}/failed-tasks HTTP/1.1\r\nHost: x\r\n${AUTH}Connection: close\r\n\r\n`, statuses: [404] },
  { name: 'CONNECT', bytes: 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n', statuses: [404] },
  { name: 'CONNECT pipelined after a valid request', bytes: `${VALID[1]}CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n`, statuses: [200, 404] },
  { name: 'TRACE', bytes: 'TRACE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', statuses: [404] },
  { name: 'OPTIONS *', bytes: 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' },
  { name: 'absolute-form target', bytes: 'GET http://x/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' },
  { name: 'target without a slash', bytes: 'GET healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', statuses: [400] },
  { name: 'HTTP/2 preface', bytes: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', statuses: [400] },
  { name: 'HTTP/1.2', bytes: 'GET /healthz HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n', statuses: [400] },
  { name: 'bad percent-encoding in a project id', bytes: get('/v1/%zz/task-center/failure-jobs'), statuses: [400] },
  { name: 'a lone % in a task id', bytes: get(`/v3/${PROJECT_A}/tasks/%`), statuses: [400] },
  { name: 'truncated UTF-8 in a job id', bytes: get(`/v1/${PROJECT_A}/jobs/%E0%A4%A`), statuses: [400] },
  { name: 'an overlong slash in a job id', bytes: get(`/taskcenter/v1/projects/${PROJECT_A}/jobs/%C0%AF`), statuses: [400] },
  { name: 'an encoded NUL in a job id', bytes: get(`/taskcenter/v1/projects/${PROJECT_A}/jobs/a%00b`), statuses: [400] },
  { name: 'an encoded slash in a project id', bytes: get('/v3/proj%2Fa/failed-tasks'), statuses: [400] },
  {
    name: 'raw invalid UTF-8 in the path',
    bytes: Buffer.from(`GET /v3/${PROJECT_A}/tasks/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 'latin1'),
    statuses: [400],
  },
  { name: 'a NUL in the path', bytes: 'GET /healthz\x00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', statuses: [400] },
  { name: 'a NUL in a header value', bytes: get('/healthz', 'X-A: a\x00b\r\n'), statuses: [400] },
  { name: 'a NUL in a header name', bytes: get('/healthz', 'X\x00A: b\r\n'), statuses: [400] },
  {
    name: 'a NUL in the token',
    bytes: `GET /v3/${PROJECT_A}/failed-tasks HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${TOKENS.admin}\x00\r\nConnection: close\r\n\r\n`,
    statuses: [400],
  },
  { name: 'a raw NUL inside a JSON string', bytes: `${PUT_HEAD}Content-Length: ${JOB.length}\r\n\r\n${JOB.replace('"raw"', '"r\x00w"')}`, statuses: [400] },
  {
    name: 'invalid UTF-8 in a JSON body',
    bytes: Buffer.from(`${PUT_HEAD}Content-Length: ${JOB.length}\r\n\r\n${JOB.replace('"raw"', '"r\xffw"')}`, 'latin1'),
    statuses: [400],
  },
  { name: 'a space before the colon', bytes: get('/healthz', 'X-A : b\r\n'), statuses: [400] },
  { name: 'obsolete line folding', bytes: get('/healthz', 'X-A: b\r\n c\r\n'), statuses: [400] },
  { name: 'bare LF line ends', bytes: 'GET /healthz HTTP/1.1\nHost: x\nConnection: close\n\n' },
  { name: 'bare CR in a header', bytes: get('/healthz', 'X-A: b\rc\r\n'), statuses: [400] },
  {
    name: 'Expect: 100-continue',
    bytes: `${put('raw-2')}Expect: 100-continue\r\nContent-Length: ${job('raw-2').length}\r\n\r\n${job('raw-2')}`,
    statuses: [201],
  },
  { name: 'Expect: something else', bytes: `${PUT_HEAD}Expect: nonsense\r\nContent-Length: ${JOB.length}\r\n\r\n${JOB}`, statuses: [417] },
  { name: 'Expect: something else, pipelined after a valid request', bytes: `${VALID[0]}${get('/healthz', 'Expect: x\r\n')}`, statuses: [200, 417] },
  {
    name: 'Upgrade: h2c',
    bytes: get('/healthz', 'Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n').replace('Connection: close', 'Connection: Upgrade, HTTP2-Settings'),
  },
  { name: 'a valid report (the case the rest are measured against)', bytes: `${PUT_HEAD}Content-Length: ${JOB.length}\r\n\r\n${JOB}`, statuses: [201] },
];

/** The statuses a case may not see: refusals of its own, 1xx interim answers aside. */
function finalStatuses(responses: readonly RawResponse[]): number[] {
  return responses.filter((r) => r.status >= 200).map((r) => r.status);
}

/** Sends `c`, checks every answer and the server after; returns what is wrong. */
async function runCase(port: number, c: RawCase & { pipelined?: number }, stats: FuzzStats): Promise<string[]> {
  stats.cases++;
  const { raw, closed } = await exchange(port, [c.bytes], c.idleMs ?? 1000, c.hangUp ?? false);
  const problems: string[] = [];
  let responses: RawResponse[] = [];
  try {
    responses = parseResponses(raw);
  } catch (error) {
    problems.push(`unreadable answer: ${(error as Error).message}`);
  }
  const bytes = typeof c.bytes === 'string' ? Buffer.from(c.bytes, 'latin1') : c.bytes;
  const carried = carriedText([bytes]);
  const target = /^\S*\s+(\S*)/.exec(bytes.toString('latin1'))?.[1] ?? '';
  const path = target.split('?')[0] ?? '';
  for (const response of responses) {
    stats.requests++;
    stats.statuses.set(response.status, (stats.statuses.get(response.status) ?? 0) + 1);
    problems.push(...responseProblems(response, { method: 'GET', path, carried }));
  }
  const statuses = finalStatuses(responses);
  if (c.statuses !== undefined && JSON.stringify(statuses) !== JSON.stringify(c.statuses))
    problems.push(`statuses ${JSON.stringify(statuses)}, expected ${JSON.stringify(c.statuses)}`);
  // A client that hangs up gives up the answers still owed to it: Node aborts the requests
  // pending when the client's side closes (httpAllowHalfOpen is off).
  const pipelined = (c.hangUp ?? false) ? 0 : (c.pipelined ?? 0);
  if (pipelined > 0 && !statuses.slice(0, pipelined).every((s) => s === 200))
    problems.push(`the ${pipelined} valid requests pipelined first were answered ${JSON.stringify(statuses)}`);
  if (statuses.length < pipelined) problems.push(`only ${statuses.length} answers to ${pipelined} valid requests pipelined first`);
  if (closed && raw.length === 0 && !(c.hangUp ?? false)) problems.push('the server closed the connection without a byte');
  problems.push(...(await aliveProblems(port)));
  return problems;
}

// ---- generated raw requests ----

const latin1 = (min: number, max: number, maxLength: number) => fc.string({ unit: fc.integer({ min, max }).map((c) => String.fromCharCode(c)), maxLength });

const method = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE') },
  fc.constantFrom('get', 'G@T', 'FOO', '', 'PATCH', 'OPTIONS', 'TRACE', 'PRI', 'M'.repeat(300), 'GET GET', 'HEAD\x00'),
);

const target = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      '/healthz',
      '/readyz',
      `/v1/${PROJECT_A}/task-center/failure-jobs`,
      `/v1/${PROJECT_A}/task-center/failure-jobs/batch`,
      `/v1/${PROJECT_A}/jobs/j0`,
      `/v3/${PROJECT_A}/failed-tasks?limit=2&offset=1`,
      `/v3/${PROJECT_A}/tasks/j0`,
      `/taskcenter/v1/projects/${PROJECT_A}/jobs/raw-2`,
      '/taskcenter/v1/jobs/batch',
      `/taskcenter/v1/projects/${PROJECT_A}/subscriptions`,
    ),
  },
  fc.tuple(fc.constantFrom(`/v3/${PROJECT_A}/tasks/`, `/taskcenter/v1/projects/${PROJECT_A}/jobs/`, '/v1/', '/'), latin1(0, 0xff, 12)).map(([a, b]) => a + b),
  fc.constantFrom('*', 'http://x/healthz', '', 'healthz', '/%', `/${'a'.repeat(20_000)}`, '//', '/..%2f..%2fetc/passwd', '/v3/../healthz'),
);

const version = fc.oneof(
  { weight: 8, arbitrary: fc.constant('HTTP/1.1') },
  fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.2', 'HTTP/0.9', 'http/1.1', 'HTTP/1.1 x', ''),
);

const headerLine = fc.oneof(
  fc.constantFrom(
    AUTH,
    `X-Auth-Token: bad\r\n`,
    'Content-Type: application/json\r\n',
    'Content-Type: text/plain\r\n',
    'Expect: 100-continue\r\n',
    'Expect: nonsense\r\n',
    'Bad Header\r\n',
    ': x\r\n',
    'X: a\x00b\r\n',
    'X\x00Y: z\r\n',
    ' folded\r\n',
    `X-Long: ${'a'.repeat(20_000)}\r\n`,
    'Transfer-Encoding: gzip\r\n',
    'Authorization: SDK-HMAC-SHA256 Access=x, SignedHeaders=host, Signature=00\r\nX-Sdk-Date: 20190101T000000Z\r\n',
  ),
  fc.tuple(fc.stringMatching(/^[A-Za-z-]{1,12}$/), latin1(0, 0xff, 20)).map(([name, value]) => `${name}: ${value}\r\n`),
);

const FRAMINGS = [
  'none',
  'cl',
  'cl-dup-same',
  'cl-dup-diff',
  'cl-list',
  'cl-short',
  'cl-hex',
  'cl+te',
  'chunked',
  'chunked-bad-size',
  'chunked-overflow',
  'chunked-no-crlf',
  'chunked-ext',
  'te-gzip-chunked',
  'te-chunked-gzip',
] as const;

function framed(framing: (typeof FRAMINGS)[number], body: string): string {
  const n = Buffer.byteLength(body, 'latin1');
  const chunk = `${n.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
  switch (framing) {
    case 'none':
      return `\r\n${body}`;
    case 'cl':
      return `Content-Length: ${n}\r\n\r\n${body}`;
    case 'cl-dup-same':
      return `Content-Length: ${n}\r\nContent-Length: ${n}\r\n\r\n${body}`;
    case 'cl-dup-diff':
      return `Content-Length: ${n}\r\nContent-Length: ${n + 1}\r\n\r\n${body}`;
    case 'cl-list':
      return `Content-Length: ${n}, ${n}\r\n\r\n${body}`;
    case 'cl-short':
      return `Content-Length: ${n + 10}\r\n\r\n${body}`;
    case 'cl-hex':
      return `Content-Length: 0x${n.toString(16)}\r\n\r\n${body}`;
    case 'cl+te':
      return `Content-Length: ${n}\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}`;
    case 'chunked':
      return `Transfer-Encoding: chunked\r\n\r\n${chunk}`;
    case 'chunked-bad-size':
      return `Transfer-Encoding: chunked\r\n\r\nzz\r\n${body}\r\n0\r\n\r\n`;
    case 'chunked-overflow':
      return `Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n${body}\r\n0\r\n\r\n`;
    case 'chunked-no-crlf':
      return `Transfer-Encoding: chunked\r\n\r\n${n.toString(16)}\r\n${body}0\r\n\r\n`;
    case 'chunked-ext':
      return `Transfer-Encoding: chunked\r\n\r\n${n.toString(16)};a="b\r\n${body}\r\n0\r\n\r\n`;
    case 'te-gzip-chunked':
      return `Transfer-Encoding: gzip, chunked\r\n\r\n${chunk}`;
    case 'te-chunked-gzip':
      return `Transfer-Encoding: chunked, gzip\r\n\r\n${chunk}`;
  }
}

const body = fc.oneof(
  fc.constantFrom('', job('raw-3'), '{bad', '{"a":"\x00"}', '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]'),
  latin1(0, 0xff, 40),
);

/** A raw request built from hostile parts, maybe after valid pipelined ones, maybe cut short. */
const rawCase = fc
  .record({
    pipelined: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 2 })),
    method,
    target,
    version,
    host: fc.oneof({ weight: 8, arbitrary: fc.constant('Host: x\r\n') }, fc.constantFrom('', 'Host: a\r\nHost: b\r\n', 'Host:\r\n', 'Host: x\x00\r\n')),
    headers: fc.array(headerLine, { maxLength: 3 }),
    framing: fc.constantFrom(...FRAMINGS),
    body,
    lineEnd: fc.oneof({ weight: 9, arbitrary: fc.constant('\r\n') }, fc.constant('\n')),
    hangUp: fc.boolean(),
  })
  .map((r) => {
    const head = `${r.method} ${r.target} ${r.version}\r\n${r.host}Connection: close\r\n${r.headers.join('')}`;
    const request = (head + framed(r.framing, r.body)).replace(/\r\n/g, r.lineEnd);
    const before = Array.from({ length: r.pipelined }, (_, i) => VALID[i % VALID.length] as string).join('');
    return { name: 'generated', bytes: Buffer.from(before + request, 'latin1'), pipelined: r.pipelined, hangUp: r.hangUp, idleMs: 300 };
  });

for (const engine of engines) {
  describe(`fuzz: raw HTTP [${engine}]`, () => {
    let server: Awaited<ReturnType<typeof listeningServer>> | undefined;
    before(async () => {
      server = await listeningServer(engine);
    });
    after(async () => {
      await closeServer(server);
    });

    it('answers each hostile request of the table as expected, with a request id and an APIGW body', async (t) => {
      const s = server as NonNullable<typeof server>;
      const stats = newStats();
      const started = performance.now();
      const errors = await storeErrors(s.port);
      const failures: string[] = [];
      for (const c of TABLE) {
        const problems = await runCase(s.port, c, stats);
        if (problems.length > 0) failures.push(`${c.name}: ${problems.join('; ')}`);
      }
      assert.deepEqual(failures, []);
      assert.equal(await storeErrors(s.port), errors, 'taskcenter_store_errors_total did not move');
      t.diagnostic(summary(`raw table [${engine}]`, TABLE.length, stats, performance.now() - started));
    });

    it('answers generated raw requests without a 5xx or a leak, pipelined ones first, and stays up', async (t) => {
      const s = server as NonNullable<typeof server>;
      const stats = newStats();
      const started = performance.now();
      let errors = await storeErrors(s.port);
      const runs = await runProperty(
        'raw',
        RUNS,
        fc.asyncProperty(rawCase, async (c) => {
          const problems = await runCase(s.port, c, stats);
          const now = await storeErrors(s.port);
          if (now !== errors) problems.push(`taskcenter_store_errors_total went from ${errors} to ${now}`);
          errors = now;
          if (problems.length > 0) throw new Error(`[${engine}] ${JSON.stringify(c.bytes.toString('latin1').slice(0, 300))}: ${problems.join('; ')}`);
        }),
      );
      t.diagnostic(summary(`raw generated [${engine}]`, runs, stats, performance.now() - started));
    });
  });
}
