/**
 * What outlives a server: progressing jobs resume after a restart, several servers on
 * one store take each step exactly once, and `--init` fixtures load once and are
 * unchanged by loading them again; a bad fixture file stops the start naming file:line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import type { Engine } from '../../src/db/database.js';
import type { Progression } from '../../src/emulator/progress.service.js';
import { buildTestApp, engines, freshDatabase, kpsJob, sdrsJob, TOKENS, writeTestCredentials, type TestApp } from '../helpers.js';
import { assertListingsExact } from './emulator-server.js';

async function serverOn(url: string, dir: string, init?: string): Promise<TestApp> {
  return buildTestApp(loadConfig({ db: url, credentials: writeTestCredentials(dir), logLevel: 'silent', emulator: '1', init }, {}));
}

const headers = { 'x-auth-token': TOKENS.admin };
const progressing = (id: string, start: number, run: number) => {
  const { end_time: _e, error_code: _c, fail_reason: _f, ...doc } = kpsJob({ job_id: id, status: 'INIT' });
  return { project_id: 'dur-a', ...doc, progress: { start_after_ms: start, run_ms: run, outcome: 'SUCCESS' } };
};

for (const engine of engines as Engine[]) {
  describe(`emulator state that outlives a server [${engine}]`, () => {
    it('resumes pending steps after a restart', async () => {
      const database = await freshDatabase(engine);
      const dir = mkdtempSync(join(tmpdir(), 'taskcenter-durable-'));
      try {
        const first = await serverOn(database.url, dir);
        const created = await first.app.inject({ method: 'POST', url: '/taskcenter/v1/emulator/jobs', headers, payload: progressing('dur-1', 300, 100) });
        assert.equal(created.statusCode, 201, created.body);
        await first.close();
        const second = await serverOn(database.url, dir);
        try {
          let status = '';
          for (let i = 0; i < 300 && status !== 'SUCCESS_RESET'; i++) {
            await sleep(20);
            status = (await second.app.inject({ url: '/v3/dur-a/tasks/dur-1', headers })).json().task_status;
          }
          assert.equal(status, 'SUCCESS_RESET');
          await assertListingsExact(second.ctx, 1);
        } finally {
          await second.close();
        }
      } finally {
        await database.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('takes each step once with two servers on one store', async () => {
      const database = await freshDatabase(engine);
      const dir = mkdtempSync(join(tmpdir(), 'taskcenter-durable-'));
      const servers = [await serverOn(database.url, dir), await serverOn(database.url, dir)];
      try {
        const jobs = 30;
        for (let i = 0; i < jobs; i++) {
          const created = await servers[i % 2]!.app.inject({
            method: 'POST',
            url: '/taskcenter/v1/emulator/jobs',
            headers,
            payload: progressing(`two-${i}`, 50, 50),
          });
          assert.equal(created.statusCode, 201, created.body);
        }
        let done = 0;
        for (let i = 0; i < 500 && done < jobs; i++) {
          await sleep(20);
          done = (await servers[0]!.app.inject({ url: '/taskcenter/v1/projects/dur-a/jobs?status=SUCCESS&limit=1000', headers })).json().jobs.length;
        }
        assert.equal(done, jobs);
        // Two steps per job (RUNNING, SUCCESS): a step taken twice would count more. A run
        // counts its steps once its commit is durable, which on SQLite is after readers
        // see it: stopping waits for the run in progress.
        const emulators = servers.map((s) => (s.app as unknown as { emulatorState?: { progression: Progression } }).emulatorState);
        assert.ok(emulators.every((e) => e !== undefined));
        for (const e of emulators) await e!.progression.stop();
        assert.equal(
          emulators.reduce((n, e) => n + e!.progression.taken, 0),
          jobs * 2,
        );
        await assertListingsExact(servers[0]!.ctx, jobs);
      } finally {
        for (const server of servers) await server.close();
        await database.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('loads --init fixtures before ready, again without change, and refuses a bad file by name and line', async () => {
      const database = await freshDatabase(engine);
      const dir = mkdtempSync(join(tmpdir(), 'taskcenter-durable-'));
      const fixtures = join(dir, 'fixtures');
      try {
        const { mkdirSync } = await import('node:fs');
        mkdirSync(fixtures);
        writeFileSync(join(fixtures, '01-one.json'), JSON.stringify({ project_id: 'fix-a', ...sdrsJob({ job_id: 'fix-1' }) }));
        writeFileSync(
          join(fixtures, '02-many.json'),
          JSON.stringify(
            [
              { project_id: 'fix-a', ...sdrsJob({ job_id: 'fix-2' }) },
              { project_id: 'fix-b', ...kpsJob({ job_id: 'fix-3' }) },
            ],
            null,
            2,
          ),
        );
        writeFileSync(join(fixtures, '03-lines.ndjson'), `${JSON.stringify({ project_id: 'fix-b', ...kpsJob({ job_id: 'fix-4' }) })}\n`);
        writeFileSync(join(fixtures, 'ignored.txt'), 'not a fixture');
        const exportAll = async (app: TestApp) => (await app.app.inject({ url: '/taskcenter/v1/emulator/export', headers })).body;
        const first = await serverOn(database.url, dir, fixtures);
        const before = await exportAll(first);
        await first.close();
        assert.deepEqual(
          before
            .trimEnd()
            .split('\n')
            .map((line) => JSON.parse(line).job_id),
          ['fix-1', 'fix-2', 'fix-3', 'fix-4'],
        );
        const second = await serverOn(database.url, dir, fixtures);
        assert.equal(await exportAll(second), before, 'loading the same files again changes nothing');
        await assertListingsExact(second.ctx, 4);
        await second.close();

        writeFileSync(
          join(fixtures, '02-many.json'),
          JSON.stringify(
            [
              { project_id: 'fix-a', ...sdrsJob({ job_id: 'fix-5' }) },
              { project_id: 'fix-b', ...kpsJob({ job_id: 'fix-6', status: 'LOST' }) },
            ],
            null,
            2,
          ),
        );
        await assert.rejects(serverOn(database.url, dir, fixtures), (error: Error) => {
          assert.match(error.message, new RegExp(`${join(fixtures, '02-many.json').replace(/[/.]/g, '\\$&')}:\\d+: status must be one of`));
          return true;
        });
      } finally {
        await database.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
