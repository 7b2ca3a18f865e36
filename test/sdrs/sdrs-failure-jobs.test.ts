/**
 * SDRS ListFailureJobs over both engines: the scope rule, narrowing filters, order and
 * paging, the item shape, and every class of bad parameter.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import type { FastifyInstance } from 'fastify';
import { FailureJobList, FAILURE_STATUSES } from '../../src/sdrs/sdrs.schema.js';
import { likeContains } from '../../src/db/name-search.js';
import { describeEachEngine, kpsJob, reportJobs, requestIdOf, sdrsInGroupFailure, sdrsJob, timeAt, TOKENS, uniqueId } from '../helpers.js';

function groupFailure(id: string, n: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return sdrsJob({
    job_id: id,
    job_type: 'createServerGroup',
    begin_time: timeAt(n),
    end_time: timeAt(n + 1),
    resource: { id: `res-${id}`, name: `name-${id}`, type: 'server_groups' },
    server_group_id: null,
    entities: {},
    ...extra,
  });
}

async function list(app: FastifyInstance, projectId: string, query = '', token: string = TOKENS.admin) {
  return app.inject({
    url: `/v1/${projectId}/task-center/failure-jobs${query === '' ? '' : `?${query}`}`,
    headers: { 'x-auth-token': token },
  });
}

/** The job ids of a successful list, in order; checks the body against the response schema. */
async function ids(app: FastifyInstance, projectId: string, query = ''): Promise<string[]> {
  const response = await list(app, projectId, query);
  assert.equal(response.statusCode, 200, response.body);
  const body = response.json();
  assert.ok(Value.Check(FailureJobList, body), response.body);
  return (body.failure_jobs as { job_id: string }[]).map((j) => j.job_id);
}

describeEachEngine('SDRS ListFailureJobs: scope', (server) => {
  const project = uniqueId('sdrs');
  const other = uniqueId('sdrs');

  it('seeds groups g1 and g2 with failures at every level, and jobs that are never listed', async () => {
    // Resource ids are the group ids for group-level jobs: the producer API stores them as the group.
    await reportJobs(server().app, project, [
      groupFailure('G1', 1, { resource: { id: 'g1', name: 'group-one', type: 'server_groups' } }),
      groupFailure('G2', 2, { operation: 'delete', job_type: 'deleteServerGroup', resource: { id: 'g2', name: 'group-two', type: 'server_groups' } }),
      sdrsInGroupFailure('PI1', 'g1', 'protected_instances', 3),
      sdrsInGroupFailure('R1', 'g1', 'replications', 4, { operation: 'attach', job_type: 'attachReplicationPair' }),
      sdrsInGroupFailure('D1', 'g1', 'disaster_recovery_drills', 5),
      sdrsInGroupFailure('PI2', 'g2', 'protected_instances', 6),
      // Never listed: not failed, a sub-job, or a KPS task.
      sdrsInGroupFailure('RUN1', 'g1', 'protected_instances', 7, { status: 'RUNNING', end_time: null, error_code: null, fail_reason: null }),
      groupFailure('OK1', 8, { status: 'SUCCESS', error_code: null, fail_reason: null, resource: { id: 'g1', name: 'group-one', type: 'server_groups' } }),
      sdrsInGroupFailure('SUB1', 'g1', 'protected_instances', 9, { parent_job_id: 'PI1' }),
      groupFailure('SUBG', 10, { parent_job_id: 'G1', resource: { id: 'g1', name: 'group-one', type: 'server_groups' } }),
      kpsJob({ job_id: 'KPS1', begin_time: timeAt(11), end_time: timeAt(12) }),
    ]);
    // Another project's failures in a group with the same id must never show.
    await reportJobs(server().app, other, [
      groupFailure('X-G1', 20, { resource: { id: 'g1', name: 'group-one', type: 'server_groups' } }),
      sdrsInGroupFailure('X-PI1', 'g1', 'protected_instances', 21),
    ]);
  });

  it('lists only protection-group-level failures when neither server_group_id nor resource_type is given', async () => {
    assert.deepEqual(await ids(server().app, project), ['G2', 'G1']);
  });

  it('lists the failures inside the group, not the group-level ones, for server_group_id alone', async () => {
    assert.deepEqual(await ids(server().app, project, 'server_group_id=g1'), ['D1', 'R1', 'PI1']);
    assert.deepEqual(await ids(server().app, project, 'server_group_id=g2'), ['PI2']);
    assert.deepEqual(await ids(server().app, project, 'server_group_id=no-such-group'), []);
  });

  it('lets resource_type decide when given with server_group_id', async () => {
    assert.deepEqual(await ids(server().app, project, 'server_group_id=g1&resource_type=server_groups'), ['G1']);
    assert.deepEqual(await ids(server().app, project, 'server_group_id=g1&resource_type=protected_instances'), ['PI1']);
    assert.deepEqual(await ids(server().app, project, 'server_group_id=g2&resource_type=replications'), []);
  });

  it('lists that type across the whole project for resource_type alone', async () => {
    assert.deepEqual(await ids(server().app, project, 'resource_type=protected_instances'), ['PI2', 'PI1']);
    assert.deepEqual(await ids(server().app, project, 'resource_type=server_groups'), ['G2', 'G1']);
    assert.deepEqual(await ids(server().app, project, 'resource_type=disaster_recovery_drills'), ['D1']);
  });

  it('narrows any scope by failure_status and resource_name', async () => {
    assert.deepEqual(await ids(server().app, project, 'failure_status=deleteFail'), ['G2']);
    assert.deepEqual(await ids(server().app, project, 'server_group_id=g1&failure_status=attachFail'), ['R1']);
    assert.deepEqual(await ids(server().app, project, 'server_group_id=g1&failure_status=createFail'), ['D1', 'PI1']);
    assert.deepEqual(await ids(server().app, project, 'failure_status=failoverFail'), []);
    assert.deepEqual(await ids(server().app, project, 'resource_name=two'), ['G2']);
    assert.deepEqual(await ids(server().app, project, 'server_group_id=g1&resource_name=name-P'), ['PI1']);
    assert.deepEqual(await ids(server().app, project, 'server_group_id=g1&resource_name=name-P&failure_status=attachFail'), []);
  });

  it('shows each failure as exactly the ten string fields, in the enum spelling', async () => {
    const response = await list(server().app, project, 'server_group_id=g1&resource_type=protected_instances');
    requestIdOf(response.headers);
    assert.deepEqual(response.json(), {
      failure_jobs: [
        {
          job_status: 'FAIL',
          job_id: 'PI1',
          job_type: 'createProtectedInstance',
          begin_time: '2024-01-01T00:00:03.000Z',
          failure_status: 'createFail',
          resource_id: 'res-PI1',
          resource_name: 'name-PI1',
          resource_type: 'protected_instances',
          error_code: 'EVS.2024',
          fail_reason: 'volume is error!',
        },
      ],
      count: 1,
    });
  });
});

describeEachEngine('SDRS ListFailureJobs: filters, order and paging', (server) => {
  it('matches resource_name literally and case-sensitively: %, _ and \\ match only themselves', async () => {
    const project = uniqueId('sdrs');
    const names = { pct: 'a%b', x: 'axb', under: 'a_b', slash: 'a\\b', upper: 'A%B', plain: 'ab' };
    await reportJobs(
      server().app,
      project,
      Object.entries(names).map(([id, name], n) => groupFailure(id, n, { resource: { id: `g-${id}`, name, type: 'server_groups' } })),
    );
    const by = async (text: string) => (await ids(server().app, project, `resource_name=${encodeURIComponent(text)}`)).sort();
    assert.deepEqual(await by('%'), ['pct', 'upper']);
    assert.deepEqual(await by('a%b'), ['pct']);
    assert.deepEqual(await by('_'), ['under']);
    assert.deepEqual(await by('a_b'), ['under']);
    assert.deepEqual(await by('\\'), ['slash']);
    assert.deepEqual(await by('a\\b'), ['slash']);
    assert.deepEqual(await by('A'), ['upper']);
    assert.deepEqual(await by('b'), ['pct', 'plain', 'slash', 'under', 'x']);
    assert.deepEqual(await by('%%'), []);
    assert.deepEqual(await by(''), Object.keys(names).sort());
  });

  it('escapes LIKE wildcards and the escape character', () => {
    assert.equal(likeContains('50%_off\\now'), '%50\\%\\_off\\\\now%');
  });

  it('orders by begin_time descending, ties by job_id descending bytewise, and pages stably', async () => {
    const project = uniqueId('sdrs');
    const tied = ['tie-1', 'tie-3', 'tie-2', 'tie-A', 'tie-a', 'tie-B'];
    await reportJobs(server().app, project, [groupFailure('older', 1), ...tied.map((id) => groupFailure(id, 5)), groupFailure('newer', 9)]);
    const expected = ['newer', 'tie-a', 'tie-B', 'tie-A', 'tie-3', 'tie-2', 'tie-1', 'older'];
    assert.deepEqual(await ids(server().app, project), expected);
    const pages: string[] = [];
    for (let offset = 0; offset < expected.length; offset += 3) pages.push(...(await ids(server().app, project, `limit=3&offset=${offset}`)));
    assert.deepEqual(pages, expected);
  });

  it('answers limit=0 and an offset past the end with no items and the full count', async () => {
    const project = uniqueId('sdrs');
    await reportJobs(server().app, project, [groupFailure('a', 1), groupFailure('b', 2), groupFailure('c', 3)]);
    for (const query of ['limit=0', 'offset=3', 'offset=999999', 'limit=1000&offset=100']) {
      const response = await list(server().app, project, query);
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(response.json(), { failure_jobs: [], count: 3 }, query);
    }
    const page = await list(server().app, project, 'limit=1&offset=1');
    assert.deepEqual(
      page.json().failure_jobs.map((j: { job_id: string }) => j.job_id),
      ['b'],
    );
    assert.equal(page.json().count, 3);
  });

  it('shows a null error_code as an empty string and every failure_status value', async () => {
    const project = uniqueId('sdrs');
    const operations = FAILURE_STATUSES.map((s) => s.slice(0, -4));
    await reportJobs(
      server().app,
      project,
      operations.map((operation, n) => groupFailure(`op-${operation}`, n, { operation, error_code: null })),
    );
    const body = (await list(server().app, project)).json() as { failure_jobs: { failure_status: string; error_code: string }[]; count: number };
    assert.equal(body.count, FAILURE_STATUSES.length);
    assert.deepEqual(body.failure_jobs.map((j) => j.failure_status).sort(), [...FAILURE_STATUSES].sort());
    assert.ok(body.failure_jobs.every((j) => j.error_code === ''));
    for (const status of FAILURE_STATUSES) {
      assert.deepEqual(await ids(server().app, project, `failure_status=${status}`), [`op-${status.slice(0, -4)}`]);
    }
  });
});

describeEachEngine('SDRS ListFailureJobs: bad parameters', (server) => {
  const project = uniqueId('sdrs');
  const long = 'x'.repeat(65);
  const cases: [query: string, code: string, message: RegExp][] = [
    ['limit=abc', 'SDRS.0221', /^limit must be an integer between 0 and 1000, got 'abc'$/],
    ['limit=1.5', 'SDRS.0221', /^limit must be an integer between 0 and 1000, got '1\.5'$/],
    ['limit=-1', 'SDRS.0221', /^limit must be an integer between 0 and 1000, got '-1'$/],
    ['limit=1001', 'SDRS.0221', /^limit must be an integer between 0 and 1000, got '1001'$/],
    ['limit=', 'SDRS.0221', /^limit must be an integer between 0 and 1000, got ''$/],
    ['limit=1e3', 'SDRS.0221', /^limit must be an integer between 0 and 1000, got '1e3'$/],
    ['limit=1&limit=2', 'SDRS.0221', /^limit must be given once, got 2 values$/],
    ['offset=abc', 'SDRS.0222', /^offset must be an integer between 0 and 2147483647, got 'abc'$/],
    ['offset=-1', 'SDRS.0222', /^offset must be an integer between 0 and 2147483647, got '-1'$/],
    ['offset=2.0', 'SDRS.0222', /^offset must be an integer between 0 and 2147483647, got '2\.0'$/],
    ['offset=', 'SDRS.0222', /^offset must be an integer between 0 and 2147483647, got ''$/],
    ['offset=9007199254740991', 'SDRS.0222', /^offset must be an integer between 0 and 2147483647, got '9007199254740991'$/],
    ['offset=2147483648', 'SDRS.0222', /^offset must be an integer between 0 and 2147483647, got '2147483648'$/],
    ['failure_status=createfail', 'SDRS.0201', /^failure_status must be one of createFail, deleteFail, .*, reprotectFail, got 'createfail'$/],
    [
      'resource_type=protectedInstance',
      'SDRS.0201',
      /^resource_type must be one of server_groups, protected_instances, replications, disaster_recovery_drills, got 'protectedInstance'$/,
    ],
    [`server_group_id=${long}`, 'SDRS.0207', /^server_group_id must match \^\[A-Za-z0-9\._-\]\{1,64\}\$, got 'x+\.\.\.'$/],
    ['server_group_id=bad!id', 'SDRS.0207', /^server_group_id must match .*, got 'bad!id'$/],
    [`resource_name=${'n'.repeat(256)}`, 'SDRS.0201', /^resource_name must be 0 to 255 characters/],
  ];
  for (const [query, code, message] of cases) {
    it(`refuses ${query.length > 40 ? query.slice(0, 37) + '...' : query} with 400 ${code}`, async () => {
      const response = await list(server().app, project, query);
      assert.equal(response.statusCode, 400, response.body);
      requestIdOf(response.headers);
      const body = response.json();
      assert.deepEqual(Object.keys(body), ['error']);
      assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message']);
      assert.equal(body.error.code, code);
      assert.match(body.error.message, message);
    });
  }

  it('refuses a malformed project id in the path with SDRS.0201', async () => {
    const response = await list(server().app, 'bad%20project');
    assert.equal(response.statusCode, 400, response.body);
    assert.equal(response.json().error.code, 'SDRS.0201');
    assert.match(response.json().error.message, /^project_id must match/);
  });

  it('takes an empty filter as not given, as the SDKs send one for an empty string', async () => {
    const response = await list(server().app, project, 'failure_status=&resource_type=&server_group_id=&resource_name=');
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json(), { failure_jobs: [], count: 0 });
  });

  it('ignores unknown query parameters, as Huawei services do', async () => {
    const response = await list(server().app, project, 'marker=x&sort=y');
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json(), { failure_jobs: [], count: 0 });
  });
});
