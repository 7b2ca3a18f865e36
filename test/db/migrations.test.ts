/**
 * Migrations on both engines: an empty database gets the whole schema, an existing one
 * gets nothing and keeps its data, a failing migration leaves nothing behind, two
 * processes starting at once agree, and `taskcenter migrate` exits 0, 1 or 2.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { DEFAULT_STORE_LIMITS, type Database, type Engine } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import { migrate } from '../../src/db/migrate.js';
import { migrations } from '../../src/db/migrations/index.js';
import type { DB } from '../../src/db/schema.js';
import { createListings } from '../../src/context.js';
import { JobWriter } from '../../src/jobs/job-writer.js';
import { JobService } from '../../src/jobs/jobs.service.js';
import { ANONYMOUS } from '../../src/auth/principal.js';
import { checkNameIndex } from '../../src/db/name-search.js';
import { GROUP_LEVEL_SCOPE } from '../../src/sdrs/sdrs.listing.js';
import { listFailurePage } from '../../src/sdrs/sdrs.store.js';
import { taskcenter } from '../cli-helpers.js';
import { engines, freshDatabase, PG_ADMIN_URL, postgresProblem, sdrsJob } from '../helpers.js';

const ALL = Object.keys(migrations);
const APPLIED_ALL = `applied ${ALL.join(', ')}`;

/** The indexes of `jobs` (on SQLite the trigram index of names is an FTS5 table, not an index). */
const JOBS_INDEXES: Record<Engine, string[]> = {
  sqlite: ['jobs_finished_unlisted', 'jobs_kps_tasks', 'jobs_sdrs_failures_by_group', 'jobs_sdrs_failures_by_type', 'jobs_sub_jobs'],
  postgres: ['jobs_finished_unlisted', 'jobs_kps_tasks', 'jobs_sdrs_failures_by_group', 'jobs_sdrs_failures_by_type', 'jobs_sdrs_names', 'jobs_sub_jobs'],
};

async function tables(db: Database): Promise<string[]> {
  const all = await db.kysely.introspection.getTables({ withInternalKyselyTables: true });
  return all.map((t) => t.name).sort();
}

async function indexes(db: Database): Promise<string[]> {
  const query =
    db.engine === 'sqlite'
      ? sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'jobs' and name not like 'sqlite_autoindex%'`
      : sql<{ name: string }>`select indexname as name from pg_indexes where tablename = 'jobs' and indexname <> 'jobs_pk'`;
  return (await query.execute(db.kysely)).rows.map((r) => r.name).sort();
}

/** Creates, outside any migration, an index whose name migration 0001 needs, so that it fails halfway. */
async function blockIndexName(db: Kysely<DB>): Promise<void> {
  await sql`create table squatter (x integer)`.execute(db);
  await sql`create index jobs_sub_jobs on squatter (x)`.execute(db);
}

for (const engine of engines as Engine[]) {
  describe(`migrations [${engine}]`, () => {
    it('build the whole schema on an empty database, then apply nothing and keep the data', async () => {
      const database = await freshDatabase(engine);
      const db = openDatabase(database.url);
      try {
        assert.deepEqual(await migrate(db), { applied: ALL });
        const created = await tables(db);
        for (const table of ['jobs', 'job_counts', 'list_versions', 'taskcenter_migrations', 'taskcenter_migrations_lock'])
          assert.ok(created.includes(table), created.join(', '));
        assert.deepEqual(await indexes(db), JOBS_INDEXES[engine]);

        const job = sdrsJob();
        const [outcome] = await new JobService(db, new JobWriter(createListings())).reportBatch(ANONYMOUS, [{ project_id: 'p', ...job }]);
        assert.equal(outcome?.result, 'created');
        assert.deepEqual(await migrate(db), { applied: [] });
        assert.equal((await new JobService(db, new JobWriter(createListings())).get('p', String(job.job_id))).fail_reason, 'volume is error!');
      } finally {
        await db.close();
        await database.drop();
      }
    });

    it('bring a database of the first release (0001 only) up to date, keeping its jobs and lists', async () => {
      const database = await freshDatabase(engine);
      const db = openDatabase(database.url);
      try {
        await migrate(db);
        const job = sdrsJob({ resource: { id: 'g-1', name: 'erp-pg01', type: 'server_groups' }, server_group_id: 'g-1' });
        await new JobService(db, new JobWriter(createListings())).reportBatch(ANONYMOUS, [{ project_id: 'p', ...job }]);
        // What the first release left: its schema and data, and no later migration.
        for (const later of ['list_versions', 'listing_stamp', 'auth_failures', 'delivery_attempts', 'deliveries', 'subscriptions', 'emulator_steps'])
          await sql`drop table ${sql.id(later)}`.execute(db.kysely);
        await sql`drop index jobs_finished_unlisted`.execute(db.kysely);
        if (engine === 'sqlite') {
          for (const trigger of ['jobs_names_insert', 'jobs_names_update', 'jobs_names_delete']) await sql`drop trigger ${sql.id(trigger)}`.execute(db.kysely);
          await sql`drop table jobs_names`.execute(db.kysely);
          await sql`drop view jobs_names_source`.execute(db.kysely);
        } else {
          await sql`drop index jobs_sdrs_names`.execute(db.kysely);
        }
        await sql`delete from taskcenter_migrations where name <> '0001-jobs'`.execute(db.kysely);

        assert.deepEqual(await migrate(db), { applied: ALL.slice(1) });
        const versions = await sql<{ n: number | string }>`select count(*) as n from list_versions`.execute(db.kysely);
        assert.equal(Number(versions.rows[0]?.n), 0);
        assert.equal((await new JobService(db, new JobWriter(createListings())).get('p', String(job.job_id))).status, 'FAIL');
        const counts = await sql<{ n: number | string }>`select n from job_counts where project_id = 'p' and bucket = 'sdrs type:server_groups'`.execute(
          db.kysely,
        );
        assert.equal(Number(counts.rows[0]?.n), 1);
        // The name index of 0008 holds the failure stored before it.
        const named = (text: string) => listFailurePage(db.kysely, 'p', GROUP_LEVEL_SCOPE, { nameContains: text }, { limit: 10, offset: 0 }, undefined);
        assert.equal((await named('pg01')).count, 1);
        assert.equal((await named('pg02')).count, 0);
        assert.equal(await checkNameIndex(db), true);
      } finally {
        await db.close();
        await database.drop();
      }
    });

    it('leave nothing of a migration that fails halfway, and apply it whole once the obstacle is gone', async () => {
      const database = await freshDatabase(engine);
      const db = openDatabase(database.url);
      try {
        await blockIndexName(db.kysely);
        await assert.rejects(migrate(db), /^Error: migration 0001-jobs failed: .*jobs_sub_jobs.* already exists/);
        assert.ok(!(await tables(db)).includes('jobs'), 'the failed migration left its table behind');
        await sql`drop table squatter`.execute(db.kysely);
        assert.deepEqual(await migrate(db), { applied: ALL });
        assert.ok((await tables(db)).includes('jobs'));
      } finally {
        await db.close();
        await database.drop();
      }
    });

    it('agree when two processes migrate the same database at once', async () => {
      const database = await freshDatabase(engine);
      try {
        const runs = await Promise.all([taskcenter(['migrate', '--db', database.url]), taskcenter(['migrate', '--db', database.url])]);
        for (const run of runs) assert.equal(run.code, 0, run.stderr);
        const outputs = runs.map((r) => r.stdout.replace(/^.*: /, '').trim()).sort();
        assert.deepEqual(outputs, [APPLIED_ALL, 'schema already up to date']);
        const db = openDatabase(database.url);
        try {
          assert.deepEqual(await indexes(db), JOBS_INDEXES[engine]);
        } finally {
          await db.close();
        }
      } finally {
        await database.drop();
      }
    });

    // PostgreSQL: three stores in this process, as three nodes would be. (SQLite's lock is
    // the file's: one process waits for another's, as the test above shows.)
    if (engine === 'postgres') {
      it('let several stores migrate at once, again and again, none waiting on a lock another left behind', async () => {
        // Through PgBouncer's transaction pooling, a session lock taken and released in separate
        // round trips could stay on a server connection, and every later migration waited for it.
        const database = await freshDatabase(engine);
        const dbs = [0, 1, 2].map(() => openDatabase(database.url, { ...DEFAULT_STORE_LIMITS, statementTimeoutMs: 3000 }));
        try {
          for (let round = 0; round < 5; round++) {
            const reports = await Promise.all(dbs.map((db) => migrate(db)));
            assert.deepEqual(
              reports.flatMap((r) => r.applied),
              round === 0 ? ALL : [],
              `round ${round}`,
            );
          }
        } finally {
          for (const db of dbs) await db.close();
          await database.drop();
        }
      });
    }

    it('`taskcenter migrate` exits 0 on an empty and on a current database, 1 when a migration fails', async () => {
      const database = await freshDatabase(engine);
      try {
        const empty = await taskcenter(['migrate', '--db', database.url]);
        assert.equal(empty.code, 0, empty.stderr);
        assert.ok(empty.stdout.endsWith(`: ${APPLIED_ALL}\n`), empty.stdout);
        const again = await taskcenter(['migrate', '--db', database.url]);
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stdout, /: schema already up to date\n$/);
      } finally {
        await database.drop();
      }

      const blocked = await freshDatabase(engine);
      const db = openDatabase(blocked.url);
      try {
        await blockIndexName(db.kysely);
        await db.close();
        const failed = await taskcenter(['migrate', '--db', blocked.url]);
        assert.equal(failed.code, 1);
        assert.match(failed.stderr, /^taskcenter migrate: \S+: migration 0001-jobs failed: /);
        assert.equal(failed.stdout, '');
      } finally {
        await blocked.drop();
      }
    });
  });
}

describe('taskcenter migrate: usage and unreachable stores', () => {
  it('exits 2 for a bad --db or flag, saying what is wrong', async () => {
    const bad = await taskcenter(['migrate', '--db', 'mysql://localhost/x']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--db must be sqlite:<path>, sqlite::memory: or postgres:\/\/\.\.\., got 'mysql:\/\/localhost\/x'/);
    const flag = await taskcenter(['migrate', '--dbb', 'sqlite::memory:']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /--dbb/);
  });

  it('exits 1 when the store cannot be reached, saying so, without printing its password', async () => {
    const result = await taskcenter(['migrate', '--db', 'postgres://app:hunter2@127.0.0.1:1/taskcenter']);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^taskcenter migrate: postgres:\/\/app:\S+@127\.0\.0\.1:1\/taskcenter: cannot connect to the database: connect ECONNREFUSED 127\.0\.0\.1:1; no migration was run\n$/,
    );
    assert.ok(!result.stderr.includes('hunter2') && !result.stdout.includes('hunter2'));
    const file = await taskcenter(['migrate', '--db', 'sqlite:/dev/null/taskcenter.db']);
    assert.equal(file.code, 1);
    assert.match(file.stderr, /^taskcenter migrate: sqlite:\/dev\/null\/taskcenter\.db: cannot open the database: /);
  });

  it('exits 1 when the database does not exist, naming it and what to do', async (t) => {
    const problem = await postgresProblem();
    if (problem !== null) return t.skip(problem);
    const url = new URL(PG_ADMIN_URL);
    url.pathname = '/taskcenter_no_such_database';
    const result = await taskcenter(['migrate', '--db', url.toString()]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /: database "taskcenter_no_such_database" does not exist: create it first \(createdb\), then migrate; no migration was run\n$/);
  });

  it('exits 0 on sqlite::memory:', async () => {
    const result = await taskcenter(['migrate', '--db', 'sqlite::memory:']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `sqlite::memory:: ${APPLIED_ALL}\n`);
  });
});

describe('migration 0008 on PostgreSQL', () => {
  it('fails saying which extension it needs and how to get it when the role may not create extensions', async (t) => {
    const problem = await postgresProblem();
    if (problem !== null) return t.skip(problem);
    const database = await freshDatabase('postgres');
    const role = `taskcenter_noext_${randomBytes(4).toString('hex')}`;
    const url = new URL(database.url);
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      // A role that may create tables but not extensions: no CREATE on the database.
      await admin.query(`create role ${role} login`);
      await admin.query(`grant create on schema public to ${role}`);
      url.username = role;
      // The role is not in PgBouncer's user list (the suite's second pass): it logs in to
      // PostgreSQL itself, keeping the URL's pooling setting.
      const server = new URL(PG_ADMIN_URL);
      url.hostname = server.hostname;
      url.port = server.port;
      const db = openDatabase(url.toString());
      try {
        await assert.rejects(
          migrate(db),
          /^Error: migration 0008-resource-name-trigrams failed: the resource_name index needs the PostgreSQL extension pg_trgm \(permission denied to create extension "pg_trgm"\): install postgresql-contrib on the database server, and let this role create it \(grant create on database\) or have a superuser run "create extension pg_trgm" in this database first$/,
        );
        // Nothing was applied (one transaction); once a superuser has created the extensions, the role migrates.
        await admin.query('create extension pg_trgm');
        await admin.query('create extension btree_gin');
        assert.deepEqual(await migrate(db), { applied: ALL });
      } finally {
        await db.close();
      }
    } finally {
      await admin.end();
      await database.drop();
      const cleanup = new pg.Client({ connectionString: PG_ADMIN_URL });
      await cleanup.connect();
      await cleanup.query(`drop role if exists ${role}`);
      await cleanup.end();
    }
  });
});
