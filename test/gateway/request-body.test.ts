/**
 * Request bodies the gateway refuses before anything runs: a body that does not parse as
 * its declared Content-Type, on every route and method (issue 10 item 4), answered 400
 * APIGW.0201 on the routes that take no body and in the producer API's own format on the
 * routes that do; an empty body with the JSON Content-Type stays fine. A body nested
 * deeper than the bound is refused the same way, naming the field and the limit, before
 * anything walks it (issue 11 item 1, issue 10 item 6).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { UNAUTHENTICATED_BODY_LIMIT } from '../../src/auth/auth.hook.js';
import { MAX_JSON_DEPTH } from '../../src/validation.js';
import { describeEachEngine, documentedRoutes, kpsJob, PROJECT_A, requestIdOf, sdrsJob, TOKENS, uniqueId } from '../helpers.js';

function gatewayError(response: LightMyRequestResponse, status: number): string {
  assert.equal(response.statusCode, status, response.body);
  const id = requestIdOf(response.headers);
  const body = response.json() as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ['error_code', 'error_msg', 'request_id']);
  assert.equal(body.error_code, 'APIGW.0201');
  assert.equal(body.request_id, id);
  return String(body.error_msg);
}

function producerError(response: LightMyRequestResponse, code: string): string {
  assert.equal(response.statusCode, 400, response.body);
  requestIdOf(response.headers);
  const body = response.json() as { error: { code: string; message: string } };
  assert.equal(body.error.code, code);
  return body.error.message;
}

const MALFORMED: readonly { type: string; payload: string; says: RegExp }[] = [
  { type: 'application/json', payload: '{bad', says: /^request body is not valid JSON: / },
  { type: 'application/json; charset=utf-8', payload: '[1,', says: /^request body is not valid JSON: / },
  { type: 'text/plain', payload: 'hello', says: /^Content-Type must be application\/json, got 'text\/plain'$/ },
];

describeEachEngine('request bodies', (server) => {
  const admin = { 'x-auth-token': TOKENS.admin };

  it('refuses a body that does not parse as its Content-Type on every route and method, before the route runs', async () => {
    const routes = await documentedRoutes(server().app, PROJECT_A);
    assert.ok(routes.length >= 15, JSON.stringify(routes));
    for (const route of routes) {
      for (const { type, payload, says } of MALFORMED) {
        const request: InjectOptions = { method: route.method, url: route.url, headers: { ...admin, 'content-type': type }, payload };
        const response = await server().app.inject(request);
        const what = `${route.method} ${route.url} ${type}`;
        if (route.takesBody) assert.match(producerError(response, 'TASKCENTER.0002'), says, what);
        else assert.match(gatewayError(response, 400), says, what);
      }
    }
  });

  it('clears nothing when a batch delete carries a malformed body (SDRS and KPS)', async () => {
    const project = uniqueId('proj');
    const group = sdrsJob({ job_id: 'group-fail', resource: { id: 'g1', name: 'group', type: 'server_groups' }, server_group_id: 'g1' });
    const inGroup = sdrsJob({ job_id: 'pi-fail', server_group_id: 'g1' });
    const task = kpsJob({ job_id: 'task-fail' });
    for (const job of [group, inGroup, task]) {
      const put = await server().app.inject({
        method: 'PUT',
        url: `/taskcenter/v1/projects/${project}/jobs/${String(job.job_id)}`,
        headers: admin,
        payload: job,
      });
      assert.equal(put.statusCode, 201, put.body);
    }
    const deletes = [
      `/v1/${project}/task-center/failure-jobs/batch`,
      `/v1/${project}/task-center/g1/failure-jobs/batch`,
      `/v1/${project}/task-center/failure-jobs/group-fail`,
      `/v3/${project}/failed-tasks`,
      `/v3/${project}/failed-tasks/task-fail`,
    ];
    for (const url of deletes) {
      for (const { type, payload } of MALFORMED) {
        const response = await server().app.inject({ method: 'DELETE', url, headers: { ...admin, 'content-type': type }, payload });
        gatewayError(response, 400);
      }
    }
    const groups = await server().app.inject({ url: `/v1/${project}/task-center/failure-jobs`, headers: admin });
    assert.equal(groups.json().count, 1, groups.body);
    const members = await server().app.inject({ url: `/v1/${project}/task-center/failure-jobs?server_group_id=g1`, headers: admin });
    assert.equal(members.json().count, 1, members.body);
    const tasks = await server().app.inject({ url: `/v3/${project}/failed-tasks`, headers: admin });
    assert.equal(tasks.json().total, 1, tasks.body);

    // The SDKs send the JSON Content-Type with no body: that stays a plain delete.
    for (const url of [deletes[0], deletes[3]] as string[]) {
      const response = await server().app.inject({ method: 'DELETE', url, headers: { ...admin, 'content-type': 'application/json' } });
      assert.ok(response.statusCode === 204 || response.statusCode === 200, response.body);
      assert.equal(response.body, '');
    }
    const after = await server().app.inject({ url: `/v3/${project}/failed-tasks`, headers: admin });
    assert.equal(after.json().total, 0, after.body);
  });

  it('takes an empty body of any Content-Type as no body, and still authenticates first', async () => {
    for (const type of ['application/json', 'text/plain']) {
      const response = await server().app.inject({ url: `/v3/${PROJECT_A}/failed-tasks`, headers: { ...admin, 'content-type': type } });
      assert.equal(response.statusCode, 200, response.body);
    }
    const anonymous = await server().app.inject({
      method: 'DELETE',
      url: `/v3/${PROJECT_A}/failed-tasks`,
      headers: { 'content-type': 'application/json' },
      payload: '{bad',
    });
    assert.equal(anonymous.statusCode, 401, anonymous.body);
  });
});

/** `[[[...]]]` `depth` levels deep around `inner`. */
function nested(depth: number, inner = '1'): string {
  return '['.repeat(depth) + inner + ']'.repeat(depth);
}

describeEachEngine('request bodies: nesting depth', (server) => {
  const admin = { 'x-auth-token': TOKENS.admin, 'content-type': 'application/json' };

  it('refuses a batch whose jobs nest 4,500 deep with 400 naming the field and the limit, writing nothing', async () => {
    const payload = `{"jobs": ${nested(4500)}}`;
    const response = await server().app.inject({ method: 'POST', url: '/taskcenter/v1/jobs/batch', headers: admin, payload });
    const message = producerError(response, 'TASKCENTER.0001');
    assert.match(message, new RegExp(`^jobs\\[0\\]\\[0\\].* is nested too deeply: .* at most ${MAX_JSON_DEPTH} levels$`));
    assert.doesNotMatch(message, /FST_ERR|RangeError|stack/);
  });

  it('refuses a job whose error_code nests 10,000 deep, naming error_code, and stores nothing', async () => {
    const project = uniqueId('proj');
    const job = sdrsJob({ job_id: 'deep' });
    const text = JSON.stringify(job).replace('"error_code":"EVS.2024"', `"error_code":${nested(10_000, '"x"')}`);
    const put = await server().app.inject({ method: 'PUT', url: `/taskcenter/v1/projects/${project}/jobs/deep`, headers: admin, payload: text });
    assert.match(producerError(put, 'TASKCENTER.0001'), new RegExp(`^error_code\\[0\\]\\[0\\].* is nested too deeply: .* ${MAX_JSON_DEPTH} levels$`));
    const batch = await server().app.inject({
      method: 'POST',
      url: '/taskcenter/v1/jobs/batch',
      headers: admin,
      payload: `{"jobs": [${JSON.stringify({ project_id: project, ...sdrsJob() })}, ${text.replace('{', `{"project_id": "${project}", `)}]}`,
    });
    assert.match(producerError(batch, 'TASKCENTER.0001'), /^jobs\[1\]\.error_code\[0\].* is nested too deeply/);
    const read = await server().app.inject({ url: `/taskcenter/v1/projects/${project}/jobs`, headers: admin });
    assert.equal(read.statusCode, 200, read.body);
    assert.deepEqual(read.json().jobs, []);
  });

  it("refuses a body nested a million deep on every route and method, in the route's format, never a 500", async () => {
    const payload = Buffer.from(nested(1_000_000));
    for (const route of await documentedRoutes(server().app, PROJECT_A)) {
      const response = await server().app.inject({ method: route.method, url: route.url, headers: admin, payload });
      if (route.anonymous) {
        // A public route reads no more than a request without credentials may send.
        assert.match(gatewayError(response, 413), new RegExp(`exceeds the ${UNAUTHENTICATED_BODY_LIMIT}-byte limit of a request that is not authenticated`));
        continue;
      }
      const message = route.takesBody ? producerError(response, 'TASKCENTER.0001') : gatewayError(response, 400);
      assert.match(
        message,
        new RegExp(`^(\\[0\\]){${MAX_JSON_DEPTH}} is nested too deeply: a request body may nest objects and arrays at most ${MAX_JSON_DEPTH} levels$`),
      );
    }
    const object = `{"a": {"b": ${nested(MAX_JSON_DEPTH)}}}`;
    const response = await server().app.inject({ method: 'PUT', url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/x`, headers: admin, payload: object });
    assert.match(producerError(response, 'TASKCENTER.0001'), /^a\.b(\[0\]){30} is nested too deeply/);
  });

  it('takes a body exactly at the limit to validation, and brackets inside strings do not count', async () => {
    const atLimit = nested(MAX_JSON_DEPTH);
    const response = await server().app.inject({ method: 'PUT', url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/x`, headers: admin, payload: atLimit });
    assert.match(producerError(response, 'TASKCENTER.0001'), /^request body must be an object/);
    const job = sdrsJob({ job_id: uniqueId('brackets'), fail_reason: `${'['.repeat(100)} "\\" {{{`, error_code: '\\[[[' });
    const put = await server().app.inject({
      method: 'PUT',
      url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/${String(job.job_id)}`,
      headers: admin,
      payload: job,
    });
    assert.equal(put.statusCode, 201, put.body);
  });
});
