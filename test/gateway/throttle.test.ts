/**
 * Per-principal throttling: the window a rate becomes, and the 429 the gateway answers
 * over HTTP. No sleeping: the HTTP test uses a rate so low that its window (1000 s)
 * cannot end during the test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { AuthFailureLimit, throttleWindow } from '../../src/gateway/throttle.js';
import { engines, PROJECT_A, requestIdOf, TOKENS } from '../helpers.js';
import { startServer, type ListeningServer } from '../sdk/sdk-server.js';

describe('throttleWindow', () => {
  it('allows the rate on average in whole requests per window', () => {
    assert.deepEqual(throttleWindow(25), { max: 25, timeWindowMs: 1000 });
    assert.deepEqual(throttleWindow(1), { max: 1, timeWindowMs: 1000 });
    assert.deepEqual(throttleWindow(2.5), { max: 3, timeWindowMs: 1200 });
    assert.deepEqual(throttleWindow(0.5), { max: 1, timeWindowMs: 2000 });
    assert.deepEqual(throttleWindow(0.001), { max: 1, timeWindowMs: 1_000_000 });
  });

  it('refuses a rate that is not positive', () => {
    assert.throws(() => throttleWindow(0), /positive/);
    assert.throws(() => throttleWindow(Number.NaN), /positive/);
  });
});

describe('AuthFailureLimit', () => {
  it('refuses an address once it failed max times, until its window ends, and no other address', () => {
    let now = 1_000_000;
    const limit = new AuthFailureLimit(2, 60_000, () => now);
    limit.fail('a');
    assert.equal(limit.retryAfter('a'), 0);
    limit.fail('a');
    assert.equal(limit.retryAfter('a'), 60);
    assert.equal(limit.retryAfter('b'), 0);
    now += 59_001;
    assert.equal(limit.retryAfter('a'), 1);
    now += 999;
    assert.equal(limit.retryAfter('a'), 0);
    // A new window counts from zero.
    limit.fail('a');
    assert.equal(limit.retryAfter('a'), 0);
  });
});

describe('throttle configuration', () => {
  const base = { db: 'sqlite::memory:', auth: 'none' } as const;
  it('is off by default and reads --throttle or TASKCENTER_THROTTLE', () => {
    assert.equal(loadConfig(base, {}).throttle, 0);
    assert.equal(loadConfig({ ...base, throttle: '25' }, {}).throttle, 25);
    assert.equal(loadConfig(base, { TASKCENTER_THROTTLE: '2.5' }).throttle, 2.5);
    assert.equal(loadConfig({ ...base, throttle: 'off' }, {}).throttle, 0);
  });

  it('refuses anything but a non-negative number, naming the source', () => {
    assert.throws(() => loadConfig({ ...base, throttle: '-1' }, {}), /--throttle must be a number of requests per second per principal.*got '-1'/);
    assert.throws(() => loadConfig(base, { TASKCENTER_THROTTLE: 'fast' }), /TASKCENTER_THROTTLE must be a number.*got 'fast'/);
    assert.throws(() => loadConfig({ ...base, throttle: '' }, {}), /--throttle must be a number/);
  });
});

for (const engine of engines) {
  describe(`throttling over HTTP [${engine}]`, () => {
    let server: ListeningServer | undefined;
    // One request per 1000 s: the second request is over the rate whatever the machine's speed.
    before(async () => {
      server = await startServer(engine, { throttle: '0.001' });
    });
    after(async () => {
      await server?.close();
    });
    const inject = (token: string, url = `/v1/${PROJECT_A}/task-center/failure-jobs`) =>
      (server as ListeningServer).app.inject({ url, headers: { 'x-auth-token': token } });

    it('answers 429 APIGW.0308 in the gateway body, with Retry-After, once a principal is over its rate', async () => {
      assert.equal((await inject(TOKENS.alice)).statusCode, 200);
      const refused = await inject(TOKENS.alice);
      assert.equal(refused.statusCode, 429, refused.body);
      const body = refused.json();
      assert.deepEqual(Object.keys(body).sort(), ['error_code', 'error_msg', 'request_id']);
      assert.equal(body.error_code, 'APIGW.0308');
      assert.match(body.error_msg, /The throttling threshold has been reached: policy user over ratelimit, limit:0.001, time:1 second \(principal 'alice'\)/);
      assert.equal(body.request_id, requestIdOf(refused.headers));
      assert.equal(refused.headers['retry-after'], '1000');
    });

    it('throttles every route of the principal, in every dialect, but not other principals', async () => {
      const kps = await inject(TOKENS.alice, `/v3/${PROJECT_A}/failed-tasks`);
      assert.equal(kps.statusCode, 429);
      assert.equal(kps.json().error_code, 'APIGW.0308');
      assert.equal((await inject(TOKENS.reader)).statusCode, 200);
      assert.equal((await inject(TOKENS.reader)).statusCode, 429);
    });

    it('does not throttle public routes or unauthenticated callers', async () => {
      const app = (server as ListeningServer).app;
      for (let i = 0; i < 3; i++) assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
      const anonymous = await app.inject({ url: `/v1/${PROJECT_A}/task-center/failure-jobs` });
      assert.equal(anonymous.statusCode, 401);
      assert.equal(anonymous.json().error_code, 'APIGW.0301');
    });
  });
}
