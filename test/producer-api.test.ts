import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeEachEngine, PROJECT_A, PROJECT_B, putJob, requestIdOf, sdrsJob, kpsJob, TOKENS } from './helpers.js';

describeEachEngine('producer API: reporting jobs', (server) => {
  it('creates a job with 201, then answers 200 unchanged for the same report', async () => {
    const job = sdrsJob({ status: 'RUNNING', end_time: null, error_code: null, fail_reason: null });
    const first = await putJob(server().app, PROJECT_A, job);
    assert.equal(first.statusCode, 201, first.body);
    requestIdOf(first.headers);
    assert.equal(first.json().status, 'RUNNING');
    assert.equal(first.json().project_id, PROJECT_A);
    const again = await putJob(server().app, PROJECT_A, job);
    assert.equal(again.statusCode, 200);
    assert.equal(again.json().updated_at, first.json().updated_at);
  });

  it('moves INIT → RUNNING → FAIL and refuses to go back, changing nothing', async () => {
    const base = sdrsJob({ status: 'INIT', end_time: null, error_code: null, fail_reason: null });
    assert.equal((await putJob(server().app, PROJECT_A, base)).statusCode, 201);
    assert.equal((await putJob(server().app, PROJECT_A, { ...base, status: 'RUNNING' })).statusCode, 200);
    const failed = { ...base, status: 'FAIL', end_time: '2019-01-21T12:58:00.000Z', error_code: 'EVS.2024', fail_reason: 'volume is error!' };
    assert.equal((await putJob(server().app, PROJECT_A, failed)).statusCode, 200);

    const late = await putJob(server().app, PROJECT_A, { ...base, status: 'RUNNING' });
    assert.equal(late.statusCode, 409);
    assert.equal(late.json().error.code, 'TASKCENTER.0004');
    assert.match(late.json().error.message, /already FAIL/);

    const stored = await server().app.inject({
      url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/${String(base.job_id)}`,
      headers: { 'x-auth-token': TOKENS.admin },
    });
    assert.equal(stored.json().status, 'FAIL');
    assert.equal(stored.json().error_code, 'EVS.2024');
  });

  it('keeps the same job_id in two projects as two jobs', async () => {
    const job = kpsJob();
    assert.equal((await putJob(server().app, PROJECT_A, job)).statusCode, 201);
    assert.equal((await putJob(server().app, PROJECT_B, { ...job, status: 'RUNNING', end_time: null, error_code: null, fail_reason: null })).statusCode, 201);
    const a = await server().app.inject({ url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/${String(job.job_id)}`, headers: { 'x-auth-token': TOKENS.admin } });
    const b = await server().app.inject({ url: `/taskcenter/v1/projects/${PROJECT_B}/jobs/${String(job.job_id)}`, headers: { 'x-auth-token': TOKENS.admin } });
    assert.equal(a.json().status, 'FAIL');
    assert.equal(b.json().status, 'RUNNING');
  });
});
