import { sql, type Kysely } from 'kysely';
import type { Engine } from '../database.js';

/**
 * A trigram index over the resource names of the SDRS failure list (`list = 'sdrs'`), so
 * that a `resource_name` filter (a literal, case-sensitive substring, API.md §1) reads
 * the rows whose names contain the text instead of every failure in the scope
 * (src/db/name-search.ts).
 *
 * PostgreSQL: a GIN index over (project_id, resource_name) with `pg_trgm` (trigrams of
 * the name) and `btree_gin` (the project id as a GIN key, so one project's matches are
 * found without the others'). Both extensions ship in postgresql-contrib and are trusted:
 * a role with CREATE on the database may create them. PostgreSQL keeps the index itself.
 *
 * SQLite: an FTS5 table `jobs_names` with the trigram tokenizer (case-sensitive), its
 * rowid the jobs row's rowid, over the view `jobs_names_source` (the names of listed
 * SDRS failures) as its external content. The triggers below keep it in step with every
 * write of `jobs`, in the writing statement: the one writer (src/jobs/job-writer.ts)
 * stays the only code that writes it, without naming it. The FTS5 commands
 * `integrity-check` and `rebuild` compare it with, and rebuild it from, the view
 * (src/db/name-search.ts: checkNameIndex, rebuildNameIndex). `jobs` has no INTEGER
 * PRIMARY KEY, so a VACUUM may renumber its rowids: rebuild the name index after one.
 */
export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  if (engine === 'postgres') {
    for (const extension of ['pg_trgm', 'btree_gin']) {
      try {
        await sql`create extension if not exists ${sql.id(extension)}`.execute(db);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(
          `the resource_name index needs the PostgreSQL extension ${extension} (${reason}): install postgresql-contrib on the database server, ` +
            `and let this role create it (grant create on database) or have a superuser run "create extension ${extension}" in this database first`,
          { cause: error },
        );
      }
    }
    await sql`create index jobs_sdrs_names on jobs using gin (project_id, resource_name gin_trgm_ops) where list = 'sdrs'`.execute(db);
    return;
  }
  const listed = (row: 'new' | 'old') => sql.raw(`(${row}.list is 'sdrs' and ${row}.resource_name is not null)`);
  await sql`create view jobs_names_source as select rowid as id, resource_name from jobs where list = 'sdrs' and resource_name is not null`.execute(db);
  await sql`create virtual table jobs_names using fts5(resource_name, content = 'jobs_names_source', content_rowid = 'id', tokenize = 'trigram case_sensitive 1')`.execute(
    db,
  );
  await sql`create trigger jobs_names_insert after insert on jobs when ${listed('new')} begin
    insert into jobs_names (rowid, resource_name) values (new.rowid, new.resource_name);
  end`.execute(db);
  await sql`create trigger jobs_names_delete after delete on jobs when ${listed('old')} begin
    insert into jobs_names (jobs_names, rowid, resource_name) values ('delete', old.rowid, old.resource_name);
  end`.execute(db);
  // Only when the job enters or leaves the index or its indexed name changes: the writer
  // sets every column of a job it updates, most of them unchanged.
  await sql`create trigger jobs_names_update after update of list, resource_name on jobs
    when ${listed('old')} is not ${listed('new')} or (${listed('old')} and old.resource_name is not new.resource_name) begin
    insert into jobs_names (jobs_names, rowid, resource_name) select 'delete', old.rowid, old.resource_name where ${listed('old')};
    insert into jobs_names (rowid, resource_name) select new.rowid, new.resource_name where ${listed('new')};
  end`.execute(db);
  // Jobs stored before this migration.
  await sql`insert into jobs_names (jobs_names) values ('rebuild')`.execute(db);
}
