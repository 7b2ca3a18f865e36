/**
 * The Keystone authenticator against a stand-in Keystone (an injected fetch) and an
 * injected clock: the cache's lifetime, the service token's renewal, how each Keystone
 * answer maps to 401 or 503, the role table, and that no secret reaches a log line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { AuthRequest, Authenticator } from '../../src/auth/authenticator.js';
import type { RequestHead } from '../../src/auth/aksk.js';
import { DEFAULT_ROLES, KeystoneAuthenticator, keystoneTokensUrl, READ_ACTIONS, readRolesFile, type KeystoneOptions } from '../../src/auth/keystone.js';
import { allows, type Principal } from '../../src/auth/principal.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { ServiceError } from '../../src/errors.js';

const T0 = Date.UTC(2024, 4, 17, 10, 0, 0);
const PASSWORD = 'service-password-9f8e7d';
const PROJECT = 'c7adaa3597e24455bab10f6baadd1434';

interface Caller {
  readonly roles: readonly string[];
  readonly expiresAt: number;
  readonly project?: string | null;
}

/** A stand-in Keystone: issues service tokens, answers validations from `callers`, counts calls. */
class FakeKeystone {
  readonly callers = new Map<string, Caller>();
  readonly validations: { service: string; subject: string; url: string }[] = [];
  readonly logins: unknown[] = [];
  /** Service tokens Keystone still accepts. */
  readonly live = new Set<string>();
  serviceLifetimeMs = 3600_000;
  /** Forces the next answers: a status, or 'down' for a connection failure. */
  outage: number | 'down' | null = null;
  /** Connections to drop before they answer, as a server closing an idle keep-alive connection does. */
  drops = 0;
  #issued = 0;

  constructor(private readonly clock: { now: number }) {}

  readonly fetch = (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    if (this.drops > 0) {
      this.drops -= 1;
      throw new TypeError('fetch failed', { cause: { code: 'UND_ERR_SOCKET' } });
    }
    if (this.outage === 'down') throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    if (typeof this.outage === 'number') return new Response('{"error":{}}', { status: this.outage });
    const headers = new Headers(init?.headers);
    if (init?.method === 'POST') {
      this.logins.push(JSON.parse(String(init.body)));
      this.#issued += 1;
      const token = `service-token-${this.#issued}`;
      this.live.add(token);
      const expires = new Date(this.clock.now + this.serviceLifetimeMs).toISOString();
      return new Response(JSON.stringify({ token: { expires_at: expires } }), { status: 201, headers: { 'x-subject-token': token } });
    }
    const service = headers.get('x-auth-token') ?? '';
    const subject = headers.get('x-subject-token') ?? '';
    this.validations.push({ service, subject, url });
    if (!this.live.has(service)) return new Response('{"error":{"code":401}}', { status: 401 });
    const caller = this.callers.get(subject);
    if (caller === undefined || caller.expiresAt <= this.clock.now) return new Response('{"error":{"code":404}}', { status: 404 });
    const project = caller.project === undefined ? { id: PROJECT, name: 'admin' } : caller.project === null ? undefined : { id: caller.project, name: 'p' };
    const body = {
      token: {
        expires_at: new Date(caller.expiresAt).toISOString().replace('Z', '000Z'),
        user: { id: 'u1', name: 'alice' },
        ...(project === undefined ? {} : { project }),
        roles: caller.roles.map((name) => ({ id: `id-${name}`, name })),
      },
    };
    return new Response(JSON.stringify(body), { status: 200 });
  }) as typeof fetch;
}

function setup(options: Partial<KeystoneOptions> = {}) {
  const clock = { now: T0 };
  const keystone = new FakeKeystone(clock);
  const logs: string[] = [];
  const log = (line: string) => logs.push(line);
  const auth = new KeystoneAuthenticator({
    url: 'http://keystone.test:5000/v3/',
    user: 'taskcenter',
    password: PASSWORD,
    project: 'service',
    domain: 'Default',
    cacheTtlSeconds: 300,
    now: () => clock.now,
    fetch: keystone.fetch,
    logger: { info: log, warn: log, error: log },
    ...options,
  });
  return { clock, keystone, auth, logs };
}

function withToken(token: string, extra: Record<string, string> = {}): AuthRequest {
  return { method: 'GET', url: `/v1/${PROJECT}/task-center/failure-jobs`, headers: { 'x-auth-token': token, ...extra }, body: Buffer.alloc(0) };
}

async function refusal(promise: Promise<unknown>, kind: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: ServiceError) => {
    assert.equal(error.kind, kind);
    assert.match(error.message, message);
    return true;
  });
}

describe('keystoneTokensUrl', () => {
  it('appends /v3 only when the endpoint does not end in it', () => {
    assert.equal(keystoneTokensUrl('http://k:5000'), 'http://k:5000/v3/auth/tokens');
    assert.equal(keystoneTokensUrl('http://k:5000/'), 'http://k:5000/v3/auth/tokens');
    assert.equal(keystoneTokensUrl('http://k:5000/v3'), 'http://k:5000/v3/auth/tokens');
    assert.equal(keystoneTokensUrl('https://iam.example/identity/v3/'), 'https://iam.example/identity/v3/auth/tokens');
  });
});

describe('KeystoneAuthenticator', () => {
  it('validates with its own service token in X-Auth-Token and the caller in X-Subject-Token', async () => {
    const { keystone, auth } = setup();
    keystone.callers.set('caller-1', { roles: ['reader'], expiresAt: T0 + 3600_000 });
    await auth.start();
    const principal = await auth.authenticate(withToken('caller-1'));
    assert.deepEqual(principal.projects, [PROJECT]);
    assert.deepEqual(keystone.validations, [{ service: 'service-token-1', subject: 'caller-1', url: 'http://keystone.test:5000/v3/auth/tokens?nocatalog' }]);
    const login = keystone.logins[0] as { auth: { identity: { password: { user: { name: string; password: string } } }; scope: unknown } };
    assert.equal(login.auth.identity.password.user.name, 'taskcenter');
    assert.equal(login.auth.identity.password.user.password, PASSWORD);
    assert.deepEqual(login.auth.scope, { project: { name: 'service', domain: { name: 'Default' } } });
  });

  it('serves a token from the cache until the TTL has passed', async () => {
    const { clock, keystone, auth } = setup({ cacheTtlSeconds: 300 });
    keystone.callers.set('caller-1', { roles: ['reader'], expiresAt: T0 + 3600_000 });
    await auth.authenticate(withToken('caller-1'));
    clock.now = T0 + 299_999;
    await auth.authenticate(withToken('caller-1'));
    assert.equal(keystone.validations.length, 1);
    clock.now = T0 + 300_000;
    await auth.authenticate(withToken('caller-1'));
    assert.equal(keystone.validations.length, 2);
  });

  it('drops a cached token at its expires_at when that comes before the TTL', async () => {
    const { clock, keystone, auth } = setup({ cacheTtlSeconds: 300 });
    keystone.callers.set('caller-1', { roles: ['admin'], expiresAt: T0 + 60_000 });
    await auth.authenticate(withToken('caller-1'));
    clock.now = T0 + 59_999;
    await auth.authenticate(withToken('caller-1'));
    assert.equal(keystone.validations.length, 1);
    clock.now = T0 + 60_000;
    await refusal(
      auth.authenticate(withToken('caller-1')),
      'unauthenticated',
      /^Incorrect IAM authentication information: the token is unknown, expired or revoked$/,
    );
    assert.equal(keystone.validations.length, 2);
    assert.equal(auth.cacheSize, 0);
  });

  it('keeps trusting a revoked token until its cache entry lapses, then refuses it', async () => {
    const { clock, keystone, auth } = setup({ cacheTtlSeconds: 2 });
    keystone.callers.set('caller-1', { roles: ['reader'], expiresAt: T0 + 3600_000 });
    await auth.authenticate(withToken('caller-1'));
    keystone.callers.delete('caller-1');
    clock.now = T0 + 1_999;
    await auth.authenticate(withToken('caller-1'));
    clock.now = T0 + 2_000;
    await refusal(auth.authenticate(withToken('caller-1')), 'unauthenticated', /unknown, expired or revoked/);
  });

  it('never caches with a TTL of 0, and never caches refusals', async () => {
    const { keystone, auth } = setup({ cacheTtlSeconds: 0 });
    keystone.callers.set('caller-1', { roles: ['reader'], expiresAt: T0 + 3600_000 });
    await auth.authenticate(withToken('caller-1'));
    await auth.authenticate(withToken('caller-1'));
    assert.equal(keystone.validations.length, 2);
    assert.equal(auth.cacheSize, 0);

    const cached = setup();
    await refusal(cached.auth.authenticate(withToken('late')), 'unauthenticated', /unknown/);
    cached.keystone.callers.set('late', { roles: ['reader'], expiresAt: T0 + 3600_000 });
    assert.deepEqual((await cached.auth.authenticate(withToken('late'))).projects, [PROJECT]);
  });

  it('keys the cache by a hash of the token: two tokens are two entries, one call each', async () => {
    const { keystone, auth } = setup();
    keystone.callers.set('caller-1', { roles: ['reader'], expiresAt: T0 + 3600_000 });
    keystone.callers.set('caller-2', { roles: ['admin'], expiresAt: T0 + 3600_000 });
    const [a, b, c] = await Promise.all([
      auth.authenticate(withToken('caller-1')),
      auth.authenticate(withToken('caller-1')),
      auth.authenticate(withToken('caller-2')),
    ]);
    assert.equal(a, b, 'concurrent requests with one token share one validation');
    assert.notDeepEqual(a.actions, c.actions);
    assert.equal(keystone.validations.length, 2);
    assert.equal(auth.cacheSize, 2);
  });

  it('renews the service token before it expires', async () => {
    const { clock, keystone, auth } = setup();
    keystone.serviceLifetimeMs = 600_000;
    keystone.callers.set('caller-1', { roles: ['reader'], expiresAt: T0 + 3600_000 });
    keystone.callers.set('caller-2', { roles: ['reader'], expiresAt: T0 + 3600_000 });
    await auth.start();
    clock.now = T0 + 500_000;
    await auth.authenticate(withToken('caller-1'));
    assert.equal(keystone.logins.length, 1);
    clock.now = T0 + 545_000;
    await auth.authenticate(withToken('caller-2'));
    assert.equal(keystone.logins.length, 2, 'renewed within a minute of expiry');
    assert.equal(keystone.validations.at(-1)?.service, 'service-token-2');
  });

  it('gets a new service token and asks again when Keystone refuses the old one', async () => {
    const { clock, keystone, auth } = setup();
    keystone.callers.set('caller-1', { roles: ['reader'], expiresAt: T0 + 3600_000 });
    await auth.start();
    keystone.live.delete('service-token-1');
    clock.now = T0 + 60_000;
    assert.deepEqual((await auth.authenticate(withToken('caller-1'))).projects, [PROJECT]);
    assert.deepEqual(
      keystone.validations.map((v) => v.service),
      ['service-token-1', 'service-token-2'],
    );
  });

  it('does not log in again for a 401 right after logging in', async () => {
    const { keystone, auth } = setup();
    keystone.callers.set('caller-1', { roles: ['reader'], expiresAt: T0 + 3600_000 });
    await auth.start();
    keystone.live.clear();
    await refusal(auth.authenticate(withToken('caller-1')), 'unauthenticated', /unknown, expired or revoked/);
    assert.equal(keystone.logins.length, 1);
  });

  it('answers 503 (unavailable), not 401, when Keystone is unreachable or failing', async () => {
    const { keystone, auth, logs } = setup();
    keystone.callers.set('caller-1', { roles: ['reader'], expiresAt: T0 + 3600_000 });
    keystone.outage = 'down';
    await auth.start();
    assert.match(logs.join('\n'), /not reachable yet \(ECONNREFUSED\)/);
    await refusal(auth.authenticate(withToken('caller-1')), 'unavailable', /Keystone\) is unavailable; retry later/);
    for (const status of [500, 502, 503]) {
      keystone.outage = status;
      await refusal(auth.authenticate(withToken('caller-1')), 'unavailable', /unavailable/);
    }
    keystone.outage = null;
    await auth.start();
    keystone.outage = 500;
    await refusal(auth.authenticate(withToken('caller-1')), 'unavailable', /unavailable/);
    keystone.outage = 403;
    await refusal(auth.authenticate(withToken('caller-1')), 'unavailable', /unavailable/);
    assert.match(logs.join('\n'), /refused to let user 'taskcenter' validate tokens/);
    keystone.outage = null;
    assert.deepEqual((await auth.authenticate(withToken('caller-1'))).projects, [PROJECT], 'recovers by itself');
  });

  it('tries a dropped connection once more before calling Keystone unavailable', async () => {
    const { keystone, auth } = setup();
    keystone.callers.set('caller-1', { roles: ['reader'], expiresAt: T0 + 3600_000 });
    keystone.callers.set('caller-2', { roles: ['reader'], expiresAt: T0 + 3600_000 });
    await auth.start();
    keystone.drops = 1;
    assert.deepEqual((await auth.authenticate(withToken('caller-1'))).projects, [PROJECT]);
    keystone.drops = 2;
    await refusal(auth.authenticate(withToken('caller-2')), 'unavailable', /unavailable/);
  });

  it('refuses to start when Keystone refuses the service credentials', async () => {
    const { keystone, auth } = setup();
    keystone.outage = 401;
    await assert.rejects(auth.start(), /Keystone refused a token to service user 'taskcenter'.*TASKCENTER_KEYSTONE_PASSWORD/);
  });

  it('writes no token or password into its log lines', async () => {
    const { keystone, auth, logs } = setup();
    keystone.callers.set('caller-1', { roles: ['reader'], expiresAt: T0 + 3600_000 });
    await auth.start();
    for (const outage of ['down', 500, 403, 400] as const) {
      keystone.outage = outage;
      await auth.authenticate(withToken('caller-secret-token')).catch(() => {});
    }
    keystone.outage = 401;
    await auth.start().catch((error: Error) => logs.push(error.message));
    const text = logs.join('\n');
    assert.ok(logs.length >= 5, text);
    for (const secret of [PASSWORD, 'service-token', 'caller-secret-token']) assert.ok(!text.includes(secret), `log holds ${secret}`);
  });

  it('refuses requests without a token with 401', async () => {
    const { auth } = setup();
    const request: AuthRequest = { method: 'GET', url: '/', headers: {}, body: Buffer.alloc(0) };
    await refusal(auth.authenticate(request), 'unauthenticated', /no X-Auth-Token header and no AK\/SK signature/);
    await refusal(auth.authenticate({ ...request, headers: { 'x-auth-token': '' } }), 'unauthenticated', /no X-Auth-Token/);
  });

  it('hands AK/SK-signed requests to the signature verifier, without a stray token', async () => {
    const seen: RequestHead[] = [];
    const signer: Principal = { name: 'alice', projects: [PROJECT], actions: ['*'] };
    const signatures: Authenticator = {
      async authenticateHead(request) {
        seen.push(request);
        return signer;
      },
      async authenticate(request) {
        seen.push(request);
        return signer;
      },
      reload() {},
    };
    const { keystone, auth } = setup({ signatures });
    const signed = withToken('caller-1', { authorization: 'SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date, Signature=00' });
    assert.equal(await auth.authenticate(signed), signer);
    assert.equal(seen[0]?.headers['x-auth-token'], undefined);
    assert.equal(keystone.validations.length, 0);

    const without = setup();
    await refusal(without.auth.authenticate(signed), 'unauthenticated', /AK\/SK signatures are not accepted/);
  });

  it('clears the cache on reload', async () => {
    const { keystone, auth } = setup();
    keystone.callers.set('caller-1', { roles: ['reader'], expiresAt: T0 + 3600_000 });
    await auth.authenticate(withToken('caller-1'));
    auth.reload();
    await auth.authenticate(withToken('caller-1'));
    assert.equal(keystone.validations.length, 2);
  });
});

describe('Keystone roles', () => {
  async function principalWith(roles: string[], options: Partial<KeystoneOptions> = {}, project?: string | null): Promise<Principal> {
    const { keystone, auth } = setup(options);
    keystone.callers.set('t', { roles, expiresAt: T0 + 3600_000, ...(project === undefined ? {} : { project }) });
    return auth.authenticate(withToken('t'));
  }

  it('by default lets any project-scoped token read, and admin also delete and write', async () => {
    const reader = await principalWith(['reader']);
    const member = await principalWith(['member']);
    const admin = await principalWith(['Admin', 'reader']);
    for (const action of READ_ACTIONS) {
      assert.ok(allows(reader, action as never, PROJECT), action);
      assert.ok(allows(member, action as never, PROJECT), action);
    }
    for (const action of ['sdrs:failureJobs:delete', 'kps::deleteFailedTask', 'taskcenter:jobs:write'] as const) {
      assert.ok(!allows(reader, action, PROJECT), action);
      assert.ok(!allows(member, action, PROJECT), action);
      assert.ok(allows(admin, action, PROJECT), action);
    }
    assert.ok(!allows(admin, 'sdrs:failureJobs:list', 'another-project'), 'only the token project');
    assert.match(reader.name, /^keystone user alice \(project admin\)$/);
    assert.deepEqual(DEFAULT_ROLES['*'], READ_ACTIONS);
  });

  it('gives a token without a project nothing', async () => {
    const unscoped = await principalWith(['admin'], {}, null);
    assert.deepEqual(unscoped.projects, []);
    assert.deepEqual(unscoped.actions, []);
  });

  it('reads a role table from a file and refuses grants that match no action', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskcenter-roles-'));
    try {
      const path = join(dir, 'roles.json');
      writeFileSync(path, JSON.stringify({ roles: { Member: ['sdrs:*', 'taskcenter:jobs:write'], service: ['taskcenter:jobs:*'] } }));
      assert.deepEqual(readRolesFile(path), { member: ['sdrs:*', 'taskcenter:jobs:write'], service: ['taskcenter:jobs:*'] });
      const member = await principalWith(['member'], { rolesFile: path });
      assert.ok(allows(member, 'sdrs:failureJobs:delete', PROJECT));
      assert.ok(allows(member, 'taskcenter:jobs:write', PROJECT));
      assert.ok(!allows(member, 'kps::getFailedTask', PROJECT), 'no "*" entry: nothing else');
      const admin = await principalWith(['admin'], { rolesFile: path });
      assert.deepEqual(admin.actions, []);

      writeFileSync(path, JSON.stringify({ roles: { member: ['sdrs:failurejobs:list'] } }));
      assert.throws(() => readRolesFile(path), /grant 'sdrs:failurejobs:list' of role 'member' matches no action/);
      writeFileSync(path, JSON.stringify({ member: ['*'] }));
      assert.throws(() => readRolesFile(path), /roles file .* is invalid/);
      writeFileSync(path, '{');
      assert.throws(() => readRolesFile(path), /cannot read Keystone roles file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Keystone configuration', () => {
  it('needs the service user, its project and its password, all reported at once', () => {
    assert.throws(
      () => loadConfig({ auth: 'keystone', keystoneUrl: 'http://k:5000' }, {}),
      (error: ConfigError) => {
        assert.equal(error.problems.length, 3, error.message);
        assert.match(error.message, /--keystone-user/);
        assert.match(error.message, /TASKCENTER_KEYSTONE_PASSWORD/);
        assert.match(error.message, /--keystone-project/);
        return true;
      },
    );
  });

  it('reads the password only from the environment, and the rest from flags or environment', () => {
    const config = loadConfig(
      { auth: 'keystone', keystoneUrl: 'http://k:5000/v3', keystoneUser: 'svc' },
      { TASKCENTER_KEYSTONE_PROJECT: 'service', TASKCENTER_KEYSTONE_PASSWORD: 'pw', TASKCENTER_KEYSTONE_CACHE_TTL: '30' },
    );
    assert.equal(config.keystonePassword, 'pw');
    assert.equal(config.keystoneProject, 'service');
    assert.equal(config.keystoneDomain, 'Default');
    assert.equal(config.keystoneCacheTtl, 30);
    assert.equal(config.keystoneRoles, null);
    assert.equal(loadConfig({}, {}).keystoneCacheTtl, 300);
  });

  it('refuses a cache TTL that is not a whole number of seconds', () => {
    for (const ttl of ['', '-1', '1.5', 'abc', '5m']) {
      assert.throws(() => loadConfig({ keystoneCacheTtl: ttl }, {}), /--keystone-cache-ttl must be a whole number of seconds/, ttl);
    }
  });
});
