/**
 * Static token authentication and authorization: the credentials file (hashed tokens,
 * validation, 0600 warning, reload), who may do what through HTTP on both engines, and
 * `--auth none`.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StaticAuthenticator, type AuthRequest } from '../../src/auth/authenticator.js';
import { addPrincipal, hashToken, readCredentialsFile } from '../../src/auth/credentials.js';
import { ServiceError } from '../../src/errors.js';
import { loadConfig } from '../../src/config.js';
import {
  createTestApp,
  createTestServer,
  describeEachEngine,
  engines,
  PROJECT_A,
  PROJECT_B,
  putJob,
  requestIdOf,
  sdrsJob,
  TOKENS,
  type TestApp,
  type TestServer,
} from '../helpers.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'taskcenter-auth-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** Writes a credentials file (mode 0600 unless told) and returns its path. */
function credentialsFile(content: unknown, mode = 0o600): string {
  const path = join(dir, `credentials-${files++}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  chmodSync(path, mode);
  return path;
}

function withToken(token: string | string[] | undefined): AuthRequest {
  return { method: 'GET', url: '/', headers: token === undefined ? {} : { 'x-auth-token': token as string }, body: Buffer.alloc(0) };
}

async function refusal(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ServiceError, String(error));
    assert.equal(error.kind, 'unauthenticated');
    return error;
  }
  assert.fail('expected a refusal');
}

describe('static credentials', () => {
  it('knows a principal by the SHA-256 of its token, and nothing by the hash itself', async () => {
    const path = credentialsFile({ principals: [{ name: 'ops', projects: ['p1'], actions: ['sdrs:*'], tokens: [hashToken('s3cret-token')] }] });
    const auth = new StaticAuthenticator(path);
    assert.deepEqual(await auth.authenticate(withToken('s3cret-token')), { name: 'ops', projects: ['p1'], actions: ['sdrs:*'] });
    assert.ok(Object.isFrozen(await auth.authenticate(withToken('s3cret-token'))));
    assert.equal(
      (await refusal(auth.authenticate(withToken(hashToken('s3cret-token'))))).message,
      'Incorrect IAM authentication information: the token is unknown or expired',
    );
    await refusal(auth.authenticate(withToken('s3cret-token ')));
    await refusal(auth.authenticate(withToken('')));
    assert.equal(
      (await refusal(auth.authenticate(withToken(undefined)))).message,
      'Incorrect IAM authentication information: no X-Auth-Token header and no AK/SK signature',
    );
    assert.equal(hashToken('s3cret-token'), 'sha256:' + createHash('sha256').update('s3cret-token').digest('hex'));
  });

  it('refuses to start on a missing, unreadable or invalid file, naming the file and the problem', () => {
    const missing = join(dir, 'nope.json');
    assert.throws(() => new StaticAuthenticator(missing), new RegExp(`cannot read credentials file ${missing}`));
    assert.throws(() => new StaticAuthenticator(credentialsFile('{"principals": [')), /cannot read credentials file .*: /);
    assert.throws(
      () => new StaticAuthenticator(credentialsFile({ principals: [{ name: 'x', projects: [], actions: [], tokens: ['plain-token'] }] })),
      /credentials file .* is invalid: principals\[0\]\.tokens\[0\] must match \^sha256:\[0-9a-f\]\{64\}\$/,
    );
    assert.throws(
      () => new StaticAuthenticator(credentialsFile({ principals: [{ name: 'x', projects: [], actions: [], role: 'admin' }] })),
      /principals\[0\]\.role is not a known field/,
    );
    assert.throws(() => new StaticAuthenticator(credentialsFile({ users: [] })), /is invalid: /);
  });

  it('refuses a token shared by two principals', () => {
    const shared = hashToken('shared');
    const path = credentialsFile({
      principals: [
        { name: 'a', projects: ['*'], actions: ['*'], tokens: [shared] },
        { name: 'b', projects: ['p'], actions: ['sdrs:*'], tokens: [shared] },
      ],
    });
    assert.throws(() => new StaticAuthenticator(path), /a token of principal 'b' is also another principal's/);
  });

  it('warns about a file other users can read, and only then', () => {
    const content = { principals: [] };
    const warnings: string[] = [];
    new StaticAuthenticator(credentialsFile(content, 0o644), (m) => warnings.push(m));
    new StaticAuthenticator(credentialsFile(content, 0o640), (m) => warnings.push(m));
    new StaticAuthenticator(credentialsFile(content, 0o600), (m) => warnings.push(m));
    assert.equal(warnings.length, 2);
    assert.match(warnings[0] ?? '', /is readable by other users; chmod 600 it$/);
  });

  it('takes changes on reload, and keeps the old credentials when the new file is invalid', async () => {
    const path = credentialsFile({ principals: [{ name: 'old', projects: ['*'], actions: ['*'], tokens: [hashToken('old-token')] }] });
    const auth = new StaticAuthenticator(path);
    writeFileSync(path, JSON.stringify({ principals: [{ name: 'new', projects: ['*'], actions: ['*'], tokens: [hashToken('new-token')] }] }));
    auth.reload();
    assert.equal((await auth.authenticate(withToken('new-token'))).name, 'new');
    await refusal(auth.authenticate(withToken('old-token')));

    writeFileSync(path, '{"principals": oops');
    assert.throws(() => auth.reload(), /cannot read credentials file/);
    assert.equal((await auth.authenticate(withToken('new-token'))).name, 'new');
  });

  it('stores a new principal with its token hashed, in a 0600 file, and returns the token once', async () => {
    const path = join(dir, 'sub', 'added.json');
    const secrets = addPrincipal(path, { name: 'ci', projects: ['p1'], actions: ['taskcenter:jobs:write'], token: true, aksk: false });
    assert.equal(typeof secrets.token, 'string');
    assert.ok((secrets.token ?? '').length >= 32);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const text = readFileSync(path, 'utf8');
    assert.ok(!text.includes(secrets.token ?? '<none>'), 'the token is stored in clear');
    assert.deepEqual(readCredentialsFile(path).principals[0]?.tokens, [hashToken(secrets.token ?? '')]);
    assert.equal((await new StaticAuthenticator(path).authenticate(withToken(secrets.token))).name, 'ci');
    assert.throws(() => addPrincipal(path, { name: 'ci', projects: [], actions: [], token: true, aksk: false }), /principal 'ci' already exists/);
  });
});

describeEachEngine('authorization over HTTP', (server) => {
  const get = (url: string, token: string) => server().app.inject({ url, headers: { 'x-auth-token': token } });

  it('lets each principal do exactly what its grants say', async () => {
    const job = sdrsJob();
    assert.equal((await putJob(server().app, PROJECT_A, job, TOKENS.alice)).statusCode, 201);
    const jobUrl = `/taskcenter/v1/projects/${PROJECT_A}/jobs/${String(job.job_id)}`;
    const cases: [string, string, number][] = [
      [TOKENS.admin, jobUrl, 200],
      [TOKENS.alice, jobUrl, 200],
      [TOKENS.reader, jobUrl, 200],
      [TOKENS.bob, jobUrl, 403],
      [TOKENS.reader, `/v1/${PROJECT_A}/task-center/failure-jobs`, 200],
      [TOKENS.reader, `/v3/${PROJECT_A}/running-tasks`, 200],
      [TOKENS.bob, `/v1/${PROJECT_A}/task-center/failure-jobs`, 403],
      [TOKENS.bob, `/v3/${PROJECT_B}/failed-tasks`, 200],
      [TOKENS.alice, `/v3/${PROJECT_B}/failed-tasks`, 403],
    ];
    for (const [token, url, status] of cases) {
      const response = await get(url, token);
      assert.equal(response.statusCode, status, `${Object.entries(TOKENS).find(([, t]) => t === token)?.[0]} GET ${url}: ${response.body}`);
      requestIdOf(response.headers);
    }
    const denied = await server().app.inject({
      method: 'DELETE',
      url: `/v1/${PROJECT_A}/task-center/failure-jobs/batch`,
      headers: { 'x-auth-token': TOKENS.reader },
    });
    assert.equal(denied.statusCode, 403);
    assert.equal(denied.json().error.code, 'SDRS.0005');
    assert.equal((await putJob(server().app, PROJECT_A, sdrsJob(), TOKENS.reader)).statusCode, 403);
  });

  it('leaves health, readiness and the API description open', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
      assert.equal((await server().app.inject({ url })).statusCode, 200, url);
    }
  });

  it('says so in /openapi.json: health, readiness and metrics need no credentials, every API route does', async () => {
    const doc = (await server().app.inject({ url: '/openapi.json' })).json();
    assert.deepEqual(doc.security, [{ token: [] }, { aksk: [] }]);
    const open = ['/healthz', '/readyz', '/metrics'];
    for (const path of open) assert.deepEqual(doc.paths[path].get.security, [], path);
    for (const [path, operations] of Object.entries(doc.paths as Record<string, Record<string, { security?: unknown }>>)) {
      if (open.includes(path)) continue;
      for (const [method, operation] of Object.entries(operations)) assert.equal(operation.security, undefined, `${method} ${path} overrides the security`);
    }
  });

  it('refuses several X-Auth-Token headers: HTTP joins them, and no token matches the joined value', async () => {
    const response = await server().app.inject({
      url: `/taskcenter/v1/projects/${PROJECT_A}/jobs`,
      headers: { 'x-auth-token': [TOKENS.reader, TOKENS.admin] },
    });
    assert.equal(response.statusCode, 401);
    assert.equal(response.json().error_code, 'APIGW.0301');
  });
});

/** An app over `engine` whose credentials hold principals with wildcard grants. */
function appWithPrincipals(engine: (typeof engines)[number], principals: unknown[]): Promise<TestApp> {
  return createTestApp(engine, (db) => loadConfig({ db, auth: 'static', credentials: credentialsFile({ principals }), logLevel: 'silent' }, {}));
}

for (const engine of engines) {
  describe(`wildcard grants over HTTP [${engine}]`, () => {
    it('matches sdrs:* and kps::get* against the route actions, and * projects against any project', async () => {
      const server = await appWithPrincipals(engine, [
        { name: 'sdrs-ops', projects: ['*'], actions: ['sdrs:*'], tokens: [hashToken('sdrs-ops')] },
        { name: 'kps-viewer', projects: ['p1', 'p2'], actions: ['kps::get*'], tokens: [hashToken('kps-viewer')] },
        { name: 'producer', projects: ['*'], actions: ['taskcenter:jobs:write'], tokens: [hashToken('producer')] },
      ]);
      try {
        const status = async (method: 'GET' | 'DELETE', url: string, token: string) =>
          (await server.app.inject({ method, url, headers: { 'x-auth-token': token } })).statusCode;
        assert.equal(await status('GET', '/v1/any-project/task-center/failure-jobs', 'sdrs-ops'), 200);
        assert.equal(await status('DELETE', '/v1/any-project/task-center/failure-jobs/batch', 'sdrs-ops'), 204);
        assert.equal(await status('GET', '/v3/any-project/failed-tasks', 'sdrs-ops'), 403);
        assert.equal(await status('GET', '/taskcenter/v1/projects/any-project/jobs', 'sdrs-ops'), 403);
        assert.equal(await status('GET', '/v3/p1/failed-tasks', 'kps-viewer'), 200);
        assert.equal(await status('GET', '/v3/p2/running-tasks', 'kps-viewer'), 200);
        assert.equal(await status('GET', '/v3/p3/failed-tasks', 'kps-viewer'), 403);
        assert.equal(await status('DELETE', '/v3/p1/failed-tasks', 'kps-viewer'), 403);
        // Write does not imply read.
        assert.equal((await putJob(server.app, 'p9', sdrsJob({ job_id: 'j' }), 'producer')).statusCode, 201);
        assert.equal(await status('GET', '/taskcenter/v1/projects/p9/jobs/j', 'producer'), 403);
      } finally {
        await server.close();
      }
    });
  });

  describe(`--auth none [${engine}]`, () => {
    let server: TestServer;
    before(async () => {
      server = await createTestServer(engine, { auth: 'none' });
    });
    after(async () => server.close());

    it('lets every request in as the anonymous principal, in every project', async () => {
      const job = sdrsJob();
      const created = await server.app.inject({ method: 'PUT', url: `/taskcenter/v1/projects/any/jobs/${String(job.job_id)}`, payload: job });
      assert.equal(created.statusCode, 201);
      assert.equal((await server.app.inject({ url: `/taskcenter/v1/projects/any/jobs/${String(job.job_id)}` })).statusCode, 200);
      assert.equal((await server.app.inject({ url: '/v3/other/failed-tasks', headers: { 'x-auth-token': 'whatever' } })).statusCode, 200);
      const batch = await server.app.inject({
        method: 'POST',
        url: '/taskcenter/v1/jobs/batch',
        payload: {
          jobs: [
            { project_id: 'x', ...sdrsJob() },
            { project_id: 'y', ...sdrsJob() },
          ],
        },
      });
      assert.deepEqual(
        batch.json().results.map((r: { result: string }) => r.result),
        ['created', 'created'],
      );
    });
  });
}
