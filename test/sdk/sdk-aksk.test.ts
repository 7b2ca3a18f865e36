/**
 * AK/SK refusals end to end, against a listening server: requests signed by the official
 * SDK's own signer and then changed on the way (path, query, a signed header, body), wrong
 * and unknown keys, stale and future dates, an X-Project-Id for another project, callers
 * without the project or the action, and the 5-strikes lockout. Each must be refused
 * in the right format and change nothing.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { stringify } from 'node:querystring';
import { after, before, describe, it } from 'node:test';
import { BasicCredentials } from '@huaweicloud/huaweicloud-sdk-core';
import { AKSKSigner } from '@huaweicloud/huaweicloud-sdk-core/auth/AKSKSigner.js';
import { formatSdkDate } from '../../src/auth/aksk.js';
import { engines, kpsJob, PROJECT_A, requestIdOf, sdrsJob, uniqueId } from '../helpers.js';
import { sdkError, taskCenterClient, type TaskCenterClient } from './sdk-client.js';
import { KEYS, startServer, type ListeningServer } from './sdk-server.js';

interface RawRequest {
  method: string;
  /** Path and query as sent. */
  path: string;
  headers: Record<string, string>;
  body: string;
}

interface RawResponse {
  status: number;
  headers: Record<string, unknown>;
  json: Record<string, unknown>;
}

/**
 * Signs like the SDK core does for a BasicCredentials client (X-Project-Id, JSON content
 * type, the core's own AKSKSigner) and returns the request as its HTTP client would send it.
 */
function sdkSigned(
  server: ListeningServer,
  key: { ak: string; sk: string },
  spec: { method: string; path: string; query?: Record<string, string | number>; data?: unknown; headers?: Record<string, string> },
): RawRequest {
  const credential = new BasicCredentials().withAk(key.ak).withSk(key.sk);
  const headers = { 'content-type': 'application/json', 'X-Project-Id': PROJECT_A, ...spec.headers };
  const signed = AKSKSigner.sign(
    { endpoint: server.url + spec.path, method: spec.method, headers, queryParams: spec.query ?? {}, data: spec.data } as never,
    credential,
  ) as Record<string, unknown>;
  const query = stringify(spec.query ?? {});
  return {
    method: spec.method,
    path: spec.path + (query === '' ? '' : `?${query}`),
    headers: Object.fromEntries(Object.entries(signed).map(([name, value]) => [name.toLowerCase(), String(value)])),
    body: spec.data === undefined ? '' : JSON.stringify(spec.data),
  };
}

/**
 * A GET signed by hand, word for word as the official signers (the Python, Go and Java SDK
 * cores) do it, without src/auth/aksk.ts: the canonical URI is the raw path decoded as a
 * whole, split on `/`, each segment encoded, with a trailing `/`.
 */
function recipeSigned(server: ListeningServer, key: { ak: string; sk: string }, rawPath: string): RawRequest {
  const encode = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  const uri = decodeURIComponent(rawPath).split('/').map(encode).join('/') + '/';
  const sdkDate = formatSdkDate(Date.now());
  const headers = { host: server.host, 'x-sdk-date': sdkDate };
  const canonical = ['GET', uri, '', `host:${headers.host}\nx-sdk-date:${sdkDate}\n`, 'host;x-sdk-date', createHash('sha256').update('').digest('hex')].join(
    '\n',
  );
  const toSign = `SDK-HMAC-SHA256\n${sdkDate}\n${createHash('sha256').update(canonical).digest('hex')}`;
  const sig = createHmac('sha256', key.sk).update(toSign).digest('hex');
  return {
    method: 'GET',
    path: rawPath,
    headers: { ...headers, authorization: `SDK-HMAC-SHA256 Access=${key.ak}, SignedHeaders=host;x-sdk-date, Signature=${sig}` },
    body: '',
  };
}

/** Sends exactly these headers (Host included) with node:http. */
function send(server: ListeningServer, req: RawRequest): Promise<RawResponse> {
  const port = Number(server.host.split(':')[1]);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: req.method,
        path: req.path,
        headers: { ...req.headers, 'content-length': String(Buffer.byteLength(req.body)) },
        setHost: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: response.statusCode ?? 0, headers: response.headers, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) });
        });
      },
    );
    outgoing.on('error', reject);
    outgoing.end(req.body);
  });
}

/** Asserts the gateway's 401 APIGW.0301 body with `reason` after its prefix. */
function assertRefused(response: RawResponse, reason: RegExp): void {
  assert.equal(response.status, 401, JSON.stringify(response.json));
  assert.equal(response.json.error_code, 'APIGW.0301');
  assert.match(String(response.json.error_msg), /^Incorrect IAM authentication information: /);
  assert.match(String(response.json.error_msg), reason);
  assert.equal(response.json.request_id, requestIdOf(response.headers));
}

for (const engine of engines) {
  describe(`AK/SK refusals end to end [${engine}]`, () => {
    let server: ListeningServer;
    let alice: TaskCenterClient;
    const groupA = sdrsJob({
      job_id: uniqueId('ga'),
      job_type: 'createServerGroup',
      resource: { id: 'ga', name: 'ga', type: 'server_groups' },
      server_group_id: 'ga',
      entities: {},
    });
    const groupB = sdrsJob({
      job_id: uniqueId('gb'),
      job_type: 'createServerGroup',
      resource: { id: 'gb', name: 'gb', type: 'server_groups' },
      server_group_id: 'gb',
      entities: {},
    });
    const task = kpsJob({ job_id: uniqueId('task') });

    /** The failure jobs and failed tasks of project A now, as alice sees them. */
    async function state(): Promise<{ failures: string[]; tasks: string[] }> {
      const failures = ((await alice.call('listFailureJobs')).failure_jobs as { job_id: string }[]).map((j) => j.job_id).sort();
      const tasks = ((await alice.call('listFailedTask')).tasks as { task_id: string }[]).map((t) => t.task_id).sort();
      return { failures, tasks };
    }

    async function absent(jobId: string): Promise<void> {
      const error = await sdkError(alice.call('showJob', jobId));
      assert.equal(error.httpStatusCode, 404, `job ${jobId} should not exist`);
    }

    let before_: { failures: string[]; tasks: string[] };
    before(async () => {
      server = await startServer(engine);
      alice = taskCenterClient(server.url, KEYS.alice, PROJECT_A);
      for (const job of [groupA, groupB, task]) assert.equal((await alice.call('putJob', String(job.job_id), job)).httpStatusCode, 201);
      before_ = await state();
      assert.deepEqual(before_.failures, [groupA.job_id, groupB.job_id].sort());
      assert.deepEqual(before_.tasks, [task.job_id]);
    });
    after(async () => {
      await server?.close();
    });

    const failurePath = (jobId: unknown) => `/v1/${PROJECT_A}/task-center/failure-jobs/${String(jobId)}`;
    const producerPath = (jobId: string) => `/taskcenter/v1/projects/${PROJECT_A}/jobs/${jobId}`;

    it('accepts the SDK signer untouched (the baseline the tampering tests change one thing of)', async () => {
      const ok = await send(server, sdkSigned(server, KEYS.alice, { method: 'GET', path: `/v1/${PROJECT_A}/task-center/failure-jobs`, query: { limit: 1 } }));
      assert.equal(ok.status, 200, JSON.stringify(ok.json));
      assert.equal(ok.json.count, 2);
    });

    it("answers a job id with an encoded slash, signed by the official recipe, with the route's own 400, and never locks the key", async () => {
      for (let i = 0; i < 6; i++) {
        const response = await send(server, recipeSigned(server, KEYS.mallory, `/v1/${PROJECT_A}/jobs/ab%2Fcd`));
        assert.equal(response.status, 400, JSON.stringify(response.json));
        assert.deepEqual(response.json, { error: { code: 'SDRS.0201', message: "job_id must match ^[A-Za-z0-9._-]{1,64}$, got 'ab/cd'" } });
      }
      const ok = await send(server, recipeSigned(server, KEYS.mallory, `/v1/${PROJECT_A}/jobs/${String(groupA.job_id)}`));
      assert.equal(ok.status, 200, JSON.stringify(ok.json));
      assert.equal(ok.json.job_id, groupA.job_id);
    });

    it('refuses a tampered path', async () => {
      const signed = sdkSigned(server, KEYS.alice, { method: 'DELETE', path: failurePath(groupA.job_id) });
      assertRefused(await send(server, { ...signed, path: failurePath(groupB.job_id) }), /signature mismatch/);
      assert.deepEqual(await state(), before_);
    });

    it('refuses a tampered query', async () => {
      const list = sdkSigned(server, KEYS.alice, { method: 'GET', path: `/v1/${PROJECT_A}/task-center/failure-jobs`, query: { limit: 1 } });
      assertRefused(await send(server, { ...list, path: list.path.replace('limit=1', 'limit=2') }), /signature mismatch/);
      const del = sdkSigned(server, KEYS.alice, { method: 'DELETE', path: `/v3/${PROJECT_A}/failed-tasks/${String(task.job_id)}` });
      assertRefused(await send(server, { ...del, path: `${del.path}?all=true` }), /signature mismatch/);
      assert.deepEqual(await state(), before_);
    });

    it('refuses a tampered signed header', async () => {
      const jobId = uniqueId('hdr');
      const signed = sdkSigned(server, KEYS.alice, { method: 'PUT', path: producerPath(jobId), data: sdrsJob({ job_id: jobId }) });
      assertRefused(await send(server, { ...signed, headers: { ...signed.headers, host: `localhost:${server.host.split(':')[1]}` } }), /signature mismatch/);
      assertRefused(await send(server, { ...signed, headers: { ...signed.headers, 'content-type': 'application/json; charset=utf-8' } }), /signature mismatch/);
      await absent(jobId);
    });

    it('refuses a tampered body', async () => {
      const jobId = uniqueId('body');
      const job = sdrsJob({ job_id: jobId, status: 'RUNNING', end_time: null, error_code: null, fail_reason: null });
      const signed = sdkSigned(server, KEYS.alice, { method: 'PUT', path: producerPath(jobId), data: job });
      assertRefused(await send(server, { ...signed, body: JSON.stringify({ ...job, status: 'INIT' }) }), /signature mismatch/);
      // Same JSON, different bytes: the body is signed as sent, not as parsed.
      assertRefused(await send(server, { ...signed, body: JSON.stringify(job, null, 1) }), /signature mismatch/);
      await absent(jobId);
      assert.equal((await send(server, signed)).status, 201, 'the untouched request goes through');
    });

    it('refuses a wrong SK and an unknown AK', async () => {
      const jobId = uniqueId('key');
      const spec = { method: 'PUT', path: producerPath(jobId), data: sdrsJob({ job_id: jobId }) };
      assertRefused(await send(server, sdkSigned(server, { ak: KEYS.alice.ak, sk: 'not-alice-secret' }, spec)), /signature mismatch/);
      assertRefused(
        await send(server, sdkSigned(server, { ak: 'NOSUCHACCESSKEY00001', sk: KEYS.alice.sk }, spec)),
        /unknown access key 'NOSUCHACCESSKEY00001'/,
      );
      await absent(jobId);
    });

    it('refuses a stale and a future X-Sdk-Date', async () => {
      const minutes = 60 * 1000;
      for (const offset of [-20 * minutes, 20 * minutes]) {
        const signed = sdkSigned(server, KEYS.alice, {
          method: 'DELETE',
          path: failurePath(groupA.job_id),
          headers: { 'X-Sdk-Date': formatSdkDate(Date.now() + offset) },
        });
        assertRefused(await send(server, signed), /X-Sdk-Date \d{8}T\d{6}Z is outside the 15-minute window/);
      }
      assert.deepEqual(await state(), before_);
    });

    it('refuses an X-Project-Id that is not the path project', async () => {
      const signed = sdkSigned(server, KEYS.admin, { method: 'DELETE', path: failurePath(groupA.job_id), headers: { 'X-Project-Id': 'proj-b' } });
      assertRefused(await send(server, signed), /X-Project-Id 'proj-b' does not match the project in the path 'proj-a'/);
      assert.deepEqual(await state(), before_);
    });

    it("answers a principal of project B on project A with the service's 403", async () => {
      const bob = taskCenterClient(server.url, KEYS.bob, PROJECT_A);
      const sdrs = await sdkError(bob.call('deleteFailureJob', String(groupA.job_id)));
      assert.equal(sdrs.httpStatusCode, 403);
      assert.equal(sdrs.errorCode, 'SDRS.0005');
      assert.match(sdrs.errorMsg, /principal 'bob' is not allowed to perform sdrs:failureJobs:delete in project 'proj-a'/);
      assert.match(sdrs.requestId, /^[0-9a-f]{32}$/);
      assert.equal((await sdkError(bob.call('deleteAllFailedTask'))).errorCode, 'KPS.9003');
      assert.equal((await sdkError(bob.call('listFailureJobs'))).errorCode, 'SDRS.0005');
      const jobId = uniqueId('bob');
      assert.equal((await sdkError(bob.call('putJob', jobId, sdrsJob({ job_id: jobId })))).errorCode, 'TASKCENTER.0005');
      await absent(jobId);
      assert.deepEqual(await state(), before_);
    });

    it('lets a read-only principal read but not delete', async () => {
      const reader = taskCenterClient(server.url, KEYS.reader, PROJECT_A);
      assert.equal((await reader.call('listFailureJobs')).count, 2);
      const sdrs = await sdkError(reader.call('deleteFailureJob', String(groupA.job_id)));
      assert.equal(sdrs.httpStatusCode, 403);
      assert.equal(sdrs.errorCode, 'SDRS.0005');
      const kps = await sdkError(reader.call('deleteFailedTask', String(task.job_id)));
      assert.equal(kps.httpStatusCode, 403);
      assert.equal(kps.errorCode, 'KPS.9003');
      assert.equal((await sdkError(reader.call('deleteAllServerGroupFailureJobs'))).errorCode, 'SDRS.0005');
      assert.deepEqual(await state(), before_);
    });

    it('locks an access key after 5 consecutive bad signatures, refusing even the right SK', async () => {
      const forger = taskCenterClient(server.url, { ak: KEYS.mallory.ak, sk: 'guessed-secret' }, PROJECT_A);
      for (let i = 1; i <= 4; i++) {
        const error = await sdkError(forger.call('deleteFailureJob', String(groupA.job_id)));
        assert.equal(error.errorCode, 'APIGW.0301');
        assert.match(error.errorMsg, /signature mismatch: check the SK/);
      }
      const fifth = await sdkError(forger.call('deleteFailureJob', String(groupA.job_id)));
      assert.match(fifth.errorMsg, /access key 'MALLORYAKMALLORYAK01' is now locked from this address for 5 minutes after 5 consecutive bad signatures/);
      const owner = taskCenterClient(server.url, KEYS.mallory, PROJECT_A);
      const locked = await sdkError(owner.call('deleteFailureJob', String(groupA.job_id)));
      assert.equal(locked.httpStatusCode, 401);
      assert.equal(locked.errorCode, 'APIGW.0301');
      assert.match(locked.errorMsg, /is locked from this address for another \d+ s after 5 consecutive bad signatures/);
      assert.deepEqual(await state(), before_, 'other keys still work and nothing changed');
    });
  });
}
