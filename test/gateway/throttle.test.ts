/**
 * Per-principal throttling: the token bucket on an injected clock, and the 429 the
 * gateway answers over HTTP. No sleeping: the HTTP test uses a rate so low that no
 * token can come back during the test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { TokenBuckets } from '../../src/gateway/throttle.js';
import { engines, PROJECT_A, requestIdOf, TOKENS } from '../helpers.js';
import { startServer, type ListeningServer } from '../sdk/sdk-server.js';

describe('TokenBuckets', () => {
  it('allows one second of burst, then one request per 1/rate seconds', () => {
    const clock = { now: 1_000_000 };
    const buckets = new TokenBuckets(2, { now: () => clock.now });
    assert.equal(buckets.take('alice'), 0);
    assert.equal(buckets.take('alice'), 0);
    assert.equal(buckets.take('alice'), 500);
    clock.now += 499;
    assert.equal(buckets.take('alice'), 1);
    clock.now += 1;
    assert.equal(buckets.take('alice'), 0);
    assert.equal(buckets.take('alice'), 500);
  });

  it('keeps one bucket per principal', () => {
    const buckets = new TokenBuckets(1, { now: () => 0 });
    assert.equal(buckets.take('alice'), 0);
    assert.ok(buckets.take('alice') > 0);
    assert.equal(buckets.take('bob'), 0);
  });

  it('never holds more than one second of requests, however long it was idle', () => {
    const clock = { now: 0 };
    const buckets = new TokenBuckets(3, { now: () => clock.now });
    buckets.take('alice');
    clock.now += 3_600_000;
    for (let i = 0; i < 3; i++) assert.equal(buckets.take('alice'), 0);
    assert.ok(buckets.take('alice') > 0);
  });

  it('allows a rate below one per second, with a burst of one', () => {
    const clock = { now: 0 };
    const buckets = new TokenBuckets(0.5, { now: () => clock.now });
    assert.equal(buckets.take('alice'), 0);
    assert.equal(buckets.take('alice'), 2000);
    clock.now += 2000;
    assert.equal(buckets.take('alice'), 0);
  });

  it('does not drain a bucket when the clock goes backwards', () => {
    const clock = { now: 10_000 };
    const buckets = new TokenBuckets(1, { now: () => clock.now });
    buckets.take('alice');
    clock.now -= 5_000;
    assert.equal(buckets.take('alice'), 1000);
    clock.now += 1000;
    assert.equal(buckets.take('alice'), 0);
  });

  it('bounds its memory by dropping idle buckets first', () => {
    const clock = { now: 0 };
    const buckets = new TokenBuckets(1, { now: () => clock.now, maxBuckets: 3 });
    buckets.take('a');
    buckets.take('b');
    clock.now += 5000;
    buckets.take('c');
    buckets.take('d');
    assert.equal(buckets.size, 2);
    buckets.take('e');
    buckets.take('f');
    assert.ok(buckets.size <= 3);
    assert.ok(buckets.take('f') > 0, 'a busy principal keeps its bucket');
  });

  it('refuses a rate that is not positive', () => {
    assert.throws(() => new TokenBuckets(0), /positive/);
    assert.throws(() => new TokenBuckets(Number.NaN), /positive/);
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
    // One token, then none for 1000 s: the second request is over the rate whatever the machine's speed.
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
