/**
 * The rendering stamp at start, on both engines: a store whose stamp is not the code's
 * (a listing bumped, or a store from before the stamp) has every stored item and counter
 * rebuilt and its list versions raised before the context is built, so before a server
 * built on it can say ready; two servers starting at once rebuild once; a new store
 * records the stamp without a word.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { Random } from '../../src/cli/random.js';
import { projectJobs } from '../../src/cli/synthetic-jobs.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createContext, createListings, createLogger, type Context } from '../../src/context.js';
import type { Database, Engine } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import { toReportedJob } from '../../src/jobs/job.js';
import { JobDocument } from '../../src/jobs/jobs.schema.js';
import { checkListings } from '../../src/jobs/listing-check.js';
import { storedStamp } from '../../src/jobs/listing.store.js';
import { checkJson } from '../../src/validation.js';
import { startTaskcenter } from '../cli-helpers.js';
import { engines, freshDatabase, postgresProblem } from '../helpers.js';

const PROJECTS = ['stamp-a', 'stamp-b', 'stamp-c'];
const OLD_STAMP = 'rule:1 kps:0 sdrs:0';

/** A context whose log lines are kept, as parsed JSON. */
async function startContext(config: Config): Promise<{ ctx: Context; logs: Record<string, unknown>[] }> {
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const ctx = await createContext(config, { logger: createLogger(config, destination) });
  return { ctx, logs };
}

/** Realistic jobs in every project (failures, running tasks, sub-jobs), a few failures cleared. */
async function fill(ctx: Context): Promise<void> {
  for (const project of PROJECTS) {
    const docs = [...projectJobs(new Random(`stamp/${project}`), 150, { endTime: Date.UTC(2026, 0, 1), spanMs: 86_400_000 })];
    await ctx.jobs.importNew(docs.map((doc) => toReportedJob(project, checkJson<JobDocument>(JobDocument, doc))));
  }
  const listed = await sql<{ project_id: string; job_id: string; list: 'sdrs' | 'kps_failed' }>`
    select project_id, job_id, list from jobs where list in ('sdrs', 'kps_failed') order by project_id, job_id limit 6`.execute(ctx.db.kysely);
  assert.equal(listed.rows.length, 6);
  for (const { project_id, job_id, list } of listed.rows) {
    await ctx.db.kysely.transaction().execute((tx) => ctx.writer.clear(tx, project_id, job_id, list, Date.UTC(2026, 0, 2)));
  }
}

/** Every stored listing and counter, to compare before and after. */
async function derived(db: Database) {
  const items = (
    await sql<{ project_id: string; job_id: string; list: string | null; list_item: string | null }>`
    select project_id, job_id, list, list_item from jobs order by project_id, job_id`.execute(db.kysely)
  ).rows;
  const counts = (
    await sql<{ project_id: string; bucket: string; n: number | string }>`
    select project_id, bucket, n from job_counts where n <> 0 order by project_id, bucket`.execute(db.kysely)
  ).rows.map((r) => ({ ...r, n: Number(r.n) }));
  return { items, counts };
}

async function versions(db: Database): Promise<Map<string, number>> {
  const rows = (await sql<{ project_id: string; version: number | string }>`select project_id, version from list_versions`.execute(db.kysely)).rows;
  return new Map(rows.map((r) => [r.project_id, Number(r.version)]));
}

/**
 * What another version of the listing code would have left: an old stamp, items rendered
 * otherwise, a job in a list it is not in, counters off, and counters of a project with
 * no job. Returns how many jobs' listings it changed.
 */
async function tamper(db: Database): Promise<number> {
  const k = db.kysely;
  await sql`update listing_stamp set stamp = ${OLD_STAMP}`.execute(k);
  const items = await sql`update jobs set list_item = ${'{"rendered":"by old code"}'} where list is not null`.execute(k);
  const unlisted =
    await sql`update jobs set list = 'sdrs', list_item = '{}' where job_id = (select min(job_id) from jobs where list is null and project_id = ${PROJECTS[0]}) and project_id = ${PROJECTS[0]}`.execute(
      k,
    );
  await sql`update job_counts set n = n + 3 where project_id = ${PROJECTS[1]}`.execute(k);
  await sql`delete from job_counts where project_id = ${PROJECTS[2]} and bucket = 'kps failed'`.execute(k);
  await sql`insert into job_counts (project_id, bucket, n) values ('stamp-gone', 'kps running', 4)`.execute(k);
  return Number(items.numAffectedRows) + Number(unlisted.numAffectedRows);
}

for (const engine of engines as Engine[]) {
  describe(`the rendering stamp at start [${engine}]`, () => {
    const configFor = (db: string) => loadConfig({ db, auth: 'none', logLevel: 'info' }, {});

    it('a new store records the code stamp without rebuilding or a word', async (t) => {
      const problem = engine === 'postgres' ? await postgresProblem() : null;
      if (problem !== null) return t.skip(problem);
      const database = await freshDatabase(engine);
      try {
        const { ctx, logs } = await startContext(configFor(database.url));
        try {
          assert.equal(await storedStamp(ctx.db.kysely), createListings().stamp);
          assert.deepEqual(
            logs.filter((l) => /rebuil|stamp/.test(String(l.msg))),
            [],
          );
        } finally {
          await ctx.close();
        }
      } finally {
        await database.drop();
      }
    });

    it('a store rendered by other listing code is rebuilt, every item and counter, before the context is ready', async (t) => {
      const problem = engine === 'postgres' ? await postgresProblem() : null;
      if (problem !== null) return t.skip(problem);
      const database = await freshDatabase(engine);
      const config = configFor(database.url);
      try {
        const first = await startContext(config);
        let before: Awaited<ReturnType<typeof derived>>;
        let versionsBefore: Map<string, number>;
        let tampered: number;
        try {
          await fill(first.ctx);
          assert.equal((await checkListings(first.ctx.db, first.ctx.writer.listings)).drifts, 0);
          before = await derived(first.ctx.db);
          tampered = await tamper(first.ctx.db);
          versionsBefore = await versions(first.ctx.db);
          const report = await checkListings(first.ctx.db, first.ctx.writer.listings);
          assert.ok(report.drifts > tampered, `the tampering shows: ${report.drifts} drifts`);
        } finally {
          await first.ctx.close();
        }

        const { ctx, logs } = await startContext(config);
        try {
          assert.deepEqual(await derived(ctx.db), before);
          assert.deepEqual(await checkListings(ctx.db, ctx.writer.listings), { jobs: before.items.length, drifts: 0, first: [] });
          assert.equal(await storedStamp(ctx.db.kysely), ctx.writer.listings.stamp);
          const versionsAfter = await versions(ctx.db);
          for (const project of [...PROJECTS, 'stamp-gone']) {
            assert.ok((versionsAfter.get(project) ?? 0) > (versionsBefore.get(project) ?? 0), `${project}'s lists changed: its version must rise`);
          }
          assert.equal(await sql`select * from job_counts where project_id = 'stamp-gone'`.execute(ctx.db.kysely).then((r) => r.rows.length), 0);

          const started = logs.find((l) => l.msg === 'listing stamp differs: rebuilding every list item and count before serving');
          assert.deepEqual([started?.stored, started?.stamp], [OLD_STAMP, ctx.writer.listings.stamp]);
          const done = logs.filter((l) => l.msg === 'lists rebuilt');
          assert.equal(done.length, 1);
          assert.equal(done[0]?.items, tampered);
          assert.equal(done[0]?.jobs, before.items.length);
          assert.equal(done[0]?.projects, PROJECTS.length);
          assert.equal(done[0]?.previous, OLD_STAMP);
          assert.ok(Number(done[0]?.counters) > 3, `counters corrected: ${String(done[0]?.counters)}`);
        } finally {
          await ctx.close();
        }

        // The stamp is current now: the next start reads it and does nothing.
        const again = await startContext(config);
        try {
          assert.deepEqual(
            again.logs.filter((l) => /rebuil|stamp/.test(String(l.msg))),
            [],
          );
        } finally {
          await again.ctx.close();
        }
      } finally {
        await database.drop();
      }
    });

    it('two servers starting at once on a stale store rebuild it once, each before it listens', async (t) => {
      const problem = engine === 'postgres' ? await postgresProblem() : null;
      if (problem !== null) return t.skip(problem);
      const database = await freshDatabase(engine);
      const config = configFor(database.url);
      try {
        const first = await startContext(config);
        try {
          await fill(first.ctx);
        } finally {
          await first.ctx.close();
        }
        const db = openDatabase(database.url);
        try {
          await tamper(db);
        } finally {
          await db.close();
        }

        const servers = [0, 1].map(() => startTaskcenter(['serve', '--db', database.url, '--auth', 'none', '--port', '0', '--log-level', 'info']));
        try {
          await Promise.all(servers.map((s) => s.waitFor(/"msg":"listening"/)));
          const lines = servers.map((s) =>
            s
              .stdout()
              .split('\n')
              .filter((l) => l.startsWith('{'))
              .map((l) => String((JSON.parse(l) as { msg: unknown }).msg)),
          );
          const rebuilt = lines.flat().filter((msg) => msg === 'lists rebuilt');
          assert.equal(rebuilt.length, 1, `exactly one of the two rebuilds:\n${lines.map((l) => l.join('\n')).join('\n--\n')}`);
          for (const msgs of lines) {
            const at = msgs.indexOf('lists rebuilt');
            if (at !== -1) assert.ok(at < msgs.indexOf('listening'), 'the rebuild ends before the server listens');
          }
        } finally {
          for (const server of servers) assert.equal(await server.stop(), 0);
        }
        const db2 = openDatabase(database.url);
        try {
          assert.equal((await checkListings(db2, createListings())).drifts, 0);
          assert.equal(await storedStamp(db2.kysely), createListings().stamp);
        } finally {
          await db2.close();
        }
      } finally {
        await database.drop();
      }
    });
  });
}
