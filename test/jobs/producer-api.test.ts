import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { describeEachEngine, PROJECT_A, PROJECT_B, putJob, requestIdOf, sdrsJob, kpsJob, TOKENS } from '../helpers.js';

const running = { status: 'RUNNING', end_time: null, error_code: null, fail_reason: null } as const;
const init = { ...running, status: 'INIT' } as const;
const failed = { status: 'FAIL', end_time: '2019-01-21T12:58:00.000Z', error_code: 'EVS.2024', fail_reason: 'volume is error!' } as const;
const succeeded = { status: 'SUCCESS', end_time: '2019-01-21T12:58:00.000Z', error_code: null, fail_reason: null } as const;

/** A project id no other test uses, so lists see only this test's jobs. */
function freshProject(): string {
  return `p-${randomBytes(6).toString('hex')}`;
}

function getJob(app: FastifyInstance, projectId: string, jobId: unknown, token: string = TOKENS.admin) {
  return app.inject({ url: `/taskcenter/v1/projects/${projectId}/jobs/${String(jobId)}`, headers: { 'x-auth-token': token } });
}

function listJobs(app: FastifyInstance, projectId: string, query = '', token: string = TOKENS.admin) {
  return app.inject({ url: `/taskcenter/v1/projects/${projectId}/jobs${query}`, headers: { 'x-auth-token': token } });
}

function postBatch(app: FastifyInstance, body: unknown, token: string = TOKENS.admin) {
  return app.inject({ method: 'POST', url: '/taskcenter/v1/jobs/batch', headers: { 'x-auth-token': token }, payload: body as object });
}

interface BatchResult {
  project_id: string;
  job_id: string;
  result: string;
  error?: { code: string; message: string };
}

/** Asserts a TASKCENTER error body with this status and code; returns its message. */
function taskcenterError(response: { statusCode: number; json(): unknown; headers: Record<string, unknown> }, status: number, code: string): string {
  assert.equal(response.statusCode, status, JSON.stringify(response.json()));
  requestIdOf(response.headers);
  const body = response.json() as { error: { code: string; message: string } };
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, code);
  return body.error.message;
}

describeEachEngine('producer API: reporting jobs', (server) => {
  it('creates a job with 201, then answers 200 unchanged for the same report', async () => {
    const job = sdrsJob(running);
    const first = await putJob(server().app, PROJECT_A, job);
    assert.equal(first.statusCode, 201, first.body);
    requestIdOf(first.headers);
    assert.equal(first.json().status, 'RUNNING');
    assert.equal(first.json().project_id, PROJECT_A);
    const again = await putJob(server().app, PROJECT_A, job);
    assert.equal(again.statusCode, 200);
    assert.equal(again.json().updated_at, first.json().updated_at);
    assert.deepEqual(again.json(), first.json());
  });

  it('answers with the stored document, every field present', async () => {
    const job = sdrsJob({ entities: { volume_ids: 'v-1,v-2', protected_instance_id: 'pi-1' } });
    const response = await putJob(server().app, PROJECT_A, job);
    assert.equal(response.statusCode, 201);
    const { created_at, updated_at, ...stored } = response.json();
    assert.match(created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(updated_at, created_at);
    assert.deepEqual(stored, {
      ...job,
      project_id: PROJECT_A,
      parent_job_id: null,
      server: null,
      keypair_name: null,
      failure_cleared: false,
    });
    assert.deepEqual((await getJob(server().app, PROJECT_A, job.job_id)).json(), response.json());
  });

  it('moves INIT → RUNNING → FAIL and refuses to go back, changing nothing', async () => {
    const base = sdrsJob(init);
    assert.equal((await putJob(server().app, PROJECT_A, base)).statusCode, 201);
    assert.equal((await putJob(server().app, PROJECT_A, { ...base, ...running })).statusCode, 200);
    assert.equal((await putJob(server().app, PROJECT_A, { ...base, ...failed })).statusCode, 200);
    const before = (await getJob(server().app, PROJECT_A, base.job_id)).json();

    for (const late of [running, init, succeeded, { ...failed, fail_reason: 'another reason' }]) {
      const response = await putJob(server().app, PROJECT_A, { ...base, ...late });
      const message = taskcenterError(response, 409, 'TASKCENTER.0004');
      assert.match(message, /already FAIL and a finished job never changes/);
    }
    assert.deepEqual((await getJob(server().app, PROJECT_A, base.job_id)).json(), before);
    assert.equal(before.status, 'FAIL');
    assert.equal(before.error_code, 'EVS.2024');
  });

  it('refuses RUNNING → INIT with 409 and keeps the job RUNNING', async () => {
    const base = sdrsJob(running);
    assert.equal((await putJob(server().app, PROJECT_A, base)).statusCode, 201);
    const before = (await getJob(server().app, PROJECT_A, base.job_id)).json();
    const message = taskcenterError(await putJob(server().app, PROJECT_A, { ...base, ...init }), 409, 'TASKCENTER.0004');
    assert.match(message, /status cannot move back from RUNNING to INIT/);
    assert.deepEqual((await getJob(server().app, PROJECT_A, base.job_id)).json(), before);
  });

  it('goes straight from INIT to SUCCESS', async () => {
    const base = kpsJob(init);
    assert.equal((await putJob(server().app, PROJECT_A, base)).statusCode, 201);
    const done = await putJob(server().app, PROJECT_A, { ...base, ...succeeded });
    assert.equal(done.statusCode, 200);
    assert.equal(done.json().status, 'SUCCESS');
    assert.equal(done.json().end_time, '2019-01-21T12:58:00.000Z');
  });

  it('ends in the right state when reports arrive out of order (FAIL, then RUNNING, then INIT)', async () => {
    const base = sdrsJob();
    const first = await putJob(server().app, PROJECT_A, { ...base, ...failed });
    assert.equal(first.statusCode, 201);
    assert.equal((await putJob(server().app, PROJECT_A, { ...base, ...running })).statusCode, 409);
    assert.equal((await putJob(server().app, PROJECT_A, { ...base, ...init })).statusCode, 409);
    assert.equal((await putJob(server().app, PROJECT_A, { ...base, ...failed })).statusCode, 200);
    assert.deepEqual((await getJob(server().app, PROJECT_A, base.job_id)).json(), first.json());
  });

  it('never lets a report change what identifies a job', async () => {
    const base = sdrsJob(running);
    assert.equal((await putJob(server().app, PROJECT_A, base)).statusCode, 201);
    const before = (await getJob(server().app, PROJECT_A, base.job_id)).json();
    const changes: [string, Record<string, unknown>][] = [
      [
        'service',
        { service: 'kps', resource: null, server_group_id: null, entities: {}, operation: 'reset', server: { id: 's', name: 'n' }, keypair_name: 'k' },
      ],
      ['operation', { operation: 'delete' }],
      ['job_type', { job_type: 'deleteProtectedInstance' }],
      ['begin_time', { begin_time: '2019-01-21T12:56:35.755Z' }],
      ['resource_type', { resource: { id: 'pi-1', name: 'Protected-Instance-ab14', type: 'replications' } }],
      ['resource_id', { resource: { id: 'pi-2', name: 'Protected-Instance-ab14', type: 'protected_instances' } }],
      ['server_group_id', { server_group_id: 'group-2' }],
      ['parent_job_id', { parent_job_id: 'job-0' }],
    ];
    for (const [field, change] of changes) {
      const message = taskcenterError(await putJob(server().app, PROJECT_A, { ...base, ...change }), 409, 'TASKCENTER.0004');
      assert.match(message, new RegExp(`${field} cannot change once reported`), field);
    }
    assert.deepEqual((await getJob(server().app, PROJECT_A, base.job_id)).json(), before);
  });

  it('lets a running job update what may still change', async () => {
    const base = sdrsJob(running);
    assert.equal((await putJob(server().app, PROJECT_A, base)).statusCode, 201);
    const renamed = {
      ...base,
      resource: { id: 'pi-1', name: 'renamed', type: 'protected_instances' },
      entities: { protected_instance_id: 'pi-1', nic_id: 'nic-1' },
    };
    const response = await putJob(server().app, PROJECT_A, renamed);
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().resource.name, 'renamed');
    assert.deepEqual(response.json().entities, { nic_id: 'nic-1', protected_instance_id: 'pi-1' });
  });

  it('refuses a body whose job_id differs from the path', async () => {
    const job = sdrsJob();
    const response = await server().app.inject({
      method: 'PUT',
      url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/other-id`,
      headers: { 'x-auth-token': TOKENS.admin },
      payload: job,
    });
    const message = taskcenterError(response, 400, 'TASKCENTER.0001');
    assert.match(message, /^job_id in the body \('job-[0-9a-f]+'\) must equal the job_id in the path \('other-id'\)$/);
    assert.equal((await getJob(server().app, PROJECT_A, 'other-id')).statusCode, 404);
    assert.equal((await getJob(server().app, PROJECT_A, job.job_id)).statusCode, 404);
  });

  it('answers 404 TASKCENTER.0003 for a job that does not exist', async () => {
    const message = taskcenterError(await getJob(server().app, PROJECT_A, 'no-such-job'), 404, 'TASKCENTER.0003');
    assert.equal(message, `job 'no-such-job' does not exist in project '${PROJECT_A}'`);
  });
});

describeEachEngine('producer API: project isolation', (server) => {
  it('keeps the same job_id in two projects as two jobs', async () => {
    const job = kpsJob();
    assert.equal((await putJob(server().app, PROJECT_A, job)).statusCode, 201);
    assert.equal((await putJob(server().app, PROJECT_B, { ...job, ...running })).statusCode, 201);
    const a = await getJob(server().app, PROJECT_A, job.job_id);
    const b = await getJob(server().app, PROJECT_B, job.job_id);
    assert.equal(a.json().status, 'FAIL');
    assert.equal(b.json().status, 'RUNNING');
    assert.equal(b.json().project_id, PROJECT_B);
    // Finishing one does not touch the other.
    assert.equal((await putJob(server().app, PROJECT_B, { ...job, ...succeeded })).statusCode, 200);
    assert.deepEqual((await getJob(server().app, PROJECT_A, job.job_id)).json(), a.json());
  });

  it('refuses a principal of project A anything in project B with 403, writing nothing', async () => {
    const job = sdrsJob();
    const write = await putJob(server().app, PROJECT_B, job, TOKENS.alice);
    const message = taskcenterError(write, 403, 'TASKCENTER.0005');
    assert.equal(message, `principal 'alice' is not allowed to perform taskcenter:jobs:write in project '${PROJECT_B}'`);
    assert.equal((await getJob(server().app, PROJECT_B, job.job_id)).statusCode, 404);

    assert.equal((await putJob(server().app, PROJECT_B, job, TOKENS.bob)).statusCode, 201);
    taskcenterError(await getJob(server().app, PROJECT_B, job.job_id, TOKENS.alice), 403, 'TASKCENTER.0005');
    taskcenterError(await listJobs(server().app, PROJECT_B, '', TOKENS.alice), 403, 'TASKCENTER.0005');
    // Overwriting B's job from A is refused too, and B's job stays as it was.
    const before = (await getJob(server().app, PROJECT_B, job.job_id)).json();
    taskcenterError(await putJob(server().app, PROJECT_B, { ...job, fail_reason: 'overwritten' }, TOKENS.alice), 403, 'TASKCENTER.0005');
    assert.deepEqual((await getJob(server().app, PROJECT_B, job.job_id)).json(), before);
    // Alice still works in her own project.
    assert.equal((await putJob(server().app, PROJECT_A, job, TOKENS.alice)).statusCode, 201);
    assert.equal((await getJob(server().app, PROJECT_A, job.job_id, TOKENS.alice)).statusCode, 200);
  });

  it('refuses a read-only principal any write', async () => {
    const job = sdrsJob();
    taskcenterError(await putJob(server().app, PROJECT_A, job, TOKENS.reader), 403, 'TASKCENTER.0005');
    taskcenterError(await postBatch(server().app, { jobs: [{ project_id: PROJECT_A, ...job }] }, TOKENS.reader), 403, 'TASKCENTER.0005');
    assert.equal((await getJob(server().app, PROJECT_A, job.job_id)).statusCode, 404);
    assert.equal((await listJobs(server().app, PROJECT_A, '', TOKENS.reader)).statusCode, 200);
  });

  it('rejects the batch items for projects the principal may not write, and stores the others', async () => {
    const mine = sdrsJob();
    const theirs = sdrsJob();
    const response = await postBatch(
      server().app,
      {
        jobs: [
          { project_id: PROJECT_B, ...theirs },
          { project_id: PROJECT_A, ...mine },
          { project_id: PROJECT_B, ...mine },
        ],
      },
      TOKENS.alice,
    );
    assert.equal(response.statusCode, 200, response.body);
    const results = response.json().results as BatchResult[];
    assert.deepEqual(
      results.map((r) => [r.project_id, r.job_id, r.result]),
      [
        [PROJECT_B, theirs.job_id, 'rejected'],
        [PROJECT_A, mine.job_id, 'created'],
        [PROJECT_B, mine.job_id, 'rejected'],
      ],
    );
    assert.equal(results[0]?.error?.code, 'TASKCENTER.0005');
    assert.equal(results[0]?.error?.message, `jobs[0]: principal 'alice' may not write jobs in project '${PROJECT_B}'`);
    assert.equal(results[2]?.error?.code, 'TASKCENTER.0005');
    assert.equal((await getJob(server().app, PROJECT_B, theirs.job_id)).statusCode, 404);
    assert.equal((await getJob(server().app, PROJECT_B, mine.job_id)).statusCode, 404);
    assert.equal((await getJob(server().app, PROJECT_A, mine.job_id)).statusCode, 200);
  });

  it("never lists another project's jobs", async () => {
    const a = freshProject();
    const b = freshProject();
    const job = sdrsJob();
    assert.equal((await putJob(server().app, b, job)).statusCode, 201);
    assert.deepEqual((await listJobs(server().app, a)).json(), { jobs: [], next_marker: null });
    assert.deepEqual(
      (await listJobs(server().app, b)).json().jobs.map((j: { job_id: string }) => j.job_id),
      [job.job_id],
    );
  });
});

describeEachEngine('producer API: batches', (server) => {
  it('stores the valid items, rejects the invalid ones with their reason, results in order', async () => {
    const good1 = sdrsJob();
    const good2 = kpsJob();
    const badStatus = sdrsJob({ status: 'DONE' });
    const badDate = kpsJob({ begin_time: '2019-02-30T10:00:00Z' });
    const noResource = sdrsJob({ resource: undefined });
    const response = await postBatch(server().app, {
      jobs: [
        { project_id: PROJECT_A, ...good1 },
        { project_id: PROJECT_A, ...badStatus },
        'not a job',
        { project_id: PROJECT_A, ...badDate },
        { project_id: PROJECT_A, ...good2 },
        { project_id: 'bad project', ...sdrsJob() },
        { project_id: PROJECT_A, ...noResource },
        { ...sdrsJob() },
      ],
    });
    assert.equal(response.statusCode, 200, response.body);
    requestIdOf(response.headers);
    const results = response.json().results as BatchResult[];
    assert.deepEqual(
      results.map((r) => r.result),
      ['created', 'rejected', 'rejected', 'rejected', 'created', 'rejected', 'rejected', 'rejected'],
    );
    assert.deepEqual(results[0], { project_id: PROJECT_A, job_id: good1.job_id, result: 'created' });
    assert.deepEqual(results[4], { project_id: PROJECT_A, job_id: good2.job_id, result: 'created' });
    assert.deepEqual(results[1], {
      project_id: PROJECT_A,
      job_id: badStatus.job_id,
      result: 'rejected',
      error: { code: 'TASKCENTER.0001', message: "jobs[1].status must be one of INIT, RUNNING, SUCCESS, FAIL, got 'DONE'" },
    });
    assert.deepEqual(results[2], {
      project_id: '',
      job_id: '',
      result: 'rejected',
      error: { code: 'TASKCENTER.0001', message: "jobs[2] must be an object, got 'not a job'" },
    });
    assert.equal(results[3]?.error?.message, "jobs[3].begin_time is not a real date, got '2019-02-30T10:00:00Z'");
    assert.equal(results[5]?.error?.message, "jobs[5].project_id must match ^[A-Za-z0-9_-]{1,64}$, got 'bad project'");
    assert.match(results[6]?.error?.message ?? '', /^jobs\[6\]\.resource is required for a top-level sdrs job/);
    assert.equal(results[7]?.error?.message, 'jobs[7].project_id is required');
    for (const r of results.filter((r) => r.result === 'rejected')) assert.equal(r.error?.code, 'TASKCENTER.0001');

    assert.equal((await getJob(server().app, PROJECT_A, good1.job_id)).statusCode, 200);
    assert.equal((await getJob(server().app, PROJECT_A, good2.job_id)).statusCode, 200);
    for (const bad of [badStatus, badDate, noResource]) assert.equal((await getJob(server().app, PROJECT_A, bad.job_id)).statusCode, 404);
  });

  it('applies the same job several times in one batch in order', async () => {
    const base = sdrsJob(init);
    const response = await postBatch(server().app, {
      jobs: [
        { project_id: PROJECT_A, ...base },
        { project_id: PROJECT_A, ...base, ...running },
        { project_id: PROJECT_A, ...base, ...running },
        { project_id: PROJECT_A, ...base, ...failed },
        { project_id: PROJECT_A, ...base, ...init },
        { project_id: PROJECT_B, ...base, ...running },
      ],
    });
    const results = response.json().results as BatchResult[];
    assert.deepEqual(
      results.map((r) => r.result),
      ['created', 'updated', 'unchanged', 'updated', 'rejected', 'created'],
    );
    assert.equal(results[4]?.error?.code, 'TASKCENTER.0004');
    assert.match(results[4]?.error?.message ?? '', /already FAIL/);
    const stored = (await getJob(server().app, PROJECT_A, base.job_id)).json();
    assert.equal(stored.status, 'FAIL');
    assert.equal(stored.fail_reason, 'volume is error!');
    assert.equal((await getJob(server().app, PROJECT_B, base.job_id)).json().status, 'RUNNING');

    // A later batch sees what the earlier one stored.
    const again = await postBatch(server().app, {
      jobs: [
        { project_id: PROJECT_A, ...base, ...failed },
        { project_id: PROJECT_A, ...base, ...running },
        { project_id: PROJECT_B, ...base, ...succeeded },
      ],
    });
    assert.deepEqual(
      (again.json().results as BatchResult[]).map((r) => r.result),
      ['unchanged', 'rejected', 'updated'],
    );
  });

  it('rejects only the item holding text the store cannot keep as sent', async () => {
    const good = sdrsJob();
    const bad = sdrsJob({ fail_reason: 'x\u0000y' });
    const response = await postBatch(server().app, {
      jobs: [
        { project_id: PROJECT_A, ...bad },
        { project_id: PROJECT_A, ...good },
      ],
    });
    assert.equal(response.statusCode, 200, response.body);
    const results = response.json().results as BatchResult[];
    assert.deepEqual(
      results.map((r) => r.result),
      ['rejected', 'created'],
    );
    assert.equal(results[0]?.error?.message, 'jobs[0].fail_reason must not contain the NUL character (\\u0000)');
    assert.equal((await getJob(server().app, PROJECT_A, good.job_id)).statusCode, 200);
    const marker = await listJobs(server().app, PROJECT_A, '?marker=a%00b');
    assert.match(taskcenterError(marker, 400, 'TASKCENTER.0001'), /^marker must not contain the NUL character/);
  });

  it('answers 200 with every item rejected when none is valid, storing nothing', async () => {
    const job = sdrsJob({ operation: 'explode' });
    const response = await postBatch(server().app, { jobs: [{ project_id: PROJECT_A, ...job }, 42] });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(
      (response.json().results as BatchResult[]).map((r) => r.result),
      ['rejected', 'rejected'],
    );
    assert.match((response.json().results as BatchResult[])[0]?.error?.message ?? '', /^jobs\[0\]\.operation must be one of create, delete,/);
    assert.equal((await getJob(server().app, PROJECT_A, job.job_id)).statusCode, 404);
  });

  it('takes 1000 jobs and refuses 1001 or none, whole', async () => {
    const project = freshProject();
    const thousand = Array.from({ length: 1000 }, (_, i) => ({ project_id: project, ...kpsJob({ job_id: `bulk-${String(i).padStart(4, '0')}` }) }));
    const full = await postBatch(server().app, { jobs: thousand });
    assert.equal(full.statusCode, 200);
    assert.ok((full.json().results as BatchResult[]).every((r) => r.result === 'created'));

    const over = await postBatch(server().app, { jobs: [...thousand, { project_id: project, ...kpsJob() }] });
    assert.equal(taskcenterError(over, 400, 'TASKCENTER.0001'), 'jobs must hold 1 to 1000 items, got 1001');
    assert.equal(taskcenterError(await postBatch(server().app, { jobs: [] }), 400, 'TASKCENTER.0001'), 'jobs must hold 1 to 1000 items, got 0');
    assert.equal(taskcenterError(await postBatch(server().app, {}), 400, 'TASKCENTER.0001'), 'jobs is required');
    assert.equal(taskcenterError(await postBatch(server().app, { jobs: {} }), 400, 'TASKCENTER.0001'), "jobs must be an array, got '{}'");
    assert.match(taskcenterError(await postBatch(server().app, { jobs: [1], extra: 1 }), 400, 'TASKCENTER.0001'), /^extra is not a known field/);
    const page = await listJobs(server().app, project, '?limit=1000');
    assert.equal(page.json().jobs.length, 1000);
    assert.equal(page.json().next_marker, null);
  });
});

describeEachEngine('producer API: validation messages', (server) => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['job_id pattern', sdrsJob({ job_id: 'job id!' }), /^job_id must match \^\[A-Za-z0-9\._-\]\{1,64\}\$, got 'job id!'$/],
    ['job_id length', sdrsJob({ job_id: 'j'.repeat(65) }), /^job_id must match /],
    ['unknown service', sdrsJob({ service: 'ecs' }), /^service must be one of sdrs, kps, got 'ecs'$/],
    [
      'unknown operation',
      sdrsJob({ operation: 'explode' }),
      /^operation must be one of create, delete, attach, detach, expand, resize, start, stop, reverse, failover, reprotect for service sdrs, got 'explode'$/,
    ],
    ['kps operation', kpsJob({ operation: 'create' }), /^operation must be one of reset, replace, unbind for service kps, got 'create'$/],
    ['unknown status', sdrsJob({ status: 'DONE' }), /^status must be one of INIT, RUNNING, SUCCESS, FAIL, got 'DONE'$/],
    ['30 February', sdrsJob({ begin_time: '2019-02-30T12:00:00Z' }), /^begin_time is not a real date, got '2019-02-30T12:00:00Z'$/],
    ['date without a zone', sdrsJob({ begin_time: '2019-01-21T12:56:35' }), /^begin_time must match .*, got '2019-01-21T12:56:35'$/],
    ['end_time not a date', sdrsJob({ end_time: 'later' }), /^end_time must match .*, got 'later'$/],
    [
      'end before begin',
      sdrsJob({ end_time: '2019-01-21T12:00:00.000Z' }),
      /^end_time must not be before begin_time \(2019-01-21T12:56:35.754Z\), got '2019-01-21T12:00:00.000Z'$/,
    ],
    [
      'end_time on a running job',
      sdrsJob({ ...running, end_time: '2019-01-21T12:58:00.000Z' }),
      /^end_time must be null until the job is SUCCESS or FAIL \(status is RUNNING\)$/,
    ],
    [
      'error_code on a non-FAIL job',
      sdrsJob({ ...succeeded, error_code: 'EVS.2024' }),
      /^error_code must be null unless status is FAIL \(status is SUCCESS\)$/,
    ],
    ['sdrs without resource', sdrsJob({ resource: null }), /^resource is required for a top-level sdrs job/],
    [
      'bad resource type',
      sdrsJob({ resource: { id: 'r', name: 'n', type: 'vm' } }),
      /^resource\.type must be one of server_groups, protected_instances, replications, disaster_recovery_drills, got 'vm'$/,
    ],
    ['member without group', sdrsJob({ server_group_id: null }), /^server_group_id is required for a protected_instances job/],
    ['kps without server', kpsJob({ server: null }), /^server is required for a top-level kps job/],
    ['kps without key pair', kpsJob({ keypair_name: null }), /^keypair_name is required for a top-level kps job$/],
    ['kps with sdrs fields', kpsJob({ resource: { id: 'r', name: 'n', type: 'replications' } }), /^resource is for sdrs jobs only$/],
    ['unknown extra field', sdrsJob({ colour: 'red' }), /^colour is not a known field; known fields: job_id, service, /],
    ['unknown entity', sdrsJob({ entities: { vm_id: 'x' } }), /^entities\.vm_id is not a known field; known fields: server_group_id, protected_instance_id, /],
    ['wrong type', sdrsJob({ job_type: 7 }), /^job_type must be a string, got '7'$/],
    ['missing field', sdrsJob({ job_type: undefined }), /^job_type is required$/],
    ['a NUL character', sdrsJob({ fail_reason: 'volume\u0000error' }), /^fail_reason must not contain the NUL character \(\\u0000\)$/],
    [
      'a NUL character deep inside',
      sdrsJob({ resource: { id: 'pi-1', name: 'a\u0000', type: 'protected_instances' } }),
      /^resource\.name must not contain the NUL character/,
    ],
    ['an unpaired surrogate', kpsJob({ keypair_name: 'key-\ud800' }), /^keypair_name must be well-formed Unicode \(it holds an unpaired surrogate\)$/],
    ['a FAIL report without end_time', sdrsJob({ end_time: null }), /^end_time is required when status is FAIL: when the job finished/],
    ['a SUCCESS report without end_time', kpsJob({ ...succeeded, end_time: undefined }), /^end_time is required when status is SUCCESS/],
    [
      'a server_group_id no route could name',
      sdrsJob({ server_group_id: 'bad!id' }),
      /^server_group_id must match \^\[A-Za-z0-9\._-\]\{1,64\}\$, got 'bad!id'$/,
    ],
    [
      'a protection group whose id no route could name',
      sdrsJob({ job_type: 'createServerGroup', resource: { id: 'g 1', name: 'g', type: 'server_groups' }, server_group_id: null }),
      /^resource\.id of a server_groups job is its protection group id, which must match \^\[A-Za-z0-9\._-\]\{1,64\}\$, got 'g 1'$/,
    ],
  ];
  for (const [name, job, message] of cases) {
    it(`refuses ${name} with 400 TASKCENTER.0001 naming the field and what is allowed`, async () => {
      const response = await putJob(server().app, PROJECT_A, job);
      assert.match(taskcenterError(response, 400, 'TASKCENTER.0001'), message);
      if (typeof job.job_id === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(job.job_id)) {
        assert.equal((await getJob(server().app, PROJECT_A, job.job_id)).statusCode, 404);
      }
    });
  }

  it('refuses text that is not UTF-8, naming the field and the byte, and stores nothing', async () => {
    const job = kpsJob({ job_id: 'utf8-put', server: { id: 'srv', name: 'NAME' } });
    const payload = Buffer.concat(
      JSON.stringify(job)
        .split('NAME')
        .flatMap((part, i) => (i === 0 ? [Buffer.from(part)] : [Buffer.from([0xff, 0xfe]), Buffer.from(part)])),
    );
    const put = await server().app.inject({
      method: 'PUT',
      url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/utf8-put`,
      headers: { 'x-auth-token': TOKENS.admin, 'content-type': 'application/json' },
      payload,
    });
    assert.match(taskcenterError(put, 400, 'TASKCENTER.0001'), /^server\.name must be valid UTF-8 text, got byte 0xff at offset \d+$/);
    assert.equal((await getJob(server().app, PROJECT_A, 'utf8-put')).statusCode, 404);

    // In a batch the body is refused whole: a body that is not UTF-8 is not JSON at all.
    const good = { project_id: PROJECT_A, ...kpsJob({ job_id: 'utf8-batch-ok' }) };
    const bad = { project_id: PROJECT_A, ...kpsJob({ job_id: 'utf8-batch-bad', keypair_name: 'KEY' }) };
    const text = JSON.stringify({ jobs: [good, bad] });
    const at = text.indexOf('KEY');
    const batch = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xc3, 0x28]), Buffer.from(text.slice(at + 3))]);
    const response = await server().app.inject({
      method: 'POST',
      url: '/taskcenter/v1/jobs/batch',
      headers: { 'x-auth-token': TOKENS.admin, 'content-type': 'application/json' },
      payload: batch,
    });
    assert.match(taskcenterError(response, 400, 'TASKCENTER.0001'), /^jobs\[1\]\.keypair_name must be valid UTF-8 text, got byte 0xc3 at offset \d+$/);
    assert.equal((await getJob(server().app, PROJECT_A, 'utf8-batch-ok')).statusCode, 404);
  });

  it('refuses a body that is not an object', async () => {
    for (const payload of ['[]', '"job"', 'null', '42']) {
      const response = await server().app.inject({
        method: 'PUT',
        url: `/taskcenter/v1/projects/${PROJECT_A}/jobs/j-1`,
        headers: { 'x-auth-token': TOKENS.admin, 'content-type': 'application/json' },
        payload,
      });
      assert.match(taskcenterError(response, 400, 'TASKCENTER.0001'), /^request body must be an object, got /, payload);
    }
  });

  it('refuses bad path parameters', async () => {
    assert.match(
      taskcenterError(await getJob(server().app, 'proj.a', 'j'), 400, 'TASKCENTER.0001'),
      /^project_id must match \^\[A-Za-z0-9_-\]\{1,64\}\$, got 'proj.a'$/,
    );
    assert.match(taskcenterError(await getJob(server().app, PROJECT_A, 'a%20b'), 400, 'TASKCENTER.0001'), /^job_id must match .*, got 'a b'$/);
  });
});

describeEachEngine('producer API: listing', (server) => {
  it('walks every job exactly once in job_id (bytewise) order with marker pagination', async () => {
    const project = freshProject();
    const ids = ['a', 'B', 'b', 'Z', '0', '9', '_x', '-x', '.x', 'a.b', 'a-b', 'a_b', 'aa', 'A', 'z', 'job-10', 'job-2', 'job-1'];
    for (const [i, id] of ids.entries()) {
      const job = i % 2 === 0 ? sdrsJob({ job_id: id }) : kpsJob({ job_id: id });
      assert.equal((await putJob(server().app, project, job)).statusCode, 201);
    }
    const expected = [...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));

    for (const limit of [1, 4, 7, 18, 100]) {
      const seen: string[] = [];
      let marker: string | null = null;
      let pages = 0;
      do {
        const response = await listJobs(server().app, project, `?limit=${limit}${marker === null ? '' : `&marker=${encodeURIComponent(marker)}`}`);
        assert.equal(response.statusCode, 200, response.body);
        const page = response.json() as { jobs: { job_id: string; project_id: string }[]; next_marker: string | null };
        assert.ok(page.jobs.length <= limit);
        assert.ok(page.jobs.every((j) => j.project_id === project));
        seen.push(...page.jobs.map((j) => j.job_id));
        marker = page.next_marker;
        if (marker !== null) assert.equal(marker, page.jobs.at(-1)?.job_id);
        pages++;
        assert.ok(pages <= ids.length + 1, 'pagination does not end');
      } while (marker !== null);
      assert.deepEqual(seen, expected, `limit ${limit}`);
      assert.equal(pages, Math.max(1, Math.ceil(ids.length / limit)), `limit ${limit}`);
    }
  });

  it('filters by service and status, and pages within the filter', async () => {
    const project = freshProject();
    const jobs = [
      sdrsJob({ job_id: 's-fail-1' }),
      sdrsJob({ job_id: 's-run-1', ...running }),
      kpsJob({ job_id: 'k-fail-1' }),
      kpsJob({ job_id: 'k-fail-2' }),
      kpsJob({ job_id: 'k-ok-1', ...succeeded }),
      kpsJob({ job_id: 'k-init-1', ...init }),
    ];
    for (const job of jobs) assert.equal((await putJob(server().app, project, job)).statusCode, 201);
    const ids = async (query: string) => ((await listJobs(server().app, project, query)).json().jobs as { job_id: string }[]).map((j) => j.job_id);
    assert.deepEqual(await ids('?service=kps'), ['k-fail-1', 'k-fail-2', 'k-init-1', 'k-ok-1']);
    assert.deepEqual(await ids('?service=sdrs'), ['s-fail-1', 's-run-1']);
    assert.deepEqual(await ids('?status=FAIL'), ['k-fail-1', 'k-fail-2', 's-fail-1']);
    assert.deepEqual(await ids('?status=FAIL&service=kps'), ['k-fail-1', 'k-fail-2']);
    assert.deepEqual(await ids('?status=RUNNING&service=kps'), []);
    const first = (await listJobs(server().app, project, '?status=FAIL&limit=2')).json();
    assert.equal(first.next_marker, 'k-fail-2');
    assert.deepEqual(await ids(`?status=FAIL&limit=2&marker=${first.next_marker}`), ['s-fail-1']);
    assert.deepEqual(await ids('?marker=zzz'), []);
  });

  it('defaults to 100 jobs a page and bounds limit to 1..1000', async () => {
    const project = freshProject();
    const jobs = Array.from({ length: 101 }, (_, i) => ({ project_id: project, ...sdrsJob({ job_id: `j-${String(i).padStart(3, '0')}` }) }));
    assert.equal((await postBatch(server().app, { jobs })).statusCode, 200);
    const page = (await listJobs(server().app, project)).json();
    assert.equal(page.jobs.length, 100);
    assert.equal(page.next_marker, 'j-099');
    assert.equal((await listJobs(server().app, project, '?limit=1000')).json().jobs.length, 101);
    for (const bad of ['0', '1001', 'abc', '1.5', '-1', '']) {
      const message = taskcenterError(await listJobs(server().app, project, `?limit=${bad}`), 400, 'TASKCENTER.0001');
      assert.equal(message, `limit must be an integer between 1 and 1000, got '${bad}'`);
    }
    assert.match(
      taskcenterError(await listJobs(server().app, project, '?status=DONE'), 400, 'TASKCENTER.0001'),
      /^status must be one of INIT, RUNNING, SUCCESS, FAIL, got 'DONE'$/,
    );
    assert.match(
      taskcenterError(await listJobs(server().app, project, '?service=ecs'), 400, 'TASKCENTER.0001'),
      /^service must be one of sdrs, kps, got 'ecs'$/,
    );
    assert.match(taskcenterError(await listJobs(server().app, project, '?marker=a%20b'), 400, 'TASKCENTER.0001'), /^marker must match /);
  });

  it('documents its limit rule in /openapi.json: 1 to 1000, default 100, and why 0 is refused', async () => {
    const doc = (await server().app.inject({ url: '/openapi.json' })).json();
    const parameters = doc.paths['/taskcenter/v1/projects/{project_id}/jobs'].get.parameters as {
      name: string;
      schema: Record<string, unknown>;
      description?: string;
    }[];
    const limit = parameters.find((p) => p.name === 'limit');
    assert.ok(limit !== undefined);
    assert.deepEqual([limit.schema.minimum, limit.schema.maximum, limit.schema.default], [1, 1000, 100]);
    assert.match(String(limit.description ?? limit.schema.description), /^Page size, 1 to 1000 \(default 100\); 0 is refused/);
  });

  it('takes an empty service, status or marker as not given', async () => {
    const project = freshProject();
    for (const job of [sdrsJob({ job_id: 'e-1' }), kpsJob({ job_id: 'e-2', ...running })])
      assert.equal((await putJob(server().app, project, job)).statusCode, 201);
    const response = await listJobs(server().app, project, '?service=&status=&marker=');
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(
      (response.json().jobs as { job_id: string }[]).map((j) => j.job_id),
      ['e-1', 'e-2'],
    );
  });
});

describeEachEngine('producer API: concurrent reports', (server) => {
  it('settles many racing PUTs of one job in one consistent terminal state, without a 500', async () => {
    for (let round = 0; round < 3; round++) {
      const base = sdrsJob();
      // Interleaved so every kind of report races every other; the order flips each round.
      const reports: Record<string, unknown>[] = [];
      for (let i = 0; i < 8; i++) {
        reports.push({ ...base, ...init }, { ...base, ...running });
        if (i % 2 === 0) reports.push({ ...base, ...succeeded }, { ...base, ...failed });
      }
      if (round % 2 === 1) reports.reverse();
      const responses = await Promise.all(reports.map((job) => putJob(server().app, PROJECT_A, job)));
      const statuses = responses.map((r) => r.statusCode);
      assert.ok(
        statuses.every((s) => s === 200 || s === 201 || s === 409),
        `statuses: ${statuses.join(' ')}\n${responses.find((r) => r.statusCode >= 500)?.body}`,
      );
      assert.equal(statuses.filter((s) => s === 201).length, 1, `statuses: ${statuses.join(' ')}`);
      for (const r of responses.filter((r) => r.statusCode === 409)) assert.equal(r.json().error.code, 'TASKCENTER.0004');

      const stored = (await getJob(server().app, PROJECT_A, base.job_id)).json();
      // The terminal state that won is the only terminal report accepted; the other one was refused every time.
      const winner = stored.status as string;
      const loser = winner === 'FAIL' ? 'SUCCESS' : 'FAIL';
      if (['FAIL', 'SUCCESS'].includes(winner)) {
        for (const [i, job] of reports.entries()) {
          if (job.status === loser) assert.equal(statuses[i], 409, `a ${loser} report was accepted after ${winner}`);
          if (job.status === winner) assert.notEqual(statuses[i], 409);
        }
        assert.equal(stored.end_time, '2019-01-21T12:58:00.000Z');
        assert.equal(stored.error_code, winner === 'FAIL' ? 'EVS.2024' : null);
      } else {
        assert.fail(`the job ended ${winner} although ${reports.filter((r) => r.status === 'FAIL').length} FAIL reports were sent`);
      }
    }
  });

  it('stores every job once when many batches create overlapping jobs at the same time', async () => {
    for (let round = 0; round < 20; round++) {
      const project = freshProject();
      const ids = Array.from({ length: 40 }, (_, i) => `k-${String(i).padStart(2, '0')}`);
      const states = [init, running, failed];
      // Each batch takes a different three fifths of the jobs, at different states.
      const batches = Array.from({ length: 10 }, (_, b) => ({
        jobs: ids.filter((_, i) => (i * 7 + b * 13) % 5 < 3).map((id, j) => ({ project_id: project, ...sdrsJob({ job_id: id }), ...states[(j + b) % 3] })),
      }));
      const responses = await Promise.all(batches.map((body) => postBatch(server().app, body)));
      const created = new Map<string, number>();
      for (const response of responses) {
        assert.equal(response.statusCode, 200, response.body);
        for (const r of response.json().results as BatchResult[]) {
          assert.ok(r.result !== 'rejected' || r.error?.code === 'TASKCENTER.0004', JSON.stringify(r));
          if (r.result === 'created') created.set(r.job_id, (created.get(r.job_id) ?? 0) + 1);
        }
      }
      const listed = (await listJobs(server().app, project, '?limit=1000')).json().jobs as { job_id: string; status: string }[];
      assert.deepEqual(
        [...created.keys()].sort(),
        listed.map((j) => j.job_id),
      );
      assert.ok(
        [...created.values()].every((n) => n === 1),
        'a job was created twice',
      );
      // Every job was reported FAIL by some batch, and a finished job never changes.
      assert.ok(
        listed.every((j) => j.status === 'FAIL'),
        JSON.stringify(listed.filter((j) => j.status !== 'FAIL')),
      );
    }
  });
});
