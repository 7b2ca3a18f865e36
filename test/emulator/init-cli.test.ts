/**
 * `taskcenter serve --emulator --init DIR` as CI runs it, through the real binary: a bad
 * fixture file stops the start with exit 1 and a message naming the file and line,
 * before the server listens, having stored nothing of that file.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { taskcenter } from '../cli-helpers.js';
import { engines, freshDatabase, kpsJob, sdrsJob, writeTestCredentials } from '../helpers.js';

for (const engine of engines) {
  describe(`taskcenter serve --init with a bad file [${engine}]`, () => {
    let database: { url: string; drop(): Promise<void> };
    let dir: string;
    let credentials: string;
    before(async () => {
      database = await freshDatabase(engine);
      dir = mkdtempSync(join(tmpdir(), 'taskcenter-init-'));
      credentials = writeTestCredentials(dir);
    });
    after(async () => {
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    const serve = (fixtures: string) =>
      taskcenter(['serve', '--db', database.url, '--credentials', credentials, '--port', '0', '--emulator', '--init', fixtures, '--log-level', 'info']);

    /** A fixtures folder holding `files`, in a new folder under `dir`. */
    const folder = (name: string, files: Record<string, string>) => {
      const path = join(dir, name);
      mkdirSync(path);
      for (const [file, text] of Object.entries(files)) writeFileSync(join(path, file), text);
      return path;
    };

    it('exits 1 naming the file and line of a job that breaks a rule, storing nothing of that file', async () => {
      const fixtures = folder('rule', {
        '01-good.json': JSON.stringify({ project_id: 'init-a', ...sdrsJob({ job_id: 'init-1' }) }),
        // Line 3 holds the second job, whose status no producer could report.
        '02-bad.json': `[\n${JSON.stringify({ project_id: 'init-a', ...sdrsJob({ job_id: 'init-2' }) })},\n${JSON.stringify({
          project_id: 'init-b',
          ...kpsJob({ job_id: 'init-3', status: 'LOST' }),
        })}\n]\n`,
        '03-never.ndjson': `${JSON.stringify({ project_id: 'init-a', ...sdrsJob({ job_id: 'init-4' }) })}\n`,
      });
      const run = await serve(fixtures);
      assert.equal(run.code, 1, run.stderr);
      assert.equal(run.stderr.trim(), `taskcenter serve: ${join(fixtures, '02-bad.json')}:3: status must be one of INIT, RUNNING, SUCCESS, FAIL, got 'LOST'`);
      assert.doesNotMatch(run.stdout, /"msg":"listening"/, 'it never listened');

      const stored = await taskcenter(['export', '--db', database.url]);
      assert.equal(stored.code, 0, stored.stderr);
      assert.deepEqual(
        stored.stdout
          .trimEnd()
          .split('\n')
          .map((line) => JSON.parse(line).job_id),
        ['init-1'],
        'the file before is loaded; nothing of the bad file or after it',
      );
      const check = await taskcenter(['check', '--db', database.url]);
      assert.equal(check.code, 0, check.stdout);
      assert.match(check.stdout, /: 1 jobs checked, no difference\n$/);
    });

    it('exits 1 naming the file and line of text that is not JSON', async () => {
      const fixtures = folder('syntax', {
        'jobs.ndjson': `${JSON.stringify({ project_id: 'init-c', ...kpsJob({ job_id: 'init-5' }) })}\n\n{"project_id": "init-c",\n`,
      });
      const run = await serve(fixtures);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, new RegExp(`^taskcenter serve: ${join(fixtures, 'jobs.ndjson').replace(/[/.]/g, '\\$&')}:3: not valid JSON`));
      assert.doesNotMatch(run.stdout, /"msg":"listening"/);
    });
  });
}
