/**
 * How the server serves the built console (dist/console, built by `npm run build`): `/`
 * and `/console` redirect, hashed assets cached for a year, the page revalidated and
 * answered for every console path, gzip, conditional requests, and a console that is
 * not built. Also holds the first view's JavaScript to its budget.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { CONSOLE_DIR, firstViewScripts } from '../../src/console/console-files.js';
import { consoleRoutes } from '../../src/console/console.routes.js';
import { installGateway } from '../../src/gateway/gateway.js';
import { createTestServer, requestIdOf, type TestServer } from '../helpers.js';

const BUDGET = 150 * 1024;

describe('Serving the console', () => {
  let server: TestServer | undefined;
  const app = () => (server as TestServer).app;
  const page = readFileSync(join(CONSOLE_DIR, 'index.html'), 'utf8');
  const [script] = firstViewScripts(page);
  before(async () => {
    server = await createTestServer('sqlite');
  });
  after(async () => server?.close());

  it('sends / and /console to /console/', async () => {
    for (const url of ['/', '/console']) {
      const response = await app().inject({ method: 'GET', url });
      assert.equal(response.statusCode, 302, url);
      assert.equal(response.headers.location, '/console/');
    }
  });

  it('answers the page, revalidated every time, for /console/ and every path under it', async () => {
    for (const url of [
      '/console/',
      '/console/projects/p1/sdrs-failures?resource_type=replications',
      '/console/projects/p1/jobs/j-1',
      '/console/no/such/view',
    ]) {
      const response = await app().inject({ method: 'GET', url });
      assert.equal(response.statusCode, 200, url);
      assert.equal(response.body, page, url);
      assert.equal(response.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(response.headers['cache-control'], 'no-cache');
      assert.match(String(response.headers['content-security-policy']), /default-src 'self'; script-src 'self'/);
      requestIdOf(response.headers);
    }
  });

  it('caches hashed assets for a year and refuses a missing one with a 404, never the page', async () => {
    assert.match(String(script), /^assets\/.+-[A-Za-z0-9_-]{8}\.js$/);
    const asset = await app().inject({ method: 'GET', url: `/console/${script}` });
    assert.equal(asset.statusCode, 200);
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(asset.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(asset.body, readFileSync(join(CONSOLE_DIR, String(script)), 'utf8'));
    const missing = await app().inject({ method: 'GET', url: '/console/assets/index-missing0.js' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error_code, 'APIGW.0101');
  });

  it('sends gzip to a browser that takes it, and 304 for a copy it already has', async () => {
    const zipped = await app().inject({ method: 'GET', url: `/console/${script}`, headers: { 'accept-encoding': 'gzip, deflate, br' } });
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.equal(zipped.headers.vary, 'Accept-Encoding');
    assert.equal(gunzipSync(zipped.rawPayload).toString(), readFileSync(join(CONSOLE_DIR, String(script)), 'utf8'));
    const etag = String(zipped.headers.etag);
    const again = await app().inject({ method: 'GET', url: `/console/${script}`, headers: { 'if-none-match': etag } });
    assert.equal(again.statusCode, 304);
    assert.equal(again.body, '');
    const pageTag = String((await app().inject({ method: 'GET', url: '/console/' })).headers.etag);
    assert.equal((await app().inject({ method: 'GET', url: '/console/projects/x/overview', headers: { 'if-none-match': pageTag } })).statusCode, 304);
  });

  it('keeps the console out of the OpenAPI document', async () => {
    const doc = (await app().inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.deepEqual(
      Object.keys(doc.paths).filter((path) => path === '/' || path.startsWith('/console')),
      [],
    );
  });

  it('loads at most 150 KB of gzipped JavaScript before the first view', () => {
    const scripts = firstViewScripts(page);
    assert.ok(scripts.length > 0, 'the page loads a script');
    const bytes = scripts.reduce((sum, path) => sum + gzipSync(readFileSync(join(CONSOLE_DIR, path)), { level: 9 }).length, 0);
    console.log(`console first view: ${(bytes / 1024).toFixed(1)} KB of JavaScript gzipped (${scripts.join(', ')})`);
    assert.ok(bytes <= BUDGET, `${bytes} bytes gzipped`);
  });
});

describe('A server whose console is not built', () => {
  it('says so at /console/ in the gateway format, and still redirects /', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'taskcenter-console-'));
    const app = Fastify();
    installGateway(app);
    consoleRoutes(app, empty);
    try {
      const response = await app.inject({ method: 'GET', url: '/console/projects/p/overview' });
      assert.equal(response.statusCode, 404);
      assert.equal(response.json().error_code, 'APIGW.0101');
      assert.match(response.json().error_msg, /the console is not built on this server: run `npm run build`/);
      assert.equal((await app.inject({ method: 'GET', url: '/' })).statusCode, 302);
    } finally {
      await app.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
