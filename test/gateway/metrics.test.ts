import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeEachEngine, PROJECT_A, putJob, sdrsJob } from '../helpers.js';

describeEachEngine('GET /metrics', (server) => {
  it('counts requests by route pattern and status, and ingested jobs by result', async () => {
    const job = sdrsJob();
    assert.equal((await putJob(server().app, PROJECT_A, job)).statusCode, 201);
    assert.equal((await putJob(server().app, PROJECT_A, job)).statusCode, 200);
    assert.equal((await putJob(server().app, PROJECT_A, { ...job, status: 'RUNNING', end_time: null, error_code: null, fail_reason: null })).statusCode, 409);
    const response = await server().app.inject({ url: '/metrics' });
    assert.equal(response.statusCode, 200);
    assert.match(response.headers['content-type'] as string, /^text\/plain/);
    const text = response.body;
    assert.match(text, /taskcenter_http_requests_total\{route="\/taskcenter\/v1\/projects\/:project_id\/jobs\/:job_id",method="PUT",status="201"\} 1\n/);
    assert.match(text, /taskcenter_http_requests_total\{route="\/taskcenter\/v1\/projects\/:project_id\/jobs\/:job_id",method="PUT",status="409"\} 1\n/);
    assert.match(text, /taskcenter_jobs_ingested_total\{result="created"\} 1\n/);
    assert.match(text, /taskcenter_jobs_ingested_total\{result="unchanged"\} 1\n/);
    assert.match(text, /taskcenter_jobs_ingested_total\{result="rejected"\} 1\n/);
    assert.match(text, /taskcenter_http_request_duration_seconds_count\{route="\/taskcenter\/v1\/projects\/:project_id\/jobs\/:job_id",method="PUT"\} 3\n/);
    assert.doesNotMatch(text, new RegExp(String(job.job_id)), 'raw URLs never become labels');
  });
});
