/**
 * Kept list pages (src/jobs/list-cache.ts) on both engines: a page is served from memory
 * while its project's lists are unchanged — shown by an edit made behind the service's
 * back, which stays invisible until a real change — and every kind of change is seen at
 * once: reports (single and batched), a task moving between lists, an item changing in
 * place, single and batch deletes of both APIs, and writes by another process on the
 * same store. Another project's writes leave a project's pages alone, authorization
 * still runs first, and `--list-cache-mb 0` keeps nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config.js';
import { listVersion, listVersions } from '../../src/jobs/listing.store.js';
import {
  buildTestApp,
  createTestApp,
  engines,
  kpsJob,
  PROJECT_A,
  PROJECT_B,
  putJob,
  putNewJob,
  reportJobs,
  sdrsJob,
  sdrsInGroupFailure,
  timeAt,
  TOKENS,
  writeTestCredentials,
  type TestApp,
} from '../helpers.js';

const HEADERS = { 'x-auth-token': TOKENS.admin };
const SDRS_LIST = `/v1/${PROJECT_A}/task-center/failure-jobs`;
const IN_GROUP_LIST = `/v1/${PROJECT_A}/task-center/failure-jobs?server_group_id=g-1`;
const KPS_FAILED = `/v3/${PROJECT_A}/failed-tasks`;
const KPS_RUNNING = `/v3/${PROJECT_A}/running-tasks`;

function groupFailure(id: string, n: number): Record<string, unknown> {
  return sdrsJob({
    job_id: id,
    begin_time: timeAt(n),
    end_time: timeAt(n + 1),
    resource: { id: `g-${id}`, name: `group ${id}`, type: 'server_groups' },
    server_group_id: `g-${id}`,
  });
}

for (const engine of engines) {
  describe(`kept list pages [${engine}]`, () => {
    let server: TestApp;
    const configure = (listCacheMb: string) => (db: string, dir: string) =>
      loadConfig({ db, credentials: writeTestCredentials(dir), logLevel: 'silent', listCacheMb }, {});

    before(async () => {
      server = await createTestApp(engine, configure('16'));
    });
    after(async () => {
      await server.close();
    });

    async function list(url: string, app = server.app): Promise<Record<string, unknown>> {
      const response = await app.inject({ url, headers: HEADERS });
      assert.equal(response.statusCode, 200, response.body);
      assert.match(String(response.headers['content-type']), /^application\/json/);
      return response.json() as Record<string, unknown>;
    }
    const ids = (body: Record<string, unknown>, field: string, id: string) => (body[field] as Record<string, unknown>[]).map((item) => item[id]);
    const sdrsIds = async (url = SDRS_LIST, app = server.app) => ids(await list(url, app), 'failure_jobs', 'job_id');
    const kpsIds = async (url: string) => ids(await list(url), 'tasks', 'task_id');
    /** Renames a stored item behind the service's back: only a page rendered again shows it. */
    const editBehindTheBack = (jobId: string) =>
      sql`update jobs set list_item = replace(list_item, ${`"job_id":"${jobId}"`}, ${`"job_id":"${jobId}-edited"`}) where job_id = ${jobId}`.execute(
        server.ctx.db.kysely,
      );

    it('serves a kept page until the project’s lists change, then the new one', async () => {
      await putNewJob(server.app, PROJECT_A, groupFailure('kept-1', 10));
      assert.deepEqual(await sdrsIds(), ['kept-1']);
      await editBehindTheBack('kept-1');
      assert.deepEqual(await sdrsIds(), ['kept-1'], 'the kept page was not served');

      const version = await listVersion(server.ctx.db.kysely, PROJECT_A);
      await putNewJob(server.app, PROJECT_A, groupFailure('kept-2', 20));
      assert.equal(await listVersion(server.ctx.db.kysely, PROJECT_A), version + 1);
      assert.deepEqual(await sdrsIds(), ['kept-2', 'kept-1-edited']);
    });

    it('keeps each page apart: another query, another page of the same list, another project', async () => {
      assert.deepEqual(await sdrsIds(`${SDRS_LIST}?limit=1`), ['kept-2']);
      assert.deepEqual(await sdrsIds(`${SDRS_LIST}?limit=1&offset=1`), ['kept-1-edited']);
      assert.deepEqual(await sdrsIds(`${SDRS_LIST}?limit=1000`), ['kept-2', 'kept-1-edited']);
      assert.deepEqual(await sdrsIds(`/v1/${PROJECT_B}/task-center/failure-jobs`), []);
      assert.deepEqual(await sdrsIds(`${SDRS_LIST}?resource_name=kept-9`), []);
      assert.deepEqual(await sdrsIds(`${SDRS_LIST}?resource_name=${encodeURIComponent('group kept-2')}`), ['kept-2']);
    });

    it('leaves a project’s pages alone when only another project or a job in no list changes', async () => {
      const before = await listVersion(server.ctx.db.kysely, PROJECT_A);
      await putNewJob(server.app, PROJECT_B, groupFailure('other-project', 30));
      await putNewJob(server.app, PROJECT_A, sdrsJob({ status: 'SUCCESS', error_code: undefined, fail_reason: undefined }));
      assert.equal(await listVersion(server.ctx.db.kysely, PROJECT_A), before);
      assert.deepEqual(await sdrsIds(`/v1/${PROJECT_B}/task-center/failure-jobs`), ['other-project']);
    });

    it('reads the versions of several projects in one statement, 0 for a project never changed', async () => {
      const db = server.ctx.db.kysely;
      const a = await listVersion(db, PROJECT_A);
      const b = await listVersion(db, PROJECT_B);
      assert.ok(a > 0 && b > 0);
      const versions = await listVersions(db, [PROJECT_A, 'never-written', PROJECT_B]);
      assert.deepEqual(
        [PROJECT_A, 'never-written', PROJECT_B].map((p) => versions.get(p) ?? 0),
        [a, 0, b],
      );
      const many = Array.from({ length: 150 }, (_, i) => `absent-${i}`).concat(PROJECT_B);
      assert.equal((await listVersions(db, many)).get(PROJECT_B), b, 'past one statement’s worth of projects');
    });

    it('answers 403 to a caller without the project even when the page is kept', async () => {
      await list(SDRS_LIST);
      const response = await server.app.inject({ url: SDRS_LIST, headers: { 'x-auth-token': TOKENS.bob } });
      assert.equal(response.statusCode, 403);
      assert.equal(response.json().error.code, 'SDRS.0005');
    });

    it('sees batched reports and every SDRS delete at once', async () => {
      assert.deepEqual(await sdrsIds(IN_GROUP_LIST), []);
      await reportJobs(server.app, PROJECT_A, [
        sdrsInGroupFailure('in-1', 'g-1', 'protected_instances', 40),
        sdrsInGroupFailure('in-2', 'g-1', 'replications', 41),
        groupFailure('kept-3', 42),
      ]);
      assert.deepEqual(await sdrsIds(IN_GROUP_LIST), ['in-2', 'in-1']);
      assert.deepEqual(await sdrsIds(), ['kept-3', 'kept-2', 'kept-1-edited']);

      const one = await server.app.inject({ method: 'DELETE', url: `${SDRS_LIST}/in-2`, headers: HEADERS });
      assert.equal(one.statusCode, 204);
      assert.deepEqual(await sdrsIds(IN_GROUP_LIST), ['in-1']);
      const group = await server.app.inject({ method: 'DELETE', url: `/v1/${PROJECT_A}/task-center/g-1/failure-jobs/batch`, headers: HEADERS });
      assert.equal(group.statusCode, 204);
      assert.deepEqual(await sdrsIds(IN_GROUP_LIST), []);
      const all = await server.app.inject({ method: 'DELETE', url: `${SDRS_LIST}/batch`, headers: HEADERS });
      assert.equal(all.statusCode, 204);
      const emptied = await list(SDRS_LIST);
      assert.deepEqual(emptied, { failure_jobs: [], count: 0 });
    });

    it('sees a KPS task move from running to failed, change in place, and leave through both deletes', async () => {
      const task = kpsJob({ job_id: 'task-1', status: 'INIT', end_time: undefined, fail_reason: undefined, begin_time: timeAt(50) });
      await putNewJob(server.app, PROJECT_A, task);
      assert.deepEqual(await kpsIds(KPS_RUNNING), ['task-1']);
      assert.deepEqual(await kpsIds(KPS_FAILED), []);

      // The same counts, a different item: a running task reported again under another key pair.
      const renamed = await putJob(server.app, PROJECT_A, { ...task, status: 'RUNNING', keypair_name: 'KeyPair-new' });
      assert.equal(renamed.statusCode, 200, renamed.body);
      assert.deepEqual(ids(await list(KPS_RUNNING), 'tasks', 'keypair_name'), ['KeyPair-new']);

      await putJob(server.app, PROJECT_A, {
        ...task,
        status: 'FAIL',
        keypair_name: 'KeyPair-new',
        end_time: timeAt(51),
        fail_reason: 'Update public key error',
      });
      assert.deepEqual(await kpsIds(KPS_RUNNING), []);
      assert.deepEqual(await kpsIds(KPS_FAILED), ['task-1']);
      assert.equal((await list(KPS_FAILED)).total, 1);

      await putNewJob(server.app, PROJECT_A, kpsJob({ job_id: 'task-2', begin_time: timeAt(52), end_time: timeAt(53) }));
      assert.deepEqual(await kpsIds(KPS_FAILED), ['task-2', 'task-1']);
      const one = await server.app.inject({ method: 'DELETE', url: `${KPS_FAILED}/task-2`, headers: HEADERS });
      assert.equal(one.statusCode, 200);
      assert.deepEqual(await kpsIds(KPS_FAILED), ['task-1']);
      const all = await server.app.inject({ method: 'DELETE', url: KPS_FAILED, headers: HEADERS });
      assert.equal(all.statusCode, 200);
      assert.deepEqual(await list(KPS_FAILED), { total: 0, tasks: [] });
    });

    it('sees at once what another process on the same store wrote', async () => {
      const other = await buildTestApp(server.config);
      try {
        assert.deepEqual(await sdrsIds(), []);
        assert.deepEqual(await sdrsIds(SDRS_LIST, other.app), []);
        await putNewJob(other.app, PROJECT_A, groupFailure('from-other', 60));
        assert.deepEqual(await sdrsIds(), ['from-other']);
        const cleared = await server.app.inject({ method: 'DELETE', url: `${SDRS_LIST}/from-other`, headers: HEADERS });
        assert.equal(cleared.statusCode, 204);
        assert.deepEqual(await sdrsIds(SDRS_LIST, other.app), []);
      } finally {
        await other.app.close();
        await other.ctx.close();
      }
    });

    it('keeps nothing with --list-cache-mb 0', async () => {
      const uncached = await createTestApp(engine, configure('0'));
      try {
        await putNewJob(uncached.app, PROJECT_A, groupFailure('plain', 70));
        assert.deepEqual(await sdrsIds(SDRS_LIST, uncached.app), ['plain']);
        await sql`update jobs set list_item = replace(list_item, '"job_id":"plain"', '"job_id":"plain-edited"')`.execute(uncached.ctx.db.kysely);
        assert.deepEqual(await sdrsIds(SDRS_LIST, uncached.app), ['plain-edited']);
      } finally {
        await uncached.close();
      }
    });
  });
}
