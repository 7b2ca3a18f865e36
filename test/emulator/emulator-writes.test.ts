/**
 * The emulator's writes through a listening server on both engines: reset, the snapshot
 * round trip (export → reset → import → export byte for byte, lists and counts as
 * before), import errors, and jobs that progress by themselves.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { it } from 'node:test';
import { MAX_JSON_DEPTH } from '../../src/validation.js';
import { kpsJob, PROJECT_A, PROJECT_B, reportJobs, sdrsJob, TOKENS } from '../helpers.js';
import { assertListingsExact, describeEmulator, type Answer, type EmulatorServer } from './emulator-server.js';

function nested(answer: Answer, status: number, code: string): string {
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.json().error.code, code, answer.text);
  return answer.json().error.message;
}

/** What the public APIs answer for a project: every list and every job's status. */
async function views(server: EmulatorServer, project: string, jobIds: readonly string[]): Promise<string[]> {
  const paths = [
    `/v1/${project}/task-center/failure-jobs`,
    `/v1/${project}/task-center/failure-jobs?resource_type=protected_instances`,
    `/v1/${project}/task-center/failure-jobs?server_group_id=group-1`,
    `/v3/${project}/failed-tasks`,
    `/v3/${project}/running-tasks`,
    `/taskcenter/v1/projects/${project}/summary`,
    ...jobIds.map((id) => `/v1/${project}/jobs/${id}`),
  ];
  const out: string[] = [];
  for (const path of paths) {
    const answer = await server.call('GET', path);
    out.push(`${path} ${answer.status} ${answer.text}`);
  }
  return out;
}

const ndjson = { 'content-type': 'application/x-ndjson' };

describeEmulator('emulator writes', (server) => {
  it('resets one project, then everything, as its principal may', async () => {
    await reportJobs(server().app, 'reset-a', [sdrsJob(), sdrsJob(), kpsJob()]);
    await reportJobs(server().app, 'reset-b', [sdrsJob()]);
    nested(await server().call('POST', '/taskcenter/v1/emulator/reset', { token: TOKENS.alice, body: {} }), 403, 'TASKCENTER.0005');
    nested(await server().call('POST', '/taskcenter/v1/emulator/reset', { token: TOKENS.alice, body: { project_id: 'reset-a' } }), 403, 'TASKCENTER.0005');
    nested(await server().call('POST', '/taskcenter/v1/emulator/reset', { body: { project_id: 'bad/id' } }), 400, 'TASKCENTER.0001');
    const one = await server().call('POST', '/taskcenter/v1/emulator/reset', { body: { project_id: 'reset-a' } });
    assert.deepEqual([one.status, one.json()], [200, { deleted_jobs: 3 }]);
    const list = await server().call('GET', '/v1/reset-a/task-center/failure-jobs');
    assert.deepEqual(list.json(), { failure_jobs: [], count: 0 });
    assert.equal((await server().call('GET', '/v1/reset-b/task-center/failure-jobs?resource_type=protected_instances')).json().count, 1);
    await assertListingsExact(server().ctx, 1);
    const all = await server().call('POST', '/taskcenter/v1/emulator/reset', { body: {} });
    assert.equal(all.status, 200);
    assert.ok(all.json().deleted_jobs >= 1);
    assert.equal((await server().call('GET', '/v1/reset-b/task-center/failure-jobs?resource_type=protected_instances')).json().count, 0);
    assert.equal((await server().call('GET', '/taskcenter/v1/emulator/export')).text, '');
    await assertListingsExact(server().ctx, 0);
  });

  it('round-trips a snapshot byte for byte, and every list answers as before', async () => {
    const project = 'snap-a';
    const parent = sdrsJob({ job_id: 'snap-parent', resource: { id: 'group-1', name: 'g', type: 'server_groups' }, server_group_id: 'group-1' });
    const jobs = [
      parent,
      sdrsJob({ job_id: 'snap-sub', parent_job_id: 'snap-parent', resource: null, server_group_id: null, entities: { volume_ids: 'v1,v2' } }),
      sdrsJob({ job_id: 'snap-cleared', begin_time: '2020-01-01T00:00:00.123Z', end_time: '2020-01-01T00:01:00.000Z' }),
      sdrsJob({ job_id: 'snap-running', status: 'RUNNING', end_time: null, error_code: null, fail_reason: null }),
      kpsJob({ job_id: 'snap-kps' }),
      kpsJob({ job_id: 'snap-kps-running', status: 'INIT', end_time: null, fail_reason: null }),
      sdrsJob({ job_id: 'snap-unicode', fail_reason: 'tab\there, 中文, "quotes" \\ and emoji 😀' }),
    ];
    await reportJobs(server().app, project, jobs);
    await reportJobs(server().app, 'snap-b', [sdrsJob({ job_id: 'snap-other' })]);
    assert.equal((await server().call('DELETE', `/v1/${project}/task-center/failure-jobs/snap-cleared`)).status, 204);
    const ids = jobs.map((j) => String(j.job_id));
    const before = await views(server(), project, ids);
    const exported = (await server().call('GET', `/taskcenter/v1/emulator/export?project_id=${project}`)).text;
    assert.equal(exported.split('\n').length, jobs.length + 1);
    assert.match(exported, /"failure_cleared":true/);

    assert.equal((await server().call('POST', '/taskcenter/v1/emulator/reset', { body: { project_id: project } })).json().deleted_jobs, jobs.length);
    assert.notDeepEqual(await views(server(), project, ids), before);
    const imported = await server().call('POST', '/taskcenter/v1/emulator/import', { body: exported, headers: ndjson });
    assert.deepEqual([imported.status, imported.json()], [200, { imported: jobs.length, unchanged: 0 }]);
    assert.equal((await server().call('GET', `/taskcenter/v1/emulator/export?project_id=${project}`)).text, exported);
    assert.deepEqual(await views(server(), project, ids), before);

    const again = await server().call('POST', '/taskcenter/v1/emulator/import', { body: exported, headers: ndjson });
    assert.deepEqual(again.json(), { imported: 0, unchanged: jobs.length });
    assert.equal(
      (await server().call('GET', '/v1/snap-b/task-center/failure-jobs?resource_type=protected_instances')).json().count,
      1,
      'other projects untouched',
    );
    await assertListingsExact(server().ctx, jobs.length + 1);
  });

  it('refuses a bad snapshot naming the line, and stores none of it', async () => {
    const good = (id: string) => {
      const job = {
        project_id: 'imp-a',
        ...sdrsJob({ job_id: id }),
        failure_cleared: false,
        created_at: '2024-01-01T00:00:00.000Z',
        updated_at: '2024-01-01T00:00:00.000Z',
      };
      return JSON.stringify(job);
    };
    const cases: [string, RegExp][] = [
      [`${good('i-1')}\n${good('i-2')}\n{"project_id":`, /^line 3: not valid JSON/],
      [`${good('i-1')}\n\n${JSON.stringify({ ...JSON.parse(good('i-2')), status: 'DONE' })}\n`, /^line 3: status must be one of/],
      [`${good('i-1')}\n${JSON.stringify({ ...JSON.parse(good('i-2')), end_time: null })}\n`, /^line 2: end_time is required/],
      [`${JSON.stringify({ ...JSON.parse(good('i-1')), created_at: 'yesterday' })}\n`, /^line 1: created_at/],
      // Found by test/fuzz/routes: a deep line was a 500 (issue 11 items 1 and 8).
      [
        `${good('i-1')}\n${'['.repeat(100_000)}${']'.repeat(100_000)}\n`,
        new RegExp(`^line 2: (\\[0\\]){${MAX_JSON_DEPTH}} is nested too deeply: .* at most ${MAX_JSON_DEPTH} levels$`),
      ],
      [good('i-1').replace('"volume is error!"', `${'['.repeat(5000)}${']'.repeat(5000)}`), /^line 1: fail_reason(\[0\])+ is nested too deeply/],
    ];
    for (const [body, message] of cases) {
      assert.match(nested(await server().call('POST', '/taskcenter/v1/emulator/import', { body, headers: ndjson }), 400, 'TASKCENTER.0001'), message);
    }
    assert.equal((await server().call('GET', '/taskcenter/v1/emulator/export?project_id=imp-a')).text, '', 'nothing stored');
    const json = await server().call('POST', '/taskcenter/v1/emulator/import', { body: good('i-1') });
    nested(json, 400, 'TASKCENTER.0002');
    const foreign = `${good('i-1')}\n${good('i-2').replace('"imp-a"', `"${PROJECT_B}"`)}\n`;
    const forbidden = await server().call('POST', '/taskcenter/v1/emulator/import', {
      token: TOKENS.alice,
      body: foreign.replaceAll('"imp-a"', `"${PROJECT_A}"`),
      headers: ndjson,
    });
    assert.match(nested(forbidden, 403, 'TASKCENTER.0005'), /^line 2: principal 'alice' has no access to project 'proj-b'/);
    assert.equal((await server().call('GET', `/taskcenter/v1/emulator/export?project_id=${PROJECT_A}`)).text, '');
    await assertListingsExact(server().ctx, 8);
  });

  it('moves a progressing job INIT → RUNNING → FAIL by advance, through every view', async () => {
    const body = {
      project_id: 'prog-a',
      ...sdrsJob({ job_id: 'prog-1' }),
      status: undefined,
      end_time: undefined,
      error_code: undefined,
      fail_reason: undefined,
      progress: { start_after_ms: 3_600_000, run_ms: 3_600_000, outcome: 'FAIL', error_code: 'EVS.2024', fail_reason: 'volume is error!' },
      sub_jobs: [
        {
          ...sdrsJob({ job_id: 'prog-1-sub' }),
          status: undefined,
          end_time: undefined,
          error_code: undefined,
          fail_reason: undefined,
          resource: undefined,
          server_group_id: undefined,
          progress: { outcome: 'SUCCESS' },
        },
      ],
    };
    const created = await server().call('POST', '/taskcenter/v1/emulator/jobs', { body });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json().status, 'INIT');
    const status = async () => (await server().call('GET', '/v1/prog-a/jobs/prog-1')).json();
    assert.equal((await status()).status, 'INIT');
    nested(await server().call('POST', '/taskcenter/v1/emulator/jobs', { body }), 409, 'TASKCENTER.0004');

    const running = await server().call('POST', '/taskcenter/v1/emulator/jobs/prog-a/prog-1/advance');
    assert.equal(running.json().status, 'RUNNING', running.text);
    assert.equal((await status()).status, 'RUNNING');
    assert.equal((await server().call('GET', '/v1/prog-a/task-center/failure-jobs?resource_type=protected_instances')).json().count, 0);
    const failed = await server().call('POST', '/taskcenter/v1/emulator/jobs/prog-a/prog-1/advance');
    assert.equal(failed.json().status, 'FAIL');
    const shown = await status();
    assert.deepEqual([shown.status, shown.error_code, shown.fail_reason], ['FAIL', 'EVS.2024', 'volume is error!']);
    assert.ok(shown.end_time !== null);
    const list = (await server().call('GET', '/v1/prog-a/task-center/failure-jobs?resource_type=protected_instances')).json();
    assert.deepEqual(
      list.failure_jobs.map((j: any) => [j.job_id, j.failure_status, j.error_code]),
      [['prog-1', 'createFail', 'EVS.2024']],
    );
    nested(await server().call('POST', '/taskcenter/v1/emulator/jobs/prog-a/prog-1/advance'), 404, 'TASKCENTER.0003');

    // The sub-job moves as its own progress says: at once, to SUCCESS.
    for (let i = 0; i < 200 && shown.entities.sub_jobs?.[0]?.status !== 'SUCCESS'; i++) {
      await sleep(25);
      shown.entities = (await status()).entities;
    }
    assert.equal(shown.entities.sub_jobs[0].status, 'SUCCESS');
    // The parent and its sub-job are two rows.
    await assertListingsExact(server().ctx, 10);
  });

  it('moves a progressing job by itself, seen INIT, RUNNING, then FAIL', async () => {
    const body = {
      project_id: 'prog-b',
      ...kpsJob({ job_id: 'prog-2' }),
      status: 'INIT',
      end_time: undefined,
      fail_reason: undefined,
      error_code: undefined,
      progress: { start_after_ms: 300, run_ms: 300, outcome: 'FAIL', fail_reason: 'Update public key error' },
    };
    assert.equal((await server().call('POST', '/taskcenter/v1/emulator/jobs', { body })).status, 201);
    const seen: string[] = [];
    for (let i = 0; i < 400 && seen.at(-1) !== 'FAILED_RESET'; i++) {
      const state = (await server().call('GET', '/v3/prog-b/tasks/prog-2')).json().task_status;
      if (seen.at(-1) !== state) seen.push(state);
      await sleep(20);
    }
    assert.deepEqual(seen, ['READY_RESET', 'RUNNING_RESET', 'FAILED_RESET']);
    assert.equal((await server().call('GET', '/v3/prog-b/failed-tasks')).json().total, 1);
    await assertListingsExact(server().ctx, 11);
  });

  it('refuses a progressing job a producer could not report, naming the field', async () => {
    const base = {
      project_id: 'prog-c',
      ...kpsJob({ job_id: 'prog-3' }),
      status: undefined,
      end_time: undefined,
      fail_reason: undefined,
      error_code: undefined,
    };
    const cases: [object, RegExp][] = [
      [{ ...base, progress: { outcome: 'SUCCESS', error_code: 'X' } }, /progress.error_code is for a FAIL outcome only/],
      [{ ...base, progress: { outcome: 'MAYBE' } }, /progress.outcome/],
      [{ ...base, status: 'RUNNING', progress: { outcome: 'FAIL' } }, /status/],
      [{ ...base, server: undefined, progress: { outcome: 'FAIL' } }, /server is required/],
    ];
    for (const [body, message] of cases) {
      assert.match(nested(await server().call('POST', '/taskcenter/v1/emulator/jobs', { body }), 400, 'TASKCENTER.0001'), message);
    }
    nested(
      await server().call('POST', '/taskcenter/v1/emulator/jobs', { token: TOKENS.alice, body: { ...base, progress: { outcome: 'FAIL' } } }),
      403,
      'TASKCENTER.0005',
    );
  });
});
