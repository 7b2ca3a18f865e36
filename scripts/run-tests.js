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
// `--pgbouncer` runs only the PgBouncer pass below (over the filtered files).
const pgbouncerOnly = process.argv.includes('--pgbouncer');
const filter = process.argv.slice(2).filter((arg) => arg !== '--pgbouncer');
const selected = filter.length === 0 ? files : files.filter((f) => filter.some((part) => f.includes(part)));
let status = 0;
if (!pgbouncerOnly) {
  status = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...selected], { stdio: 'inherit', env }).status ?? 1;
}

// The store suites, and the several-nodes test, once more on PostgreSQL reached through
// PgBouncer in transaction pooling mode (test/pgbouncer.ts; TASKCENTER_TEST_PGBOUNCER in
// test/helpers.ts). Run on a whole run, or with --pgbouncer.
const STORE_SUITES = [
  'dist/test/db/',
  'dist/test/jobs/',
  'dist/test/sdrs/',
  'dist/test/kps/',
  'dist/test/projects/',
  'dist/test/auth/lockout',
  'dist/test/ops/',
  'dist/src/db/',
];
const throughPgbouncer = selected.filter((f) => STORE_SUITES.some((suite) => f.startsWith(suite)));
if (problem === null && (filter.length === 0 || pgbouncerOnly) && throughPgbouncer.length > 0) {
  const found = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', ...(process.env.PATH ?? '').split(':').map((dir) => join(dir, 'pgbouncer'))].some((path) =>
    existsSync(path),
  );
  if (!found) {
    const message = 'PgBouncer pass skipped: pgbouncer not found (apt-get install -y pgbouncer).';
    if (process.env.TASKCENTER_REQUIRE_TOOLS === '1') {
      console.error(`${message} It is required (TASKCENTER_REQUIRE_TOOLS=1).`);
      status ||= 1;
    } else console.log(message);
  } else {
    console.log(`PgBouncer pass: ${throughPgbouncer.length} files on PostgreSQL through PgBouncer (pool_mode = transaction, ?pooling=transaction)`);
    const pass = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...throughPgbouncer], {
      stdio: 'inherit',
      env: { ...env, TASKCENTER_TEST_PGBOUNCER: '1' },
    });
    status ||= pass.status ?? 1;
  }
}
if (problem !== null && process.env.TASKCENTER_REQUIRE_PG !== '1') {
  console.log(`PostgreSQL suites skipped: ${pgUrl} is not reachable (${problem}).`);
}
process.exit(status);
