/**
 * The read endpoints a console needs beside the public lists: GET /taskcenter/v1/me,
 * GET /taskcenter/v1/projects and GET /taskcenter/v1/projects/{project_id}/summary, on
 * both engines, and /me under --auth none.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ACTIONS } from '../../src/auth/principal.js';
import { hashToken } from '../../src/auth/credentials.js';
import { loadConfig } from '../../src/config.js';
import { createTestApp, createTestServer, engines, kpsJob, putNewJob, reportJobs, sdrsJob, TOKENS, writeTestCredentials, type TestApp } from '../helpers.js';

const SDRS_ONLY_TOKEN = 'sdrs-only-token-0123456789';
const HOUR = 3_600_000;

function get(app: FastifyInstance, url: string, token: string = TOKENS.admin) {
  return app.inject({ method: 'GET', url, headers: { 'x-auth-token': token } });
}

/** A failure `hoursAgo` hours before now, on a resource of `type` (a group itself for server_groups). */
function failure(id: string, type: string, operation: string, hoursAgo: number, extra: Record<string, unknown> = {}) {
  const begin = new Date(Date.now() - hoursAgo * HOUR).toISOString();
  const groupLevel = type === 'server_groups';
  return sdrsJob({
    job_id: id,
    operation,
    begin_time: begin,
    end_time: begin,
    resource: { id: groupLevel ? `g-${id}` : `r-${id}`, name: `name-${id}`, type },
    server_group_id: groupLevel ? undefined : 'group-1',
    entities: {},
    ...extra,
  });
}

function kpsTask(id: string, status: 'FAIL' | 'RUNNING' | 'SUCCESS', hoursAgo: number) {
  const begin = new Date(Date.now() - hoursAgo * HOUR).toISOString();
  const done = status !== 'RUNNING';
  return kpsJob({
    job_id: id,
    status,
    begin_time: begin,
    end_time: done ? begin : null,
    error_code: null,
    fail_reason: status === 'FAIL' ? 'Update public key error' : null,
  });
}

for (const engine of engines) {
  describe(`Project reads [${engine}]`, () => {
    let server: TestApp | undefined;
    const app = () => (server as TestApp).app;
    before(async () => {
      server = await createTestApp(engine, (db, dir) =>
        loadConfig(
          {
            db,
            logLevel: 'silent',
            credentials: writeTestCredentials(dir, {
              principals: [{ name: 'sdrs-only', projects: ['proj-a'], actions: ['sdrs:*'], tokens: [hashToken(SDRS_ONLY_TOKEN)] }],
            }),
          },
          {},
        ),
      );
    });
    after(async () => server?.close());

    it('GET /me says who the token stands for, with every action its grants allow', async () => {
      const admin = await get(app(), '/taskcenter/v1/me');
      assert.equal(admin.statusCode, 200, admin.body);
      assert.deepEqual(admin.json(), { name: 'admin', projects: ['*'], actions: [...ACTIONS] });
      const reader = (await get(app(), '/taskcenter/v1/me', TOKENS.reader)).json();
      assert.deepEqual(reader, {
        name: 'reader',
        projects: ['proj-a'],
        actions: ['sdrs:failureJobs:list', 'sdrs:jobs:get', 'kps::getFailedTask', 'kps::getRunningTask', 'kps::getTask', 'taskcenter:jobs:read'],
      });
      const sdrsOnly = (await get(app(), '/taskcenter/v1/me', SDRS_ONLY_TOKEN)).json();
      assert.deepEqual(sdrsOnly.actions, ['sdrs:failureJobs:list', 'sdrs:failureJobs:delete', 'sdrs:jobs:get']);
    });

    it('GET /me without credentials is the gateway 401', async () => {
      const response = await app().inject({ method: 'GET', url: '/taskcenter/v1/me' });
      assert.equal(response.statusCode, 401);
      assert.equal(response.json().error_code, 'APIGW.0301');
      const unknown = await get(app(), '/taskcenter/v1/me', 'no-such-token');
      assert.equal(unknown.statusCode, 401);
      assert.doesNotMatch(unknown.body, /no-such-token/);
    });

    it('GET /projects lists the projects that have jobs, in id order, paged by marker', async () => {
      for (const project of ['list-c', 'list-a', 'list-b']) {
        await putNewJob(app(), project, sdrsJob({ job_id: `${project}-job`, status: 'SUCCESS', error_code: null, fail_reason: null }));
      }
      const all: string[] = [];
      let marker: string | null = '';
      let pages = 0;
      while (marker !== null) {
        const response = await get(app(), `/taskcenter/v1/projects?limit=2${marker === '' ? '' : `&marker=${marker}`}`);
        assert.equal(response.statusCode, 200, response.body);
        const page = response.json() as { projects: { project_id: string }[]; next_marker: string | null };
        assert.ok(page.projects.length <= 2);
        all.push(...page.projects.map((p) => p.project_id));
        marker = page.next_marker;
        pages++;
      }
      assert.deepEqual(
        all.filter((id) => id.startsWith('list-')),
        ['list-a', 'list-b', 'list-c'],
      );
      assert.deepEqual(all, [...all].sort(), 'in id order');
      assert.equal(new Set(all).size, all.length, 'no project twice');
      assert.equal(pages, Math.max(1, Math.ceil(all.length / 2)));
      const one = (await get(app(), '/taskcenter/v1/projects?marker=list-a&limit=1')).json();
      assert.deepEqual(one.projects, [{ project_id: 'list-b' }]);
      assert.equal(one.next_marker, 'list-b');
    });

    it('GET /projects shows a principal with named projects only those of its own that have jobs', async () => {
      const before = (await get(app(), '/taskcenter/v1/projects', TOKENS.bob)).json();
      assert.deepEqual(before, { projects: [], next_marker: null }, 'proj-b has no jobs yet');
      await putNewJob(app(), 'proj-b', sdrsJob({ job_id: 'b-only' }));
      await putNewJob(app(), 'proj-a', sdrsJob({ job_id: 'a-one' }));
      const bob = (await get(app(), '/taskcenter/v1/projects', TOKENS.bob)).json();
      assert.deepEqual(bob, { projects: [{ project_id: 'proj-b' }], next_marker: null });
      const alice = (await get(app(), '/taskcenter/v1/projects?limit=1', TOKENS.alice)).json();
      assert.deepEqual(alice, { projects: [{ project_id: 'proj-a' }], next_marker: null });
    });

    it('GET /projects refuses a bad limit or marker in the producer API format', async () => {
      for (const query of ['limit=0', 'limit=1001', 'limit=abc', 'marker=a%20b']) {
        const response = await get(app(), `/taskcenter/v1/projects?${query}`);
        assert.equal(response.statusCode, 400, query);
        assert.equal(response.json().error.code, 'TASKCENTER.0001', query);
      }
    });

    it('GET /summary counts current failures by resource type and failure status, KPS totals, and failures per hour', async () => {
      const project = 'summary-p';
      await reportJobs(app(), project, [
        failure('g1', 'server_groups', 'create', 1),
        failure('g2', 'server_groups', 'create', 30),
        failure('g3', 'server_groups', 'delete', 1),
        failure('pi1', 'protected_instances', 'attach', 2),
        failure('rp1', 'replications', 'attach', 200), // older than 7 days: counted, not charted
        failure('gone', 'server_groups', 'start', 3),
        failure('ok', 'server_groups', 'stop', 3, { status: 'SUCCESS', error_code: null, fail_reason: null }),
        kpsTask('k1', 'FAIL', 5),
        kpsTask('k2', 'FAIL', 5),
        kpsTask('k3', 'RUNNING', 0),
        kpsTask('k4', 'SUCCESS', 0),
      ]);
      const cleared = await app().inject({
        method: 'DELETE',
        url: `/v1/${project}/task-center/failure-jobs/gone`,
        headers: { 'x-auth-token': TOKENS.admin },
      });
      assert.equal(cleared.statusCode, 204);

      const response = await get(app(), `/taskcenter/v1/projects/${project}/summary`);
      assert.equal(response.statusCode, 200, response.body);
      const summary = response.json();
      assert.equal(summary.project_id, project);
      assert.deepEqual(summary.sdrs.by_resource_type, { server_groups: 3, protected_instances: 1, replications: 1, disaster_recovery_drills: 0 });
      assert.equal(summary.sdrs.by_failure_status.createFail, 2);
      assert.equal(summary.sdrs.by_failure_status.deleteFail, 1);
      assert.equal(summary.sdrs.by_failure_status.attachFail, 2);
      assert.equal(summary.sdrs.by_failure_status.startFail, 0, 'a cleared failure is not counted');
      assert.equal(summary.sdrs.by_failure_status.stopFail, 0);
      assert.equal(Object.keys(summary.sdrs.by_failure_status).length, 11);
      assert.deepEqual(summary.kps, { failed: 2, running: 1 });

      // The counters agree with the lists themselves.
      const groupLevel = (await get(app(), `/v1/${project}/task-center/failure-jobs?limit=0`)).json();
      assert.equal(groupLevel.count, summary.sdrs.by_resource_type.server_groups);
      const kpsFailed = (await get(app(), `/v3/${project}/failed-tasks?limit=0`)).json();
      assert.equal(kpsFailed.total, summary.kps.failed);

      const hours = summary.failures_per_hour;
      assert.equal(hours.sdrs.length, 168);
      assert.equal(hours.kps.length, 168);
      const from = Date.parse(hours.from);
      assert.equal(from % HOUR, 0);
      assert.ok(Date.now() - from < 168 * HOUR && Date.now() - from >= 167 * HOUR, hours.from);
      const at = (hoursAgo: number) => Math.floor((Date.now() - hoursAgo * HOUR - from) / HOUR);
      assert.equal(
        hours.sdrs.reduce((a: number, b: number) => a + b, 0),
        4,
        'the four current failures of the last 7 days',
      );
      assert.equal(hours.sdrs[at(30)], 1);
      assert.equal(hours.sdrs[at(2)] + (at(1) === at(2) ? 0 : hours.sdrs[at(1)]), 3);
      assert.equal(hours.kps[at(5)], 2);
      assert.equal(
        hours.kps.reduce((a: number, b: number) => a + b, 0),
        2,
      );
    });

    it('GET /summary leaves out what the caller may not read, and refuses another tenant', async () => {
      const project = 'proj-a';
      await putNewJob(app(), project, failure('a-g1', 'server_groups', 'create', 1));
      await putNewJob(app(), project, kpsTask('a-k1', 'FAIL', 1));
      const sdrsOnly = (await get(app(), `/taskcenter/v1/projects/${project}/summary`, SDRS_ONLY_TOKEN)).json();
      assert.ok(sdrsOnly.sdrs.by_resource_type.server_groups >= 1);
      assert.equal(sdrsOnly.kps, null);
      assert.equal(sdrsOnly.failures_per_hour.kps, null);
      assert.equal(sdrsOnly.failures_per_hour.sdrs.length, 168);
      const reader = (await get(app(), `/taskcenter/v1/projects/${project}/summary`, TOKENS.reader)).json();
      assert.ok(reader.kps.failed >= 1);

      const bob = await get(app(), `/taskcenter/v1/projects/${project}/summary`, TOKENS.bob);
      assert.equal(bob.statusCode, 403);
      assert.equal(bob.json().error.code, 'TASKCENTER.0005');
      assert.match(bob.json().error.message, /principal 'bob' has no access to project 'proj-a'/);
      const bad = await get(app(), '/taskcenter/v1/projects/bad%20id/summary');
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().error.code, 'TASKCENTER.0001');
    });

    it('GET /summary of a project without jobs is all zeros', async () => {
      const summary = (await get(app(), '/taskcenter/v1/projects/empty-project/summary')).json();
      assert.deepEqual(summary.sdrs.by_resource_type, { server_groups: 0, protected_instances: 0, replications: 0, disaster_recovery_drills: 0 });
      assert.deepEqual(summary.kps, { failed: 0, running: 0 });
      assert.equal(
        summary.failures_per_hour.sdrs.some((n: number) => n !== 0),
        false,
      );
    });

    it('documents the three reads, with a schema for every status, in the OpenAPI document', async () => {
      const doc = (await app().inject({ method: 'GET', url: '/openapi.json' })).json();
      for (const path of ['/taskcenter/v1/me', '/taskcenter/v1/projects', '/taskcenter/v1/projects/{project_id}/summary']) {
        const responses = doc.paths[path]?.get?.responses;
        assert.ok(responses, path);
        for (const status of ['200', '401', '500', '503']) assert.ok(responses[status], `${path} ${status}`);
      }
      assert.ok(doc.paths['/taskcenter/v1/projects/{project_id}/summary'].get.responses['403']);
    });
  });
}

describe('GET /me under --auth none', () => {
  it('answers the anonymous principal, allowed everything, without credentials', async () => {
    const server = await createTestServer('sqlite', { auth: 'none' });
    try {
      const response = await server.app.inject({ method: 'GET', url: '/taskcenter/v1/me' });
      assert.equal(response.statusCode, 200);
      assert.deepEqual(response.json(), { name: 'anonymous', projects: ['*'], actions: [...ACTIONS] });
    } finally {
      await server.close();
    }
  });
});
