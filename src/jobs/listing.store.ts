/**
 * Reads of `job_counts`, the exact size of each list bucket, of `list_versions`, which
 * tells whether a project's lists changed (src/jobs/listing.ts), and of `listing_stamp`,
 * which says what code rendered them. Only the one writer writes them
 * (src/jobs/job-writer.ts).
 */
import { sql, type Kysely, type SqlBool } from 'kysely';
import { PreparedQuery, PreparedRowsQuery } from '../db/prepared.js';
import type { DB } from '../db/schema.js';
import { JOB_COLUMNS } from './jobs.store.js';

/** The select of one bucket's size, for a list page's count: no row when nothing was ever counted in it. */
export function countOf(db: Kysely<DB>, projectId: string, bucket: string) {
  return db.selectFrom('job_counts').select('n').where('project_id', '=', projectId).where('bucket', '=', bucket);
}

/** The select of a project's list version, for a list page read with it: no row before its lists first change. */
export function versionOf(db: Kysely<DB>, projectId: string) {
  return db.selectFrom('list_versions').select('version').where('project_id', '=', projectId);
}

const listVersionQuery = new PreparedQuery<{ projectId: string }, { version: number }>((db, { projectId }) => versionOf(db, projectId));

/** The project's list version: 0 until its lists first change, then raised by every change. */
export async function listVersion(db: Kysely<DB>, projectId: string): Promise<number> {
  const row = await listVersionQuery.executeTakeFirst(db, { projectId });
  return row?.version ?? 0;
}

/** The most projects one {@link listVersions} statement asks about: each count up to it is compiled once. */
const VERSIONS_PER_READ = 64;

const listVersionsQuery = new PreparedRowsQuery<{ projectId: string }, { project_id: string; version: number }>(['projectId'], (db, rows) =>
  db
    .selectFrom('list_versions')
    .select(['project_id', 'version'])
    .where(
      'project_id',
      'in',
      rows.map((r) => r.projectId),
    ),
);

/** The list versions of `projectIds` (a project absent from the answer is at 0), one statement per {@link VERSIONS_PER_READ} projects. */
export async function listVersions(db: Kysely<DB>, projectIds: readonly string[]): Promise<Map<string, number>> {
  const versions = new Map<string, number>();
  if (projectIds.length === 1) {
    const projectId = projectIds[0] as string;
    versions.set(projectId, await listVersion(db, projectId));
    return versions;
  }
  for (let i = 0; i < projectIds.length; i += VERSIONS_PER_READ) {
    const rows = await listVersionsQuery.execute(
      db,
      projectIds.slice(i, i + VERSIONS_PER_READ).map((projectId) => ({ projectId })),
    );
    for (const { project_id, version } of rows) versions.set(project_id, Number(version));
  }
  return versions;
}

/** Up to `limit` stored jobs with their listing after `after` (from the first when undefined), in key order. */
export async function scanJobs(db: Kysely<DB>, after: { project_id: string; job_id: string } | undefined, limit: number) {
  let query = db.selectFrom('jobs').selectAll();
  if (after !== undefined) query = query.where(sql<SqlBool>`(project_id, job_id) > (${after.project_id}, ${after.job_id})`);
  return query.orderBy('project_id').orderBy('job_id').limit(limit).execute();
}

/** A project's non-zero counters. */
export async function countersOf(db: Kysely<DB>, projectId: string): Promise<Map<string, number>> {
  const rows = await db.selectFrom('job_counts').select(['bucket', 'n']).where('project_id', '=', projectId).execute();
  return new Map(rows.filter((r) => Number(r.n) !== 0).map((r) => [r.bucket, Number(r.n)]));
}

/** Non-zero counters of projects that have no job. */
export async function orphanCounters(db: Kysely<DB>, limit: number) {
  return db
    .selectFrom('job_counts')
    .select(['project_id', 'bucket', 'n'])
    .where('n', '<>', 0)
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('jobs').select('job_id').whereRef('jobs.project_id', '=', 'job_counts.project_id'))))
    .limit(limit)
    .execute();
}

/** The stamp of the listing code that rendered the stored lists, or null when unknown (src/jobs/listing-rebuild.ts). */
export async function storedStamp(db: Kysely<DB>): Promise<string | null> {
  const row = await db.selectFrom('listing_stamp').select('stamp').where('id', '=', 1).executeTakeFirst();
  return row?.stamp ?? null;
}

/** True when at least one job is stored. */
export async function anyJob(db: Kysely<DB>): Promise<boolean> {
  return (await db.selectFrom('jobs').select('job_id').limit(1).executeTakeFirst()) !== undefined;
}

/** How many jobs are stored: the total a rebuild's progress counts towards. */
export async function jobCount(db: Kysely<DB>): Promise<number> {
  const row = await db
    .selectFrom('jobs')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Up to `limit` listed jobs of `projects` after `after` (from the first when undefined), in key order. */
export async function listedJobs(db: Kysely<DB>, projects: readonly string[], after: { project_id: string; job_id: string } | undefined, limit: number) {
  let query = db.selectFrom('jobs').select(JOB_COLUMNS).where('project_id', 'in', projects).where('list', 'is not', null);
  if (after !== undefined) query = query.where(sql<SqlBool>`(project_id, job_id) > (${after.project_id}, ${after.job_id})`);
  return query.orderBy('project_id').orderBy('job_id').limit(limit).execute();
}

/** The non-zero counters of `projects`, by project. */
export async function countersOfProjects(db: Kysely<DB>, projects: readonly string[]): Promise<Map<string, Map<string, number>>> {
  const rows = await db.selectFrom('job_counts').select(['project_id', 'bucket', 'n']).where('project_id', 'in', projects).where('n', '<>', 0).execute();
  const counters = new Map<string, Map<string, number>>();
  for (const { project_id, bucket, n } of rows) {
    let project = counters.get(project_id);
    if (project === undefined) counters.set(project_id, (project = new Map()));
    project.set(bucket, Number(n));
  }
  return counters;
}
