/**
 * KPS key-pair task reads over HTTP (API.md §2): ListFailedTask, ListRunningTask and
 * ListKeypairTask, their exact wire shapes, order, paging and parameter errors.
 * Each test writes into its own project so totals are exact.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { assertKpsError, describeEachEngine, kpsJob, putJob, putNewJob, requestIdOf, sdrsJob, TOKENS } from '../helpers.js';

const FAILED_KEYS = ['task_id', 'operate_type', 'task_time', 'task_error_code', 'task_error_msg', 'server_name', 'server_id', 'keypair_name'];
const RUNNING_KEYS = ['task_id', 'operate_type', 'task_time', 'server_name', 'server_id', 'keypair_name'];

/** A job that has not finished: no end time, no error. */
function unfinished(status: 'INIT' | 'RUNNING', overrides: Record<string, unknown> = {}) {
  return kpsJob({ status, end_time: null, error_code: null, fail_reason: null, ...overrides });
}

/** A failed kps task; it ends when it begins unless told otherwise. */
function failed(overrides: Record<string, unknown> = {}) {
  return kpsJob({ ...(overrides.begin_time === undefined ? {} : { end_time: overrides.begin_time }), ...overrides });
}

async function get(app: FastifyInstance, url: string) {
  return app.inject({ method: 'GET', url, headers: { 'x-auth-token': TOKENS.admin } });
}

/** Reads `url` in pages of 1, 2 and 3: every page has the full total, and the pages together are `expected`, in order. */
async function assertPages(app: FastifyInstance, url: string, expected: string[]): Promise<void> {
  for (const size of [1, 2, 3]) {
    const seen: string[] = [];
    for (let offset = 0; offset < expected.length; offset += size) {
      const page = (await get(app, `${url}?limit=${size}&offset=${offset}`)).json();
      assert.equal(page.total, expected.length);
      seen.push(...page.tasks.map((t: { task_id: string }) => t.task_id));
    }
    assert.deepEqual(seen, expected, `pages of ${size}`);
  }
}

describeEachEngine('KPS ListFailedTask', (server) => {
  it('answers the exact envelope with only top-level, uncleared kps failures of the project', async () => {
    const app = server().app;
    const project = 'kps-failed-shape';
    await putNewJob(app, project, failed({ job_id: 'f-null-code', begin_time: '2018-04-10T06:35:30.000Z' }));
    await putNewJob(
      app,
      project,
      failed({
        job_id: 'f-with-code',
        operation: 'unbind',
        job_type: 'unbindKeypair',
        begin_time: '2018-04-10T06:35:31.000Z',
        error_code: 'KPS.0203',
        fail_reason: 'unbind failed',
        server: { id: 'srv-2', name: 'Second' },
        keypair_name: 'KeyPair-2',
      }),
    );
    // Neither of these is a listed failure: other statuses, another service, a sub-job, another project.
    await putNewJob(app, project, kpsJob({ job_id: 'ok', status: 'SUCCESS', error_code: null, fail_reason: null }));
    await putNewJob(app, project, unfinished('RUNNING', { job_id: 'run' }));
    await putNewJob(app, project, sdrsJob({ job_id: 'sdrs-fail' }));
    await putNewJob(app, project, failed({ job_id: 'sub', parent_job_id: 'f-null-code', server: null, keypair_name: null }));
    await putNewJob(app, 'kps-failed-shape-other', failed({ job_id: 'elsewhere' }));

    const response = await get(app, `/v3/${project}/failed-tasks`);
    assert.equal(response.statusCode, 200, response.body);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    requestIdOf(response.headers);
    const body = response.json();
    assert.deepEqual(Object.keys(body), ['total', 'tasks']);
    assert.deepEqual(body, {
      total: 2,
      tasks: [
        {
          task_id: 'f-with-code',
          operate_type: 'FAILED_UNBIND',
          task_time: '1523342131000',
          task_error_code: 'KPS.0203',
          task_error_msg: 'unbind failed',
          server_name: 'Second',
          server_id: 'srv-2',
          keypair_name: 'KeyPair-2',
        },
        {
          task_id: 'f-null-code',
          operate_type: 'FAILED_RESET',
          task_time: '1523342130000',
          task_error_code: null,
          task_error_msg: 'Update public key error',
          server_name: 'Test',
          server_id: 'c9aa197b-a6b6-4c33-b3a6-fa0b4ec50006',
          keypair_name: 'KeyPair-xt',
        },
      ],
    });
    for (const task of body.tasks) {
      assert.deepEqual(Object.keys(task), FAILED_KEYS);
      assert.equal(typeof task.task_time, 'string');
      assert.match(task.task_time, /^\d+$/);
    }
  });

  it('names every operation FAILED_<OP>', async () => {
    const app = server().app;
    const project = 'kps-failed-ops';
    for (const [i, operation] of ['reset', 'replace', 'unbind'].entries()) {
      await putNewJob(app, project, failed({ job_id: `op-${operation}`, operation, begin_time: `2020-01-01T00:00:0${i}.000Z` }));
    }
    const body = (await get(app, `/v3/${project}/failed-tasks`)).json();
    assert.deepEqual(
      body.tasks.map((t: { task_id: string; operate_type: string }) => [t.task_id, t.operate_type]),
      [
        ['op-unbind', 'FAILED_UNBIND'],
        ['op-replace', 'FAILED_REPLACE'],
        ['op-reset', 'FAILED_RESET'],
      ],
    );
  });

  it('orders newest first, ties by task id descending, and pages without gaps or repeats', async () => {
    const app = server().app;
    const project = 'kps-failed-order';
    const tie = '2021-06-01T00:00:00.000Z';
    for (const id of ['tie-c', 'tie-a', 'tie-e', 'tie-b', 'tie-d']) await putNewJob(app, project, failed({ job_id: id, begin_time: tie }));
    await putNewJob(app, project, failed({ job_id: 'newest', begin_time: '2021-06-01T00:00:00.001Z' }));
    await putNewJob(app, project, failed({ job_id: 'oldest', begin_time: '2021-05-31T23:59:59.999Z' }));
    const expected = ['newest', 'tie-e', 'tie-d', 'tie-c', 'tie-b', 'tie-a', 'oldest'];

    const all = (await get(app, `/v3/${project}/failed-tasks`)).json();
    assert.deepEqual(
      all.tasks.map((t: { task_id: string }) => t.task_id),
      expected,
    );
    await assertPages(app, `/v3/${project}/failed-tasks`, expected);
  });

  it('answers limit=0 with the total and no tasks, and an offset past the end with no tasks', async () => {
    const app = server().app;
    const project = 'kps-failed-edges';
    for (const id of ['a', 'b', 'c']) await putNewJob(app, project, failed({ job_id: id }));
    assert.deepEqual((await get(app, `/v3/${project}/failed-tasks?limit=0`)).json(), { total: 3, tasks: [] });
    assert.deepEqual((await get(app, `/v3/${project}/failed-tasks?offset=3`)).json(), { total: 3, tasks: [] });
    assert.deepEqual((await get(app, `/v3/${project}/failed-tasks?offset=1000000&limit=1000`)).json(), { total: 3, tasks: [] });
    assert.equal((await get(app, `/v3/${project}/failed-tasks?limit=1000&offset=2`)).json().tasks.length, 1);
    assert.deepEqual((await get(app, '/v3/kps-failed-empty/failed-tasks')).json(), { total: 0, tasks: [] });
  });
});

describeEachEngine('KPS ListRunningTask', (server) => {
  it('lists INIT and RUNNING top-level kps tasks of the project, newest first, as RUNNING_<OP>', async () => {
    const app = server().app;
    const project = 'kps-running-shape';
    await putNewJob(app, project, unfinished('INIT', { job_id: 'waiting', operation: 'replace', begin_time: '2022-01-01T00:00:02.000Z' }));
    await putNewJob(
      app,
      project,
      unfinished('RUNNING', {
        job_id: 'running',
        operation: 'unbind',
        begin_time: '2022-01-01T00:00:01.000Z',
        server: { id: 'srv-r', name: 'Runner' },
        keypair_name: 'kp-r',
      }),
    );
    await putNewJob(app, project, unfinished('RUNNING', { job_id: 'resetting', begin_time: '2022-01-01T00:00:00.000Z' }));
    // Not running tasks: finished, another service, a sub-job, another project.
    await putNewJob(app, project, failed({ job_id: 'failed' }));
    await putNewJob(app, project, kpsJob({ job_id: 'done', status: 'SUCCESS', error_code: null, fail_reason: null }));
    await putNewJob(app, project, sdrsJob({ job_id: 'sdrs-running', status: 'RUNNING', end_time: null, error_code: null, fail_reason: null }));
    await putNewJob(app, project, unfinished('RUNNING', { job_id: 'step', parent_job_id: 'running', server: null, keypair_name: null }));
    await putNewJob(app, 'kps-running-other', unfinished('RUNNING', { job_id: 'elsewhere' }));

    const response = await get(app, `/v3/${project}/running-tasks`);
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json();
    assert.deepEqual(Object.keys(body), ['total', 'tasks']);
    assert.deepEqual(body, {
      total: 3,
      tasks: [
        {
          task_id: 'waiting',
          operate_type: 'RUNNING_REPLACE',
          task_time: '1640995202000',
          server_name: 'Test',
          server_id: 'c9aa197b-a6b6-4c33-b3a6-fa0b4ec50006',
          keypair_name: 'KeyPair-xt',
        },
        { task_id: 'running', operate_type: 'RUNNING_UNBIND', task_time: '1640995201000', server_name: 'Runner', server_id: 'srv-r', keypair_name: 'kp-r' },
        {
          task_id: 'resetting',
          operate_type: 'RUNNING_RESET',
          task_time: '1640995200000',
          server_name: 'Test',
          server_id: 'c9aa197b-a6b6-4c33-b3a6-fa0b4ec50006',
          keypair_name: 'KeyPair-xt',
        },
      ],
    });
    for (const task of body.tasks) assert.deepEqual(Object.keys(task), RUNNING_KEYS);
  });

  it('merges INIT and RUNNING tasks in one order, ties by task id, stable across pages', async () => {
    const app = server().app;
    const project = 'kps-running-order';
    const tie = '2022-02-02T00:00:00.000Z';
    await putNewJob(app, project, unfinished('INIT', { job_id: 't-b', begin_time: tie }));
    await putNewJob(app, project, unfinished('RUNNING', { job_id: 't-d', begin_time: tie }));
    await putNewJob(app, project, unfinished('RUNNING', { job_id: 't-a', begin_time: tie }));
    await putNewJob(app, project, unfinished('INIT', { job_id: 't-c', begin_time: tie }));
    await putNewJob(app, project, unfinished('RUNNING', { job_id: 'new', begin_time: '2022-02-02T00:00:01.000Z' }));
    await putNewJob(app, project, unfinished('INIT', { job_id: 'old-init', begin_time: '2022-02-01T00:00:00.000Z' }));
    await putNewJob(app, project, unfinished('RUNNING', { job_id: 'old-run', begin_time: '2022-01-31T00:00:00.000Z' }));
    const expected = ['new', 't-d', 't-c', 't-b', 't-a', 'old-init', 'old-run'];

    assert.deepEqual(
      (await get(app, `/v3/${project}/running-tasks`)).json().tasks.map((t: { task_id: string }) => t.task_id),
      expected,
    );
    await assertPages(app, `/v3/${project}/running-tasks`, expected);
    assert.deepEqual((await get(app, `/v3/${project}/running-tasks?limit=0`)).json(), { total: 7, tasks: [] });
    assert.deepEqual((await get(app, `/v3/${project}/running-tasks?offset=7`)).json(), { total: 7, tasks: [] });
  });

  it('drops a task from the list once it finishes', async () => {
    const app = server().app;
    const project = 'kps-running-finish';
    const job = unfinished('RUNNING', { job_id: 'finishing' });
    await putNewJob(app, project, job);
    assert.equal((await get(app, `/v3/${project}/running-tasks`)).json().total, 1);
    const done = await putJob(app, project, { ...job, status: 'SUCCESS', end_time: '2018-04-10T06:40:00.000Z' });
    assert.equal(done.statusCode, 200, done.body);
    assert.deepEqual((await get(app, `/v3/${project}/running-tasks`)).json(), { total: 0, tasks: [] });
  });
});

describeEachEngine('KPS paging parameters', (server) => {
  const bad: [query: string, field: string][] = [
    ['limit=abc', 'limit'],
    ['limit=1.5', 'limit'],
    ['limit=-1', 'limit'],
    ['limit=1001', 'limit'],
    ['limit=', 'limit'],
    ['limit=1e3', 'limit'],
    ['limit=1&limit=2', 'limit'],
    ['offset=abc', 'offset'],
    ['offset=1.5', 'offset'],
    ['offset=-1', 'offset'],
    ['offset=', 'offset'],
    ['offset=%201', 'offset'],
    ['offset=2147483648', 'offset'],
    ['offset=9007199254740991', 'offset'],
  ];
  for (const list of ['failed-tasks', 'running-tasks']) {
    it(`refuses every malformed limit and offset on ${list} with 400 KPS.0002 naming the field and what is allowed`, async () => {
      for (const [query, field] of bad) {
        const response = await get(server().app, `/v3/kps-paging/${list}?${query}`);
        assertKpsError(response, 400, 'KPS.0002', new RegExp(`^${field} `));
        if (!query.includes('&')) {
          const allowed = field === 'limit' ? /between 0 and 1000, got / : /between 0 and 2147483647, got /;
          assert.match(response.json().error_msg, allowed, `${query}: ${response.body}`);
        }
      }
    });
  }

  it('accepts the bounds 0 and 1000, and the largest offset', async () => {
    for (const query of ['limit=0', 'limit=1000', 'offset=0', 'limit=1000&offset=0', 'offset=2147483647']) {
      const response = await get(server().app, `/v3/kps-paging/failed-tasks?${query}`);
      assert.equal(response.statusCode, 200, `${query}: ${response.body}`);
    }
  });

  it('refuses a malformed project id with 400 KPS.0002', async () => {
    assertKpsError(await get(server().app, `/v3/${'p'.repeat(65)}/running-tasks`), 400, 'KPS.0002', /^project_id /);
  });
});

describeEachEngine('KPS ListKeypairTask', (server) => {
  it('shows task_status <READY|RUNNING|FAILED|SUCCESS>_<OP> and the server id', async () => {
    const app = server().app;
    const project = 'kps-task-status';
    await putNewJob(app, project, unfinished('INIT', { job_id: 'ready', operation: 'reset' }));
    await putNewJob(app, project, unfinished('RUNNING', { job_id: 'running', operation: 'replace' }));
    await putNewJob(app, project, failed({ job_id: 'failed', operation: 'unbind', server: { id: 'srv-f', name: 'F' } }));
    await putNewJob(app, project, kpsJob({ job_id: 'success', operation: 'reset', status: 'SUCCESS', error_code: null, fail_reason: null }));
    const expected: Record<string, string> = { ready: 'READY_RESET', running: 'RUNNING_REPLACE', failed: 'FAILED_UNBIND', success: 'SUCCESS_RESET' };
    for (const [id, status] of Object.entries(expected)) {
      const response = await get(app, `/v3/${project}/tasks/${id}`);
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json();
      assert.deepEqual(Object.keys(body), ['task_id', 'task_status', 'server_id']);
      assert.deepEqual(body, { task_id: id, task_status: status, server_id: id === 'failed' ? 'srv-f' : 'c9aa197b-a6b6-4c33-b3a6-fa0b4ec50006' });
    }
  });

  it('answers 400 KPS.0001 (illegal task id) for an unknown task, an SDRS job, a sub-job and another project’s task', async () => {
    const app = server().app;
    const project = 'kps-task-missing';
    await putNewJob(app, project, sdrsJob({ job_id: 'sdrs-job' }));
    await putNewJob(app, project, failed({ job_id: 'parent' }));
    await putNewJob(app, project, failed({ job_id: 'child', parent_job_id: 'parent', server: null, keypair_name: null }));
    await putNewJob(app, 'kps-task-missing-other', failed({ job_id: 'theirs' }));
    for (const id of ['nothing-here', 'sdrs-job', 'child', 'theirs']) {
      assertKpsError(await get(app, `/v3/${project}/tasks/${id}`), 400, 'KPS.0001', new RegExp(`^task_id '${id}' names no task in project '${project}'$`));
    }
  });

  it('answers 400 KPS.0001 for a malformed task id', async () => {
    for (const id of ['bad%20id', 'x'.repeat(65), 'semi%3Bcolon', '%C3%A9t%C3%A9']) {
      assertKpsError(await get(server().app, `/v3/kps-task-bad/tasks/${id}`), 400, 'KPS.0001', /^task_id /);
    }
  });

  it('answers a malformed project id with 400 KPS.0002 on every KPS route, before the task id', async () => {
    const app = server().app;
    for (const [method, path] of [
      ['GET', 'failed-tasks'],
      ['DELETE', 'failed-tasks'],
      ['DELETE', 'failed-tasks/bad!task'],
      ['GET', 'running-tasks'],
      ['GET', 'tasks/bad!task'],
    ] as const) {
      const response = await app.inject({ method, url: `/v3/bad!project/${path}`, headers: { 'x-auth-token': TOKENS.admin } });
      assertKpsError(response, 400, 'KPS.0002', /^project_id must match /);
    }
  });
});
