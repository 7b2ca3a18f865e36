/**
 * List pages (src/db/list-page.ts) on both engines: the count, the items newest first
 * (ties by job id, descending) at any offset, and the version, whether SQLite's unsorted
 * read passes its order check or the page is read again sorted.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Kysely } from 'kysely';
import { ListPages } from '../../src/db/list-page.js';
import type { DB } from '../../src/db/schema.js';
import { versionOf } from '../../src/jobs/listing.store.js';
import { describeEachEngine, reportJobs, sdrsInGroupFailure, uniqueId } from '../helpers.js';

type Values = { projectId: string };
const failures = (db: Kysely<DB>, { projectId }: Values) => db.selectFrom('jobs').where('project_id', '=', projectId).where('list', '=', 'sdrs');
const count = (db: Kysely<DB>, values: Values) => failures(db, values).select((eb) => eb.fn.countAll().as('n'));
const version = (db: Kysely<DB>, { projectId }: Values) => versionOf(db, projectId);

describeEachEngine('list pages', (server) => {
  it('are newest first, ties by job id descending, at any offset, whether or not the unsorted read is trusted', async () => {
    const project = uniqueId('pages');
    const begun = { old: 1, mid: 3, 'mid-b': 3, new: 4, 'tie-a': 5, 'tie-b': 5, 'tie-c': 5 };
    await reportJobs(
      server().app,
      project,
      Object.entries(begun).map(([id, n]) => sdrsInGroupFailure(id, 'g-1', 'protected_instances', n)),
    );
    const newestFirst = ['tie-c', 'tie-b', 'tie-a', 'new', 'mid-b', 'mid', 'old'];
    const db = server().ctx.db.kysely;
    const trusting = new ListPages<Values>();
    let checked = 0;
    const refusing = new ListPages<Values>(() => {
      checked += 1;
      return false;
    });
    for (const [limit, offset] of [
      [100, 0],
      [3, 0],
      [3, 3],
      [2, 5],
      [2, 7],
    ] as const) {
      for (const pages of [trusting, refusing]) {
        const page = await pages.read(db, 'test failures', { projectId: project }, { limit, offset }, failures, count, version);
        const ids = (JSON.parse(`[${page.items}]`) as { job_id: string }[]).map((item) => item.job_id);
        assert.deepEqual(ids, newestFirst.slice(offset, offset + limit), `limit ${limit} offset ${offset}`);
        assert.equal(page.count, newestFirst.length);
        assert.ok(page.version > 0, 'the version of lists that changed');
      }
    }
    // SQLite checks each non-empty page's order; PostgreSQL sorts inside the aggregate and has nothing to check.
    assert.equal(checked, server().engine === 'sqlite' ? 4 : 0);
  });
});
