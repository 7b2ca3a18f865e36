/**
 * The emulator as a user's SDK-based test sees it, with the official Huawei Cloud SDK
 * core signing every call: a fault rule fails ListFailureJobs twice with the SDRS error
 * body, then it answers; the core's own retry (endpoint failover, its only one: on 504
 * and connection errors, once, to the next endpoint) rides over a 504 fault; a
 * progressing job is seen INIT, RUNNING, then FAIL through ShowJobStatus and is then in
 * ListFailureJobs.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { engines, PROJECT_A, sdrsJob, TOKENS } from '../helpers.js';
import { sdkError, taskCenterClient, type TaskCenterClient } from './sdk-client.js';
import { KEYS, startServer, type ListeningServer } from './sdk-server.js';

for (const engine of engines) {
  describe(`official SDK core against the emulator [${engine}]`, () => {
    let server: ListeningServer;
    let alice: TaskCenterClient;
    const control = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${server.url}/taskcenter/v1/emulator${path}`, {
        method,
        headers: { 'x-auth-token': TOKENS.admin, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.text()) || 'null' };
    };
    before(async () => {
      server = await startServer(engine, { emulator: '1' });
      alice = taskCenterClient(server.url, KEYS.alice, PROJECT_A);
    });
    after(async () => {
      await server?.close();
    });

    it('fails ListFailureJobs twice with the SDRS error body, then answers', async () => {
      const added = await control('POST', '/faults', { operation: 'ListFailureJobs', status: 503, times: 2 });
      assert.equal(added.status, 201, added.body);
      for (let i = 0; i < 2; i++) {
        const error = await sdkError(alice.call('listFailureJobs'));
        assert.equal(error.httpStatusCode, 503);
        assert.equal(error.errorCode, 'SDRS.0905');
        assert.match(error.errorMsg, /fault injected/);
        assert.match(error.requestId, /^[0-9a-f]{32}$/);
      }
      const answer = await alice.call('listFailureJobs');
      assert.equal(answer.httpStatusCode, 200);
      assert.equal(answer.count, 0);
    });

    it("rides over a 504 with the core's endpoint retry", async () => {
      assert.equal((await control('POST', '/faults', { operation: 'ListFailedTask', status: 504, times: 1 })).status, 201);
      // Two endpoints, as for a region with a backup: the core retries a 504 once, on the other.
      const retrying = taskCenterClient([server.url, server.url] as unknown as string, KEYS.alice, PROJECT_A);
      const answer = await retrying.call('listFailedTask');
      assert.equal(answer.httpStatusCode, 200);
      const faults = JSON.parse((await control('GET', '/faults')).body).faults as { operation: string; fired: number }[];
      assert.deepEqual(
        faults.filter((f) => f.operation === 'ListFailedTask').map((f) => f.fired),
        [1],
      );
    });

    it('shows a progressing job INIT, RUNNING, then FAIL, then in the failure list', async () => {
      const job = sdrsJob({ job_id: `sdk-prog-${engine}` });
      const { status: _s, end_time: _e, error_code: _c, fail_reason: _f, ...doc } = job;
      const created = await control('POST', '/jobs', {
        project_id: PROJECT_A,
        ...doc,
        // Each step waits far longer than one signed call takes on a loaded machine (the first
        // took over 400 ms once, and INIT went unseen).
        progress: { start_after_ms: 1500, run_ms: 1500, outcome: 'FAIL', error_code: 'EVS.2024', fail_reason: 'volume is error!' },
      });
      assert.equal(created.status, 201, created.body);
      const seen: string[] = [];
      for (let i = 0; i < 500 && seen.at(-1) !== 'FAIL'; i++) {
        const shown = await alice.call('showJobStatus', String(job.job_id));
        if (seen.at(-1) !== shown.status) seen.push(shown.status as string);
        await sleep(20);
      }
      assert.deepEqual(seen, ['INIT', 'RUNNING', 'FAIL']);
      const list = await alice.call('listFailureJobs', { resource_type: 'protected_instances' });
      const item = (list.failure_jobs as { job_id: string; failure_status: string; error_code: string }[]).find((j) => j.job_id === job.job_id);
      assert.deepEqual(item && [item.failure_status, item.error_code], ['createFail', 'EVS.2024']);
    });
  });
}
