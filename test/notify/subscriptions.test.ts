/**
 * Webhook subscriptions through the producer API on both engines: create (the secret
 * shown once), list, read, delete, rotate; validation in the producer API's error
 * format; addresses refused without --webhook-allow-private; project scoping; secrets
 * sealed at rest when TASKCENTER_WEBHOOK_KEY is set.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.js';
import { createTestApp, describeEachEngine, engines, PROJECT_A, PROJECT_B, requestIdOf, TOKENS, writeTestCredentials, type TestApp } from '../helpers.js';

const PUBLIC_URL = 'https://203.0.113.10/hooks/taskcenter';

function subscriptionsUrl(projectId: string, rest = ''): string {
  return `/taskcenter/v1/projects/${projectId}/subscriptions${rest}`;
}

function call(app: FastifyInstance, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object, token: string = TOKENS.admin) {
  return app.inject({ method, url, headers: { 'x-auth-token': token }, ...(payload === undefined ? {} : { payload }) });
}

/** Asserts a TASKCENTER error body with this status and code; returns its message. */
function taskcenterError(response: { statusCode: number; body: string; headers: Record<string, unknown> }, status: number, code: string): string {
  assert.equal(response.statusCode, status, response.body);
  requestIdOf(response.headers);
  const body = JSON.parse(response.body) as { error: { code: string; message: string } };
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, code);
  return body.error.message;
}

describeEachEngine('notifications: subscriptions', (server) => {
  const app = () => server().app;

  it('creates a subscription with 201 and its secret, then never shows the secret again', async () => {
    const created = await call(app(), 'POST', subscriptionsUrl(PROJECT_A), { url: PUBLIC_URL, events: ['job.failed'], description: 'on-call' });
    assert.equal(created.statusCode, 201, created.body);
    const body = created.json();
    assert.match(body.id, /^sub-[0-9a-f]{32}$/);
    assert.match(body.secret, /^whsec_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(
      { ...body, id: 'x', secret: 'x', created_at: 'x', updated_at: 'x' },
      {
        id: 'x',
        project_id: PROJECT_A,
        url: PUBLIC_URL,
        events: ['job.failed'],
        description: 'on-call',
        secret: 'x',
        previous_secret_expires_at: null,
        created_at: 'x',
        updated_at: 'x',
      },
    );
    const one = await call(app(), 'GET', subscriptionsUrl(PROJECT_A, `/${body.id}`));
    assert.equal(one.statusCode, 200, one.body);
    const { secret: _secret, previous_secret_expires_at: _expires, ...shown } = body;
    assert.deepEqual(one.json(), shown);
    const list = await call(app(), 'GET', subscriptionsUrl(PROJECT_A));
    assert.equal(list.statusCode, 200);
    assert.ok(list.json().subscriptions.some((s: { id: string }) => s.id === body.id));
    assert.ok(!list.body.includes(body.secret) && !one.body.includes(body.secret));
  });

  it('rotates the secret: a new one shown once, the old one signing beside it for a day', async () => {
    const created = (await call(app(), 'POST', subscriptionsUrl(PROJECT_A), { url: PUBLIC_URL, events: ['job.*'] })).json();
    const rotated = await call(app(), 'POST', subscriptionsUrl(PROJECT_A, `/${created.id}/rotate-secret`));
    assert.equal(rotated.statusCode, 200, rotated.body);
    assert.notEqual(rotated.json().secret, created.secret);
    const expires = Date.parse(rotated.json().previous_secret_expires_at);
    assert.ok(expires > Date.parse(rotated.json().updated_at));
    assert.ok(!(await call(app(), 'GET', subscriptionsUrl(PROJECT_A, `/${created.id}`))).body.includes(rotated.json().secret));
  });

  it('deletes a subscription with 204, then it is not found', async () => {
    const created = (await call(app(), 'POST', subscriptionsUrl(PROJECT_A), { url: PUBLIC_URL, events: ['job.succeeded'] })).json();
    assert.equal((await call(app(), 'DELETE', subscriptionsUrl(PROJECT_A, `/${created.id}`))).statusCode, 204);
    for (const response of [
      await call(app(), 'GET', subscriptionsUrl(PROJECT_A, `/${created.id}`)),
      await call(app(), 'DELETE', subscriptionsUrl(PROJECT_A, `/${created.id}`)),
      await call(app(), 'POST', subscriptionsUrl(PROJECT_A, `/${created.id}/rotate-secret`)),
      await call(app(), 'GET', subscriptionsUrl(PROJECT_A, `/${created.id}/deliveries`)),
    ]) {
      assert.match(taskcenterError(response, 404, 'TASKCENTER.0003'), /^subscription 'sub-[0-9a-f]{32}' does not exist in project 'proj-a'$/);
    }
  });

  it('refuses bad subscriptions with 400 in the producer API format, writing nothing', async () => {
    const project = `p-${randomBytes(5).toString('hex')}`;
    const cases: [object, RegExp][] = [
      [{ url: 'ftp://203.0.113.10/x', events: ['job.failed'] }, /^url must use http or https, got ftp$/],
      [{ url: 'not a url', events: ['job.failed'] }, /^url must be an absolute http or https URL$/],
      [{ url: 'https://u:p@203.0.113.10/x', events: ['job.failed'] }, /user name or password/],
      [{ url: PUBLIC_URL, events: [] }, /events/],
      [{ url: PUBLIC_URL, events: ['job.exploded'] }, /events/],
      [{ url: PUBLIC_URL, events: ['job.failed', 'job.failed'] }, /events/],
      [{ url: PUBLIC_URL }, /events/],
      [{ url: PUBLIC_URL, events: ['job.failed'], secret: 'mine' }, /secret/],
      [{ url: 'x'.repeat(3000), events: ['job.failed'] }, /url/],
    ];
    for (const [payload, message] of cases) {
      assert.match(taskcenterError(await call(app(), 'POST', subscriptionsUrl(project), payload), 400, 'TASKCENTER.0001'), message, JSON.stringify(payload));
    }
    assert.deepEqual((await call(app(), 'GET', subscriptionsUrl(project))).json(), { subscriptions: [] });
    taskcenterError(await call(app(), 'GET', subscriptionsUrl(PROJECT_A, '/not-an-id')), 400, 'TASKCENTER.0001');
    taskcenterError(await call(app(), 'GET', subscriptionsUrl(PROJECT_A, `/sub-${'0'.repeat(32)}/deliveries?state=lost`)), 400, 'TASKCENTER.0001');
    taskcenterError(await call(app(), 'GET', subscriptionsUrl(PROJECT_A, `/sub-${'0'.repeat(32)}/deliveries?limit=0`)), 400, 'TASKCENTER.0001');
  });

  it('refuses a URL on 127.0.0.1, localhost or a private network without --webhook-allow-private', async () => {
    for (const url of [
      'http://127.0.0.1:8080/hook',
      'http://localhost:9/hook',
      'http://10.1.2.3/hook',
      'http://[::1]/hook',
      'http://169.254.169.254/latest/meta-data',
    ]) {
      const message = taskcenterError(await call(app(), 'POST', subscriptionsUrl(PROJECT_A), { url, events: ['job.failed'] }), 400, 'TASKCENTER.0001');
      assert.match(message, /^url is refused: .* address.*--webhook-allow-private$/, url);
    }
  });

  it('keeps each project to its own subscriptions and needs the subscription actions', async () => {
    const created = (await call(app(), 'POST', subscriptionsUrl(PROJECT_A), { url: PUBLIC_URL, events: ['job.failed'] })).json();
    taskcenterError(await call(app(), 'GET', subscriptionsUrl(PROJECT_B, `/${created.id}`)), 404, 'TASKCENTER.0003');
    taskcenterError(await call(app(), 'DELETE', subscriptionsUrl(PROJECT_B, `/${created.id}`)), 404, 'TASKCENTER.0003');
    assert.match(
      taskcenterError(await call(app(), 'GET', subscriptionsUrl(PROJECT_A), undefined, TOKENS.bob), 403, 'TASKCENTER.0005'),
      /not allowed to perform taskcenter:subscriptions:read in project 'proj-a'/,
    );
    assert.match(
      taskcenterError(
        await call(app(), 'POST', subscriptionsUrl(PROJECT_A), { url: PUBLIC_URL, events: ['job.failed'] }, TOKENS.reader),
        403,
        'TASKCENTER.0005',
      ),
      /taskcenter:subscriptions:write/,
    );
    const unauthenticated = await app().inject({ method: 'GET', url: subscriptionsUrl(PROJECT_A) });
    assert.equal(unauthenticated.statusCode, 401);
    assert.equal((await call(app(), 'GET', subscriptionsUrl(PROJECT_A, `/${created.id}`))).statusCode, 200);
  });

  it('documents every subscription route in OpenAPI', async () => {
    const spec = (await app().inject({ url: '/openapi.json' })).json();
    for (const path of [
      '/taskcenter/v1/projects/{project_id}/subscriptions',
      '/taskcenter/v1/projects/{project_id}/subscriptions/{subscription_id}',
      '/taskcenter/v1/projects/{project_id}/subscriptions/{subscription_id}/rotate-secret',
      '/taskcenter/v1/projects/{project_id}/subscriptions/{subscription_id}/deliveries',
      '/taskcenter/v1/projects/{project_id}/subscriptions/{subscription_id}/deliveries/{delivery_id}',
      '/taskcenter/v1/projects/{project_id}/subscriptions/{subscription_id}/deliveries/{delivery_id}/redeliver',
    ]) {
      assert.ok(spec.paths[path], path);
    }
    assert.ok(spec.paths['/taskcenter/v1/projects/{project_id}/subscriptions'].post.responses['201']);
  });
});

for (const engine of engines) {
  describe(`notifications: secrets at rest [${engine}]`, () => {
    const key = randomBytes(32).toString('hex');
    let server: TestApp | undefined;
    before(async () => {
      server = await createTestApp(engine, (db, dir) =>
        loadConfig({ db, credentials: writeTestCredentials(dir), logLevel: 'silent' }, { TASKCENTER_WEBHOOK_KEY: key }),
      );
    });
    after(async () => server?.close());

    it('stores the signing secret sealed, not as it was shown', async () => {
      const created = (await call(server!.app, 'POST', subscriptionsUrl(PROJECT_A), { url: PUBLIC_URL, events: ['job.failed'] })).json();
      const { rows } = await sql<{ secret: string }>`select secret from subscriptions where id = ${created.id}`.execute(server!.ctx.db.kysely);
      assert.match(rows[0]?.secret ?? '', /^aes256gcm:[0-9a-f]{8}:/);
      assert.ok(!rows[0]?.secret.includes(created.secret.slice('whsec_'.length)));
    });
  });
}
