/**
 * The lint rules that hold the shape of src/ (eslint.config.js, eslint-rules/), shown
 * firing: each is run through ESLint's API, with the repository's own config, over a
 * small src/ tree written for the test, so a rule that stops seeing what it should
 * (a resolver that finds nothing, a pattern that matches nothing) fails here rather than
 * passing silently in `npm run lint`. Rules that are "off" in the config for now are
 * forced on here, so they are proven ready to turn on.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ESLint, type Linter } from 'eslint';

const ROOT = join(import.meta.dirname, '..', '..', '..');

/** The fixture tree: every file is valid TypeScript; the comments say what each should trip. */
const FILES: Record<string, string> = {
  'src/errors.ts': `export class ServiceError extends Error {}\n`,
  'src/config.ts': `export const port = process.env.PORT;\n`,
  'src/app.ts': `import { listRoutes } from './things/things.routes.js';\nexport const app = listRoutes;\n`,
  'src/context.ts': `export interface Context { readonly name: string }\n`,
  'src/cli/main.ts': `import { app } from '../app.js';\nexport const main = app;\n`,
  // Clean: routes → service → store → db, each importing only downward.
  'src/things/things.routes.ts': `import type { FastifyInstance } from 'fastify';\nimport { ThingService } from './things.service.js';\nexport function listRoutes(_app: FastifyInstance): ThingService {\n  return new ThingService();\n}\n`,
  'src/things/things.service.ts': `import { readThings } from './things.store.js';\nexport class ThingService {\n  read = readThings;\n}\n`,
  'src/things/things.store.ts': `import type { Database } from '../db/database.js';\nimport type { ThingsTable } from './things.table.js';\nexport function readThings(db: Database): ThingsTable[] {\n  return db.kysely.selectFrom('things');\n}\n`,
  'src/things/things.table.ts': `export interface ThingsTable {\n  readonly id: string;\n}\n`,
  'src/db/database.ts': `import type { ThingsTable } from '../things/things.table.js';\nexport interface Database {\n  readonly kysely: { selectFrom(table: string): ThingsTable[] };\n}\n`,
  // Wrong way: a store importing its service (store → service).
  'src/wrong/wrong.service.ts': `export const serviceValue = 1;\n`,
  'src/wrong/wrong.store.ts': `import { serviceValue } from './wrong.service.js';\nexport const storeValue = serviceValue;\n`,
  // Wrong way: routes importing the context, and a file of no layer importing the cli.
  'src/wrong/wrong.routes.ts': `import type { Context } from '../context.js';\nexport type Ctx = Context;\n`,
  'src/wrong/helper.ts': `import { main } from '../cli/main.js';\nexport const helper = main;\n`,
  // db/ importing a domain.
  'src/db/uses-domain.ts': `import { ThingService } from '../things/things.service.js';\nexport const s = ThingService;\n`,
  // jobs/ importing a dialect; the dialects importing each other.
  'src/jobs/listing.ts': `import { sdrsThing } from '../sdrs/sdrs.presenter.js';\nexport const listing = sdrsThing;\n`,
  'src/sdrs/sdrs.presenter.ts': `export const sdrsThing = 1;\n`,
  'src/kps/kps.presenter.ts': `import { sdrsThing } from '../sdrs/sdrs.presenter.js';\nexport const kpsThing = sdrsThing;\n`,
  // A cycle made of type-only imports, and one through a dynamic import.
  'src/cycle/a.ts': `import type { B } from './b.js';\nexport interface A {\n  readonly b?: B;\n}\n`,
  'src/cycle/b.ts': `import type { A } from './a.js';\nexport interface B {\n  readonly a?: A;\n}\n`,
  'src/cycle/c.ts': `export const load = () => import('./d.js');\n`,
  'src/cycle/d.ts': `import { load } from './c.js';\nexport const again = load;\n`,
  // The lines STYLE.md draws: SQL drivers in db/ only, no HTTP in stores and services,
  // SQL built in stores and db/ only, the environment read in config.ts only, V8 flags in bin/.
  'src/wrong/driver.ts': `import pg from 'pg';\nexport const Pool = pg.Pool;\n`,
  'src/wrong/http.service.ts': `import type { FastifyReply } from 'fastify';\nexport type Reply = FastifyReply;\n`,
  'src/wrong/sql.ts': `import type { Database } from '../db/database.js';\nexport const read = (db: Database) => db.kysely.selectFrom('things');\n`,
  'src/wrong/env.ts': `export const home = process.env.HOME;\n`,
  'src/wrong/flags.ts': `import { setFlagsFromString } from 'node:v8';\nsetFlagsFromString('--no-lazy');\n`,
  // The one writer: only jobs/job-writer.ts imports its SQL, which alone writes jobs and their derived data.
  'src/jobs/job-writer.store.ts': `export const save = 'insert into jobs (job_id) values ($1)';\n`,
  'src/jobs/job-writer.ts': `import { save } from './job-writer.store.js';\nexport const writer = save;\n`,
  'src/wrong/bypass.store.ts': `import { save } from '../jobs/job-writer.store.js';\nimport type { Database } from '../db/database.js';\nexport const bypass = save;\nexport const clear = (db: Database) => db.kysely.updateTable('job_counts');\nexport const raw = \`delete from list_versions where project_id = $1\`;\n`,
};

/** `rule: file` for every problem of the fixture tree, sorted. */
type Found = string[];

let dir: string;
let found: Found;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'taskcenter-lint-'));
  for (const [path, text] of Object.entries(FILES)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const config = (await import(pathToFileURL(join(ROOT, 'eslint.config.js')).href)).default as Linter.Config[];
  // Every local rule on, including those the config keeps off until the code they hold is on main.
  const allLocalRules: Linter.Config = {
    files: ['src/**/*.ts'],
    rules: {
      'local/no-import-cycle': 'error',
      'local/layers': 'error',
      'local/db-imports-no-domain': 'error',
      'local/jobs-imports-no-dialect': 'error',
      'local/dialects-apart': 'error',
      'local/one-writer': 'error',
    },
  };
  const eslint = new ESLint({ cwd: dir, overrideConfigFile: true, overrideConfig: [...config, allLocalRules] });
  const results = await eslint.lintFiles(['src']);
  found = results.flatMap((r) => r.messages.map((m) => `${m.ruleId ?? m.message}: ${r.filePath.slice(dir.length + 1)}`)).sort();
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function rule(id: string): string[] {
  return found.filter((f) => f.startsWith(`${id}: `)).map((f) => f.slice(id.length + 2));
}

describe('the import rules of eslint.config.js', () => {
  it('find nothing in the clean files', () => {
    const clean = ['src/app.ts', 'src/cli/main.ts', 'src/config.ts', 'src/db/database.ts', 'src/errors.ts'];
    const noisy = found.filter((f) => clean.some((path) => f.endsWith(`: ${path}`)) || f.includes('src/things/') || f.includes('job-writer'));
    assert.deepEqual(noisy, []);
  });

  it('count type-only and dynamic imports in cycles', () => {
    assert.deepEqual(rule('local/no-import-cycle'), ['src/cycle/a.ts', 'src/cycle/b.ts', 'src/cycle/c.ts', 'src/cycle/d.ts']);
  });

  it('hold the direction cli → app/context → routes → service → store → db', () => {
    assert.deepEqual(rule('local/layers'), ['src/db/uses-domain.ts', 'src/wrong/helper.ts', 'src/wrong/wrong.routes.ts', 'src/wrong/wrong.store.ts']);
  });

  it('keep db/ free of the domains, but for the row types', () => {
    assert.deepEqual(rule('local/db-imports-no-domain'), ['src/db/uses-domain.ts']);
  });

  it('keep jobs/ from the dialects, and the dialects apart', () => {
    assert.deepEqual(rule('local/jobs-imports-no-dialect'), ['src/jobs/listing.ts']);
    assert.deepEqual(rule('local/dialects-apart'), ['src/kps/kps.presenter.ts']);
  });

  it('keep every write of jobs, job_counts and list_versions in the one writer', () => {
    assert.deepEqual(rule('local/one-writer'), ['src/wrong/bypass.store.ts', 'src/wrong/bypass.store.ts', 'src/wrong/bypass.store.ts']);
  });

  it('keep drivers in db/, HTTP out of services and stores, V8 flags in bin/', () => {
    assert.deepEqual(rule('no-restricted-imports'), ['src/wrong/driver.ts', 'src/wrong/flags.ts', 'src/wrong/http.service.ts']);
  });

  it('keep SQL in stores and db/, and the environment in config.ts', () => {
    assert.deepEqual(rule('no-restricted-syntax'), ['src/wrong/env.ts', 'src/wrong/sql.ts']);
  });

  it('report nothing else', () => {
    const known = ['local/', 'no-restricted-imports', 'no-restricted-syntax'];
    assert.deepEqual(
      found.filter((f) => !known.some((k) => f.startsWith(k))),
      [],
    );
  });
});
