/**
 * Several nodes over one PostgreSQL: two servers deliver each of 1,000 events exactly
 * once, in commit order; a server killed with SIGKILL mid-delivery leaves its lease to
 * expire and the other sends the event again, with the same event id.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config.js';
import { startTaskcenter, type Running } from '../cli-helpers.js';
import { buildTestApp, engines, sdrsJob, TOKENS, uniqueId, type TestApp } from '../helpers.js';
import { deliveries, eventually, FAST_RETRIES, notifyTestApp, subscribe } from './notify-helpers.js';
import { startReceiver, type Receiver } from './receiver.js';

const EVENTS = 1000;

if (engines.includes('postgres')) {
  describe('notifications: two nodes on one PostgreSQL', () => {
    let first: TestApp;
    let second: TestApp;
    let receiver: Receiver;
    let killed: Running | undefined;
    before(async () => {
      first = await notifyTestApp('postgres', { ...FAST_RETRIES, webhookRetryWindow: '600' });
      second = await buildTestApp(
        loadConfig({ db: first.config.db, credentials: first.config.credentials, logLevel: 'silent', ...FAST_RETRIES, webhookRetryWindow: '600' }, {}),
      );
    });
    after(async () => {
      await killed?.stop();
      await second?.close();
      await first?.close();
      await receiver?.close();
    });

    it(`deliver each of ${EVENTS} events exactly once, in commit order`, async () => {
      receiver = await startReceiver();
      first.ctx.delivery.start();
      second.ctx.delivery.start();
      const project = uniqueId('p');
      const subscription = await subscribe(first.app, project, receiver.url, ['job.failed']);
      const jobs = Array.from({ length: EVENTS }, (_, i) => sdrsJob({ job_id: `many-${String(i).padStart(4, '0')}` }));
      // Half through each node, in batches, while both deliver.
      for (let i = 0; i < EVENTS; i += 100) {
        const node = (i / 100) % 2 === 0 ? first : second;
        const response = await node.app.inject({
          method: 'POST',
          url: '/taskcenter/v1/jobs/batch',
          headers: { 'x-auth-token': TOKENS.admin },
          payload: { jobs: jobs.slice(i, i + 100).map((job) => ({ project_id: project, ...job })) },
        });
        assert.equal(response.statusCode, 200, response.body);
      }
      await receiver.waitFor(EVENTS, 60_000);
      await eventually(
        async () => (await sql<{ n: number }>`select count(*)::int as n from deliveries where state <> 'delivered'`.execute(first.ctx.db.kysely)).rows[0]?.n,
        (n) => n === 0,
        60_000,
      );
      assert.equal(receiver.received.length, EVENTS, 'no event sent twice');
      assert.equal(new Set(receiver.received.map((r) => r.headers['taskcenter-event-id'])).size, EVENTS);
      assert.deepEqual(
        receiver.received.map((r) => JSON.parse(r.body).subject),
        jobs.map((j) => j.job_id),
      );
      assert.equal(first.ctx.notifyMetrics.delivered + second.ctx.notifyMetrics.delivered, EVENTS);
      assert.equal((await deliveries(first.app, project, subscription.id, 'delivered')).length, 100, 'the first page');
      await first.ctx.delivery.stop();
      await second.ctx.delivery.stop();
    });

    it('deliver an event a node was sending when it was killed with SIGKILL, with the same event id', async () => {
      await receiver.close();
      receiver = await startReceiver();
      receiver.answers.push('hang');
      // A real server process, over the same database, with leases of 2 s.
      killed = startTaskcenter([
        'serve',
        '--db',
        first.config.db,
        '--auth',
        'none',
        '--port',
        '0',
        '--drain-seconds',
        '0',
        '--webhook-allow-private',
        '--webhook-lease',
        '2',
      ]);
      await killed.waitFor(/"msg":"listening"/);
      const project = uniqueId('p');
      const subscription = await subscribe(second.app, project, receiver.url, ['job.failed']);
      const response = await second.app.inject({
        method: 'PUT',
        url: `/taskcenter/v1/projects/${project}/jobs/killed-1`,
        headers: { 'x-auth-token': TOKENS.admin },
        payload: sdrsJob({ job_id: 'killed-1' }),
      });
      assert.equal(response.statusCode, 201, response.body);
      const [sending] = await receiver.waitFor(1);
      killed.child.kill('SIGKILL');
      await killed.stop();
      second.ctx.delivery.start();
      const [, resent] = await receiver.waitFor(2);
      assert.equal(resent?.headers['taskcenter-event-id'], sending?.headers['taskcenter-event-id']);
      assert.equal(resent?.body, sending?.body);
      const [delivery] = await eventually(
        () => deliveries(second.app, project, subscription.id),
        (list) => list[0]?.state === 'delivered',
      );
      assert.equal(delivery.event_id, sending?.headers['taskcenter-event-id']);
    });
  });
}
