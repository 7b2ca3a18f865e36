/**
 * `taskcenter/testing` as a TypeScript user's suite sees it: a consumer project that has
 * the package in its node_modules type-checks an import of it with the compiler this
 * repository uses, through the "types" condition of package.json's "exports".
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../cli-helpers.js';

const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/**
 * Uses every export with its declared types. Each `@ts-expect-error` must meet an error:
 * were the import typed `any` (no declarations found), they would be unused, which is an
 * error itself.
 */
const CONSUMER = `import { startTaskCenter, type StartOptions, type TaskCenter } from 'taskcenter/testing';

const options: StartOptions = { db: 'sqlite::memory:', emulator: true, faults: [{ operation: 'ListFailureJobs', status: 503, times: 2 }] };
const tc: TaskCenter = await startTaskCenter(options);
const where: string = tc.url;
const headers: Record<string, string> = { 'x-auth-token': tc.token };
const keys: [string, string, string] = [tc.ak, tc.sk, tc.projectId];
const deleted: number = await tc.reset(tc.projectId);
const rule = await tc.addFault({ operation: 'ShowJobStatus', delay_ms: 10 });
const fired: number = rule.fired;
await tc.close();

// @ts-expect-error emulator is a boolean
await startTaskCenter({ emulator: 'yes' });
// @ts-expect-error a rule names its operation
await tc.addFault({ status: 503 });
// @ts-expect-error reset() resolves to how many jobs it deleted
const wrong: string = await tc.reset();

export { where, headers, keys, deleted, fired, wrong };
`;

describe('taskcenter/testing types', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'taskcenter-consumer-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(REPO_ROOT, join(dir, 'node_modules', 'taskcenter'), 'dir');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: [] },
        files: ['consumer.ts'],
      }),
    );
    writeFileSync(join(dir, 'consumer.ts'), CONSUMER);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('ships declarations that type a consumer importing it by the package name', () => {
    assert.ok(existsSync(join(REPO_ROOT, 'dist', 'src', 'emulator', 'testing.d.ts')), 'tsc -p tsconfig.json emits testing.d.ts');
    const run = spawnSync(process.execPath, [TSC, '-p', dir, '--listFiles'], { encoding: 'utf8', maxBuffer: 16 << 20 });
    const lines = run.stdout.split('\n');
    assert.deepEqual(
      lines.filter((line) => /error TS\d+/.test(line)),
      [],
      'the consumer type-checks',
    );
    assert.equal(run.status, 0, run.stderr);
    assert.ok(lines.includes(join(REPO_ROOT, 'dist', 'src', 'emulator', 'testing.d.ts')), 'the import is typed by the declarations tsc emitted');
  });
});
