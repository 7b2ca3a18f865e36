/**
 * Queries compiled once (src/db/prepared.ts) and the SQLite statement cache under them,
 * on both engines: each run binds its own values, in and out of a transaction; a read
 * started while a transaction is open never sees its uncommitted rows (on SQLite, where
 * reads outside a transaction skip Kysely's queue); shapes and row counts stay apart;
 * rows come back as the same objects Kysely would build.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sql, type Transaction } from 'kysely';
import { PreparedQueries, PreparedQuery, PreparedRowsQuery } from '../../src/db/prepared.js';
import type { DB } from '../../src/db/schema.js';
import { describeEachEngine, kpsJob, putJob, sdrsJob } from '../helpers.js';

const byProject = new PreparedQuery<{ projectId: string; service: 'sdrs' | 'kps' }, { job_id: string; service: string; begin_time: number }>(
  (db, { projectId, service }) =>
    db.selectFrom('jobs').select(['job_id', 'service', 'begin_time']).where('project_id', '=', projectId).where('service', '=', service).orderBy('job_id'),
);

describeEachEngine('prepared queries', (server) => {
  const db = () => server().ctx.db.kysely;

  it('bind the values of each run, in and out of a transaction', async () => {
    for (const [project, ids] of [
      ['prep-a', ['a-1', 'a-2']],
      ['prep-b', ['b-1']],
    ] as const) {
      for (const id of ids) {
        assert.equal((await putJob(server().app, project, sdrsJob({ job_id: id }))).statusCode, 201);
        assert.equal((await putJob(server().app, project, kpsJob({ job_id: `${id}-kps` }))).statusCode, 201);
      }
    }
    const ids = async (projectId: string, service: 'sdrs' | 'kps') => (await byProject.execute(db(), { projectId, service })).map((r) => r.job_id);
    assert.deepEqual(await ids('prep-a', 'sdrs'), ['a-1', 'a-2']);
    assert.deepEqual(await ids('prep-b', 'sdrs'), ['b-1']);
    assert.deepEqual(await ids('prep-a', 'kps'), ['a-1-kps', 'a-2-kps']);
    assert.deepEqual(await ids('prep-c', 'sdrs'), []);
    const inside = await db()
      .transaction()
      .execute((tx) => byProject.execute(tx, { projectId: 'prep-b', service: 'kps' }));
    assert.deepEqual(inside, [{ job_id: 'b-1-kps', service: 'kps', begin_time: Date.parse('2018-04-10T06:35:30.000Z') }]);
    assert.deepEqual(await byProject.executeTakeFirst(db(), { projectId: 'prep-a', service: 'sdrs' }), {
      job_id: 'a-1',
      service: 'sdrs',
      begin_time: Date.parse('2019-01-21T12:56:35.754Z'),
    });
  });

  it('never show a read the rows of a transaction still open, whether it then commits or rolls back', async () => {
    const ids = (rows: { job_id: string }[]) => rows.map((r) => r.job_id);
    const insert = (tx: Transaction<DB>, id: string) =>
      sql`insert into jobs (project_id, job_id, service, job_type, operation, status, begin_time, entities, cleared, created_at, updated_at)
          values ('prep-tx', ${id}, 'sdrs', 't', 'create', 'FAIL', 0, '{}', 0, 0, 0)`.execute(tx);

    let during: Promise<{ job_id: string }[]> | undefined;
    await assert.rejects(
      db()
        .transaction()
        .execute(async (tx) => {
          await insert(tx, 'rolled-back');
          during = byProject.execute(db(), { projectId: 'prep-tx', service: 'sdrs' });
          // Let the read run as far as it can before the transaction ends.
          await new Promise((resolve) => setTimeout(resolve, 20));
          throw new Error('roll back');
        }),
      /roll back/,
    );
    assert.deepEqual(ids(await (during as Promise<{ job_id: string }[]>)), []);

    await db()
      .transaction()
      .execute(async (tx) => {
        await insert(tx, 'committed');
        during = byProject.execute(db(), { projectId: 'prep-tx', service: 'sdrs' });
      });
    const seen = ids(await (during as Promise<{ job_id: string }[]>));
    // SQLite's one connection makes the read wait for the commit; PostgreSQL's may read before it.
    if (server().engine === 'sqlite') assert.deepEqual(seen, ['committed']);
    else assert.ok(seen.length === 0 || (seen.length === 1 && seen[0] === 'committed'), String(seen));
    assert.deepEqual(ids(await byProject.execute(db(), { projectId: 'prep-tx', service: 'sdrs' })), ['committed']);
  });

  it('keep each shape its own query', async () => {
    const queries = new PreparedQueries<{ projectId: string }, { n: number | string }>();
    const count = (status: 'FAIL' | 'SUCCESS' | null) =>
      queries
        .of(status ?? 'all', (kysely, { projectId }) => {
          const base = kysely
            .selectFrom('jobs')
            .select((eb) => eb.fn.countAll<number | string>().as('n'))
            .where('project_id', '=', projectId);
          return status === null ? base : base.where(sql<boolean>`status = ${sql.lit(status)}`);
        })
        .executeTakeFirst(db(), { projectId: 'prep-a' });
    assert.equal(Number((await count(null))?.n), 4);
    assert.equal(Number((await count('FAIL'))?.n), 4);
    assert.equal(Number((await count('SUCCESS'))?.n), 0);
  });

  it('bind the rows of each run, each row count its own statement', async () => {
    type Status = 'INIT' | 'RUNNING' | 'FAIL';
    const inserted = new PreparedRowsQuery<{ project_id: string; job_id: string; status: Status }, { job_id: string }>(
      ['project_id', 'job_id', 'status'],
      (kysely, rows) =>
        kysely
          .insertInto('jobs')
          .values(
            rows.map((r) => ({
              ...r,
              service: 'sdrs' as const,
              job_type: 't',
              operation: 'create',
              begin_time: 1,
              entities: '{}',
              cleared: 0,
              created_at: 2,
              updated_at: 3,
            })),
          )
          .returning('job_id'),
    );
    const byIds = new PreparedRowsQuery<{ project_id: string; job_id: string }, { job_id: string; status: string }>(['project_id', 'job_id'], (kysely, keys) =>
      kysely
        .selectFrom('jobs')
        .select(['job_id', 'status'])
        .where('project_id', '=', (keys[0] as { project_id: string }).project_id)
        .where(
          'job_id',
          'in',
          keys.map((k) => k.job_id),
        )
        .orderBy('job_id'),
    );
    const rows = (ids: string[], status: Status) => ids.map((job_id) => ({ project_id: 'prep-rows', job_id, status }));
    assert.deepEqual(await inserted.execute(db(), rows(['r-1', 'r-2'], 'FAIL')), [{ job_id: 'r-1' }, { job_id: 'r-2' }]);
    assert.deepEqual(
      await db()
        .transaction()
        .execute((tx) => inserted.execute(tx, rows(['r-3', 'r-4', 'r-5'], 'RUNNING'))),
      [{ job_id: 'r-3' }, { job_id: 'r-4' }, { job_id: 'r-5' }],
    );
    assert.deepEqual(await inserted.execute(db(), rows(['r-6', 'r-7'], 'INIT')), [{ job_id: 'r-6' }, { job_id: 'r-7' }]);
    const keys = (ids: string[]) => ids.map((job_id) => ({ project_id: 'prep-rows', job_id }));
    assert.deepEqual(await byIds.execute(db(), keys(['r-7', 'r-1'])), [
      { job_id: 'r-1', status: 'FAIL' },
      { job_id: 'r-7', status: 'INIT' },
    ]);
    assert.deepEqual(await byIds.execute(db(), keys(['r-4', 'r-6', 'r-9'])), [
      { job_id: 'r-4', status: 'RUNNING' },
      { job_id: 'r-6', status: 'INIT' },
    ]);
    assert.deepEqual(
      await byIds.execute(db(), [
        { project_id: 'prep-a', job_id: 'r-1' },
        { project_id: 'prep-a', job_id: 'a-1' },
      ]),
      [{ job_id: 'a-1', status: 'FAIL' }],
    );
  });

  it('return rows with every column, nulls included, as Kysely builds them', async () => {
    const rows = await sql<{ a: number; b: string | null; 'odd "name"': string }>`select 1 as a, null as b, 'x' as "odd ""name"""`.execute(db());
    assert.deepEqual(rows.rows, [{ a: 1, b: null, 'odd "name"': 'x' }]);
    // The statement is cached now: a second run reads through the same function.
    assert.deepEqual((await sql`select 2 as a`.execute(db())).rows, [{ a: 2 }]);
    assert.deepEqual((await sql`select 2 as a`.execute(db())).rows, [{ a: 2 }]);
  });
});
