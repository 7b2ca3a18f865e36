/**
 * Temporary credentials end to end, through the official SDK core's temporary-credential
 * mode (`BasicCredentials().withSecurityToken(...)`, which sends X-Security-Token): a
 * temporary key works with its token before it expires; without it, with another one,
 * after expiry, and a permanent key with a token are each a 401 APIGW.0301 saying why,
 * that changes nothing and never echoes a token.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/context.js';
import { engines, kpsJob, PROJECT_A, sdrsJob, uniqueId } from '../helpers.js';
import { sdkError, taskCenterClient, type TaskCenterClient } from './sdk-client.js';
import { KEYS, startServer, TEMPORARY_KEYS, type ListeningServer } from './sdk-server.js';

for (const engine of engines) {
  describe(`temporary credentials through the SDK core [${engine}]`, () => {
    let server: ListeningServer;
    let alice: TaskCenterClient;
    const group = sdrsJob({
      job_id: uniqueId('tg'),
      job_type: 'createServerGroup',
      resource: { id: 'tg', name: 'tg', type: 'server_groups' },
      server_group_id: 'tg',
      entities: {},
    });
    const task = kpsJob({ job_id: uniqueId('tt') });

    /** Project A's failures and failed tasks, as alice (a permanent key) sees them. */
    async function state(): Promise<{ failures: string[]; tasks: string[] }> {
      const failures = ((await alice.call('listFailureJobs')).failure_jobs as { job_id: string }[]).map((j) => j.job_id).sort();
      const tasks = ((await alice.call('listFailedTask')).tasks as { task_id: string }[]).map((t) => t.task_id).sort();
      return { failures, tasks };
    }

    before(async () => {
      server = await startServer(engine);
      alice = taskCenterClient(server.url, KEYS.alice, PROJECT_A);
      for (const job of [group, task]) assert.equal((await alice.call('putJob', String(job.job_id), job)).httpStatusCode, 201);
    });
    after(async () => {
      await server?.close();
    });

    /** Every call a refused client makes: two deletes and a report; each must be a 401 with `reason`. */
    async function assertRefusedEverywhere(client: TaskCenterClient, reason: RegExp, secrets: readonly string[]): Promise<void> {
      const before_ = await state();
      const jobId = uniqueId('refused');
      // One call at a time: a call made before the previous one is awaited may be refused
      // while nothing handles its promise yet, which the test runner counts as a failure.
      for (const call of [
        () => client.call('deleteFailureJob', String(group.job_id)),
        () => client.call('deleteFailedTask', String(task.job_id)),
        () => client.call('putJob', jobId, sdrsJob({ job_id: jobId })),
        () => client.call('listFailureJobs'),
      ]) {
        const error = await sdkError(call());
        assert.equal(error.httpStatusCode, 401);
        assert.equal(error.errorCode, 'APIGW.0301');
        assert.match(error.errorMsg, /^Incorrect IAM authentication information: /);
        assert.match(error.errorMsg, reason);
        for (const secret of secrets) assert.ok(!error.errorMsg.includes(secret), 'the message holds a secret');
      }
      assert.deepEqual(await state(), before_, 'nothing changed');
      assert.equal((await sdkError(alice.call('showJob', jobId))).httpStatusCode, 404);
    }

    it('lets a temporary key with its security token read, report and clear', async () => {
      const temp = taskCenterClient(server.url, TEMPORARY_KEYS.valid, PROJECT_A);
      assert.deepEqual(
        ((await temp.call('listFailureJobs')).failure_jobs as { job_id: string }[]).map((j) => j.job_id),
        [group.job_id],
      );
      const jobId = uniqueId('temp');
      assert.equal((await temp.call('putJob', jobId, kpsJob({ job_id: jobId }))).httpStatusCode, 201);
      assert.equal((await temp.call('deleteFailedTask', jobId)).httpStatusCode, 200);
      assert.equal((await alice.call('listKeypairTask', jobId)).task_status, 'FAILED_RESET');
    });

    it('refuses a temporary key without its security token', async () => {
      const { ak, sk } = TEMPORARY_KEYS.valid;
      await assertRefusedEverywhere(
        taskCenterClient(server.url, { ak, sk }, PROJECT_A),
        /access key 'TEMPVALIDAKTEMPVALI1' is temporary: the request must carry the X-Security-Token issued with it/,
        [sk],
      );
    });

    it('refuses a temporary key with a security token that is not its own', async () => {
      const forged = 'forged-security-token-0123456789';
      await assertRefusedEverywhere(
        taskCenterClient(server.url, { ...TEMPORARY_KEYS.valid, securityToken: forged }, PROJECT_A),
        /the X-Security-Token is not the one issued with temporary access key 'TEMPVALIDAKTEMPVALI1'/,
        [forged, TEMPORARY_KEYS.valid.securityToken],
      );
      // Another temporary key's token is not this one's either.
      await assertRefusedEverywhere(
        taskCenterClient(server.url, { ...TEMPORARY_KEYS.valid, securityToken: TEMPORARY_KEYS.expired.securityToken }, PROJECT_A),
        /is not the one issued with temporary access key/,
        [TEMPORARY_KEYS.expired.securityToken],
      );
    });

    it('refuses an expired temporary key, even with its own token', async () => {
      await assertRefusedEverywhere(
        taskCenterClient(server.url, TEMPORARY_KEYS.expired, PROJECT_A),
        /temporary access key 'TEMPEXPIREDAKTEMPEX1' expired at \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/,
        [TEMPORARY_KEYS.expired.securityToken],
      );
    });

    it('refuses a permanent key that sends a security token', async () => {
      await assertRefusedEverywhere(
        taskCenterClient(server.url, { ...KEYS.alice, securityToken: TEMPORARY_KEYS.valid.securityToken }, PROJECT_A),
        /access key 'ALICEAKALICEAKALICE1' is permanent: a request signed with it must not carry an X-Security-Token/,
        [TEMPORARY_KEYS.valid.securityToken],
      );
    });
  });
}

describe('the logger', () => {
  it('never writes a security token', () => {
    let written = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        written += chunk.toString('utf8');
        done();
      },
    });
    const logger = createLogger({ logLevel: 'info' }, sink);
    logger.info({ req: { headers: { 'x-security-token': 'sekrit-one' } }, headers: { 'x-security-token': 'sekrit-two' }, security_token: 'sekrit-three' }, 'x');
    assert.match(written, /"x"/);
    assert.doesNotMatch(written, /sekrit/);
  });
});
