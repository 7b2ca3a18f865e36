/**
 * End to end with the official Huawei Cloud SDK core: a real listening server over a
 * fresh database on each engine, a client built with the core's ClientBuilder and
 * BasicCredentials (AK/SK signing, project id from the credentials), and every operation
 * of the producer API, SDRS and KPS answering parsed results; errors reach the caller as
 * the SDK's exceptions with the right code and request id in all three error shapes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines, kpsJob, PROJECT_A, sdrsJob, uniqueId } from '../helpers.js';
import { sdkError, taskCenterClient, type TaskCenterClient } from './sdk-client.js';
import { KEYS, startServer, type ListeningServer } from './sdk-server.js';

/** begin_time `n` seconds into 2024, end_time a second later: fixtures with a known order. */
function at(n: number): { begin_time: string; end_time: string } {
  const t = Date.UTC(2024, 0, 1) + n * 1000;
  return { begin_time: new Date(t).toISOString(), end_time: new Date(t + 1000).toISOString() };
}

for (const engine of engines) {
  describe(`official SDK core end to end [${engine}]`, () => {
    let server: ListeningServer;
    let alice: TaskCenterClient;
    before(async () => {
      server = await startServer(engine);
      alice = taskCenterClient(server.url, KEYS.alice, PROJECT_A);
    });
    after(async () => {
      await server?.close();
    });

    it('producer API: PUT a job (201, then 200) and GET it back', async () => {
      const job = sdrsJob({ job_id: uniqueId('job'), status: 'RUNNING', end_time: null, error_code: null, fail_reason: null });
      const created = await alice.call('putJob', String(job.job_id), job);
      assert.equal(created.httpStatusCode, 201);
      assert.equal(created.job_id, job.job_id);
      assert.equal(created.project_id, PROJECT_A);
      const failed = { ...job, status: 'FAIL', end_time: '2019-01-21T12:57:01.002Z', error_code: 'EVS.2024', fail_reason: 'volume is error! 磁盘 "full"' };
      assert.equal((await alice.call('putJob', String(job.job_id), failed)).httpStatusCode, 200);
      const shown = await alice.call('showJob', String(job.job_id));
      assert.equal(shown.httpStatusCode, 200);
      assert.equal(shown.status, 'FAIL');
      assert.equal(shown.fail_reason, 'volume is error! 磁盘 "full"');
    });

    describe('SDRS task center', () => {
      const group = uniqueId('group');
      const groupJob = sdrsJob({
        job_id: uniqueId('sg'),
        job_type: 'createServerGroup',
        resource: { id: group, name: "group (prod)*!'", type: 'server_groups' },
        server_group_id: group,
        entities: { server_group_id: group },
        ...at(2),
      });
      const otherGroupJob = sdrsJob({
        job_id: uniqueId('sg'),
        job_type: 'deleteServerGroup',
        operation: 'delete',
        resource: { id: 'other-group', name: 'other', type: 'server_groups' },
        server_group_id: 'other-group',
        entities: {},
        ...at(1),
      });
      const instanceJob = sdrsJob({
        job_id: uniqueId('pi'),
        server_group_id: group,
        resource: { id: 'pi-1', name: 'Protected-Instance-ab14', type: 'protected_instances' },
        ...at(3),
      });
      const pairJob = sdrsJob({
        job_id: uniqueId('rp'),
        job_type: 'attachReplicationPair',
        operation: 'attach',
        server_group_id: group,
        resource: { id: 'rp-1', name: 'pair-1', type: 'replications' },
        ...at(4),
      });

      before(async () => {
        for (const job of [groupJob, otherGroupJob, instanceJob, pairJob]) {
          assert.equal((await alice.call('putJob', String(job.job_id), job)).httpStatusCode, 201);
        }
      });

      it('ListFailureJobs: group-level failures by default, newest first, with the total count', async () => {
        const list = await alice.call('listFailureJobs');
        assert.equal(list.httpStatusCode, 200);
        const ids = (list.failure_jobs as { job_id: string }[]).map((j) => j.job_id);
        assert.deepEqual(ids, [groupJob.job_id, otherGroupJob.job_id]);
        assert.equal(list.count, 2);
        const first = (list.failure_jobs as Record<string, unknown>[])[0] as Record<string, unknown>;
        assert.equal(first.job_status, 'FAIL');
        assert.equal(first.failure_status, 'createFail');
        assert.equal(first.error_code, 'EVS.2024');
      });

      it('ListFailureJobs: every query parameter, including characters signed and sent differently', async () => {
        const inside = await alice.call('listFailureJobs', { server_group_id: group, limit: 1, offset: 1 });
        assert.equal(inside.count, 2);
        assert.deepEqual(
          (inside.failure_jobs as { job_id: string }[]).map((j) => j.job_id),
          [instanceJob.job_id],
        );
        const byName = await alice.call('listFailureJobs', { resource_name: "(prod)*!'", resource_type: 'server_groups', failure_status: 'createFail' });
        assert.deepEqual(
          (byName.failure_jobs as { job_id: string }[]).map((j) => j.job_id),
          [groupJob.job_id],
        );
        const none = await alice.call('listFailureJobs', { resource_name: 'no such name', limit: 0 });
        assert.equal(none.count, 0);
      });

      it('ShowJobStatus: the job with its entities', async () => {
        const job = await alice.call('showJobStatus', String(instanceJob.job_id));
        assert.equal(job.httpStatusCode, 200);
        assert.equal(job.status, 'FAIL');
        assert.equal(job.job_id, instanceJob.job_id);
        assert.equal(job.fail_reason, 'volume is error!');
        assert.equal((job.entities as Record<string, unknown>).protected_instance_id, 'pi-1');
      });

      it('DeleteFailureJob: 204, gone from the list, the job still shown', async () => {
        const deleted = await alice.call('deleteFailureJob', String(pairJob.job_id));
        assert.equal(deleted.httpStatusCode, 204);
        const inside = await alice.call('listFailureJobs', { server_group_id: group });
        assert.deepEqual(
          (inside.failure_jobs as { job_id: string }[]).map((j) => j.job_id),
          [instanceJob.job_id],
        );
        assert.equal((await alice.call('showJobStatus', String(pairJob.job_id))).status, 'FAIL');
      });

      it('DeleteServerGroupFailureJobs: clears the failures inside the group only', async () => {
        assert.equal((await alice.call('deleteServerGroupFailureJobs', group)).httpStatusCode, 204);
        assert.equal((await alice.call('listFailureJobs', { server_group_id: group })).count, 0);
        assert.equal((await alice.call('listFailureJobs')).count, 2);
      });

      it('DeleteAllServerGroupFailureJobs: clears the group-level failures', async () => {
        assert.equal((await alice.call('deleteAllServerGroupFailureJobs')).httpStatusCode, 204);
        assert.equal((await alice.call('listFailureJobs')).count, 0);
      });

      it('errors: the SDK reads code, message and request id out of the SDRS body', async () => {
        const missing = await sdkError(alice.call('showJobStatus', 'no-such-job'));
        assert.equal(missing.name, 'ClientRequestException');
        assert.equal(missing.httpStatusCode, 404);
        assert.match(missing.errorCode, /^SDRS\.\d{4}$/);
        assert.ok(missing.errorMsg.length > 0);
        assert.match(missing.requestId, /^[0-9a-f]{32}$/);
        const badLimit = await sdkError(alice.call('listFailureJobs', { limit: 1001 }));
        assert.equal(badLimit.httpStatusCode, 400);
        assert.equal(badLimit.errorCode, 'SDRS.0221');
        assert.match(badLimit.errorMsg, /limit/);
      });
    });

    describe('KPS key-pair tasks', () => {
      const failed = kpsJob({ job_id: uniqueId('task'), ...at(5) });
      const failedToo = kpsJob({ job_id: uniqueId('task'), operation: 'unbind', job_type: 'unbindKeypair', ...at(4) });
      const running = kpsJob({
        job_id: uniqueId('task'),
        operation: 'replace',
        job_type: 'replaceKeypair',
        status: 'RUNNING',
        end_time: null,
        error_code: null,
        fail_reason: null,
      });

      before(async () => {
        for (const job of [failed, failedToo, running]) {
          assert.equal((await alice.call('putJob', String(job.job_id), job)).httpStatusCode, 201);
        }
      });

      it('ListFailedTask: total and items, newest first', async () => {
        const list = await alice.call('listFailedTask', { limit: 10, offset: 0 });
        assert.equal(list.httpStatusCode, 200);
        assert.equal(list.total, 2);
        const tasks = list.tasks as Record<string, unknown>[];
        assert.deepEqual(
          tasks.map((t) => t.task_id),
          [failed.job_id, failedToo.job_id],
        );
        assert.equal(tasks[0]?.operate_type, 'FAILED_RESET');
        assert.equal(tasks[0]?.task_error_msg, 'Update public key error');
        assert.equal(tasks[1]?.operate_type, 'FAILED_UNBIND');
      });

      it('ListRunningTask and ListKeypairTask', async () => {
        const runningList = await alice.call('listRunningTask');
        assert.equal(runningList.total, 1);
        assert.equal((runningList.tasks as Record<string, unknown>[])[0]?.operate_type, 'RUNNING_REPLACE');
        const task = await alice.call('listKeypairTask', String(failed.job_id));
        assert.equal(task.httpStatusCode, 200);
        assert.equal(task.task_status, 'FAILED_RESET');
        assert.equal(task.server_id, 'c9aa197b-a6b6-4c33-b3a6-fa0b4ec50006');
      });

      it('DeleteFailedTask and DeleteAllFailedTask answer 200 and clear the list', async () => {
        assert.equal((await alice.call('deleteFailedTask', String(failed.job_id))).httpStatusCode, 200);
        assert.deepEqual(
          ((await alice.call('listFailedTask')).tasks as { task_id: string }[]).map((t) => t.task_id),
          [failedToo.job_id],
        );
        assert.equal((await alice.call('deleteAllFailedTask')).httpStatusCode, 200);
        assert.equal((await alice.call('listFailedTask')).total, 0);
        assert.equal((await alice.call('listRunningTask')).total, 1);
      });

      it('errors: the SDK reads code and request id out of the flat KPS body', async () => {
        const missing = await sdkError(alice.call('deleteFailedTask', 'no-such-task'));
        assert.equal(missing.httpStatusCode, 400);
        assert.match(missing.errorCode, /^KPS\.\d{4}$/);
        assert.ok(missing.errorMsg.length > 0);
        assert.match(missing.requestId, /^[0-9a-f]{32}$/);
      });
    });

    it('errors: the SDK reads the producer API body and the gateway body', async () => {
      const missing = await sdkError(alice.call('showJob', 'no-such-job'));
      assert.equal(missing.httpStatusCode, 404);
      assert.equal(missing.errorCode, 'TASKCENTER.0003');
      assert.match(missing.requestId, /^[0-9a-f]{32}$/);
      const wrongSk = taskCenterClient(server.url, { ak: KEYS.admin.ak, sk: 'not-the-secret' }, PROJECT_A);
      const refused = await sdkError(wrongSk.call('listFailureJobs'));
      assert.equal(refused.httpStatusCode, 401);
      assert.equal(refused.errorCode, 'APIGW.0301');
      assert.match(refused.errorMsg, /^Incorrect IAM authentication information: signature mismatch/);
      assert.match(refused.requestId, /^[0-9a-f]{32}$/);
    });
  });
}
