/**
 * KPS DeleteFailedTask and DeleteAllFailedTask over HTTP (API.md §2), and who may call
 * the KPS routes at all: other projects' principals, read-only principals and callers
 * without credentials.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { assertKpsError, describeEachEngine, kpsJob, PROJECT_A, PROJECT_B, putJob, putNewJob, requestIdOf, sdrsJob, TOKENS } from '../helpers.js';

function call(app: FastifyInstance, method: 'GET' | 'DELETE', url: string, token: string | null = TOKENS.admin) {
  return app.inject({ method, url, headers: token === null ? {} : { 'x-auth-token': token } });
}

async function failedIds(app: FastifyInstance, project: string): Promise<string[]> {
  const response = await call(app, 'GET', `/v3/${project}/failed-tasks`);
  assert.equal(response.statusCode, 200, response.body);
  return response.json().tasks.map((t: { task_id: string }) => t.task_id);
}

async function stored(app: FastifyInstance, project: string, jobId: string) {
  const response = await call(app, 'GET', `/taskcenter/v1/projects/${project}/jobs/${jobId}`);
  assert.equal(response.statusCode, 200, response.body);
  return response.json() as { status: string; failure_cleared: boolean };
}

/** 200 with no body at all: no bytes, no JSON content type. */
function assertEmpty200(response: { statusCode: number; body: string; headers: Record<string, unknown> }) {
  assert.equal(response.statusCode, 200, response.body);
  assert.equal(response.body, '');
  assert.equal(response.headers['content-type'], undefined);
  requestIdOf(response.headers);
}

describeEachEngine('KPS DeleteFailedTask', (server) => {
  it('clears one failure with 200 and an empty body; the task stays readable and cannot be deleted twice', async () => {
    const app = server().app;
    const project = 'kps-delete-one';
    await putNewJob(app, project, kpsJob({ job_id: 'gone' }));
    await putNewJob(app, project, kpsJob({ job_id: 'kept' }));

    assertEmpty200(await call(app, 'DELETE', `/v3/${project}/failed-tasks/gone`));
    assert.deepEqual(await failedIds(app, project), ['kept']);
    assert.equal((await call(app, 'GET', `/v3/${project}/failed-tasks`)).json().total, 1);

    const task = await call(app, 'GET', `/v3/${project}/tasks/gone`);
    assert.equal(task.statusCode, 200, task.body);
    assert.deepEqual(task.json(), { task_id: 'gone', task_status: 'FAILED_RESET', server_id: 'c9aa197b-a6b6-4c33-b3a6-fa0b4ec50006' });
    const job = await stored(app, project, 'gone');
    assert.equal(job.status, 'FAIL');
    assert.equal(job.failure_cleared, true);
    assert.equal((await stored(app, project, 'kept')).failure_cleared, false);

    assertKpsError(await call(app, 'DELETE', `/v3/${project}/failed-tasks/gone`), 400, 'KPS.0005', /^Failed task is not found: 'gone'/);
  });

  it('keeps a cleared failure cleared when the producer repeats the same report', async () => {
    const app = server().app;
    const project = 'kps-delete-repeat';
    const job = kpsJob({ job_id: 'repeated' });
    await putNewJob(app, project, job);
    assertEmpty200(await call(app, 'DELETE', `/v3/${project}/failed-tasks/repeated`));
    const again = await putJob(app, project, job);
    assert.equal(again.statusCode, 200, again.body);
    assert.deepEqual(await failedIds(app, project), []);
  });

  it('answers 400 KPS.0005 for anything that is not a listed kps failure of the project, changing nothing', async () => {
    const app = server().app;
    const project = 'kps-delete-missing';
    await putNewJob(app, project, kpsJob({ job_id: 'running', status: 'RUNNING', end_time: null, error_code: null, fail_reason: null }));
    await putNewJob(app, project, kpsJob({ job_id: 'done', status: 'SUCCESS', error_code: null, fail_reason: null }));
    await putNewJob(app, project, sdrsJob({ job_id: 'sdrs-failure' }));
    await putNewJob(app, project, kpsJob({ job_id: 'parent' }));
    await putNewJob(app, project, kpsJob({ job_id: 'step', parent_job_id: 'parent', server: null, keypair_name: null }));
    await putNewJob(app, 'kps-delete-missing-other', kpsJob({ job_id: 'theirs' }));
    for (const id of ['unknown', 'running', 'done', 'sdrs-failure', 'step', 'theirs']) {
      assertKpsError(await call(app, 'DELETE', `/v3/${project}/failed-tasks/${id}`), 400, 'KPS.0005', new RegExp(`^Failed task is not found: '${id}'`));
    }
    assert.equal((await stored(app, project, 'sdrs-failure')).failure_cleared, false);
    assert.equal((await stored(app, project, 'step')).failure_cleared, false);
    assert.deepEqual(await failedIds(app, 'kps-delete-missing-other'), ['theirs']);
    assert.deepEqual(await failedIds(app, project), ['parent']);
  });

  it('answers 400 KPS.0001 for a malformed task id', async () => {
    for (const id of ['a%20b', 'x'.repeat(65), 'a%2Fb']) {
      assertKpsError(await call(server().app, 'DELETE', `/v3/kps-delete-bad/failed-tasks/${id}`), 400, 'KPS.0001', /^task_id /);
    }
  });
});

describeEachEngine('KPS DeleteAllFailedTask', (server) => {
  it('clears every listed kps failure of the project and nothing else, with 200 and an empty body', async () => {
    const app = server().app;
    const project = 'kps-delete-all';
    const other = 'kps-delete-all-other';
    for (const id of ['f1', 'f2', 'f3']) await putNewJob(app, project, kpsJob({ job_id: id }));
    await putNewJob(app, project, kpsJob({ job_id: 'running', status: 'RUNNING', end_time: null, error_code: null, fail_reason: null }));
    await putNewJob(app, project, sdrsJob({ job_id: 'sdrs-failure' }));
    await putNewJob(app, project, kpsJob({ job_id: 'step', parent_job_id: 'f1', server: null, keypair_name: null }));
    for (const id of ['f1', 'o2']) await putNewJob(app, other, kpsJob({ job_id: id }));

    assertEmpty200(await call(app, 'DELETE', `/v3/${project}/failed-tasks`));
    assert.deepEqual((await call(app, 'GET', `/v3/${project}/failed-tasks`)).json(), { total: 0, tasks: [] });
    assert.equal((await call(app, 'GET', `/v3/${project}/running-tasks`)).json().total, 1);
    assert.equal((await call(app, 'GET', `/v3/${project}/tasks/f2`)).json().task_status, 'FAILED_RESET');
    assert.equal((await stored(app, project, 'sdrs-failure')).failure_cleared, false);
    assert.equal((await stored(app, project, 'step')).failure_cleared, false);
    assert.deepEqual(await failedIds(app, other), ['o2', 'f1']);

    assertEmpty200(await call(app, 'DELETE', `/v3/${project}/failed-tasks`));
    assertEmpty200(await call(app, 'DELETE', '/v3/kps-delete-all-empty/failed-tasks'));
    assert.deepEqual(await failedIds(app, other), ['o2', 'f1']);
  });

  it('accepts the empty JSON body SDKs send on DELETE', async () => {
    const app = server().app;
    const project = 'kps-delete-all-sdk';
    await putNewJob(app, project, kpsJob({ job_id: 'f' }));
    const response = await app.inject({
      method: 'DELETE',
      url: `/v3/${project}/failed-tasks`,
      headers: { 'x-auth-token': TOKENS.admin, 'content-type': 'application/json' },
    });
    assertEmpty200(response);
    assert.deepEqual(await failedIds(app, project), []);
  });
});

describeEachEngine('KPS access control', (server) => {
  const routes: ['GET' | 'DELETE', string][] = [
    ['GET', 'failed-tasks'],
    ['DELETE', 'failed-tasks'],
    ['DELETE', 'failed-tasks/acl-fail'],
    ['GET', 'running-tasks'],
    ['GET', 'tasks/acl-fail'],
  ];

  it("refuses PROJECT_B's principal on PROJECT_A with 403 KPS.9003 on every route, changing nothing", async () => {
    const app = server().app;
    await putNewJob(app, PROJECT_A, kpsJob({ job_id: 'acl-fail' }));
    for (const [method, path] of routes) {
      const response = await call(app, method, `/v3/${PROJECT_A}/${path}`, TOKENS.bob);
      requestIdOf(response.headers);
      assertKpsError(response, 403, 'KPS.9003', new RegExp(`'bob' is not allowed to perform kps::\\w+ in project '${PROJECT_A}'`));
    }
    assert.ok((await failedIds(app, PROJECT_A)).includes('acl-fail'));
    // The same principal in its own project is served.
    assert.equal((await call(app, 'GET', `/v3/${PROJECT_B}/failed-tasks`, TOKENS.bob)).statusCode, 200);
  });

  it('lets a read-only principal read but not delete', async () => {
    const app = server().app;
    await putNewJob(app, PROJECT_A, kpsJob({ job_id: 'acl-read' }));
    for (const path of ['failed-tasks', 'running-tasks', 'tasks/acl-read']) {
      const response = await call(app, 'GET', `/v3/${PROJECT_A}/${path}`, TOKENS.reader);
      assert.equal(response.statusCode, 200, `${path}: ${response.body}`);
    }
    for (const path of ['failed-tasks/acl-read', 'failed-tasks']) {
      assertKpsError(await call(app, 'DELETE', `/v3/${PROJECT_A}/${path}`, TOKENS.reader), 403, 'KPS.9003', /kps::deleteFailedTask/);
    }
    assert.ok((await failedIds(app, PROJECT_A)).includes('acl-read'));
  });

  it('answers a caller without valid credentials with the gateway 401 APIGW.0301, before looking at parameters', async () => {
    const app = server().app;
    for (const [method, path] of [...routes, ['GET', 'failed-tasks?limit=abc'] as const, ['GET', 'tasks/bad%20id'] as const]) {
      for (const token of [null, 'not-a-token']) {
        const response = await call(app, method, `/v3/${PROJECT_A}/${path}`, token);
        assert.equal(response.statusCode, 401, `${method} ${path}: ${response.body}`);
        const body = response.json();
        assert.deepEqual(Object.keys(body), ['error_msg', 'error_code', 'request_id']);
        assert.equal(body.error_code, 'APIGW.0301');
        assert.match(body.error_msg, /^Incorrect IAM authentication information: /);
        assert.equal(body.request_id, requestIdOf(response.headers));
      }
    }
  });
});
