/**
 * `taskcenter check` and `taskcenter rebuild-listings` as a user runs them, on both
 * engines: a seeded store checks clean; one counter off makes check exit 1 naming its
 * project and bucket; rebuild-listings mends it (with progress on stderr) and check is
 * clean again; a second rebuild finds nothing to mend.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../../src/db/open.js';
import { taskcenter } from '../cli-helpers.js';
import { engines, freshDatabase, postgresProblem } from '../helpers.js';

for (const engine of engines) {
  describe(`taskcenter check and rebuild-listings [${engine}]`, () => {
    it('check exits 0, then 1 naming a counter set off, rebuild-listings mends it, and check exits 0 again', async (t) => {
      const problem = engine === 'postgres' ? await postgresProblem() : null;
      if (problem !== null) return t.skip(problem);
      const database = await freshDatabase(engine);
      try {
        const seeded = await taskcenter(['seed', '--db', database.url, '--projects', '3', '--jobs', '900', '--end-time', '2026-01-01T00:00:00.000Z']);
        assert.equal(seeded.code, 0, seeded.stderr);

        const clean = await taskcenter(['check', '--db', database.url]);
        assert.equal(clean.code, 0, clean.stdout + clean.stderr);
        assert.match(clean.stdout, /: 900 jobs checked, no difference\n$/);

        const db = openDatabase(database.url);
        let bucket: string;
        try {
          const row = (await sql<{ bucket: string }>`select bucket from job_counts where project_id = 'seed-000001' order by bucket limit 1`.execute(db.kysely))
            .rows[0];
          assert.ok(row !== undefined);
          bucket = row.bucket;
          await sql`update job_counts set n = n + 1 where project_id = 'seed-000001' and bucket = ${bucket}`.execute(db.kysely);
        } finally {
          await db.close();
        }

        const drifted = await taskcenter(['check', '--db', database.url]);
        assert.equal(drifted.code, 1, drifted.stdout + drifted.stderr);
        assert.ok(drifted.stdout.includes(`count  project seed-000001  bucket '${bucket}'  stored `), drifted.stdout);
        assert.match(drifted.stdout, /: 900 jobs checked, 1 differences\n$/);

        const rebuilt = await taskcenter(['rebuild-listings', '--db', database.url]);
        assert.equal(rebuilt.code, 0, rebuilt.stdout + rebuilt.stderr);
        assert.match(
          rebuilt.stdout,
          /: 900 jobs, 0 items re-rendered, 1 counters corrected, 3 projects recounted, stamp 'rule:\d+ kps:\d+ sdrs:\d+', \d+\.\d s\n$/,
        );
        assert.match(rebuilt.stderr, /^900\/900 jobs \(100%\)/m);
        assert.match(rebuilt.stderr, /^3\/3 projects \(100%\)/m);

        const again = await taskcenter(['check', '--db', database.url]);
        assert.equal(again.code, 0, again.stdout + again.stderr);
        const twice = await taskcenter(['rebuild-listings', '--db', database.url]);
        assert.equal(twice.code, 0, twice.stdout + twice.stderr);
        assert.match(twice.stdout, /: 900 jobs, 0 items re-rendered, 0 counters corrected, 3 projects recounted/);
      } finally {
        await database.drop();
      }
    });
  });
}

describe('taskcenter check and rebuild-listings: the resource_name index [sqlite]', () => {
  it('check exits 1 when the FTS5 name index differs from the rows, rebuild-listings mends it', async () => {
    const database = await freshDatabase('sqlite');
    try {
      const seeded = await taskcenter(['seed', '--db', database.url, '--projects', '1', '--jobs', '300', '--end-time', '2026-01-01T00:00:00.000Z']);
      assert.equal(seeded.code, 0, seeded.stderr);
      const db = openDatabase(database.url);
      try {
        // A name indexed under a rowid no listed failure has: what a VACUUM renumbering rowids leaves.
        await sql`insert into jobs_names (rowid, resource_name) values (987654321, 'ghost-name')`.execute(db.kysely);
      } finally {
        await db.close();
      }
      const drifted = await taskcenter(['check', '--db', database.url]);
      assert.equal(drifted.code, 1, drifted.stdout + drifted.stderr);
      assert.match(
        drifted.stdout,
        /^names {2}the resource_name index differs from the rows: run taskcenter rebuild-listings\n.*: 300 jobs checked, 1 differences\n$/m,
      );
      const rebuilt = await taskcenter(['rebuild-listings', '--db', database.url]);
      assert.equal(rebuilt.code, 0, rebuilt.stdout + rebuilt.stderr);
      const clean = await taskcenter(['check', '--db', database.url]);
      assert.equal(clean.code, 0, clean.stdout + clean.stderr);
      assert.match(clean.stdout, /: 300 jobs checked, no difference\n$/);
    } finally {
      await database.drop();
    }
  });
});
