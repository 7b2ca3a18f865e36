/**
 * Grouped transactions (src/db/group-commit.ts) on both engines: callers asking at the
 * same time each get their own outcome, a throwing caller's writes are rolled back while
 * the others' commit, and every caller is answered only once its work is committed. On
 * SQLite the callers share one transaction (one sync of the log) when none fails, and a
 * caller that gave up while it waited is refused without failing the others.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql, type Kysely, type Transaction } from 'kysely';
import { Cancellation, withCancellation } from '../../src/db/cancellation.js';
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
        // b's throw failed the group: each caller ran again in a transaction of its own.
        if (engine === 'sqlite') assert.equal(new Set(handles).size, 5, 'the group, then each caller alone');
      } finally {
        await other.close();
        await db.close();
        await database.drop();
      }
    });

    const shared = engine === 'sqlite' ? false : 'PostgreSQL gives each caller a transaction of its own';
    it('share one transaction among callers asking at the same time, none of whom fails', { skip: shared }, async () => {
      const database = await freshDatabase(engine);
      const db = openDatabase(database.url);
      try {
        await sql`create table grouped_test (id text primary key)`.execute(db.kysely);
        const handles = new Set<Transaction<DB>>();
        const write = (id: string) =>
          db.groupedTransaction(async (tx) => {
            handles.add(tx);
            await sql`insert into grouped_test (id) values (${id})`.execute(tx);
            return id;
          });
        assert.deepEqual(await Promise.all([write('a'), write('b'), write('c')]), ['a', 'b', 'c']);
        assert.deepEqual(await ids(db.kysely), ['a', 'b', 'c']);
        assert.equal(handles.size, 1, 'the three callers shared one transaction');
      } finally {
        await db.close();
        await database.drop();
      }
    });

    it('refuse a caller that gave up while it waited, and commit the others together', { skip: shared }, async () => {
      const database = await freshDatabase(engine);
      const db = openDatabase(database.url);
      try {
        await sql`create table grouped_test (id text primary key)`.execute(db.kysely);
        const handles = new Set<Transaction<DB>>();
        let ran = 0;
        const write = (id: string) =>
          db.groupedTransaction(async (tx) => {
            ran++;
            handles.add(tx);
            await sql`insert into grouped_test (id) values (${id})`.execute(tx);
            return id;
          });
        const gaveUp = new Cancellation();
        const outcomes = Promise.allSettled([write('a'), withCancellation(gaveUp, () => write('b')), write('c')]);
        // Before the group begins: its work waits for the next turn of the event loop.
        gaveUp.cancel(new Error('the request deadline passed'));
        assert.deepEqual(
          (await outcomes).map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message)),
          ['a', 'store work cancelled: the request deadline passed', 'c'],
        );
        assert.deepEqual(await ids(db.kysely), ['a', 'c']);
        assert.equal(ran, 2, "b's work never ran");
        assert.equal(handles.size, 1, 'a and c shared one transaction');
      } finally {
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
        // Ends the transaction it runs in, as a failed commit would.
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
