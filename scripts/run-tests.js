#!/usr/bin/env node
// Runs every compiled test file with Node's test runner. PostgreSQL suites run when the
// server answers; otherwise they are skipped with one plain line saying why, unless
// TASKCENTER_REQUIRE_PG=1 (set by .ci/run), which turns the skip into a failure.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import pg from 'pg';

const pgUrl = process.env.TASKCENTER_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function postgresProblem() {
  const client = new pg.Client({ connectionString: pgUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (error) {
    return error.message || error.code || String(error);
  } finally {
    await client.end().catch(() => {});
  }
}

function testFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return testFiles(path);
    // A compiled test whose source was moved or deleted is left behind by tsc: skip it.
    return name.endsWith('.test.js') && existsSync(path.replace(/^dist\//, '').replace(/\.js$/, '.ts')) ? [path] : [];
  });
}

const problem = await postgresProblem();
const env = { ...process.env };
if (problem !== null) {
  if (process.env.TASKCENTER_REQUIRE_PG === '1') {
    console.error(`PostgreSQL is required (TASKCENTER_REQUIRE_PG=1) but ${pgUrl} is not reachable: ${problem}`);
    process.exit(1);
  }
  console.log(`PostgreSQL suites skipped: ${pgUrl} is not reachable (${problem}). Set TASKCENTER_TEST_PG to a server to run them.`);
  env.TASKCENTER_TEST_ENGINES = 'sqlite';
}

const files = [...testFiles('dist/test'), ...testFiles('dist/src')].sort();
const filter = process.argv.slice(2);
const selected = filter.length === 0 ? files : files.filter((f) => filter.some((part) => f.includes(part)));
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...selected], { stdio: 'inherit', env });
if (problem !== null && process.env.TASKCENTER_REQUIRE_PG !== '1') {
  console.log(`PostgreSQL suites skipped: ${pgUrl} is not reachable (${problem}).`);
}
process.exit(result.status ?? 1);
