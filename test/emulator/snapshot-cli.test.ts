/** `taskcenter export` (and, over it, import and reset) as a user runs them, on both engines. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { taskcenter } from '../cli-helpers.js';
import { engines, freshDatabase } from '../helpers.js';

for (const engine of engines) {
  describe(`taskcenter export [${engine}]`, () => {
    let database: { url: string; drop(): Promise<void> };
    before(async () => {
      database = await freshDatabase(engine);
      const seeded = await taskcenter(['seed', '--db', database.url, '--projects', '2', '--jobs', '60', '--end-time', '2026-01-01T00:00:00.000Z']);
      assert.equal(seeded.code, 0, seeded.stderr);
    });
    after(async () => {
      await database?.drop();
    });

    it('writes every job as one NDJSON line, in key order, and one project alone', async () => {
      const all = await taskcenter(['export', '--db', database.url]);
      assert.equal(all.code, 0, all.stderr);
      const lines = all.stdout.split('\n');
      assert.equal(lines.pop(), '', 'the last line ends in a newline');
      assert.equal(lines.length, 60);
      const jobs = lines.map((line) => JSON.parse(line));
      const keys = jobs.map((j) => `${j.project_id}\u0000${j.job_id}`);
      assert.deepEqual(keys, [...keys].sort());
      assert.deepEqual(Object.keys(jobs[0]).slice(0, 3), ['project_id', 'job_id', 'service']);
      assert.match(all.stderr, /exported 60 jobs/);
      const one = await taskcenter(['export', '--db', database.url, '--project', 'seed-000001']);
      assert.equal(one.code, 0, one.stderr);
      assert.equal(one.stdout, lines.filter((line) => line.includes('"project_id":"seed-000001"')).join('\n') + '\n');
    });

    it('refuses a bad project id as bad usage', async () => {
      const bad = await taskcenter(['export', '--db', database.url, '--project', 'no/such']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--project must match/);
    });
  });
}
