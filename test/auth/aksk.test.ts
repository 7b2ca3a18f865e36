/**
 * The AK/SK verifier on its own: canonical forms, compatibility with the official SDK's
 * signer (whatever it puts on the wire, we accept), every refusal and its reason, the
 * date window and the 5-strikes lockout on an injected clock.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'node:querystring';
import { describe, it } from 'node:test';
import { BasicCredentials } from '@huaweicloud/huaweicloud-sdk-core';
import { AKSKSigner } from '@huaweicloud/huaweicloud-sdk-core/auth/AKSKSigner.js';
import {
  AkskVerifier,
  LOCKOUT_MS,
  canonicalQuery,
  canonicalRequestOf,
  canonicalUri,
  formatSdkDate,
  parseSdkDate,
  signRequest,
  signature,
  signingEncode,
  stringToSign,
  type SignedRequest,
} from '../../src/auth/aksk.js';
import { StaticAuthenticator } from '../../src/auth/authenticator.js';
import { hashToken } from '../../src/auth/credentials.js';
import { StoreLockout, type Lockout } from '../../src/auth/lockout.store.js';
import { openDatabase } from '../../src/db/open.js';
import { migrate } from '../../src/db/migrate.js';
import type { Principal } from '../../src/auth/principal.js';
import type { ServiceError } from '../../src/errors.js';

const KEY = { ak: 'TESTAKTESTAKTESTAK01', sk: 'test-secret-key-0123456789abcdefghijklmnop' };
const ALICE: Principal = { name: 'alice', projects: ['proj-a'], actions: ['*'] };
const T0 = Date.UTC(2024, 4, 17, 10, 30, 0);

/** A temporary key, its security token, and when it expires. */
const TEMPORARY = { ak: 'TEMPAKTEMPAKTEMPAK01', sk: 'temp-secret-key-0123456789abcdefghijklmnop', token: 'issued-security-token-0123456789' };
const TEMPORARY_EXPIRY = T0 + 3600 * 1000;

function verifier(clock: { now: number } = { now: T0 }): AkskVerifier {
  return new AkskVerifier(
    (ak) =>
      ak === KEY.ak
        ? { sk: KEY.sk, principal: ALICE }
        : ak === TEMPORARY.ak
          ? { sk: TEMPORARY.sk, principal: ALICE, temporary: { securityTokenHash: hashToken(TEMPORARY.token), expiresAt: TEMPORARY_EXPIRY } }
          : undefined,
    { now: () => clock.now, lockout: freshLockout() },
  );
}

/** A lockout over a store of its own: a new in-memory SQLite database, migrated before first use. */
function freshLockout(): Lockout {
  const db = openDatabase('sqlite::memory:');
  const ready = migrate(db);
  const store = new StoreLockout(db);
  return {
    state: async (...args) => (await ready, store.state(...args)),
    fail: async (...args) => (await ready, store.fail(...args)),
    clear: async (...args) => (await ready, store.clear(...args)),
  };
}

/**
 * A GET of `rawPath` signed by hand, independently of src/auth/aksk.ts: the canonical URI
 * built by API.md §4's recipe (the whole path decoded, split on `/`, each segment encoded)
 * or, with `segmentwise`, from each raw segment decoded on its own.
 */
function signedByHand(rawPath: string, options: { segmentwise?: boolean; sk?: string; at?: number } = {}): SignedRequest {
  const encode = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  const segments = options.segmentwise ? rawPath.split('/').map((s) => decodeURIComponent(s)) : decodeURIComponent(rawPath).split('/');
  const uri = segments.map(encode).join('/') + '/';
  const sdkDate = formatSdkDate(options.at ?? T0);
  const headers = { host: '127.0.0.1:8080', 'x-sdk-date': sdkDate };
  const emptyHash = createHash('sha256').update('').digest('hex');
  const canonical = ['GET', uri, '', `host:${headers.host}\nx-sdk-date:${sdkDate}\n`, 'host;x-sdk-date', emptyHash].join('\n');
  const toSign = `SDK-HMAC-SHA256\n${sdkDate}\n${createHash('sha256').update(canonical).digest('hex')}`;
  const sig = createHmac('sha256', options.sk ?? KEY.sk)
    .update(toSign)
    .digest('hex');
  return {
    method: 'GET',
    url: rawPath,
    headers: { ...headers, authorization: `SDK-HMAC-SHA256 Access=${KEY.ak}, SignedHeaders=host;x-sdk-date, Signature=${sig}` },
    body: Buffer.alloc(0),
  };
}

/** A request signed by our own signer, as it would arrive. */
function signed(
  overrides: { method?: string; url?: string; body?: string; headers?: Record<string, string> } = {},
  at = T0,
  key = KEY,
): SignedRequest & { headers: Record<string, string> } {
  const method = overrides.method ?? 'GET';
  const url = overrides.url ?? '/v1/proj-a/task-center/failure-jobs?limit=10';
  const body = overrides.body ?? '';
  const headers = signRequest({ method, url, host: '127.0.0.1:8080', headers: { 'x-project-id': 'proj-a', ...overrides.headers }, body }, key, at);
  return { method, url, headers, body: Buffer.from(body), projectId: 'proj-a' };
}

async function refusal(fn: () => Promise<unknown>, reason: RegExp): Promise<void> {
  await assert.rejects(fn, (error: ServiceError) => {
    assert.equal(error.kind, 'unauthenticated');
    assert.match(error.message, /^Incorrect IAM authentication information: /);
    assert.match(error.message, reason);
    return true;
  });
}

/** Signs with the SDK's own signer and turns the result into what the server receives. */
function sdkSigned(request: {
  method: string;
  path: string;
  query?: Record<string, unknown>;
  headers?: Record<string, string | undefined>;
  data?: unknown;
}): SignedRequest {
  const credential = new BasicCredentials().withAk(KEY.ak).withSk(KEY.sk);
  const httpRequest = {
    endpoint: `http://127.0.0.1:8080${request.path}`,
    method: request.method,
    headers: Object.fromEntries(Object.entries(request.headers ?? {}).filter(([, v]) => v !== undefined)),
    queryParams: request.query ?? {},
    data: request.data,
  };
  const headers = AKSKSigner.sign(httpRequest as never, credential) as Record<string, unknown>;
  // What the SDK's HTTP client puts on the wire: querystring.stringify for the query, JSON for the body.
  const query = stringify(request.query as never);
  return {
    method: request.method,
    url: request.path + (query === '' ? '' : '?' + query),
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)])),
    body: Buffer.from(request.data === undefined ? '' : JSON.stringify(request.data)),
  };
}

describe('canonical forms', () => {
  it('encodes all but A-Z a-z 0-9 - _ . ~, in uppercase hex, including the characters encodeURIComponent spares', async () => {
    assert.equal(signingEncode("aZ09-_.~ !'()*/+é"), 'aZ09-_.~%20%21%27%28%29%2A%2F%2B%C3%A9');
  });

  it('decodes then re-encodes each path segment and adds the trailing slash', async () => {
    assert.equal(canonicalUri('/v1/proj-a/jobs/a%2Ab'), '/v1/proj-a/jobs/a%2Ab/');
    assert.equal(canonicalUri('/v1/proj-a/jobs/a*b'), '/v1/proj-a/jobs/a%2Ab/');
    assert.equal(canonicalUri('/v1/proj-a/jobs/%7e'), '/v1/proj-a/jobs/~/');
    assert.equal(canonicalUri('/v1/x/'), '/v1/x/');
  });

  it('sorts query pairs by key then value after decoding, treating + as a space', async () => {
    assert.equal(canonicalQuery('b=2&a=z&a=y&c'), 'a=y&a=z&b=2&c=');
    assert.equal(canonicalQuery("name=a+b&x=(1)!*'"), 'name=a%20b&x=%281%29%21%2A%27');
    assert.equal(canonicalQuery('name=a%20b'), canonicalQuery('name=a+b'));
    assert.equal(canonicalQuery(''), '');
  });

  it('refuses broken percent-encoding with a reason', async () => {
    await refusal(async () => canonicalUri('/v1/%E0%A4%A/x'), /path segment '%E0%A4%A' is not valid percent-encoded UTF-8/);
    await refusal(async () => canonicalQuery('a=%zz'), /query value '%zz'/);
  });

  it('reads and writes X-Sdk-Date as YYYYMMDDTHHMMSSZ and refuses impossible dates', async () => {
    assert.equal(formatSdkDate(T0), '20240517T103000Z');
    assert.equal(parseSdkDate('20240517T103000Z'), T0);
    assert.equal(parseSdkDate('20240231T103000Z'), undefined);
    assert.equal(parseSdkDate('2024-05-17T10:30:00Z'), undefined);
    assert.equal(parseSdkDate('20240517T103000'), undefined);
  });
});

describe('the official SDK signer', () => {
  const cases = [
    { name: 'a GET without a query', method: 'GET', path: '/v1/proj-a/jobs/job-1', headers: { 'content-type': 'application/json', 'X-Project-Id': 'proj-a' } },
    {
      name: 'a GET whose query holds characters the wire and the signature encode differently, arrays and UTF-8',
      method: 'GET',
      path: '/v1/proj-a/task-center/failure-jobs',
      query: { resource_name: "a b*()!'~+%é/", limit: 10, offset: 0, tag: ['z', 'a'] },
      headers: { 'content-type': 'application/json', 'X-Project-Id': 'proj-a' },
    },
    {
      name: 'a PUT with a JSON body',
      method: 'PUT',
      path: '/taskcenter/v1/projects/proj-a/jobs/job-1',
      headers: { 'content-type': 'application/json', 'X-Project-Id': 'proj-a' },
      data: { job_id: 'job-1', status: 'FAIL', fail_reason: 'disk "full" ✗' },
    },
    {
      name: 'a DELETE with no body',
      method: 'DELETE',
      path: '/v3/proj-a/failed-tasks/t-1',
      headers: { 'content-type': 'application/json', 'X-Project-Id': 'proj-a' },
    },
    {
      name: 'a request whose body it chose not to sign',
      method: 'POST',
      path: '/taskcenter/v1/jobs/batch',
      headers: { 'content-type': 'application/json', 'X-Sdk-Content-Sha256': 'UNSIGNED-PAYLOAD' },
      data: { jobs: [] },
    },
  ];
  for (const c of cases) {
    it(`is accepted for ${c.name}`, async () => {
      const request = sdkSigned(c);
      const at = parseSdkDate(String(request.headers['x-sdk-date']));
      assert.ok(at !== undefined);
      assert.equal(await verifier({ now: at }).verify({ ...request, projectId: 'proj-a' }), ALICE);
    });
  }

  it('signs what our own signer signs, byte for byte', async () => {
    const request = sdkSigned({ method: 'GET', path: '/v1/proj-a/jobs/j', query: { b: 'x y', a: '1' }, headers: { 'content-type': 'application/json' } });
    const at = parseSdkDate(String(request.headers['x-sdk-date'])) as number;
    const ours = signRequest({ method: 'GET', url: request.url, host: '127.0.0.1:8080', headers: { 'content-type': 'application/json' } }, KEY, at);
    assert.equal(ours.authorization, request.headers.authorization);
  });
});

describe('AkskVerifier', () => {
  it('accepts a good signature and answers with the key principal', async () => {
    assert.equal(await verifier().verify(signed()), ALICE);
    assert.equal(await verifier().verify(signed({ method: 'PUT', url: '/taskcenter/v1/projects/proj-a/jobs/j', body: '{"a":1}' })), ALICE);
  });

  it('refuses a request changed after signing: method, path, query, signed header, body', async () => {
    // A fresh verifier for each, so that six mismatches do not lock the key.
    const v = { verify: (request: SignedRequest) => verifier().verify(request) };
    const base = signed({ method: 'PUT', url: '/taskcenter/v1/projects/proj-a/jobs/j?x=1', body: '{"status":"FAIL"}' });
    await refusal(() => v.verify({ ...base, method: 'DELETE' }), /signature mismatch/);
    await refusal(() => v.verify({ ...base, url: '/taskcenter/v1/projects/proj-a/jobs/k?x=1' }), /signature mismatch/);
    await refusal(() => v.verify({ ...base, url: '/taskcenter/v1/projects/proj-a/jobs/j?x=2' }), /signature mismatch/);
    await refusal(() => v.verify({ ...base, url: '/taskcenter/v1/projects/proj-a/jobs/j' }), /signature mismatch/);
    await refusal(() => v.verify({ ...base, headers: { ...base.headers, host: 'evil:8080' } }), /signature mismatch/);
    await refusal(() => v.verify({ ...base, body: Buffer.from('{"status":"SUCCESS"}') }), /signature mismatch/);
  });

  it('ignores headers that were not signed, and whitespace around signed values', async () => {
    const base = signed();
    assert.equal(await verifier().verify({ ...base, headers: { ...base.headers, 'user-agent': 'anything', 'x-project-id': ' proj-a ' } }), ALICE);
  });

  it('refuses a wrong SK and an unknown AK', async () => {
    await refusal(() => verifier().verify(signed({}, T0, { ak: KEY.ak, sk: 'wrong' })), /signature mismatch/);
    await refusal(() => verifier().verify(signed({}, T0, { ak: 'NOSUCHAK', sk: KEY.sk })), /unknown access key 'NOSUCHAK'/);
  });

  it('never reveals the expected signature', async () => {
    const forged = signed({}, T0, { ak: KEY.ak, sk: 'wrong' });
    const expected = String(signed().headers.authorization).split('Signature=')[1] as string;
    assert.match(expected, /^[0-9a-f]{64}$/);
    await assert.rejects(
      () => verifier().verify(forged),
      (error: Error) => /signature mismatch/.test(error.message) && !error.message.includes(expected) && !error.message.includes(KEY.sk),
    );
  });

  it('accepts X-Sdk-Date up to 15 minutes either way and refuses beyond', async () => {
    const minutes = (n: number) => n * 60 * 1000;
    assert.equal(await verifier({ now: T0 + minutes(15) }).verify(signed()), ALICE);
    assert.equal(await verifier({ now: T0 - minutes(15) }).verify(signed()), ALICE);
    await refusal(() => verifier({ now: T0 + minutes(15) + 1000 }).verify(signed()), /X-Sdk-Date 20240517T103000Z is outside the 15-minute window/);
    await refusal(() => verifier({ now: T0 - minutes(16) }).verify(signed()), /outside the 15-minute window/);
  });

  it('requires host and x-sdk-date to be signed', async () => {
    const sign = (names: string[]) => {
      const request = signed();
      const canonical = canonicalRequestOf(request, names);
      const sig = signature(KEY.sk, stringToSign(request.headers['x-sdk-date'] as string, canonical));
      return {
        ...request,
        headers: { ...request.headers, authorization: `SDK-HMAC-SHA256 Access=${KEY.ak}, SignedHeaders=${names.join(';')}, Signature=${sig}` },
      };
    };
    await refusal(() => verifier().verify(sign(['x-sdk-date'])), /host must be a signed header/);
    await refusal(() => verifier().verify(sign(['host'])), /x-sdk-date must be a signed header/);
    assert.equal(await verifier().verify(sign(['host', 'x-sdk-date'])), ALICE);
  });

  it('says what is wrong with a malformed Authorization or date', async () => {
    const base = signed();
    const withAuth = (authorization: string) => ({ ...base, headers: { ...base.headers, authorization } });
    await refusal(() => verifier().verify(withAuth('SDK-HMAC-SHA256 SignedHeaders=host, Signature=00')), /no Access=<AK>/);
    await refusal(() => verifier().verify(withAuth(`SDK-HMAC-SHA256 Access=${KEY.ak}, Signature=${'0'.repeat(64)}`)), /no SignedHeaders/);
    await refusal(() => verifier().verify(withAuth(`SDK-HMAC-SHA256 Access=${KEY.ak}, SignedHeaders=host;x-sdk-date, Signature=abc`)), /64 hexadecimal/);
    await refusal(() => verifier().verify({ ...base, headers: { ...base.headers, 'x-sdk-date': '2024-05-17T10:30:00Z' } }), /not a YYYYMMDDTHHMMSSZ UTC time/);
    const { 'x-project-id': _dropped, ...headers } = base.headers;
    await refusal(() => verifier().verify({ ...base, headers }), /signed header 'x-project-id' is not in the request/);
  });

  it('refuses an X-Project-Id that is not the path project, and skips the check on routes without one', async () => {
    const request = signed({ headers: { 'x-project-id': 'proj-b' } });
    await refusal(() => verifier().verify(request), /X-Project-Id 'proj-b' does not match the project in the path 'proj-a'/);
    assert.equal(await verifier().verify({ ...request, projectId: undefined }), ALICE);
  });

  it('locks a key for 5 minutes after 5 consecutive bad signatures, then lets it in again', async () => {
    const clock = { now: T0 };
    const v = verifier(clock);
    const bad = () => signed({}, clock.now, { ak: KEY.ak, sk: 'wrong' });
    for (let i = 1; i <= 4; i++) await refusal(() => v.verify(bad()), /signature mismatch: check the SK/);
    await refusal(() => v.verify(bad()), /signature mismatch; access key 'TESTAKTESTAKTESTAK01' is now locked from this address for 5 minutes/);
    await refusal(() => v.verify(signed({}, clock.now)), /is locked from this address for another 300 s after 5 consecutive bad signatures/);
    clock.now += LOCKOUT_MS - 1000;
    await refusal(() => v.verify(signed({}, clock.now)), /is locked from this address for another 1 s/);
    clock.now += 1000;
    assert.equal(await v.verify(signed({}, clock.now)), ALICE);
  });

  it('resets the count on a good signature, and counts only signature mismatches', async () => {
    const v = verifier();
    const bad = signed({}, T0, { ak: KEY.ak, sk: 'wrong' });
    for (let i = 0; i < 4; i++) await refusal(() => v.verify(bad), /signature mismatch: check/);
    assert.equal(await v.verify(signed()), ALICE);
    for (let i = 0; i < 4; i++) await refusal(() => v.verify(bad), /signature mismatch: check/);
    await refusal(() => v.verify(signed({}, T0 - 20 * 60 * 1000)), /outside the 15-minute window/);
    assert.equal(await v.verify(signed()), ALICE);
  });
});

describe('AkskVerifier on a path with an encoded slash', () => {
  const PATH = '/v1/proj-a/jobs/ab%2Fcd';

  it("accepts the official signers' canonical URI (the whole path decoded, then split) and the segment-wise one", async () => {
    assert.equal(await verifier().verify(signedByHand(PATH)), ALICE);
    assert.equal(await verifier().verify(signedByHand(PATH, { segmentwise: true })), ALICE);
    assert.equal(await verifier().verify(signedByHand('/v1/proj-a/jobs/a%2fb%2F%20c')), ALICE);
  });

  it('never counts a request signed in an accepted form toward the lockout', async () => {
    const v = verifier();
    for (let i = 0; i < 8; i++) assert.equal(await v.verify(signedByHand(PATH)), ALICE);
    // Four bad signatures, then the recipe's form: the count starts again from there.
    for (let i = 0; i < 4; i++) await refusal(() => v.verify(signedByHand(PATH, { sk: 'wrong' })), /signature mismatch: check the SK/);
    assert.equal(await v.verify(signedByHand(PATH)), ALICE);
    for (let i = 0; i < 4; i++) await refusal(() => v.verify(signedByHand(PATH, { sk: 'wrong' })), /signature mismatch: check the SK/);
    assert.equal(await v.verify(signedByHand(PATH, { segmentwise: true })), ALICE);
  });

  it('counts a signature that fails every accepted form, and locks the key at the fifth', async () => {
    const v = verifier();
    for (let i = 1; i <= 4; i++) await refusal(() => v.verify(signedByHand(PATH, { sk: 'wrong', segmentwise: i % 2 === 0 })), /signature mismatch: check/);
    await refusal(() => v.verify(signedByHand(PATH, { sk: 'wrong' })), /is now locked from this address for 5 minutes/);
    await refusal(() => v.verify(signedByHand(PATH)), /is locked from this address for another 300 s/);
  });
});

describe('AkskVerifier with temporary credentials', () => {
  const withToken = (token: string | undefined, at = T0) =>
    signed({ headers: token === undefined ? {} : { 'x-security-token': token } }, at, { ak: TEMPORARY.ak, sk: TEMPORARY.sk });

  it('accepts a temporary key with its security token before it expires', async () => {
    assert.equal(await verifier().verify(withToken(TEMPORARY.token)), ALICE);
    assert.equal(await verifier({ now: TEMPORARY_EXPIRY - 1000 }).verify(withToken(TEMPORARY.token, TEMPORARY_EXPIRY - 1000)), ALICE);
  });

  it('refuses a temporary key without its token, with a wrong one, or once expired, never echoing a token', async () => {
    await refusal(
      () => verifier().verify(withToken(undefined)),
      /access key 'TEMPAKTEMPAKTEMPAK01' is temporary: the request must carry the X-Security-Token issued with it/,
    );
    await refusal(
      () => verifier().verify(withToken('forged-security-token')),
      /the X-Security-Token is not the one issued with temporary access key 'TEMPAKTEMPAKTEMPAK01'/,
    );
    await refusal(
      () => verifier({ now: TEMPORARY_EXPIRY }).verify(withToken(TEMPORARY.token, TEMPORARY_EXPIRY)),
      /temporary access key 'TEMPAKTEMPAKTEMPAK01' expired at 2024-05-17T11:30:00.000Z/,
    );
    for (const token of ['forged-security-token', TEMPORARY.token]) {
      await assert.rejects(
        () => verifier({ now: TEMPORARY_EXPIRY + 1 }).verify(withToken(token, TEMPORARY_EXPIRY + 1)),
        (error: Error) => !error.message.includes(token) && !error.message.includes(TEMPORARY.sk),
      );
    }
  });

  it('refuses a permanent key that comes with a security token', async () => {
    await refusal(
      () => verifier().verify(signed({ headers: { 'x-security-token': 'any-token' } })),
      /access key 'TESTAKTESTAKTESTAK01' is permanent: a request signed with it must not carry an X-Security-Token/,
    );
  });

  it('checks the security token only once the signature holds, and never counts it toward the lockout', async () => {
    const v = verifier();
    await refusal(() => v.verify(signed({ headers: { 'x-security-token': 'x' } }, T0, { ak: TEMPORARY.ak, sk: 'wrong' })), /signature mismatch/);
    for (let i = 0; i < 6; i++) await refusal(() => v.verify(withToken('forged-security-token')), /is not the one issued/);
    assert.equal(await v.verify(withToken(TEMPORARY.token)), ALICE);
  });
});

describe('StaticAuthenticator with access keys', () => {
  it('verifies signatures against the credentials file and prefers them to a stray token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskcenter-aksk-'));
    try {
      const path = join(dir, 'credentials.json');
      const file = { principals: [{ name: 'alice', projects: ['proj-a'], actions: ['*'], access_keys: [KEY] }] };
      writeFileSync(path, JSON.stringify(file), { mode: 0o600 });
      const auth = new StaticAuthenticator(path, () => {}, { now: () => T0 });
      const request = signed();
      assert.equal((await auth.authenticate(request)).name, 'alice');
      assert.equal((await auth.authenticate({ ...request, headers: { ...request.headers, 'x-auth-token': 'garbage' } })).name, 'alice');
      await assert.rejects(auth.authenticate({ ...request, headers: { authorization: 'Bearer s3cret-value' } }), (error: Error) => {
        assert.match(error.message, /not an SDK-HMAC-SHA256 signature/);
        assert.doesNotMatch(error.message, /s3cret/);
        return true;
      });
      writeFileSync(path, JSON.stringify({ principals: [] }), { mode: 0o600 });
      auth.reload();
      await assert.rejects(auth.authenticate(signed()), /unknown access key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
