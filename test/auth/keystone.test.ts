/**
 * `--auth keystone` against a real OpenStack Keystone (see keystone-server.ts): project
 * scoping, roles, expired and revoked tokens, Keystone down, and AK/SK beside it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { signRequest } from '../../src/auth/aksk.js';
import { ACCESS_KEYS, engines, kpsJob, PROJECT_A, putJob, putNewJob, requestIdOf, sdrsJob } from '../helpers.js';
import { createKeystoneTestServer, describeWithKeystone, freePort, type KeystoneServer, type KeystoneTestServer } from './keystone-server.js';

const READER = { name: 'reader-only', password: randomBytes(9).toString('hex') };

function sleepUntil(time: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, time - Date.now())));
}

/** Asserts the API gateway's 401 and that `token`, when given, is not echoed. */
function assertUnauthenticated(response: LightMyRequestResponse, token?: string): void {
  assert.equal(response.statusCode, 401, response.body);
  const body = response.json();
  assert.equal(body.error_code, 'APIGW.0301');
  assert.match(body.error_msg, /^Incorrect IAM authentication information: /);
  assert.equal(body.request_id, requestIdOf(response.headers));
  if (token !== undefined) assert.ok(!response.body.includes(token), 'the token is echoed');
}

/** Asserts 503 in each route's own error format. */
function assertUnavailable(responses: { taskcenter: LightMyRequestResponse; sdrs: LightMyRequestResponse; kps: LightMyRequestResponse }): void {
  for (const response of Object.values(responses)) assert.equal(response.statusCode, 503, response.body);
  assert.equal(responses.taskcenter.json().error.code, 'TASKCENTER.0010');
  assert.equal(responses.sdrs.json().error.code, 'SDRS.0905');
  assert.match(responses.sdrs.json().error.message, /Keystone\) is unavailable; retry later/);
  assert.equal(responses.kps.json().error_code, 'KPS.9006');
  assert.match(responses.kps.json().error_msg, /Keystone\) is unavailable/);
}

describeWithKeystone('Keystone authentication against a real Keystone', (keystone) => {
  /** Project P: the bootstrap admin's project. Q: another one the admin also administers. */
  let projectP = '';
  let projectQ = '';

  before(async () => {
    const ks = keystone();
    projectP = ks.admin.projectId;
    projectQ = await ks.createProject('project-q');
    await ks.grant(ks.admin.userId, projectQ, 'admin');
    const readerId = await ks.createUser(READER.name, READER.password);
    await ks.grant(readerId, projectP, 'reader');
  });

  const adminToken = async (projectId: string, instance?: Parameters<KeystoneServer['issue']>[3]) =>
    (await keystone().issue('admin', keystone().admin.password, projectId, instance)).token;
  const readerToken = async () => (await keystone().issue(READER.name, READER.password, projectP)).token;

  /** GETs one route of each API in `projectId` with `token`. */
  async function readAll(server: KeystoneTestServer, projectId: string, token: string) {
    const headers = { 'x-auth-token': token };
    const [taskcenter, sdrs, kps] = await Promise.all([
      server.app.inject({ url: `/taskcenter/v1/projects/${projectId}/jobs`, headers }),
      server.app.inject({ url: `/v1/${projectId}/task-center/failure-jobs?resource_type=protected_instances`, headers }),
      server.app.inject({ url: `/v3/${projectId}/failed-tasks`, headers }),
    ]);
    return { taskcenter, sdrs, kps };
  }

  for (const engine of engines) {
    describe(`with the service's store on ${engine}`, () => {
      let server: KeystoneTestServer | undefined;
      const app = () => {
        if (server === undefined) throw new Error('server not started');
        return server.app;
      };
      before(async () => {
        server = await createKeystoneTestServer(engine, keystone().url, keystone().admin);
      });
      after(async () => {
        await server?.close();
      });

      it("lets a project-scoped token read its project's jobs through the producer, SDRS and KPS APIs", async () => {
        const writer = await adminToken(projectP);
        const failure = sdrsJob();
        const task = kpsJob();
        await putNewJob(app(), projectP, failure, writer);
        await putNewJob(app(), projectP, task, writer);

        const reader = await readerToken();
        const { taskcenter, sdrs, kps } = await readAll(server!, projectP, reader);
        assert.equal(taskcenter.statusCode, 200, taskcenter.body);
        const ids = taskcenter.json().jobs.map((job: { job_id: string }) => job.job_id);
        assert.ok(ids.includes(failure.job_id) && ids.includes(task.job_id), taskcenter.body);
        assert.equal(sdrs.statusCode, 200, sdrs.body);
        assert.ok(
          sdrs.json().failure_jobs.some((job: { job_id: string }) => job.job_id === failure.job_id),
          sdrs.body,
        );
        assert.equal(kps.statusCode, 200, kps.body);
        assert.ok(
          kps.json().tasks.some((t: { task_id: string }) => t.task_id === task.job_id),
          kps.body,
        );

        const headers = { 'x-auth-token': reader };
        const status = await app().inject({ url: `/v1/${projectP}/jobs/${String(failure.job_id)}`, headers });
        assert.equal(status.statusCode, 200, status.body);
        assert.equal(status.json().status, 'FAIL');
        const keypairTask = await app().inject({ url: `/v3/${projectP}/tasks/${String(task.job_id)}`, headers });
        assert.equal(keypairTask.statusCode, 200, keypairTask.body);
        assert.equal(keypairTask.json().task_status, 'FAILED_RESET');
      });

      it("refuses the same token on another project with 403 in each route's dialect", async () => {
        const tokenP = await adminToken(projectP);
        const { taskcenter, sdrs, kps } = await readAll(server!, projectQ, tokenP);
        assert.equal(taskcenter.statusCode, 403, taskcenter.body);
        assert.equal(taskcenter.json().error.code, 'TASKCENTER.0005');
        assert.equal(sdrs.statusCode, 403, sdrs.body);
        assert.equal(sdrs.json().error.code, 'SDRS.0005');
        assert.match(sdrs.json().error.message, new RegExp(`in project '${projectQ}'`));
        assert.equal(kps.statusCode, 403, kps.body);
        assert.equal(kps.json().error_code, 'KPS.9003');
        const write = await putJob(app(), projectQ, sdrsJob(), tokenP);
        assert.equal(write.statusCode, 403, write.body);

        const tokenQ = await adminToken(projectQ);
        const own = await readAll(server!, projectQ, tokenQ);
        for (const response of Object.values(own)) assert.equal(response.statusCode, 200, response.body);
        assert.equal((await putJob(app(), projectQ, sdrsJob(), tokenQ)).statusCode, 201);
      });

      it('lets a reader-only user read but not delete or write (403), while admin may', async () => {
        const writer = await adminToken(projectP);
        const failure = sdrsJob({ resource: { id: 'pi-9', name: 'reader-test', type: 'protected_instances' } });
        const task = kpsJob();
        await putNewJob(app(), projectP, failure, writer);
        await putNewJob(app(), projectP, task, writer);

        const reader = await readerToken();
        const headers = { 'x-auth-token': reader };
        const deleteFailure = await app().inject({ method: 'DELETE', url: `/v1/${projectP}/task-center/failure-jobs/${String(failure.job_id)}`, headers });
        assert.equal(deleteFailure.statusCode, 403, deleteFailure.body);
        assert.equal(deleteFailure.json().error.code, 'SDRS.0005');
        assert.match(deleteFailure.json().error.message, /keystone user reader-only .*sdrs:failureJobs:delete/);
        const deleteBatch = await app().inject({ method: 'DELETE', url: `/v1/${projectP}/task-center/failure-jobs/batch`, headers });
        assert.equal(deleteBatch.statusCode, 403, deleteBatch.body);
        const deleteTask = await app().inject({ method: 'DELETE', url: `/v3/${projectP}/failed-tasks/${String(task.job_id)}`, headers });
        assert.equal(deleteTask.statusCode, 403, deleteTask.body);
        assert.equal(deleteTask.json().error_code, 'KPS.9003');
        const write = await putJob(app(), projectP, sdrsJob(), reader);
        assert.equal(write.statusCode, 403, write.body);
        assert.equal(write.json().error.code, 'TASKCENTER.0005');

        const list = await app().inject({
          url: `/v1/${projectP}/task-center/failure-jobs?resource_name=reader-test&resource_type=protected_instances`,
          headers,
        });
        assert.equal(list.json().count, 1, 'the refused delete changed nothing');

        const asAdmin = await app().inject({
          method: 'DELETE',
          url: `/v1/${projectP}/task-center/failure-jobs/${String(failure.job_id)}`,
          headers: { 'x-auth-token': writer },
        });
        assert.equal(asAdmin.statusCode, 204, asAdmin.body);
        const after = await app().inject({
          url: `/v1/${projectP}/task-center/failure-jobs?resource_name=reader-test&resource_type=protected_instances`,
          headers,
        });
        assert.equal(after.json().count, 0);
      });

      it('answers 401 APIGW.0301 to unknown and missing tokens', async () => {
        const unknown = 'gAAAAABnot-a-real-fernet-token-' + randomBytes(8).toString('hex');
        assertUnauthenticated(await app().inject({ url: `/v1/${projectP}/task-center/failure-jobs`, headers: { 'x-auth-token': unknown } }), unknown);
        const none = await app().inject({ url: `/v3/${projectP}/failed-tasks` });
        assertUnauthenticated(none);
        assert.match(none.json().error_msg, /no X-Auth-Token header/);
      });

      it('still accepts AK/SK signatures from the credentials file', async () => {
        const url = `/v1/${PROJECT_A}/task-center/failure-jobs`;
        const headers = signRequest({ method: 'GET', url, host: 'localhost:80' }, ACCESS_KEYS.alice);
        const signed = await app().inject({ url, headers });
        assert.equal(signed.statusCode, 200, signed.body);
        const forged = signRequest({ method: 'GET', url, host: 'localhost:80' }, { ak: ACCESS_KEYS.alice.ak, sk: 'not-the-secret-key' });
        assertUnauthenticated(await app().inject({ url, headers: forged }));
      });
    });
  }

  describe('revoked tokens', () => {
    it('are trusted until their cache entry lapses, then refused with 401', async () => {
      const longCache = await createKeystoneTestServer('sqlite', keystone().url, keystone().admin, { cacheTtl: 300 });
      const shortCache = await createKeystoneTestServer('sqlite', keystone().url, keystone().admin, { cacheTtl: 1 });
      try {
        const token = await adminToken(projectP);
        const url = `/v1/${projectP}/task-center/failure-jobs`;
        const headers = { 'x-auth-token': token };
        assert.equal((await longCache.app.inject({ url, headers })).statusCode, 200);
        assert.equal((await shortCache.app.inject({ url, headers })).statusCode, 200);
        const validatedAt = Date.now();

        await keystone().revoke(token);
        assert.equal((await longCache.app.inject({ url, headers })).statusCode, 200, 'served from the cache (300 s)');
        await sleepUntil(validatedAt + 1100);
        assertUnauthenticated(await shortCache.app.inject({ url, headers }), token);
      } finally {
        await longCache.close();
        await shortCache.close();
      }
    });
  });

  describe('expired tokens', () => {
    it("are refused with 401 once expired, whatever the cache TTL; the service's own token is renewed", async () => {
      const shortLived = await keystone().startInstance({ expirationSeconds: 8 });
      const server = await createKeystoneTestServer('sqlite', shortLived.url, keystone().admin, { cacheTtl: 300 });
      try {
        const issued = await keystone().issue('admin', keystone().admin.password, projectP, shortLived);
        const url = `/v3/${projectP}/failed-tasks`;
        const headers = { 'x-auth-token': issued.token };
        const before = await server.app.inject({ url, headers });
        assert.equal(before.statusCode, 200, before.body);

        await sleepUntil(issued.expiresAt + 500);
        assertUnauthenticated(await server.app.inject({ url, headers }), issued.token);
        // The service token was issued before the caller's, so it has expired too.
        const fresh = await adminToken(projectP, shortLived);
        assert.equal((await server.app.inject({ url, headers: { 'x-auth-token': fresh } })).statusCode, 200);
      } finally {
        await server.close();
        await shortLived.stop();
      }
    });
  });

  describe('Keystone down', () => {
    it("answers 503 in each route's format when Keystone cannot be reached, and AK/SK still works", async () => {
      const port = await freePort();
      const server = await createKeystoneTestServer('sqlite', `http://127.0.0.1:${port}`, keystone().admin);
      try {
        assertUnavailable(await readAll(server, projectP, await adminToken(projectP)));
        const url = `/v1/${PROJECT_A}/task-center/failure-jobs`;
        const signed = await server.app.inject({ url, headers: signRequest({ method: 'GET', url, host: 'localhost:80' }, ACCESS_KEYS.alice) });
        assert.equal(signed.statusCode, 200, signed.body);
      } finally {
        await server.close();
      }
    });

    it('keeps serving cached tokens when Keystone stops, and answers 503 for new ones', async () => {
      const instance = await keystone().startInstance();
      const server = await createKeystoneTestServer('sqlite', instance.url, keystone().admin);
      try {
        const known = await adminToken(projectP);
        assert.equal((await readAll(server, projectP, known)).sdrs.statusCode, 200);
        const unseen = await adminToken(projectP);
        await instance.stop();
        const cached = await readAll(server, projectP, known);
        for (const response of Object.values(cached)) assert.equal(response.statusCode, 200, response.body);
        assertUnavailable(await readAll(server, projectP, unseen));
      } finally {
        await server.close();
        await instance.stop();
      }
    });
  });
});
