/**
 * Holds the lines STYLE.md draws, so review does not have to: dependencies point one
 * way (routes → service → store → db), only src/db knows the SQL engine, and only
 * config.ts reads the environment.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { it } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..', '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

const files = sources(ROOT).map((path) => ({
  path: relative(ROOT, path),
  imports: [...readFileSync(path, 'utf8').matchAll(/^import[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1] as string),
  text: readFileSync(path, 'utf8'),
}));

it('finds the sources', () => {
  assert.ok(
    files.some((f) => f.path === 'app.ts'),
    `looked in ${ROOT}`,
  );
});

it('keeps stores and services free of HTTP', () => {
  for (const file of files.filter((f) => /\.(store|service)\.ts$/.test(f.path))) {
    const http = file.imports.filter((i) => i === 'fastify' || i.startsWith('@fastify/') || /\.routes\.js$/.test(i));
    assert.deepEqual(http, [], `${file.path} imports ${http.join(', ')}`);
  }
});

it('keeps SQL drivers inside src/db', () => {
  for (const file of files.filter((f) => !f.path.startsWith('db/'))) {
    const drivers = file.imports.filter((i) => i === 'pg' || i === 'better-sqlite3');
    assert.deepEqual(drivers, [], `${file.path} imports ${drivers.join(', ')}`);
  }
});

it('builds SQL only in stores and src/db', () => {
  for (const file of files.filter((f) => !f.path.startsWith('db/') && !f.path.endsWith('.store.ts'))) {
    assert.doesNotMatch(file.text, /\.(selectFrom|insertInto|updateTable|deleteFrom)\(/, `${file.path} builds SQL`);
  }
});

it('reads the environment only in config.ts', () => {
  for (const file of files.filter((f) => f.path !== 'config.ts')) {
    assert.doesNotMatch(file.text, /process\.env/, `${file.path} reads process.env`);
  }
});

it('writes jobs and their derived data only through the one writer (src/jobs/job-writer.ts)', () => {
  const writes =
    /\.(insertInto|updateTable|deleteFrom)\(\s*'(jobs|job_counts|list_versions)'|\b(insert\s+into|update|delete\s+from)\s+"?(jobs|job_counts|list_versions)\b/i;
  for (const file of files.filter((f) => f.path !== 'jobs/job-writer.store.ts' && !f.path.startsWith('db/migrations/'))) {
    assert.doesNotMatch(file.text, writes, `${file.path} writes a table only the writer writes`);
  }
  const importers = files.filter((f) => f.imports.some((i) => i.endsWith('/job-writer.store.js') || i === './job-writer.store.js')).map((f) => f.path);
  assert.deepEqual(importers, ['jobs/job-writer.ts']);
});

it('keeps the job core and the database free of the service dialects, and the dialects apart', () => {
  for (const file of files) {
    const dialects = file.imports.filter((i) => /(^|\/)(sdrs|kps)\//.test(i));
    if (file.path.startsWith('jobs/') || file.path.startsWith('db/')) assert.deepEqual(dialects, [], `${file.path} imports ${dialects.join(', ')}`);
    if (file.path.startsWith('sdrs/')) assert.ok(!file.imports.some((i) => i.includes('/kps/')), `${file.path} imports kps/`);
    if (file.path.startsWith('kps/')) assert.ok(!file.imports.some((i) => i.includes('/sdrs/')), `${file.path} imports sdrs/`);
  }
});
