/**
 * `taskcenter/testing` as a user's suite imports it: by the package's own name, through
 * the `exports` of package.json, against the compiled code.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type * as Testing from '../../src/emulator/testing.js';
import { engines, freshDatabase, sdrsJob } from '../helpers.js';

/** Named in a variable: tsc would type it from dist/, the output of the very build compiling this file. */
const SPECIFIER = 'taskcenter/testing';
const { startTaskCenter } = (await import(SPECIFIER)) as typeof Testing;

describe('taskcenter/testing', () => {
  it('starts an emulator on a free port over in-memory SQLite, with working credentials', async () => {
    const tc = await startTaskCenter({ emulator: true, faults: [{ operation: 'ShowJobStatus', status: 500, times: 1 }] });
    try {
      assert.match(tc.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(tc.projectId, /^[0-9a-f]{32}$/);
      assert.match(tc.ak, /^[A-Z0-9]{20}$/);
      assert.ok(tc.sk.length >= 32);
      const list = await fetch(`${tc.url}/v1/${tc.projectId}/task-center/failure-jobs`, { headers: { 'x-auth-token': tc.token } });
      assert.equal(list.status, 200);
      assert.deepEqual(await list.json(), { failure_jobs: [], count: 0 });
      const put = await fetch(`${tc.url}/taskcenter/v1/projects/${tc.projectId}/jobs/j-1`, {
        method: 'PUT',
        headers: { 'x-auth-token': tc.token, 'content-type': 'application/json' },
        body: JSON.stringify(sdrsJob({ job_id: 'j-1' })),
      });
      assert.equal(put.status, 201);
      const faulted = await fetch(`${tc.url}/v1/${tc.projectId}/jobs/j-1`, { headers: { 'x-auth-token': tc.token } });
      assert.equal(faulted.status, 500, 'the fault given at start');
      const rule = await tc.addFault({ operation: 'ShowJobStatus', status: 503, error_code: 'SDRS.9999' });
      assert.equal(rule.operation, 'ShowJobStatus');
      const again = await fetch(`${tc.url}/v1/${tc.projectId}/jobs/j-1`, { headers: { 'x-auth-token': tc.token } });
      assert.deepEqual([again.status, ((await again.json()) as any).error.code], [503, 'SDRS.9999']);
    } finally {
      await tc.close();
    }
    await assert.rejects(fetch(`${tc.url}/healthz`), 'closed');
  });

  it('refuses emulator calls when started without the emulator', async () => {
    const tc = await startTaskCenter({ emulator: false });
    try {
      await assert.rejects(tc.addFault({ operation: 'ListFailureJobs', status: 503 }), /needs the emulator/);
      const faults = await fetch(`${tc.url}/taskcenter/v1/emulator/faults`, { headers: { 'x-auth-token': tc.token } });
      assert.equal(faults.status, 404);
    } finally {
      await tc.close();
    }
  });

  for (const engine of engines) {
    it(`takes a database URL [${engine}]`, async () => {
      const database = await freshDatabase(engine);
      try {
        const tc = await startTaskCenter({ db: database.url });
        try {
          const ready = await fetch(`${tc.url}/readyz`);
          assert.equal(ready.status, 200);
        } finally {
          await tc.close();
        }
      } finally {
        await database.drop();
      }
    });
  }
});
