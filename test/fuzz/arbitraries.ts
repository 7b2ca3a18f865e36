/**
 * fast-check arbitraries for requests over the documented routes: path parameters
 * (valid and invalid ids, encoded slashes, unicode, bad percent-encoding), query strings
 * (out-of-range and repeated values, arrays, wrong types), credentials (valid and bad
 * tokens, AK/SK-ish and validly signed Authorization headers) and bodies (valid job
 * documents and mutations of them, deep nesting, wrong content types, huge numbers,
 * invalid UTF-8). A {@link FuzzCase} is plain data, so fast-check prints and shrinks it;
 * {@link toWire} turns it into the bytes to send.
 */
import fc from 'fast-check';
import { formatSdkDate, signRequest } from '../../src/auth/aksk.js';
import { JOB_STATUSES, KPS_OPERATIONS, SDRS_OPERATIONS, SDRS_RESOURCE_TYPES } from '../../src/jobs/jobs.schema.js';
import { ACCESS_KEYS, PROJECT_A, PROJECT_B, TOKENS, type DocumentedParameter, type DocumentedRoute } from '../helpers.js';
import type { WireRequest } from './fuzz-harness.js';

/** A project only the fuzz suite writes to. */
export const FUZZ_PROJECT = 'fuzz-p';
const PROJECTS = [PROJECT_A, PROJECT_B, FUZZ_PROJECT] as const;
/** The few job ids the suite reuses, so reports update, conflict and are read back. */
const JOB_IDS = ['j0', 'j1', 'j2', 'k0', 'k1'] as const;
const GROUPS = ['g0', 'g1'] as const;

/** How a case authenticates. `sign` is resolved when sent: a real AK/SK signature over the final request. */
export type Credentials =
  | { readonly kind: 'none' }
  | { readonly kind: 'token'; readonly token: string; readonly valid: boolean }
  | { readonly kind: 'authorization'; readonly authorization: string; readonly sdkDate: string | null }
  | { readonly kind: 'sign'; readonly who: 'admin' | 'alice' };

/** One generated request, as data. */
export interface FuzzCase {
  /** The documented operation it was generated from. */
  readonly operation: string;
  readonly method: string;
  /** The path as sent; `@sub<n>@` stands for the n-th subscription the run created. */
  readonly path: string;
  /** The path's project id as sent, or null when the path names none. */
  readonly project: string | null;
  /** The query string without `?`, or null for none. */
  readonly query: string | null;
  readonly credentials: Credentials;
  readonly headers: readonly (readonly [string, string])[];
  /** The body: text, or bytes written as latin1 when `binary`. */
  readonly body: string | null;
  readonly binary: boolean;
}

/** Percent-encodes every byte of `text`'s UTF-8 but the unreserved characters. */
function pct(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A path segment or query value as a hostile client writes it: already on the wire. */
const hostileText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    '.',
    '..',
    '%2e%2e',
    '%2F',
    'a%2Fb',
    'a%2fb',
    'a/b',
    '%5C',
    '%00',
    'a%00b',
    '%',
    '%zz',
    '%1',
    '%C0%AF',
    '%FF',
    '%E2%82',
    '%ED%A0%80',
    '%EF%BF%BF',
    '%C3%A9',
    '%F0%9F%92%A9',
    'x'.repeat(64),
    'x'.repeat(65),
    'x'.repeat(101),
    'x'.repeat(3000),
    '%20',
    '+',
    'a+b',
    ';',
    'a;b=c',
    '*',
    "'",
    '%27%20OR%20%271%27%3D%271',
    '1%3B%20DROP%20TABLE%20jobs%20--',
    '%25',
    '%5F',
    '%5C%25',
    '$1',
    '?',
    'sub-',
    `sub-${'G'.repeat(32)}`,
    `sub-${'f'.repeat(33)}`,
    'batch',
    'failure-jobs',
    '-1',
    '0',
    '1e3',
    '9'.repeat(40),
    '__proto__',
    'constructor',
    'ÿé',
  ),
  fc.string({ unit: 'binary', maxLength: 12 }).map(pct),
  fc.string({ unit: 'grapheme', maxLength: 12 }).map(pct),
  fc.uint8Array({ minLength: 1, maxLength: 8 }).map((bytes) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
  // Printable ASCII as is, unencoded (", <, {, |, \\, ^, `...). Bytes from 0x7f up in a raw
  // path are the HTTP parser's to refuse: the raw-socket suite sends those.
  fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 10 }),
);

const validId = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);

/** A path parameter's value by its name. */
function pathValue(name: string): fc.Arbitrary<string> {
  switch (name) {
    case 'project_id':
      return fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...PROJECTS) },
        { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/) },
        hostileText,
      );
    case 'subscription_id':
      return fc.oneof({ weight: 3, arbitrary: fc.nat(20).map((n) => `@sub${n}@`) }, fc.stringMatching(/^sub-[0-9a-f]{32}$/), hostileText);
    case 'delivery_id':
      return fc.oneof(fc.stringMatching(/^[1-9][0-9]{0,15}$/), fc.constantFrom('1', '0', '01', '99999999999999999', '-1'), hostileText);
    case 'server_group_id':
      return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...GROUPS) }, validId, hostileText);
    default:
      return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...JOB_IDS) }, validId, hostileText);
  }
}

/** A query parameter's value that its schema allows. */
function queryValueValid(parameter: DocumentedParameter): fc.Arbitrary<string> {
  const schema = parameter.schema as { type?: string; minimum?: number; maximum?: number; anyOf?: { enum?: string[] }[] };
  const valid: fc.Arbitrary<string>[] = [];
  if (schema.type === 'integer') valid.push(fc.integer({ min: schema.minimum ?? 0, max: Math.min(schema.maximum ?? 1000, 2000) }).map(String));
  const values = (schema.anyOf ?? []).flatMap((branch) => branch.enum ?? []);
  if (values.length > 0) valid.push(fc.constantFrom(...values));
  if (parameter.name === 'marker' || parameter.name === 'server_group_id' || parameter.name === 'project_id')
    valid.push(fc.constantFrom(...JOB_IDS, ...GROUPS));
  if (parameter.name === 'resource_name') valid.push(fc.string({ maxLength: 10 }).map(pct));
  return valid.length > 0 ? fc.oneof(...valid) : fc.constant('1');
}

/** A query parameter's value: valid for its schema, or not. */
function queryValue(parameter: DocumentedParameter | undefined): fc.Arbitrary<string> {
  const valid = parameter === undefined ? [] : [queryValueValid(parameter)];
  const wrong = fc.constantFrom(
    '-1',
    '1001',
    '2147483647',
    '2147483648',
    '9007199254740993',
    '1e3',
    '1.5',
    '0x10',
    '+1',
    '%201',
    '1%20',
    'NaN',
    'Infinity',
    '-0',
    '00001',
    'abc',
    'true',
    '[]',
    '%7B%7D',
  );
  return fc.oneof({ weight: 3, arbitrary: valid.length > 0 ? fc.oneof(...valid) : hostileText }, wrong, hostileText);
}

/** A query string over `parameters`: documented keys and others, repeated, as arrays, malformed. */
function queryString(parameters: readonly DocumentedParameter[]): fc.Arbitrary<string | null> {
  const documented = parameters.filter((p) => p.in === 'query');
  const names = documented.map((p) => p.name);
  const key = fc.oneof(
    { weight: 4, arbitrary: names.length > 0 ? fc.constantFrom(...names) : fc.constant('limit') },
    fc.constantFrom('limit', 'offset', 'marker', 'limit[]', 'limit[0]', 'offset[a]', '__proto__', 'constructor', 'toString', 'LIMIT', '', 'a.b'),
    fc.string({ maxLength: 8 }).map(pct),
  );
  const pair = fc
    .tuple(key, fc.boolean())
    .chain(([k, withValue]) => queryValue(documented.find((p) => p.name === k.replace(/\[.*$/, ''))).map((v) => (withValue ? `${k}=${v}` : k)));
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(null) },
    { weight: 6, arbitrary: fc.array(pair, { minLength: 1, maxLength: 5 }).map((pairs) => pairs.join('&')) },
    // The same key twice: a parameter given twice is an array to the parser.
    { weight: 2, arbitrary: fc.tuple(pair, pair).map(([a]) => `${a}&${a}`) },
    fc.constantFrom('', '&', '&&=&', '=', '%', '?', 'limit=1;offset=2', 'limit=%', `limit=${'9'.repeat(5000)}`),
  );
}

const VALID_TOKENS = [TOKENS.admin, TOKENS.alice, TOKENS.reader, TOKENS.bob] as const;

const hex = (length: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${length}}$`));

const credentials: fc.Arbitrary<Credentials> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 8, arbitrary: fc.constantFrom(...VALID_TOKENS).map((token) => ({ kind: 'token' as const, token, valid: true })) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.constantFrom('', ' ', 'null', `${TOKENS.admin}x`, `x${TOKENS.admin}`, TOKENS.admin.toUpperCase(), 'x'.repeat(8000), 'sha256:00'),
        fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
        fc.string({ unit: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 10 }),
      )
      // HTTP trims the spaces around a header value: `<token> ` is the token itself.
      .map((token) => ({ kind: 'token' as const, token, valid: (VALID_TOKENS as readonly string[]).includes(token.trim()) })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.oneof(
          fc
            .tuple(fc.constantFrom(ACCESS_KEYS.admin.ak, 'NOSUCHAKNOSUCHAK0001', ''), fc.constantFrom('host;x-sdk-date', 'x-sdk-date', 'host', ''), hex(64))
            .map(([ak, signed, sig]) => `SDK-HMAC-SHA256 Access=${ak}, SignedHeaders=${signed}, Signature=${sig}`),
          fc.constantFrom(
            'SDK-HMAC-SHA256',
            'SDK-HMAC-SHA256 ',
            'SDK-HMAC-SHA256 Access=',
            `SDK-HMAC-SHA256 Access=${ACCESS_KEYS.admin.ak}`,
            `SDK-HMAC-SHA256 Access=${ACCESS_KEYS.admin.ak}, SignedHeaders=host;x-sdk-date`,
            `SDK-HMAC-SHA256 Access=${ACCESS_KEYS.admin.ak}, SignedHeaders=${'host;'.repeat(2000)}x-sdk-date, Signature=00`,
            `SDK-HMAC-SHA256 Access=${ACCESS_KEYS.admin.ak},,,, SignedHeaders==, Signature=zz`,
            'SDK-HMAC-SHA256 Access=a=b=c, SignedHeaders=host;x-sdk-date, Signature=',
            'SDK-HMAC-SHA1 Access=x, SignedHeaders=host, Signature=00',
            'Basic YWRtaW46YWRtaW4=',
            'Bearer eyJhbGciOiJub25lIn0.e30.',
          ),
          fc.string({ unit: 'grapheme-ascii', maxLength: 60 }).map((s) => `SDK-HMAC-SHA256 ${s}`),
        ),
        fc.oneof(fc.constant('@now@'), fc.constantFrom(null, '20190101T000000Z', '99999999T999999Z', 'garbage', '', '20261301T250000Z')),
      )
      .map(([authorization, sdkDate]) => ({ kind: 'authorization' as const, authorization, sdkDate })),
  },
  { weight: 2, arbitrary: fc.constantFrom('admin' as const, 'alice' as const).map((who) => ({ kind: 'sign' as const, who })) },
);

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=latin1',
  'application/json;;;',
  'application/jsonx',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  '',
  '*/*',
] as const;

const extraHeaders: fc.Arbitrary<(readonly [string, string])[]> = fc.array(
  fc.oneof(
    fc.constantFrom(
      ['x-request-id', 'not-hex'] as const,
      ['x-request-id', 'f'.repeat(32)] as const,
      ['if-none-match', '"abc"'] as const,
      ['if-none-match', '*'] as const,
      ['if-none-match', 'W/"' + 'x'.repeat(200) + '"'] as const,
      ['accept', 'application/xml'] as const,
      ['accept-encoding', 'gzip, br'] as const,
      ['content-encoding', 'gzip'] as const,
      ['x-project-id', PROJECT_B] as const,
      ['x-project-id', ''] as const,
      ['x-security-token', 'x'.repeat(100)] as const,
      ['x-sdk-content-sha256', 'UNSIGNED-PAYLOAD'] as const,
      ['x-forwarded-for', '1.2.3.4, garbage, ::1'] as const,
      ['host', 'evil.example'] as const,
      ['host', ''] as const,
      ['expect', '100-continue'] as const,
      ['range', 'bytes=0-1'] as const,
    ),
    fc.tuple(fc.stringMatching(/^x-[a-z0-9-]{1,20}$/), fc.string({ unit: 'grapheme-ascii', maxLength: 30 })),
  ),
  { maxLength: 3 },
);

// ---- bodies ----

const timestamp = fc.integer({ min: Date.UTC(2018, 0, 1), max: Date.UTC(2026, 0, 1) }).map((ms) => new Date(ms).toISOString());

/** A valid job document of either service for `jobId`. */
function validJob(jobId: fc.Arbitrary<string>): fc.Arbitrary<Record<string, unknown>> {
  const common = {
    job_id: jobId,
    status: fc.constantFrom(...JOB_STATUSES),
    begin_time: timestamp,
    fail_reason: fc.option(fc.string({ maxLength: 40 }), { nil: null }),
    error_code: fc.option(fc.constantFrom('EVS.2024', 'SDRS.1001', 'KPS.0001'), { nil: null }),
    parent_job_id: fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, fc.constantFrom(...JOB_IDS)),
  };
  const sdrs = fc.record({
    ...common,
    service: fc.constant('sdrs'),
    job_type: fc.constantFrom('createProtectedInstance', 'deleteServerGroup', 'startFailover'),
    operation: fc.constantFrom(...SDRS_OPERATIONS),
    resource: fc.record({ id: fc.constantFrom('r0', 'r1', 'g0'), name: fc.string({ maxLength: 20 }), type: fc.constantFrom(...SDRS_RESOURCE_TYPES) }),
    server_group_id: fc.option(fc.constantFrom(...GROUPS), { nil: null }),
    entities: fc.constant({ protected_instance_id: 'r0' }),
  });
  const kps = fc.record({
    ...common,
    service: fc.constant('kps'),
    job_type: fc.constantFrom('resetKeypair', 'unbindKeypair'),
    operation: fc.constantFrom(...KPS_OPERATIONS),
    server: fc.record({ id: fc.constantFrom('s0', 's1'), name: fc.string({ maxLength: 20 }) }),
    keypair_name: fc.constantFrom('KeyPair-xt', 'kp'),
  });
  return fc
    .tuple(fc.oneof(sdrs, kps), timestamp)
    .map(([job, end]) => ({ ...job, end_time: job.status === 'SUCCESS' || job.status === 'FAIL' ? (end > job.begin_time ? end : job.begin_time) : null }));
}

/** A value that does not belong where it is put. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, '', ' ', '\u0000', 'a\u0000b', '\ud800', '\udfff\ud800', 'é'),
  fc.constantFrom([], {}, [null], { id: null }, { __proto__: null }),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ minLength: 5000, maxLength: 5000 }).map((s) => s),
  fc.jsonValue({ maxDepth: 3 }),
);

const FIELDS = [
  'job_id',
  'service',
  'job_type',
  'operation',
  'status',
  'begin_time',
  'end_time',
  'error_code',
  'fail_reason',
  'resource',
  'server_group_id',
  'entities',
  'parent_job_id',
  'server',
  'keypair_name',
  'project_id',
  'unknown',
  '__proto__',
  'constructor',
];

/** A valid job with some fields removed, replaced by values that do not belong, or added. */
function mutatedJob(jobId: fc.Arbitrary<string>): fc.Arbitrary<Record<string, unknown>> {
  const mutation = fc.tuple(fc.constantFrom(...FIELDS), fc.oneof(fc.constant(undefined), hostileValue));
  return fc.tuple(validJob(jobId), fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([job, mutations]) => {
    const out: Record<string, unknown> = { ...job };
    for (const [field, value] of mutations) {
      if (value === undefined) delete out[field];
      else Object.defineProperty(out, field, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  });
}

/** Text that is JSON in form but not in what it holds, or not JSON at all. */
const oddJsonText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    'null',
    'true',
    '1',
    '"x"',
    '[]',
    '{}',
    '{',
    '{"jobs":',
    '{"jobs": 1e999999}',
    '{"jobs": [], "jobs": [{}]}',
    '{"job_id": "a", "job_id": "b"}',
    '{"__proto__": {"admin": true}}',
    '{"constructor": {"prototype": {"admin": true}}}',
    '{"limit": 123456789012345678901234567890}',
    '{"begin_time": -0}',
    '\ufeff{}',
    '{"a":"\\ud800"}',
    '{"a":"\\u0000"}',
    '{"url": "http://127.0.0.1:1/", "events": ["job.*"]}',
    '{"url": "javascript:alert(1)", "events": ["job.failed"]}',
    '{"url": "https://hooks.example.com/x", "events": ["job.failed", "job.failed"]}',
  ),
  fc
    .constantFrom(31, 32, 33, 100, 5000, 100_000)
    .chain((depth) =>
      fc.constantFrom(
        '['.repeat(depth) + ']'.repeat(depth),
        '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
        `{"jobs": ${'['.repeat(depth)}${']'.repeat(depth)}}`,
      ),
    ),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'),
  fc.string({ maxLength: 30 }),
);

/** A subscription body: valid, or nearly. */
const subscriptionBody = fc
  .record({
    url: fc.oneof(
      fc.constantFrom(
        'https://hooks.example.com/taskcenter',
        'http://hooks.example.com/a?b=c',
        'http://127.0.0.1:9/x',
        'http://[::1]/',
        'ftp://x/',
        'https://',
      ),
      fc.webUrl(),
      fc.string({ maxLength: 30 }),
    ),
    events: fc.oneof(fc.subarray(['job.failed', 'job.succeeded', 'failure.cleared', 'job.*'], { minLength: 1 }), fc.constant(['nope']), fc.constant([])),
    description: fc.option(fc.string({ maxLength: 30 }), { nil: undefined }),
  })
  .map((body) => JSON.stringify(body));

/** A line of an emulator snapshot: a stored job with its project, or not quite. */
const snapshotLine: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.constantFrom(...PROJECTS),
        fc.oneof({ weight: 3, arbitrary: validJob(fc.constantFrom(...JOB_IDS)) }, mutatedJob(fc.constantFrom(...JOB_IDS))),
        fc.boolean(),
        timestamp,
      )
      .map(([project_id, job, failure_cleared, at]) => JSON.stringify({ project_id, ...job, failure_cleared, created_at: at, updated_at: at })),
  },
  oddJsonText,
);

/** Drops what a progressing job may not say: it starts INIT and its outcome comes from `progress`. */
function startOf(doc: Record<string, unknown>): Record<string, unknown> {
  const { status: _status, end_time: _end, error_code: _code, fail_reason: _reason, parent_job_id: _parent, ...rest } = doc;
  return rest;
}

/** An emulator progressing job: a job that starts INIT and moves by itself, with sub-jobs. */
const progressingJob: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom(...PROJECTS),
    validJob(fc.constantFrom('p0', 'p1', ...JOB_IDS)),
    fc.record({
      start_after_ms: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constantFrom(-1, 1e12, 1.5)),
      run_ms: fc.integer({ min: 0, max: 50 }),
      outcome: fc.constantFrom('SUCCESS', 'FAIL', 'RUNNING'),
    }),
    fc.array(validJob(fc.constantFrom('p0-s0', 'p0-s1', 'p1-s0')), { maxLength: 2 }),
  )
  .map(([project_id, job, progress, subs]) =>
    JSON.stringify({ project_id, ...startOf(job), progress, ...(subs.length > 0 ? { sub_jobs: subs.map(startOf) } : {}) }),
  );

/** An emulator fault rule, valid or not (the run deletes each one it adds before the next case). */
const faultRule: fc.Arbitrary<string> = fc
  .record(
    {
      operation: fc.constantFrom('ListFailureJobs', 'ReportJob', 'CheckHealth', 'Nope', ''),
      project_id: fc.constantFrom(...PROJECTS),
      probability: fc.constantFrom(0, 0.5, 1, 2, -1),
      times: fc.constantFrom(1, 0, 1_000_001),
      status: fc.constantFrom(400, 429, 503, 599, 600, 200),
      error_code: fc.string({ maxLength: 10 }),
      delay_ms: fc.constantFrom(0, 60_000, 60_001, -1),
    },
    { requiredKeys: ['operation'] },
  )
  .map((rule) => JSON.stringify(rule));

/** The body an operation takes when it is given a proper one, or null for none. */
function ownBody(operationId: string, jobId: string | undefined): fc.Arbitrary<string> | null {
  const idArb = fc.oneof({ weight: 4, arbitrary: fc.constant(jobId ?? 'j0') }, fc.constantFrom(...JOB_IDS));
  switch (operationId) {
    case 'ReportJob':
      return fc.oneof(validJob(idArb), mutatedJob(idArb)).map((doc) => JSON.stringify(doc));
    case 'ReportJobs': {
      const item = fc.tuple(fc.constantFrom(...PROJECTS), fc.oneof({ weight: 3, arbitrary: validJob(fc.constantFrom(...JOB_IDS)) }, mutatedJob(idArb)));
      return fc
        .array(item, { minLength: 1, maxLength: 4 })
        .map((items) => JSON.stringify({ jobs: items.map(([project_id, doc]) => ({ project_id, ...doc })) }));
    }
    case 'CreateSubscription':
      return subscriptionBody;
    case 'ImportJobs':
      return fc.array(snapshotLine, { maxLength: 4 }).map((lines) => lines.join('\n'));
    case 'CreateProgressingJob':
      return progressingJob;
    case 'AddFault':
      return faultRule;
    case 'ResetJobs':
      return fc.oneof({ weight: 4, arbitrary: fc.constant(JSON.stringify({ project_id: FUZZ_PROJECT })) }, fc.constantFrom('{}', '{"project_id": ""}'));
    default:
      return null;
  }
}

/** A body for a route, as text (`binary` false) or latin1-written bytes (`binary` true). */
function bodyFor(route: DocumentedRoute, jobId: string | undefined): fc.Arbitrary<{ body: string | null; binary: boolean }> {
  const text = (arb: fc.Arbitrary<string>) => arb.map((body) => ({ body, binary: false }));
  const invalidUtf8 = fc
    .tuple(
      fc.constantFrom('{"job_id":"', '{"fail_reason":"', '{"jobs":["'),
      fc.constantFrom('\xff\xfe', '\xc0\xaf', '\xed\xa0\x80', '\x80', '\xf4\x90\x80\x80'),
    )
    .map(([head, bytes]) => ({ body: `${head}${bytes}"}`, binary: true }));
  const own = ownBody(route.operationId, jobId);
  return fc.oneof(
    { weight: route.takesBody ? 1 : 6, arbitrary: fc.constant({ body: null, binary: false }) },
    ...(own === null ? [] : [{ weight: 6, arbitrary: text(own) }]),
    { weight: 2, arbitrary: text(oddJsonText) },
    { weight: 1, arbitrary: invalidUtf8 },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ body: Buffer.from(bytes).toString('latin1'), binary: true })) },
  );
}

const OTHER_METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'PROPFIND', 'FOO'] as const;

/** What a generated request can get wrong. */
const DIMENSIONS = ['method', 'path', 'query', 'credentials', 'contentType', 'headers', 'body'] as const;
type Dimension = (typeof DIMENSIONS)[number];

/** A path parameter's value that names something the run may have written. */
function validPathValue(name: string): fc.Arbitrary<string> {
  switch (name) {
    case 'project_id':
      return fc.constantFrom(...PROJECTS);
    case 'subscription_id':
      return fc.nat(20).map((n) => `@sub${n}@`);
    case 'delivery_id':
      return fc.integer({ min: 1, max: 50 }).map(String);
    case 'server_group_id':
      return fc.constantFrom(...GROUPS);
    default:
      return fc.constantFrom(...JOB_IDS);
  }
}

/** A query string of documented keys with valid values, or none. */
function validQuery(parameters: readonly DocumentedParameter[]): fc.Arbitrary<string | null> {
  const documented = parameters.filter((p) => p.in === 'query');
  if (documented.length === 0) return fc.constant(null);
  return fc.oneof(
    fc.constant(null),
    fc
      .subarray(documented, { minLength: 1 })
      .chain((chosen) => fc.tuple(...chosen.map((p) => queryValueValid(p).map((v) => `${p.name}=${v}`))).map((pairs) => pairs.join('&'))),
  );
}

/**
 * A request generated from `route`. Every dimension in `hostile` is drawn from values that
 * mostly do not belong; the others are what a well-behaved admin client sends, so the
 * handler itself runs on the hostile part.
 */
function caseFor(route: DocumentedRoute, hostile: ReadonlySet<Dimension>): fc.Arbitrary<FuzzCase> {
  const names = [...route.path.matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1] as string);
  const ownType = route.operationId === 'ImportJobs' ? 'application/x-ndjson' : 'application/json';
  const admin: Credentials = { kind: 'token', token: TOKENS.admin, valid: true };
  return fc
    .record({
      method: hostile.has('method')
        ? fc.oneof({ weight: 3, arbitrary: fc.constant(route.method) }, fc.constantFrom(...OTHER_METHODS))
        : fc.constant(route.method),
      values: fc.tuple(...names.map((name) => (hostile.has('path') ? pathValue(name) : validPathValue(name)))),
      query: hostile.has('query') ? queryString(route.parameters) : validQuery(route.parameters),
      credentials: hostile.has('credentials') ? credentials : fc.constant(admin),
      contentType: hostile.has('contentType')
        ? fc.oneof({ weight: 2, arbitrary: fc.constant(ownType) }, { weight: 1, arbitrary: fc.constant(null) }, fc.constantFrom(...CONTENT_TYPES))
        : fc.constant(ownType),
      headers: hostile.has('headers') ? extraHeaders : fc.constant([]),
    })
    .chain(({ method, values, query, credentials: creds, contentType, headers }) => {
      let path = route.path;
      names.forEach((name, i) => {
        path = path.replace(`{${name}}`, values[i] as string);
      });
      const jobId = names.includes('job_id') ? (values[names.indexOf('job_id')] as string) : undefined;
      const project = names.includes('project_id') ? (values[names.indexOf('project_id')] as string) : null;
      const own = ownBody(route.operationId, jobId);
      type Body = { body: string | null; binary: boolean };
      const body: fc.Arbitrary<Body> = hostile.has('body')
        ? bodyFor(route, jobId)
        : own === null
          ? fc.constant<Body>({ body: null, binary: false })
          : own.map((text): Body => ({ body: text, binary: false }));
      return body.map(({ body: text, binary }) => ({
        operation: route.operationId,
        method,
        path,
        project,
        query,
        credentials: creds,
        headers: contentType === null || text === null ? [...headers] : [['content-type', contentType] as const, ...headers],
        body: text,
        binary,
      }));
    });
}

/** From `route`: everything hostile at once, or one dimension only (the rest valid), half and half. */
function anyCaseFor(route: DocumentedRoute): fc.Arbitrary<FuzzCase> {
  return fc.oneof(
    caseFor(route, new Set(DIMENSIONS)),
    fc.constantFrom(...DIMENSIONS).chain((dimension) => caseFor(route, new Set([dimension]))),
  );
}

/**
 * Valid producer writes and clears as admin: reports moving the pool's jobs through their
 * states (created, updated, unchanged, refused as going backwards), batches, and the SDRS
 * and KPS deletes, so the run leaves derived data for `checkListings` to prove.
 */
function validWrite(): fc.Arbitrary<FuzzCase> {
  const project = fc.constantFrom(...PROJECTS);
  const admin: Credentials = { kind: 'token', token: TOKENS.admin, valid: true };
  const json = [['content-type', 'application/json'] as const];
  const put = fc.tuple(project, validJob(fc.constantFrom(...JOB_IDS))).map(([p, job]): FuzzCase => ({
    operation: 'ReportJob',
    method: 'PUT',
    path: `/taskcenter/v1/projects/${p}/jobs/${String(job.job_id)}`,
    project: p,
    query: null,
    credentials: admin,
    headers: json,
    body: JSON.stringify(job),
    binary: false,
  }));
  const batch = fc.array(fc.tuple(project, validJob(fc.constantFrom(...JOB_IDS))), { minLength: 1, maxLength: 6 }).map((items): FuzzCase => ({
    operation: 'ReportJobs',
    method: 'POST',
    path: '/taskcenter/v1/jobs/batch',
    project: null,
    query: null,
    credentials: admin,
    headers: json,
    body: JSON.stringify({ jobs: items.map(([project_id, job]) => ({ project_id, ...job })) }),
    binary: false,
  }));
  const clear = fc
    .tuple(
      project,
      fc.constantFrom(
        (p: string, id: string) => ['DeleteFailureJob', `/v1/${p}/task-center/failure-jobs/${id}`],
        (p: string) => ['DeleteAllServerGroupFailureJobs', `/v1/${p}/task-center/failure-jobs/batch`],
        (p: string, _id: string, g: string) => ['DeleteServerGroupFailureJobs', `/v1/${p}/task-center/${g}/failure-jobs/batch`],
        (p: string, id: string) => ['DeleteFailedTask', `/v3/${p}/failed-tasks/${id}`],
        (p: string) => ['DeleteAllFailedTask', `/v3/${p}/failed-tasks`],
      ),
      fc.constantFrom(...JOB_IDS),
      fc.constantFrom(...GROUPS),
    )
    .map(([p, route, id, g]): FuzzCase => {
      const [operation, path] = route(p, id, g) as [string, string];
      return { operation, method: 'DELETE', path, project: p, query: null, credentials: admin, headers: [], body: null, binary: false };
    });
  return fc.oneof({ weight: 3, arbitrary: put }, { weight: 2, arbitrary: batch }, { weight: 2, arbitrary: clear });
}

/** One case drawn from each of `routes` with `seed`: run first, so every route is covered whatever the draw. */
export function oneCasePerRoute(routes: readonly DocumentedRoute[], seed: number): [FuzzCase][] {
  return routes.map((route) => [fc.sample(anyCaseFor(route), { seed, numRuns: 1 })[0] as FuzzCase]);
}

/** Any case: a generated request over one of `routes`, or a valid write (about one in four). */
export function fuzzCase(routes: readonly DocumentedRoute[]): fc.Arbitrary<FuzzCase> {
  return fc.oneof({ weight: 3, arbitrary: fc.oneof(...routes.map(anyCaseFor)) }, { weight: 1, arbitrary: validWrite() });
}

/**
 * The request to send for `c` to a server on `port`: subscription placeholders filled
 * from `subscriptions`, `@now@` dates made current, `sign` credentials signed.
 */
export function toWire(c: FuzzCase, port: number, subscriptions: readonly string[]): WireRequest {
  const path = c.path.replace(/@sub(\d+)@/g, (_, n: string) =>
    subscriptions.length === 0 ? `sub-${'0'.repeat(32)}` : (subscriptions[Number(n) % subscriptions.length] as string),
  );
  const url = c.query === null ? path : `${path}?${c.query}`;
  const body = c.body === null ? undefined : Buffer.from(c.body, c.binary ? 'latin1' : 'utf8');
  const headers: Record<string, string> = {};
  for (const [name, value] of c.headers) headers[name] = value;
  const creds = c.credentials;
  if (creds.kind === 'token') headers['x-auth-token'] = creds.token;
  if (creds.kind === 'authorization') {
    headers.authorization = creds.authorization;
    if (creds.sdkDate !== null) headers['x-sdk-date'] = creds.sdkDate === '@now@' ? formatSdkDate(Date.now()) : creds.sdkDate;
  }
  if (creds.kind === 'sign') {
    const host = headers.host ?? `127.0.0.1:${port}`;
    try {
      const signed = signRequest({ method: c.method, url, host, headers: { ...headers }, body }, ACCESS_KEYS[creds.who]);
      return { method: c.method, url, headers: signed, body };
    } catch {
      // A request the signer cannot canonicalise (bad percent-encoding) goes out with a signature that cannot match.
      headers.authorization = `SDK-HMAC-SHA256 Access=${ACCESS_KEYS[creds.who].ak}, SignedHeaders=host;x-sdk-date, Signature=${'0'.repeat(64)}`;
      headers['x-sdk-date'] = formatSdkDate(Date.now());
    }
  }
  return { method: c.method, url, headers, body };
}
