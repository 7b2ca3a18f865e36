/**
 * What the demo needs to start over on a database it made before, on either engine: what
 * the database holds, and dropping it all.
 */
import { sql } from 'kysely';
import { isMissingRelation, type Database } from './database.js';

/** Every table of the database (PostgreSQL: of its current schema), whoever made it. */
export async function tablesOf(db: Database): Promise<string[]> {
  const query =
    db.engine === 'sqlite'
      ? sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`
      : sql<{ name: string }>`select tablename as name from pg_tables where schemaname = current_schema() order by tablename`;
  return (await query.execute(db.kysely)).rows.map((row) => row.name);
}

/** Up to `limit` projects holding jobs besides `allowed`; none when there is no jobs table. */
export async function projectsBesides(db: Database, allowed: readonly string[], limit = 3): Promise<string[]> {
  try {
    const rows = await db.kysely.selectFrom('jobs').select('project_id').distinct().where('project_id', 'not in', allowed).limit(limit).execute();
    return rows.map((row) => row.project_id);
  } catch (error) {
    if (isMissingRelation(error)) return [];
    throw error;
  }
}

/** Drops every table of the database (PostgreSQL: of its current schema), leaving it as created. */
export async function dropAllTables(db: Database): Promise<void> {
  for (const name of await tablesOf(db)) {
    await sql`drop table if exists ${sql.id(name)}${db.engine === 'postgres' ? sql` cascade` : sql``}`.execute(db.kysely);
  }
}
