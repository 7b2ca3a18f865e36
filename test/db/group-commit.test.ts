/**
 * Grouped transactions (src/db/group-commit.ts) on both engines: callers asking at the
 * same time each get their own outcome, a throwing caller's writes are rolled back while
 * the others' commit, and every caller is answered only once its work is committed. On
 * SQLite the callers share one transaction (one sync of the log).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Engine } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import type { DB } from '../../src/db/schema.js';
import { engines, freshDatabase } from '../helpers.js';

async function ids(db: Kysely<DB>): Promise<string[]> {
  const { rows } = await sql<{ id: string }>`select id from grouped_test order by id`.execute(db);
  return rows.map((r) => r.id);
}

for (const engine of engines as Engine[]) {
  describe(`grouped transactions [${engine}]`, () => {
    it('commit every caller but the one that throws, and answer each after its commit', async () => {
      const database = await freshDatabase(engine);
      const db = openDatabase(database.url);
      // Another connection (another process's view): sees only what is committed.
      const other = openDatabase(database.url);
      try {
        await sql`create table grouped_test (id text primary key)`.execute(db.kysely);
        const handles: Transaction<DB>[] = [];
        const seenAtAnswer: { id: string; seen: string[] }[] = [];
        const write = (id: string, fail: boolean) =>
          db
            .groupedTransaction(async (tx) => {
              handles.push(tx);
              await sql`insert into grouped_test (id) values (${id})`.execute(tx);
              if (fail) throw new Error(`caller ${id} fails`);
              return id;
            })
            .then(async (value) => {
              seenAtAnswer.push({ id: value, seen: await ids(other.kysely) });
              return value;
            });
        const outcomes = await Promise.allSettled([write('a', false), write('b', true), write('c', false), write('d', false)]);
        assert.deepEqual(
          outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message)),
          ['a', 'caller b fails', 'c', 'd'],
        );
        assert.deepEqual(await ids(other.kysely), ['a', 'c', 'd']);
        assert.equal(seenAtAnswer.length, 3);
        for (const { id, seen } of seenAtAnswer) assert.ok(seen.includes(id), `${id} was answered before its commit: ${seen.join(', ')}`);
        if (engine === 'sqlite') assert.equal(new Set(handles).size, 1, 'the four callers shared one transaction');
      } finally {
        await other.close();
        await db.close();
        await database.drop();
      }
    });

    const onlyShared = engine === 'sqlite' ? false : 'PostgreSQL gives each caller a transaction of its own: nothing is shared to fail';
    it('run alone again when the shared transaction fails, so only the failing caller fails', { skip: onlyShared }, async () => {
      const database = await freshDatabase(engine);
      const db = openDatabase(database.url);
      try {
        await sql`create table grouped_test (id text primary key)`.execute(db.kysely);
        let runs = 0;
        const write = (id: string) =>
          db.groupedTransaction(async (tx) => {
            runs++;
            await sql`insert into grouped_test (id) values (${id})`.execute(tx);
            return id;
          });
        // Ends the transaction it runs in (SQLite: every savepoint with it), as a failed commit would.
        const breaker = db.groupedTransaction(async (tx) => {
          await sql`rollback`.execute(tx);
          return 'never';
        });
        const outcomes = await Promise.allSettled([write('a'), breaker, write('c')]);
        assert.deepEqual(
          outcomes.map((o) => o.status),
          ['fulfilled', 'rejected', 'fulfilled'],
        );
        assert.deepEqual(await ids(db.kysely), ['a', 'c']);
        assert.ok(runs >= 2);
      } finally {
        await db.close();
        await database.drop();
      }
    });
  });
}
