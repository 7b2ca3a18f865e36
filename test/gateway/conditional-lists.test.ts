/**
 * Conditional GETs of the SDRS and KPS lists: each answer carries an ETag made from the
 * project's list version and the request, and If-None-Match with the current tag is a
 * 304 with no body, only once the caller is authenticated and allowed. With and without
 * kept pages (--list-cache-mb 0), on both engines.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.js';
import { createTestApp, engines, kpsJob, putNewJob, requestIdOf, sdrsJob, TOKENS, writeTestCredentials, type TestApp } from '../helpers.js';

const LISTS = [
  { name: 'SDRS ListFailureJobs', path: (p: string) => `/v1/${p}/task-center/failure-jobs` },
  { name: 'KPS ListFailedTask', path: (p: string) => `/v3/${p}/failed-tasks` },
  { name: 'KPS ListRunningTask', path: (p: string) => `/v3/${p}/running-tasks` },
] as const;

/** A job that joins the list at `path` of the project. */
function listedJob(path: string, id: string): Record<string, unknown> {
  if (path.includes('failure-jobs')) {
    return sdrsJob({ job_id: id, resource: { id: `g-${id}`, name: `group ${id}`, type: 'server_groups' }, server_group_id: undefined, entities: {} });
  }
  if (path.includes('running-tasks')) return kpsJob({ job_id: id, status: 'RUNNING', end_time: null, error_code: null, fail_reason: null });
  return kpsJob({ job_id: id });
}

function get(app: FastifyInstance, url: string, headers: Record<string, string> = {}) {
  return app.inject({ method: 'GET', url, headers: { 'x-auth-token': TOKENS.admin, ...headers } });
}

for (const engine of engines) {
  for (const listCacheMb of ['16', '0']) {
    describe(`Conditional list GETs [${engine}, --list-cache-mb ${listCacheMb}]`, () => {
      let server: TestApp | undefined;
      const app = () => (server as TestApp).app;
      before(async () => {
        server = await createTestApp(engine, (db, dir) => loadConfig({ db, credentials: writeTestCredentials(dir), logLevel: 'silent', listCacheMb }, {}));
      });
      after(async () => server?.close());

      for (const list of LISTS) {
        it(`${list.name}: 304 with no body while unchanged, a new ETag once the list changes`, async () => {
          const project = 'proj-a';
          const url = `${list.path(project)}?limit=5`;
          await putNewJob(app(), project, listedJob(url, `${engine}-${listCacheMb}-${list.name.length}-first`));

          const first = await get(app(), url);
          assert.equal(first.statusCode, 200, first.body);
          const etag = first.headers.etag;
          assert.equal(typeof etag, 'string');
          assert.match(String(etag), /^"[A-Za-z0-9_-]+\.[0-9a-z]+\.[A-Za-z0-9_-]{16}"$/);
          assert.equal(first.headers['cache-control'], 'private, no-cache');

          const unchanged = await get(app(), url, { 'if-none-match': String(etag) });
          assert.equal(unchanged.statusCode, 304);
          assert.equal(unchanged.body, '');
          assert.equal(unchanged.headers['content-length'], undefined);
          assert.equal(unchanged.headers['content-type'], undefined);
          assert.equal(unchanged.headers.etag, etag);
          requestIdOf(unchanged.headers);

          // The same tag does not stand for another page of the same list.
          const otherPage = await get(app(), `${list.path(project)}?limit=4`, { 'if-none-match': String(etag) });
          assert.equal(otherPage.statusCode, 200);
          assert.notEqual(otherPage.headers.etag, etag);

          // A change to the project's lists: the old tag gets the new page, with a new tag.
          await putNewJob(app(), project, listedJob(url, `${engine}-${listCacheMb}-${list.name.length}-second`));
          const changed = await get(app(), url, { 'if-none-match': String(etag) });
          assert.equal(changed.statusCode, 200);
          assert.notEqual(changed.headers.etag, etag);
          assert.notDeepEqual(changed.json(), first.json());
          const again = await get(app(), url, { 'if-none-match': String(changed.headers.etag) });
          assert.equal(again.statusCode, 304);
        });
      }

      it('keeps the tag while only another project changes, and while a job outside every list is reported', async () => {
        const url = '/v1/proj-b/task-center/failure-jobs';
        const first = await get(app(), url);
        const etag = String(first.headers.etag);
        await putNewJob(app(), 'proj-a', listedJob(url, `${engine}-${listCacheMb}-elsewhere`));
        await putNewJob(app(), 'proj-b', sdrsJob({ job_id: `${engine}-${listCacheMb}-ok`, status: 'SUCCESS', error_code: null, fail_reason: null }));
        assert.equal((await get(app(), url, { 'if-none-match': etag })).statusCode, 304);
      });

      it('answers 304 only to a caller who may read the list', async () => {
        const url = '/v1/proj-a/task-center/failure-jobs';
        const etag = String((await get(app(), url)).headers.etag);
        const anonymous = await app().inject({ method: 'GET', url, headers: { 'if-none-match': etag } });
        assert.equal(anonymous.statusCode, 401);
        assert.equal(anonymous.json().error_code, 'APIGW.0301');
        const otherTenant = await get(app(), url, { 'x-auth-token': TOKENS.bob, 'if-none-match': etag });
        assert.equal(otherTenant.statusCode, 403);
        assert.equal(otherTenant.json().error.code, 'SDRS.0005');
        const badQuery = await get(app(), `${url}?limit=abc`, { 'if-none-match': etag });
        assert.equal(badQuery.statusCode, 400);
        assert.equal((await get(app(), url, { 'x-auth-token': TOKENS.reader, 'if-none-match': etag })).statusCode, 304);
      });

      it('documents the 304 of every list in the OpenAPI document', async () => {
        const doc = (await app().inject({ method: 'GET', url: '/openapi.json' })).json();
        for (const path of ['/v1/{project_id}/task-center/failure-jobs', '/v3/{project_id}/failed-tasks', '/v3/{project_id}/running-tasks']) {
          assert.ok(doc.paths[path].get.responses['304'], path);
          assert.match(doc.paths[path].get.description, /If-None-Match/);
        }
      });
    });
  }
}
