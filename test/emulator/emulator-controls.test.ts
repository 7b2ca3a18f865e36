/**
 * The emulator's switch and its controls that need no writes: faults, the request
 * journal, export; through a listening server on both engines.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeEachEngine, kpsJob, PROJECT_A, PROJECT_B, reportJobs, requestIdOf, sdrsJob, TOKENS } from '../helpers.js';
import { assertListingsExact, describeEmulator, type Answer } from './emulator-server.js';

/** Every emulator route, with a path that would match it. */
export const EMULATOR_ROUTES: readonly [method: string, path: string, openapiPath: string][] = [
  ['POST', '/taskcenter/v1/emulator/reset', '/taskcenter/v1/emulator/reset'],
  ['GET', '/taskcenter/v1/emulator/export', '/taskcenter/v1/emulator/export'],
  ['POST', '/taskcenter/v1/emulator/import', '/taskcenter/v1/emulator/import'],
  ['POST', '/taskcenter/v1/emulator/faults', '/taskcenter/v1/emulator/faults'],
  ['GET', '/taskcenter/v1/emulator/faults', '/taskcenter/v1/emulator/faults'],
  ['DELETE', '/taskcenter/v1/emulator/faults', '/taskcenter/v1/emulator/faults'],
  ['DELETE', '/taskcenter/v1/emulator/faults/fault-1', '/taskcenter/v1/emulator/faults/{id}'],
  ['POST', '/taskcenter/v1/emulator/jobs', '/taskcenter/v1/emulator/jobs'],
  ['POST', `/taskcenter/v1/emulator/jobs/${PROJECT_A}/job-1/advance`, '/taskcenter/v1/emulator/jobs/{project_id}/{job_id}/advance'],
  ['GET', '/taskcenter/v1/emulator/requests', '/taskcenter/v1/emulator/requests'],
];

describeEachEngine('emulator off (the default)', (server) => {
  it('answers 404 APIGW.0101 on every emulator route, even to an admin', async () => {
    for (const [method, url] of EMULATOR_ROUTES) {
      const response = await server().app.inject({
        method: method as 'GET',
        url,
        headers: { 'x-auth-token': TOKENS.admin, 'content-type': 'application/json' },
        payload: method === 'GET' ? undefined : '{}',
      });
      assert.equal(response.statusCode, 404, `${method} ${url}: ${response.body}`);
      const body = response.json();
      assert.equal(body.error_code, 'APIGW.0101', `${method} ${url}`);
      assert.equal(body.request_id, requestIdOf(response.headers));
    }
    const openapi = (await server().app.inject({ url: '/openapi.json' })).json();
    assert.deepEqual(
      Object.keys(openapi.paths).filter((p) => p.includes('emulator')),
      [],
    );
  });
});

function nested(answer: Answer, status: number, code: string): string {
  assert.equal(answer.status, status, answer.text);
  requestIdOf(Object.fromEntries(answer.headers));
  const body = answer.json();
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, code);
  return body.error.message;
}

describeEmulator('emulator on', (server) => {
  const sdrsList = (project = PROJECT_A) => `/v1/${project}/task-center/failure-jobs`;

  it('documents every route in OpenAPI, and a test here walks each of them', async () => {
    const openapi = (await server().call('GET', '/openapi.json')).json();
    const documented = Object.entries(openapi.paths as Record<string, Record<string, unknown>>)
      .filter(([path]) => path.startsWith('/taskcenter/v1/emulator'))
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    assert.ok(documented.length >= 6, documented.join(', '));
    const walked = new Set(EMULATOR_ROUTES.map(([method, , path]) => `${method} ${path}`));
    for (const route of documented) assert.ok(walked.has(route), `${route} is not in EMULATOR_ROUTES`);
    assert.equal(openapi.paths['/taskcenter/v1/emulator/faults'].post.operationId, 'AddFault');
  });

  it('needs a taskcenter:emulator:* action, and every project for what spans projects', async () => {
    const reader = await server().call('GET', '/taskcenter/v1/emulator/faults', { token: TOKENS.reader });
    assert.match(nested(reader, 403, 'TASKCENTER.0005'), /not allowed to perform taskcenter:emulator:faults/);
    const anonymous = await server().call('GET', '/taskcenter/v1/emulator/faults', { token: null });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.json().error_code, 'APIGW.0301');
    // alice has every action, in project A only.
    nested(await server().call('GET', '/taskcenter/v1/emulator/requests', { token: TOKENS.alice }), 403, 'TASKCENTER.0005');
    nested(await server().call('GET', '/taskcenter/v1/emulator/export', { token: TOKENS.alice }), 403, 'TASKCENTER.0005');
    nested(await server().call('GET', `/taskcenter/v1/emulator/export?project_id=${PROJECT_B}`, { token: TOKENS.alice }), 403, 'TASKCENTER.0005');
    const global = await server().call('POST', '/taskcenter/v1/emulator/faults', { token: TOKENS.alice, body: { operation: 'ListFailureJobs', status: 503 } });
    nested(global, 403, 'TASKCENTER.0005');
    const own = await server().call('POST', '/taskcenter/v1/emulator/faults', {
      token: TOKENS.alice,
      body: { operation: 'ListFailureJobs', status: 503, project_id: PROJECT_A, probability: 0 },
    });
    assert.equal(own.status, 201, own.text);
    assert.equal((await server().call('DELETE', '/taskcenter/v1/emulator/faults')).status, 204);
  });

  it('faults an operation `times` times in the SDRS dialect, then answers normally', async () => {
    const added = await server().call('POST', '/taskcenter/v1/emulator/faults', { body: { operation: 'ListFailureJobs', status: 503, times: 2 } });
    assert.equal(added.status, 201, added.text);
    const rule = added.json();
    assert.match(rule.id, /^fault-\d+$/);
    assert.deepEqual(
      { ...rule, id: 'x' },
      {
        id: 'x',
        operation: 'ListFailureJobs',
        project_id: null,
        probability: 1,
        times: 2,
        status: 503,
        error_code: null,
        message: null,
        delay_ms: null,
        fired: 0,
        expired: false,
      },
    );
    for (let i = 0; i < 2; i++) {
      const faulted = await server().call('GET', sdrsList());
      assert.match(nested(faulted, 503, 'SDRS.0905'), new RegExp(`rule ${rule.id}`));
    }
    assert.equal((await server().call('GET', sdrsList())).status, 200);
    const listed = (await server().call('GET', '/taskcenter/v1/emulator/faults')).json().faults;
    assert.deepEqual(
      listed.map((r: any) => [r.id, r.fired, r.expired]),
      [[rule.id, 2, true]],
    );
    const metrics = (await server().call('GET', '/metrics')).text;
    assert.match(metrics, /taskcenter_emulator_faults_fired_total\{operation="ListFailureJobs"\} 2\n/);
    assert.equal((await server().call('DELETE', `/taskcenter/v1/emulator/faults/${rule.id}`)).status, 204);
    nested(await server().call('DELETE', `/taskcenter/v1/emulator/faults/${rule.id}`), 404, 'TASKCENTER.0003');
  });

  it('answers in the KPS dialect and the gateway one for 429 with Retry-After, and changes nothing', async () => {
    const task = kpsJob();
    await reportJobs(server().app, PROJECT_A, [task]);
    const path = `/v3/${PROJECT_A}/failed-tasks/${String(task.job_id)}`;
    await server().call('POST', '/taskcenter/v1/emulator/faults', { body: { operation: 'DeleteFailedTask', status: 500, error_code: 'KPS.0500', times: 1 } });
    const kps = await server().call('DELETE', path);
    assert.equal(kps.status, 500);
    assert.deepEqual(Object.keys(kps.json()), ['error_code', 'error_msg']);
    assert.equal(kps.json().error_code, 'KPS.0500');
    requestIdOf(Object.fromEntries(kps.headers));
    await server().call('POST', '/taskcenter/v1/emulator/faults', { body: { operation: 'DeleteFailedTask', status: 429, times: 1, message: 'slow down' } });
    const throttled = await server().call('DELETE', path);
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers.get('retry-after'), '1');
    assert.deepEqual(throttled.json(), { error_msg: 'slow down', error_code: 'APIGW.0308', request_id: throttled.headers.get('x-request-id') });
    const stored = await server().call('GET', `/taskcenter/v1/projects/${PROJECT_A}/jobs/${String(task.job_id)}`);
    assert.equal(stored.json().failure_cleared, false, 'a faulted delete deleted nothing');
    await assertListingsExact(server().ctx, 1);
    assert.equal((await server().call('DELETE', path)).status, 200);
    await assertListingsExact(server().ctx, 1);
    assert.equal((await server().call('DELETE', '/taskcenter/v1/emulator/faults')).status, 204);
  });

  it('scopes a rule to its project, rolls its probability, and delays without failing', async () => {
    await server().call('POST', '/taskcenter/v1/emulator/faults', { body: { operation: 'ListFailureJobs', status: 503, project_id: PROJECT_B } });
    await server().call('POST', '/taskcenter/v1/emulator/faults', { body: { operation: 'ShowJobStatus', status: 503, probability: 0 } });
    await server().call('POST', '/taskcenter/v1/emulator/faults', { body: { operation: 'ListFailedTask', delay_ms: 50, times: 1 } });
    assert.equal((await server().call('GET', sdrsList(PROJECT_A))).status, 200);
    nested(await server().call('GET', sdrsList(PROJECT_B)), 503, 'SDRS.0905');
    assert.equal((await server().call('GET', `/v1/${PROJECT_A}/jobs/nope`)).status, 404);
    const delayed = await server().call('GET', `/v3/${PROJECT_A}/failed-tasks`);
    assert.equal(delayed.status, 200);
    const fired = (await server().call('GET', '/taskcenter/v1/emulator/faults')).json().faults.map((r: any) => [r.operation, r.fired]);
    assert.deepEqual(fired, [
      ['ListFailureJobs', 1],
      ['ShowJobStatus', 0],
      ['ListFailedTask', 1],
    ]);
    assert.equal((await server().call('DELETE', '/taskcenter/v1/emulator/faults')).status, 204);
    assert.deepEqual((await server().call('GET', '/taskcenter/v1/emulator/faults')).json(), { faults: [] });
  });

  it('refuses a bad rule, naming the field', async () => {
    const cases: [object, RegExp][] = [
      [{ operation: 'NoSuchOperation', status: 503 }, /operation must be an operationId of \/openapi.json \(.*ListFailureJobs.*\), got 'NoSuchOperation'/],
      [{ operation: 'AddFault', status: 503 }, /operation must be an operationId/],
      [{ operation: 'ListFailureJobs' }, /status or delay_ms is required/],
      [{ operation: 'ListFailureJobs', delay_ms: 5, error_code: 'X' }, /error_code needs a status/],
      [{ operation: 'ListFailureJobs', status: 200 }, /status/],
      [{ operation: 'ListFailureJobs', status: 503, probability: 2 }, /probability/],
      [{ operation: 'ListFailureJobs', status: 503, extra: 1 }, /extra/],
    ];
    for (const [body, message] of cases) {
      assert.match(nested(await server().call('POST', '/taskcenter/v1/emulator/faults', { body }), 400, 'TASKCENTER.0001'), message);
    }
    assert.deepEqual((await server().call('GET', '/taskcenter/v1/emulator/faults')).json(), { faults: [] });
  });

  it('journals requests newest first, without tokens, queries or bodies', async () => {
    await server().call('GET', `${sdrsList()}?limit=5&resource_name=secret-looking`);
    await server().call('GET', '/v3/nobody/failed-tasks', { token: 'wrong-token-value' });
    const answer = await server().call('GET', '/taskcenter/v1/emulator/requests?limit=2');
    assert.equal(answer.status, 200, answer.text);
    const [last, first] = answer.json().requests;
    assert.equal(answer.json().requests.length, 2);
    assert.deepEqual(
      { ...first, time: 't', ms: 0, request_id: 'r' },
      {
        time: 't',
        method: 'GET',
        path: sdrsList(),
        operation: 'ListFailureJobs',
        principal: 'admin',
        status: 200,
        ms: 0,
        request_id: 'r',
      },
    );
    assert.match(first.request_id, /^[0-9a-f]{32}$/);
    assert.match(first.time, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual([last.path, last.status, last.principal, last.operation], ['/v3/nobody/failed-tasks', 401, null, 'ListFailedTask']);
    const all = (await server().call('GET', '/taskcenter/v1/emulator/requests?limit=1000')).text;
    for (const secret of [TOKENS.admin, 'wrong-token-value', 'secret-looking']) assert.ok(!all.includes(secret), secret);
    nested(await server().call('GET', '/taskcenter/v1/emulator/requests?limit=0'), 400, 'TASKCENTER.0001');
  });

  it('exports NDJSON in key order, of one project or all', async () => {
    const a = [sdrsJob({ job_id: 'exp-2' }), sdrsJob({ job_id: 'exp-1' }), kpsJob({ job_id: 'exp-3' })];
    await reportJobs(server().app, 'exp-a', a);
    await reportJobs(server().app, 'exp-b', [sdrsJob({ job_id: 'exp-0' })]);
    const one = await server().call('GET', '/taskcenter/v1/emulator/export?project_id=exp-a');
    assert.equal(one.status, 200, one.text);
    assert.match(one.headers.get('content-type') ?? '', /^application\/x-ndjson/);
    assert.ok(one.text.endsWith('\n'));
    const lines = one.text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.deepEqual(
      lines.map((j) => j.job_id),
      ['exp-1', 'exp-2', 'exp-3'],
    );
    const stored = (await server().call('GET', '/taskcenter/v1/projects/exp-a/jobs/exp-3')).text;
    assert.equal(one.text.trimEnd().split('\n')[2], stored, 'a line is the stored job as the producer API shows it');
    const all = (await server().call('GET', '/taskcenter/v1/emulator/export')).text.trimEnd().split('\n');
    const keys = all.map((line) => JSON.parse(line)).map((j) => `${j.project_id}/${j.job_id}`);
    assert.deepEqual(keys, [...keys].sort());
    assert.ok(keys.includes('exp-b/exp-0'));
    const empty = await server().call('GET', '/taskcenter/v1/emulator/export?project_id=nothing-here');
    assert.deepEqual([empty.status, empty.text], [200, '']);
    nested(await server().call('GET', '/taskcenter/v1/emulator/export?project_id=bad.id'), 400, 'TASKCENTER.0001');
  });
});
