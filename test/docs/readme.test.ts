/**
 * The README's claims about clients, held to what runs: its SDK example runs as written
 * against a server, and it names no client this repository does not test.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../cli-helpers.js';
import { engines } from '../helpers.js';
import { KEYS, startServer, type ListeningServer } from '../sdk/sdk-server.js';

const exec = promisify(execFile);
const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

describe('README', () => {
  let server: ListeningServer;
  before(async () => {
    server = await startServer(engines[0] ?? 'sqlite');
  });
  after(async () => {
    await server?.close();
  });

  it('holds an SDK example that runs as written, with the AK/SK of credentials add', async () => {
    const example = /```js\n(\/\/ list-failure-jobs\.mjs:[\s\S]*?)```/.exec(README)?.[1];
    assert.ok(example !== undefined, 'the README has the list-failure-jobs.mjs example');
    assert.ok(example.includes("withEndpoint('http://127.0.0.1:8080')"));
    // Inside the repository, so that its imports resolve to this node_modules; only the port differs.
    const file = join(REPO_ROOT, 'dist', 'readme-list-failure-jobs.mjs');
    writeFileSync(file, example.replace("withEndpoint('http://127.0.0.1:8080')", `withEndpoint('${server.url}')`));
    try {
      const { stdout } = await exec(process.execPath, [file], { env: { ...process.env, TASKCENTER_AK: KEYS.admin.ak, TASKCENTER_SK: KEYS.admin.sk } });
      assert.equal(stdout, '0 []\n');
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('names the build tools the SQLite driver needs when no prebuilt binary matches', () => {
    assert.match(README, /needs python3, make and a C\+\+ compiler/);
  });

  it('claims no client it does not test: no Terraform, no generated Node.js SDRS or KPS package', () => {
    assert.doesNotMatch(README, /terraform/i);
    assert.doesNotMatch(README, /generated per-service packages work the same way/);
    assert.match(README, /There is no generated SDRS client for Node\.js/);
    assert.match(README, /this repository's tests do not run them/);
  });
});
