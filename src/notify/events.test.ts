import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { it } from 'node:test';
import type { JobRow } from '../jobs/jobs.table.js';
import { eventsOf, renderEvent, signatureHeader, subscribedTo } from './events.js';

const job = (fields: Partial<JobRow>): JobRow => ({
  project_id: 'p',
  job_id: 'j1',
  service: 'sdrs',
  job_type: 'createProtectedInstance',
  operation: 'create',
  status: 'RUNNING',
  begin_time: 0,
  end_time: null,
  error_code: null,
  fail_reason: null,
  resource_id: 'r',
  resource_name: 'n',
  resource_type: 'protected_instances',
  server_group_id: 'g',
  entities: '{}',
  parent_job_id: null,
  server_id: null,
  server_name: null,
  keypair_name: null,
  cleared: 0,
  created_at: 0,
  updated_at: 1700000000000,
  ...fields,
});

it('raises job.failed when a job enters a failure list, once', () => {
  const failed = job({ status: 'FAIL', end_time: 1 });
  assert.deepEqual(eventsOf(undefined, failed), ['job.failed']);
  assert.deepEqual(eventsOf(job({}), failed), ['job.failed']);
  assert.deepEqual(eventsOf(failed, failed), []);
  assert.deepEqual(eventsOf(undefined, job({ status: 'FAIL', parent_job_id: 'parent' })), [], 'a sub-job is in no list');
  assert.deepEqual(eventsOf(job({ service: 'kps', status: 'INIT' }), job({ service: 'kps', status: 'FAIL' })), ['job.failed']);
});

it('raises job.succeeded for top-level jobs and failure.cleared when a listed failure is deleted', () => {
  assert.deepEqual(eventsOf(job({}), job({ status: 'SUCCESS' })), ['job.succeeded']);
  assert.deepEqual(eventsOf(undefined, job({ status: 'SUCCESS', parent_job_id: 'x' })), []);
  assert.deepEqual(eventsOf(job({ status: 'FAIL' }), job({ status: 'FAIL', cleared: 1 })), ['failure.cleared']);
  assert.deepEqual(eventsOf(job({ status: 'FAIL', cleared: 1 }), job({ status: 'FAIL', cleared: 1 })), []);
  assert.deepEqual(eventsOf(job({}), job({})), []);
});

it('matches subscriptions by name, job.* matching every event', () => {
  assert.ok(subscribedTo(['job.failed'], 'job.failed'));
  assert.ok(!subscribedTo(['job.failed'], 'failure.cleared'));
  assert.ok(subscribedTo(['job.*'], 'failure.cleared'));
});

it('renders a CloudEvents 1.0 structured event with the job as data', () => {
  const event = renderEvent('job.failed', job({ status: 'FAIL', end_time: 1, error_code: 'EVS.2024' }));
  const body = JSON.parse(event.body);
  assert.deepEqual(Object.keys(body), ['specversion', 'id', 'source', 'type', 'subject', 'time', 'datacontenttype', 'data']);
  assert.equal(body.specversion, '1.0');
  assert.equal(body.id, event.id);
  assert.equal(body.type, 'com.taskcenter.job.failed');
  assert.equal(body.source, '/taskcenter/v1/projects/p');
  assert.equal(body.subject, 'j1');
  assert.equal(body.time, '2023-11-14T22:13:20.000Z');
  assert.equal(body.data.error_code, 'EVS.2024');
  assert.equal(body.data.project_id, 'p');
});

it('signs the time and the exact body, once per secret', () => {
  const header = signatureHeader(['whsec_a', 'whsec_b'], 1700000000, '{"x":1}');
  const [t, ...signatures] = header.split(',');
  assert.equal(t, 't=1700000000');
  const expected = createHmac('sha256', 'whsec_b').update('1700000000.{"x":1}').digest();
  assert.ok(timingSafeEqual(Buffer.from((signatures[1] as string).slice(3), 'hex'), expected));
});
