/**
 * Webhook delivery end to end on both engines: jobs reported through the producer API,
 * events received by a real HTTP receiver on 127.0.0.1 (so these servers run with
 * --webhook-allow-private), signed as the README says, retried, given up, redelivered,
 * in commit order; and 127.0.0.1 refused at delivery time without the flag.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createContext, createLogger } from '../../src/context.js';
import { loadConfig } from '../../src/config.js';
import { engines, putJob, putNewJob, sdrsJob, TOKENS, uniqueId, type TestApp } from '../helpers.js';
import { deliveries, eventually, getJson, notifyTestApp, readmeVerify, subscribe, subscriptionsUrl, type Verify } from './notify-helpers.js';
import { startReceiver, type Receiver } from './receiver.js';

/** A port nothing listens on (now). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

for (const engine of engines) {
  describe(`notifications: delivery [${engine}]`, () => {
    let server: TestApp;
    let receiver: Receiver;
    let verify: Verify;
    before(async () => {
      verify = await readmeVerify();
      server = await notifyTestApp(engine);
      server.ctx.delivery.start();
    });
    after(async () => {
      await server?.close();
      await receiver?.close();
    });
    const app = () => server.app;

    it('sends a failure reported through the producer API, signed so that the README recipe verifies it', async () => {
      receiver = await startReceiver();
      const project = uniqueId('p');
      const subscription = await subscribe(app(), project, receiver.url, ['job.failed']);
      const job = sdrsJob();
      await putNewJob(app(), project, job);
      const [request] = await receiver.waitFor(1);
      assert.ok(request !== undefined);
      assert.equal(request.headers['content-type'], 'application/cloudevents+json; charset=utf-8');
      assert.ok(verify(subscription.secret, request.headers['taskcenter-signature'] as string, request.body), 'the README recipe verifies it');
      assert.ok(!verify(subscription.secret, request.headers['taskcenter-signature'] as string, request.body + ' '), 'a changed body does not verify');
      assert.ok(!verify('whsec_other', request.headers['taskcenter-signature'] as string, request.body), 'another secret does not verify');
      const event = JSON.parse(request.body);
      assert.equal(request.headers['taskcenter-event-id'], event.id);
      assert.equal(event.specversion, '1.0');
      assert.equal(event.type, 'com.taskcenter.job.failed');
      assert.equal(event.source, `/taskcenter/v1/projects/${project}`);
      assert.equal(event.subject, job.job_id);
      assert.deepEqual(event.data, await getJson(app(), `/taskcenter/v1/projects/${project}/jobs/${String(job.job_id)}`));
      const [delivery] = await eventually(
        () => deliveries(app(), project, subscription.id),
        (list) => list[0]?.state === 'delivered',
      );
      assert.equal(delivery.event_id, event.id);
      assert.equal(delivery.attempts, 1);
      assert.equal(delivery.last_status, 200);
      await receiver.close();
    });

    it('raises job.succeeded and failure.cleared for job.* and nothing for an unchanged report', async () => {
      receiver = await startReceiver();
      const project = uniqueId('p');
      await subscribe(app(), project, receiver.url, ['job.*']);
      const failed = sdrsJob();
      const running = sdrsJob({ status: 'RUNNING', end_time: null, error_code: null, fail_reason: null });
      await putNewJob(app(), project, failed);
      await putJob(app(), project, failed);
      await putNewJob(app(), project, running);
      await putJob(app(), project, { ...running, status: 'SUCCESS', end_time: '2019-01-21T12:58:00.000Z' });
      const cleared = await app().inject({
        method: 'DELETE',
        url: `/v1/${project}/task-center/failure-jobs/${String(failed.job_id)}`,
        headers: { 'x-auth-token': TOKENS.admin },
      });
      assert.equal(cleared.statusCode, 204, cleared.body);
      const received = await receiver.waitFor(3);
      await eventually(
        async () => (await deliveries(app(), project, (await getJson(app(), subscriptionsUrl(project))).subscriptions[0].id)).map((d) => d.state),
        (states) => states.length === 3 && states.every((s) => s === 'delivered'),
      );
      assert.deepEqual(
        received.map((r) => [JSON.parse(r.body).type, JSON.parse(r.body).subject]),
        [
          ['com.taskcenter.job.failed', failed.job_id],
          ['com.taskcenter.job.succeeded', running.job_id],
          ['com.taskcenter.failure.cleared', failed.job_id],
        ],
      );
      assert.equal(JSON.parse(received[2]?.body ?? '{}').data.failure_cleared, true);
      await receiver.close();
    });

    it('retries 500 three times, delivers on the fourth attempt and logs all four', async () => {
      receiver = await startReceiver();
      receiver.answers.push({ status: 500 }, { status: 500 }, { status: 503 });
      const project = uniqueId('p');
      const subscription = await subscribe(app(), project, receiver.url, ['job.failed']);
      await putNewJob(app(), project, sdrsJob());
      const received = await receiver.waitFor(4);
      assert.equal(new Set(received.map((r) => r.headers['taskcenter-event-id'])).size, 1, 'the same event id on every attempt');
      assert.equal(new Set(received.map((r) => r.body)).size, 1, 'the same body on every attempt');
      const [delivery] = await eventually(
        () => deliveries(app(), project, subscription.id),
        (list) => list[0]?.state === 'delivered',
      );
      const detail = await getJson(app(), subscriptionsUrl(project, `/${subscription.id}/deliveries/${delivery.id}`));
      assert.equal(detail.attempts, 4);
      assert.deepEqual(
        detail.attempt_log.map((a: any) => [a.attempt, a.status, a.error]),
        [
          [1, 500, 'HTTP 500'],
          [2, 500, 'HTTP 500'],
          [3, 503, 'HTTP 503'],
          [4, 200, null],
        ],
      );
      await receiver.close();
    });

    it('waits as long as Retry-After asks before trying again', async () => {
      receiver = await startReceiver();
      receiver.answers.push({ status: 429, headers: { 'retry-after': '1' } });
      const project = uniqueId('p');
      const subscription = await subscribe(app(), project, receiver.url, ['job.failed']);
      await putNewJob(app(), project, sdrsJob());
      await receiver.waitFor(2);
      const [delivery] = await eventually(
        () => deliveries(app(), project, subscription.id),
        (list) => list[0]?.state === 'delivered',
      );
      const log = (await getJson(app(), subscriptionsUrl(project, `/${subscription.id}/deliveries/${delivery.id}`))).attempt_log;
      assert.deepEqual(
        log.map((a: any) => a.status),
        [429, 200],
      );
      assert.ok(Date.parse(log[1].at) - Date.parse(log[0].at) >= 1000, JSON.stringify(log));
      await receiver.close();
    });

    it('gives up at once on a 4xx other than 408 and 429, and keeps sending the events after it', async () => {
      receiver = await startReceiver();
      receiver.answers.push({ status: 410 });
      const project = uniqueId('p');
      const subscription = await subscribe(app(), project, receiver.url, ['job.failed']);
      await putNewJob(app(), project, sdrsJob());
      await putNewJob(app(), project, sdrsJob());
      await receiver.waitFor(2);
      const list = await eventually(
        () => deliveries(app(), project, subscription.id),
        (l) => l.every((d) => d.state !== 'pending'),
      );
      assert.deepEqual(
        list.map((d) => [d.state, d.attempts, d.last_status, d.last_error]),
        [
          ['delivered', 1, 200, null],
          ['dead', 1, 410, 'HTTP 410'],
        ],
      );
      await receiver.close();
    });

    it('leaves a dead delivery when the receiver is down for the whole retry window, and redelivers it once back', async () => {
      const port = await freePort();
      const project = uniqueId('p');
      const subscription = await subscribe(app(), project, `http://127.0.0.1:${port}/hook`, ['job.failed']);
      await putNewJob(app(), project, sdrsJob());
      const [dead] = await eventually(
        () => deliveries(app(), project, subscription.id, 'dead'),
        (list) => list.length === 1,
      );
      assert.ok(dead.attempts > 1, JSON.stringify(dead));
      assert.equal(dead.last_status, null);
      assert.match(dead.last_error, /ECONNREFUSED/);
      assert.equal(dead.next_attempt_at, null);

      receiver = await startReceiver('/hook', port);
      const redelivered = await app().inject({
        method: 'POST',
        url: subscriptionsUrl(project, `/${subscription.id}/deliveries/${dead.id}/redeliver`),
        headers: { 'x-auth-token': TOKENS.admin },
      });
      assert.equal(redelivered.statusCode, 202, redelivered.body);
      assert.equal(redelivered.json().state, 'pending');
      const [request] = await receiver.waitFor(1);
      assert.equal(request?.headers['taskcenter-event-id'], dead.event_id);
      const [delivered] = await eventually(
        () => deliveries(app(), project, subscription.id),
        (list) => list[0]?.state === 'delivered',
      );
      assert.equal(delivered.attempts, dead.attempts + 1);
      assert.deepEqual(await deliveries(app(), project, subscription.id, 'dead'), []);
      const again = await app().inject({
        method: 'POST',
        url: subscriptionsUrl(project, `/${subscription.id}/deliveries/${dead.id}/redeliver`),
        headers: { 'x-auth-token': TOKENS.admin },
      });
      assert.equal(again.statusCode, 202, 'a delivered one may be sent again too');
      await receiver.waitFor(2);
      await receiver.close();
    });

    it("sends a subscription's events in commit order, also across a retry", async () => {
      receiver = await startReceiver();
      receiver.answers.push({ status: 200 }, { status: 200 }, { status: 500 });
      const project = uniqueId('p');
      await subscribe(app(), project, receiver.url, ['job.failed']);
      const jobs = Array.from({ length: 12 }, (_, i) => sdrsJob({ job_id: `ordered-${String(i).padStart(2, '0')}` }));
      for (const job of jobs) await putNewJob(app(), project, job);
      const received = await receiver.waitFor(13);
      const subjects = received.map((r) => JSON.parse(r.body).subject as string);
      assert.deepEqual(
        subjects,
        [...jobs.slice(0, 3), ...jobs.slice(2)].map((j) => j.job_id),
      );
      await receiver.close();
    });

    it('counts deliveries in /metrics', async () => {
      const text = (await app().inject({ url: '/metrics' })).body;
      assert.match(text, /^taskcenter_webhook_deliveries_delivered_total [1-9]\d*$/m);
      assert.match(text, /^taskcenter_webhook_deliveries_retried_total [1-9]\d*$/m);
      assert.match(text, /^taskcenter_webhook_deliveries_dead_total [1-9]\d*$/m);
      assert.match(text, /^taskcenter_webhook_deliveries_queued_total [1-9]\d*$/m);
      assert.match(text, /^taskcenter_webhook_delivery_latency_seconds_count [1-9]\d*$/m);
      assert.match(text, /^taskcenter_webhook_oldest_pending_seconds \d/m);
    });
  });

  describe(`notifications: 127.0.0.1 refused at delivery without --webhook-allow-private [${engine}]`, () => {
    let server: TestApp;
    let receiver: Receiver;
    after(async () => {
      await server?.close();
      await receiver?.close();
    });

    it('gives the delivery up as refused and sends nothing', async () => {
      receiver = await startReceiver();
      // Made by a node that allows it; delivered by one that does not (the check is at every delivery).
      server = await notifyTestApp(engine);
      const project = uniqueId('p');
      const subscription = await subscribe(server.app, project, receiver.url, ['job.failed']);
      await putNewJob(server.app, project, sdrsJob());
      const strict = await createContext(loadConfig({ db: server.config.db, credentials: server.config.credentials, logLevel: 'silent' }, {}), {
        logger: createLogger({ logLevel: 'silent' }),
      });
      try {
        await eventually(
          () => strict.delivery.deliverDue(),
          (attempts) => attempts > 0,
        );
      } finally {
        await strict.close();
      }
      const [dead] = await deliveries(server.app, project, subscription.id, 'dead');
      assert.equal(dead.attempts, 1);
      assert.match(dead.last_error, /^refused: 127\.0\.0\.1 is a loopback.*--webhook-allow-private$/);
      assert.equal(receiver.received.length, 0);
    });
  });
}
