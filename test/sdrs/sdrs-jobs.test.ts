/**
 * SDRS DeleteFailureJob, the two batch deletes, ShowJobStatus, routing, access control
 * and the OpenAPI document, over both engines.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import type { FastifyInstance } from 'fastify';
import { FailureJobList, JobStatusView } from '../../src/sdrs/sdrs.schema.js';
import {
  describeEachEngine,
  kpsJob,
  PROJECT_A,
  PROJECT_B,
  reportJobs,
  requestIdOf,
  sdrsInGroupFailure,
  sdrsJob,
  timeAt,
  TOKENS,
  uniqueId,
} from '../helpers.js';

function groupFailure(group: string, n: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return sdrsJob({
    job_id: `G-${group}`,
    job_type: 'createServerGroup',
    begin_time: timeAt(n),
    end_time: timeAt(n + 1),
    resource: { id: group, name: `group ${group}`, type: 'server_groups' },
    server_group_id: null,
    entities: { server_group_id: group },
    ...extra,
  });
}

function call(app: FastifyInstance, method: 'GET' | 'DELETE', url: string, token: string | null = TOKENS.admin) {
  return app.inject({ method, url, headers: token === null ? {} : { 'x-auth-token': token } });
}

async function ids(app: FastifyInstance, projectId: string, query = '', token: string = TOKENS.admin): Promise<string[]> {
  const response = await call(app, 'GET', `/v1/${projectId}/task-center/failure-jobs${query === '' ? '' : `?${query}`}`, token);
  assert.equal(response.statusCode, 200, response.body);
  assert.ok(Value.Check(FailureJobList, response.json()), response.body);
  return (response.json().failure_jobs as { job_id: string }[]).map((j) => j.job_id);
}

function assertSdrsError(response: { statusCode: number; body: string; headers: Record<string, unknown>; json(): any }, status: number, code: RegExp | string) {
  assert.equal(response.statusCode, status, response.body);
  requestIdOf(response.headers);
  const body = response.json();
  assert.deepEqual(Object.keys(body), ['error'], response.body);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message']);
  if (typeof code === 'string') assert.equal(body.error.code, code);
  else assert.match(body.error.code, code);
  assert.ok(body.error.message.length > 0);
  return body.error as { code: string; message: string };
}

describeEachEngine('SDRS DeleteFailureJob', (server) => {
  const project = uniqueId('sdrs');
  const other = uniqueId('sdrs');

  it('seeds failures, a running job, a sub-job, a KPS task and another project', async () => {
    await reportJobs(server().app, project, [
      groupFailure('g1', 1),
      sdrsInGroupFailure('PI1', 'g1', 'protected_instances', 2),
      sdrsInGroupFailure('PI2', 'g1', 'protected_instances', 3),
      sdrsInGroupFailure('RUN1', 'g1', 'protected_instances', 4, { status: 'RUNNING', end_time: null, error_code: null, fail_reason: null }),
      sdrsInGroupFailure('SUB1', 'g1', 'protected_instances', 5, { parent_job_id: 'PI1' }),
      kpsJob({ job_id: 'KPS1' }),
    ]);
    await reportJobs(server().app, other, [sdrsInGroupFailure('PI9', 'g1', 'protected_instances', 6)]);
  });

  it('answers 204 with no body, drops the failure from the list and keeps the job for ShowJobStatus', async () => {
    const deleted = await call(server().app, 'DELETE', `/v1/${project}/task-center/failure-jobs/PI1`);
    assert.equal(deleted.statusCode, 204, deleted.body);
    assert.equal(deleted.body, '');
    requestIdOf(deleted.headers);
    assert.deepEqual(await ids(server().app, project, 'server_group_id=g1'), ['PI2']);
    const count = (await call(server().app, 'GET', `/v1/${project}/task-center/failure-jobs?server_group_id=g1&limit=0`)).json().count;
    assert.equal(count, 1);
    const status = await call(server().app, 'GET', `/v1/${project}/jobs/PI1`);
    assert.equal(status.statusCode, 200, status.body);
    assert.equal(status.json().status, 'FAIL');
    assert.equal(status.json().error_code, 'EVS.2024');
  });

  it('answers 404 with an SDRS code for an already deleted failure', async () => {
    const again = await call(server().app, 'DELETE', `/v1/${project}/task-center/failure-jobs/PI1`);
    const error = assertSdrsError(again, 404, /^SDRS\.\d{4}$/);
    assert.match(error.message, /failure job 'PI1' does not exist in project/);
  });

  it("answers 404 for an unknown id, a job that did not fail, a sub-job, a KPS task and another project's failure", async () => {
    for (const id of ['nope', 'RUN1', 'SUB1', 'KPS1', 'PI9']) {
      assertSdrsError(await call(server().app, 'DELETE', `/v1/${project}/task-center/failure-jobs/${id}`), 404, /^SDRS\./);
    }
    assert.deepEqual(await ids(server().app, other, 'server_group_id=g1'), ['PI9']);
    assert.deepEqual(await ids(server().app, project, 'server_group_id=g1'), ['PI2']);
  });

  it('refuses a malformed failure job id with 400', async () => {
    const response = await call(server().app, 'DELETE', `/v1/${project}/task-center/failure-jobs/${'x'.repeat(65)}`);
    const error = assertSdrsError(response, 400, 'SDRS.0201');
    assert.match(error.message, /^failure_job_id must match/);
  });

  it('accepts the Content-Type SDKs send on a bodiless DELETE', async () => {
    const response = await server().app.inject({
      method: 'DELETE',
      url: `/v1/${project}/task-center/failure-jobs/PI2`,
      headers: { 'x-auth-token': TOKENS.admin, 'content-type': 'application/json' },
    });
    assert.equal(response.statusCode, 204, response.body);
    assert.deepEqual(await ids(server().app, project, 'server_group_id=g1'), []);
  });
});

describeEachEngine('SDRS batch deletes', (server) => {
  const project = uniqueId('sdrs');
  const other = uniqueId('sdrs');

  it('seeds two groups with group-level and in-group failures, and another project', async () => {
    await reportJobs(server().app, project, [
      groupFailure('g1', 1),
      groupFailure('g2', 2),
      sdrsInGroupFailure('PI1', 'g1', 'protected_instances', 3),
      sdrsInGroupFailure('R1', 'g1', 'replications', 4),
      sdrsInGroupFailure('D1', 'g1', 'disaster_recovery_drills', 5),
      sdrsInGroupFailure('PI2', 'g2', 'protected_instances', 6),
    ]);
    await reportJobs(server().app, other, [groupFailure('g1', 7), sdrsInGroupFailure('X1', 'g1', 'replications', 8)]);
  });

  it('{server_group_id}/failure-jobs/batch clears the failures inside that group only', async () => {
    const response = await call(server().app, 'DELETE', `/v1/${project}/task-center/g1/failure-jobs/batch`);
    assert.equal(response.statusCode, 204, response.body);
    assert.equal(response.body, '');
    assert.deepEqual(await ids(server().app, project, 'server_group_id=g1'), []);
    assert.deepEqual(await ids(server().app, project, 'server_group_id=g2'), ['PI2']);
    assert.deepEqual(await ids(server().app, project), ['G-g2', 'G-g1']);
    assert.deepEqual(await ids(server().app, other, 'server_group_id=g1'), ['X1']);
    assert.equal((await call(server().app, 'GET', `/v1/${project}/jobs/R1`)).json().status, 'FAIL');
  });

  it('failure-jobs/batch clears the protection-group-level failures only', async () => {
    const response = await call(server().app, 'DELETE', `/v1/${project}/task-center/failure-jobs/batch`);
    assert.equal(response.statusCode, 204, response.body);
    assert.equal(response.body, '');
    assert.deepEqual(await ids(server().app, project), []);
    assert.deepEqual(await ids(server().app, project, 'server_group_id=g2'), ['PI2']);
    assert.deepEqual(await ids(server().app, other), ['G-g1']);
    assert.equal((await call(server().app, 'GET', `/v1/${project}/jobs/G-g1`)).statusCode, 200);
  });

  it('answers 204 when nothing matched', async () => {
    for (const url of [
      `/v1/${project}/task-center/failure-jobs/batch`,
      `/v1/${project}/task-center/g1/failure-jobs/batch`,
      `/v1/${project}/task-center/nothing/failure-jobs/batch`,
    ]) {
      const response = await call(server().app, 'DELETE', url);
      assert.equal(response.statusCode, 204, `${url}: ${response.body}`);
    }
    assert.deepEqual(await ids(server().app, project, 'server_group_id=g2'), ['PI2']);
  });

  it('refuses a server_group_id longer than 64 characters with SDRS.0207', async () => {
    const response = await call(server().app, 'DELETE', `/v1/${project}/task-center/${'g'.repeat(65)}/failure-jobs/batch`);
    assertSdrsError(response, 400, 'SDRS.0207');
  });

  it('refuses a server_group_id that no producer could have reported with SDRS.0207, clearing nothing', async () => {
    await reportJobs(server().app, project, [sdrsInGroupFailure('kept', 'g3', 'protected_instances', 1)]);
    for (const id of ['bad!id', 'a%20b', 'caf%C3%A9']) {
      const response = await call(server().app, 'DELETE', `/v1/${project}/task-center/${id}/failure-jobs/batch`);
      assertSdrsError(response, 400, 'SDRS.0207');
      assert.match(response.json().error.message, /^server_group_id must match \^\[A-Za-z0-9\._-\]\{1,64\}\$, got /);
    }
    assert.deepEqual(await ids(server().app, project, 'server_group_id=g3'), ['kept']);
  });
});

describeEachEngine('SDRS routing', (server) => {
  const project = uniqueId('sdrs');

  it('never takes failure-jobs/batch as a failure job id, even when a job has that id', async () => {
    await reportJobs(server().app, project, [groupFailure('g1', 1), groupFailure('g2', 2, { job_id: 'batch' })]);
    const response = await call(server().app, 'DELETE', `/v1/${project}/task-center/failure-jobs/batch`);
    assert.equal(response.statusCode, 204, response.body);
    assert.deepEqual(await ids(server().app, project), []);
  });

  it('lets a group named failure-jobs be batch-deleted', async () => {
    await reportJobs(server().app, project, [sdrsInGroupFailure('FJ1', 'failure-jobs', 'protected_instances', 3)]);
    const response = await call(server().app, 'DELETE', `/v1/${project}/task-center/failure-jobs/failure-jobs/batch`);
    assert.equal(response.statusCode, 204, response.body);
    assert.deepEqual(await ids(server().app, project, 'server_group_id=failure-jobs'), []);
  });

  it('keeps the {server_group_id} route from swallowing other paths and methods', async () => {
    const paths: ['GET' | 'DELETE', string][] = [
      ['GET', `/v1/${project}/task-center/g1/failure-jobs/batch`],
      ['GET', `/v1/${project}/task-center/g1/failure-jobs`],
      ['DELETE', `/v1/${project}/task-center/g1/failure-jobs`],
      ['DELETE', `/v1/${project}/task-center/g1/failure-jobs/other`],
      ['DELETE', `/v1/${project}/task-center/failure-jobs`],
      ['GET', `/v1/${project}/task-center/failure-jobs/batch`],
      ['DELETE', `/v1/${project}/task-center/g1/batch`],
    ];
    for (const [method, url] of paths) {
      const response = await call(server().app, method, url);
      assert.equal(response.statusCode, 404, `${method} ${url}: ${response.body}`);
      assert.equal(response.json().error_code, 'APIGW.0101', `${method} ${url}`);
    }
  });
});

describeEachEngine('SDRS ShowJobStatus', (server) => {
  const project = uniqueId('sdrs');

  it('seeds a job with sub-jobs (one with a sub-job of its own), a running job and a KPS task', async () => {
    await reportJobs(server().app, project, [
      sdrsInGroupFailure('PARENT', 'g1', 'protected_instances', 1, {
        job_type: 'createProtectedInstanceNoCG',
        entities: { protected_instance_id: 'pi-1', native_server_id: 'ns-1' },
      }),
      sdrsJob({
        job_id: 'STEP-B',
        job_type: 'createVolume',
        begin_time: timeAt(3),
        end_time: timeAt(4),
        resource: null,
        server_group_id: null,
        entities: { volume_ids: 'v1,v2' },
        parent_job_id: 'PARENT',
        error_code: 'EVS.2024',
        fail_reason: 'volume is error!',
      }),
      sdrsJob({
        job_id: 'STEP-A',
        job_type: 'createServer',
        status: 'SUCCESS',
        begin_time: timeAt(2),
        end_time: timeAt(3),
        resource: null,
        server_group_id: null,
        entities: {},
        parent_job_id: 'PARENT',
        error_code: null,
        fail_reason: null,
      }),
      sdrsJob({
        job_id: 'STEP-A1',
        job_type: 'createNic',
        status: 'SUCCESS',
        begin_time: timeAt(2),
        end_time: timeAt(3),
        resource: null,
        server_group_id: null,
        entities: { nic_id: 'nic-1' },
        parent_job_id: 'STEP-A',
        error_code: null,
        fail_reason: null,
      }),
      sdrsInGroupFailure('RUNNING', 'g1', 'replications', 5, { status: 'RUNNING', end_time: null, error_code: null, fail_reason: null, entities: {} }),
      kpsJob({ job_id: 'KPS1', parent_job_id: null }),
      kpsJob({ job_id: 'KPS-SUB', parent_job_id: 'PARENT', server: null, keypair_name: null }),
    ]);
  });

  it('shows the job with its sub-jobs in entities.sub_jobs, one level deep, in the order they began', async () => {
    const response = await call(server().app, 'GET', `/v1/${project}/jobs/PARENT`);
    assert.equal(response.statusCode, 200, response.body);
    requestIdOf(response.headers);
    assert.ok(Value.Check(JobStatusView, response.json()), response.body);
    assert.deepEqual(response.json(), {
      status: 'FAIL',
      job_id: 'PARENT',
      job_type: 'createProtectedInstanceNoCG',
      begin_time: '2024-01-01T00:00:01.000Z',
      end_time: '2024-01-01T00:00:02.000Z',
      error_code: 'EVS.2024',
      fail_reason: 'volume is error!',
      entities: {
        native_server_id: 'ns-1',
        protected_instance_id: 'pi-1',
        sub_jobs: [
          {
            status: 'SUCCESS',
            job_id: 'STEP-A',
            job_type: 'createServer',
            begin_time: '2024-01-01T00:00:02.000Z',
            end_time: '2024-01-01T00:00:03.000Z',
            error_code: null,
            fail_reason: null,
            entities: {},
          },
          {
            status: 'FAIL',
            job_id: 'STEP-B',
            job_type: 'createVolume',
            begin_time: '2024-01-01T00:00:03.000Z',
            end_time: '2024-01-01T00:00:04.000Z',
            error_code: 'EVS.2024',
            fail_reason: 'volume is error!',
            entities: { volume_ids: 'v1,v2' },
          },
        ],
      },
    });
  });

  it('leaves sub_jobs out when the job has none, and shows null end_time and error while running', async () => {
    const response = await call(server().app, 'GET', `/v1/${project}/jobs/RUNNING`);
    assert.equal(response.statusCode, 200, response.body);
    assert.ok(Value.Check(JobStatusView, response.json()), response.body);
    assert.deepEqual(response.json(), {
      status: 'RUNNING',
      job_id: 'RUNNING',
      job_type: 'createProtectedInstance',
      begin_time: '2024-01-01T00:00:05.000Z',
      end_time: null,
      error_code: null,
      fail_reason: null,
      entities: {},
    });
  });

  it('shows a sub-job asked for by its own id, with its own sub-jobs', async () => {
    const response = await call(server().app, 'GET', `/v1/${project}/jobs/STEP-A`);
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(
      response.json().entities.sub_jobs.map((j: { job_id: string }) => j.job_id),
      ['STEP-A1'],
    );
  });

  it("answers 404 with an SDRS code for an unknown job, a KPS task, and another project's job", async () => {
    const unknown = assertSdrsError(await call(server().app, 'GET', `/v1/${project}/jobs/nope`), 404, /^SDRS\.\d{4}$/);
    assert.match(unknown.message, /job 'nope' does not exist in project/);
    assertSdrsError(await call(server().app, 'GET', `/v1/${project}/jobs/KPS1`), 404, /^SDRS\./);
    assertSdrsError(await call(server().app, 'GET', `/v1/${uniqueId('sdrs')}/jobs/PARENT`), 404, /^SDRS\./);
  });

  it('refuses a malformed job id with 400 SDRS.0201', async () => {
    const error = assertSdrsError(await call(server().app, 'GET', `/v1/${project}/jobs/a%2Fb`), 400, 'SDRS.0201');
    assert.match(error.message, /^job_id must match/);
  });
});

describeEachEngine('SDRS access control', (server) => {
  it('seeds a failure in project A', async () => {
    await reportJobs(server().app, PROJECT_A, [groupFailure('ga', 1), sdrsInGroupFailure('A-PI', 'ga', 'protected_instances', 2)]);
  });

  it("refuses another project's principal with the SDRS 403 body on every route, changing nothing", async () => {
    const routes: ['GET' | 'DELETE', string][] = [
      ['GET', `/v1/${PROJECT_A}/task-center/failure-jobs`],
      ['DELETE', `/v1/${PROJECT_A}/task-center/failure-jobs/G-ga`],
      ['DELETE', `/v1/${PROJECT_A}/task-center/failure-jobs/batch`],
      ['DELETE', `/v1/${PROJECT_A}/task-center/ga/failure-jobs/batch`],
      ['GET', `/v1/${PROJECT_A}/jobs/G-ga`],
    ];
    for (const [method, url] of routes) {
      const error = assertSdrsError(await call(server().app, method, url, TOKENS.bob), 403, /^SDRS\.000[45]$/);
      assert.match(error.message, /principal 'bob' is not allowed to perform sdrs:\w+:\w+ in project 'proj-a'/);
    }
    assert.deepEqual(await ids(server().app, PROJECT_A), ['G-ga']);
    assert.deepEqual(await ids(server().app, PROJECT_A, 'server_group_id=ga'), ['A-PI']);
  });

  it("shows an admin looking in project B nothing of project A's", async () => {
    const list = await call(server().app, 'GET', `/v1/${PROJECT_B}/task-center/failure-jobs?resource_type=protected_instances`);
    assert.deepEqual(list.json(), { failure_jobs: [], count: 0 });
    assert.deepEqual(await ids(server().app, PROJECT_B), []);
    assertSdrsError(await call(server().app, 'GET', `/v1/${PROJECT_B}/jobs/G-ga`), 404, /^SDRS\./);
    assertSdrsError(await call(server().app, 'DELETE', `/v1/${PROJECT_B}/task-center/failure-jobs/G-ga`), 404, /^SDRS\./);
    assert.equal((await call(server().app, 'DELETE', `/v1/${PROJECT_B}/task-center/ga/failure-jobs/batch`)).statusCode, 204);
    assert.deepEqual(await ids(server().app, PROJECT_A, 'server_group_id=ga'), ['A-PI']);
  });

  it('lets a read-only principal list and read but not delete', async () => {
    assert.deepEqual(await ids(server().app, PROJECT_A, '', TOKENS.reader), ['G-ga']);
    assert.equal((await call(server().app, 'GET', `/v1/${PROJECT_A}/jobs/G-ga`, TOKENS.reader)).statusCode, 200);
    for (const url of [
      `/v1/${PROJECT_A}/task-center/failure-jobs/G-ga`,
      `/v1/${PROJECT_A}/task-center/failure-jobs/batch`,
      `/v1/${PROJECT_A}/task-center/ga/failure-jobs/batch`,
    ]) {
      const error = assertSdrsError(await call(server().app, 'DELETE', url, TOKENS.reader), 403, /^SDRS\./);
      assert.match(error.message, /sdrs:failureJobs:delete/);
    }
    assert.deepEqual(await ids(server().app, PROJECT_A), ['G-ga']);
  });

  it('answers a request without credentials with the gateway 401 before looking at parameters', async () => {
    const response = await call(server().app, 'GET', `/v1/${PROJECT_A}/task-center/failure-jobs?limit=abc`, null);
    assert.equal(response.statusCode, 401, response.body);
    assert.equal(response.json().error_code, 'APIGW.0301');
  });

  it('lets the project owner delete', async () => {
    assert.equal((await call(server().app, 'DELETE', `/v1/${PROJECT_A}/task-center/failure-jobs/A-PI`, TOKENS.alice)).statusCode, 204);
    assert.deepEqual(await ids(server().app, PROJECT_A, 'server_group_id=ga', TOKENS.alice), []);
  });
});

describeEachEngine('SDRS OpenAPI', (server) => {
  it('lists every SDRS route with each status it can answer', async () => {
    const response = await server().app.inject({ url: '/openapi.json' });
    assert.equal(response.statusCode, 200);
    const paths = response.json().paths as Record<string, Record<string, { operationId?: string; responses: Record<string, unknown> }>>;
    const expected: [path: string, method: string, operationId: string, statuses: string[]][] = [
      ['/v1/{project_id}/task-center/failure-jobs', 'get', 'ListFailureJobs', ['200', '400', '401', '403']],
      ['/v1/{project_id}/task-center/failure-jobs/{failure_job_id}', 'delete', 'DeleteFailureJob', ['204', '400', '401', '403', '404']],
      ['/v1/{project_id}/task-center/failure-jobs/batch', 'delete', 'DeleteAllServerGroupFailureJobs', ['204', '400', '401', '403']],
      ['/v1/{project_id}/task-center/{server_group_id}/failure-jobs/batch', 'delete', 'DeleteServerGroupFailureJobs', ['204', '400', '401', '403']],
      ['/v1/{project_id}/jobs/{job_id}', 'get', 'ShowJobStatus', ['200', '400', '401', '403', '404']],
    ];
    for (const [path, method, operationId, statuses] of expected) {
      const operation = paths[path]?.[method];
      assert.ok(operation, `${method} ${path} is missing from /openapi.json`);
      assert.equal(operation.operationId, operationId);
      for (const status of statuses) assert.ok(status in operation.responses, `${method} ${path} does not document ${status}`);
    }
    const list = paths['/v1/{project_id}/task-center/failure-jobs']?.get as unknown as { parameters: { name: string; in: string }[] };
    assert.deepEqual(
      list.parameters
        .filter((p) => p.in === 'query')
        .map((p) => p.name)
        .sort(),
      ['failure_status', 'limit', 'offset', 'resource_name', 'resource_type', 'server_group_id'],
    );
  });
});
