/**
 * The one writer of jobs and of the data derived from them (DESIGN.md, "Derived data and
 * the one writer"). Every write of `jobs`, `job_counts` and `list_versions` goes through
 * a {@link JobWriter}, in the caller's transaction:
 *
 * - each job written gets its listing columns (`list`, `list_item`) from the listings
 *   (src/jobs/listing.ts: the one `listOf` rule, the service's rendered item);
 * - each change moves the job's count buckets: minus the buckets of the row before, plus
 *   those of the row after, summed per transaction and written in one pass;
 * - each project whose lists changed (a job entering, leaving, or written again while in
 *   a list) gets its list version raised, which invalidates its cached pages
 *   (src/jobs/list-cache.ts) in every process;
 * - each observer ({@link JobWriter.observe}) is called with the changes, still inside the
 *   transaction, so what it writes (an outbox row) commits or rolls back with them.
 *
 * The API, for writers to come (reset, import, retention, progression, notifications):
 *
 * | call | what it does |
 * | --- | --- |
 * | `lock(tx, keys)` | reads stored jobs and locks them (PostgreSQL) until the transaction ends |
 * | `save(tx, created, updated)` | inserts new jobs and overwrites stored ones (reports, batches, seed) |
 * | `clear(tx, projectId, jobId, list, now)` | takes one job off `list` (DeleteFailureJob, DeleteFailedTask) |
 * | `clearScope(tx, where, now)` | takes every job of a list scope off it (the batch deletes) |
 * | `delete(tx, filter)` | deletes jobs: a project, everything, or finished jobs before a time (reset, retention) |
 * | `put(tx, rows)` | writes jobs with their stored state: cleared, created_at, updated_at (snapshot import) |
 * | `rerender(tx, after, limit)`, `recount(tx, projects)`, `dropOrphanCounts(tx)`, `recordStamp(tx, now)` | a rebuild's passes (src/jobs/listing-rebuild.ts) |
 *
 * On SQLite, triggers on `jobs` keep the FTS5 index of resource names (`jobs_names`,
 * migration 0008) in step with each of these writes; PostgreSQL's GIN index needs nothing.
 *
 * Nothing else writes those tables: services name none of them, and only this file
 * imports the SQL (src/jobs/job-writer.store.ts). `taskcenter check` (src/jobs/listing-check.ts)
 * proves the derived data equals what the rows say; `taskcenter rebuild-listings`
 * (src/jobs/listing-rebuild.ts) makes it so.
 */
import type { Transaction } from 'kysely';
import type { DB } from '../db/schema.js';
import {
  deleteAllJobs,
  deleteJobs,
  deleteOrphanCounts,
  insertNewJobs,
  lockJobs,
  lockRange,
  lockScope,
  lockSubJobs,
  raiseAllListVersions,
  recordListChanges,
  replaceCounts,
  selectToDelete,
  setListing,
  overwriteJobs,
  updateJobs,
  writeStamp,
  type CountDelta,
  type StoredRow,
} from './job-writer.store.js';
import type { JobKey } from './jobs.store.js';
import type { JobRow, ListName } from './jobs.table.js';
import type { Listings, ScopeWhere } from './listing.js';
import { countersOfProjects, listedJobs } from './listing.store.js';

/** One job's change: `before` undefined for a job created, `after` undefined for a job deleted. */
export interface JobChange {
  readonly before: JobRow | undefined;
  readonly after: JobRow | undefined;
}

/**
 * Told every change a writer call made, inside its transaction, after the rows are
 * written (a query sees them); what it writes with `tx` commits with them. It must not
 * write `jobs`, `job_counts` or `list_versions`. A throw rolls the whole write back.
 */
export type JobObserver = (tx: Transaction<DB>, changes: readonly JobChange[]) => Promise<void>;

/** How an observer is told of changes ({@link JobWriter.observe}). */
export interface ObserveOptions {
  /**
   * False when the observer ignores deleted jobs (`after` undefined): deleting a whole
   * project or everything then skips telling it, and reads none of the rows. Default true.
   */
  readonly deletions?: boolean;
}

/** A stored job and what it becomes. */
export interface JobUpdate {
  /** The row as stored, read in this transaction ({@link JobWriter.lock}). */
  readonly before: JobRow;
  /** The new row; its key, `cleared` and `created_at` are the stored ones whatever it says. */
  readonly after: JobRow;
}

/** Which jobs {@link JobWriter.delete} deletes. */
export interface DeleteFilter {
  /** Only this project's jobs; every project's when absent. */
  readonly projectId?: string | undefined;
  /**
   * Only top-level jobs that ended before this time (epoch ms) and are in no list (an
   * uncleared failure is kept however old), each with its sub-jobs; sub-jobs go only
   * with their parent. Absent: every job.
   */
  readonly finishedBefore?: number | undefined;
  /** At most this many jobs selected by the filter (sub-jobs not counted) in this call: retention's small batches. */
  readonly limit?: number | undefined;
}

/** What {@link JobWriter.put} did. */
export interface PutOutcome {
  /** Rows inserted or overwritten. */
  readonly written: number;
  /** Rows already stored exactly so. */
  readonly unchanged: number;
}

/** What {@link JobWriter.rerender} did. */
export interface RerenderOutcome {
  /** Jobs read; fewer than the limit means the end was reached. */
  readonly jobs: number;
  /** Jobs whose list or item was rewritten. */
  readonly rewritten: number;
  /** The last job read: where the next call starts. */
  readonly last: JobKey | undefined;
  /** The projects of the jobs read. */
  readonly projects: readonly string[];
}

/** Listed jobs a recount reads per query. */
const RECOUNT_BATCH = 5_000;

/** Rows a delete reads and deletes per statement round. */
const DELETE_BATCH = 500;

const keyOf = (k: JobKey) => `${k.project_id}\u0000${k.job_id}`;

/** Job columns compared by {@link JobWriter.put}: all of them. */
const sameRow = (a: JobRow, b: JobRow) => (Object.keys(a) as (keyof JobRow)[]).every((column) => a[column] === b[column]);

/** The bucket changes and touched projects of one writer call. */
class ListChanges {
  readonly #deltas = new Map<string, { project_id: string; bucket: string; n: number }>();
  readonly #projects = new Set<string>();

  constructor(private readonly listings: Listings) {}

  /** Counts one job's change; a listed job written again changes its project's lists even when its buckets stay the same. */
  change(before: JobRow | undefined, after: JobRow | undefined): void {
    if (before !== undefined) this.#add(before, -1);
    if (after !== undefined) this.#add(after, 1);
  }

  #add(job: JobRow, sign: number): void {
    for (const bucket of this.listings.bucketsOf(job)) {
      this.#projects.add(job.project_id);
      const key = `${job.project_id}\u0000${bucket}`;
      const delta = this.#deltas.get(key);
      if (delta === undefined) this.#deltas.set(key, { project_id: job.project_id, bucket, n: sign });
      else delta.n += sign;
    }
  }

  /**
   * The non-zero changes in (project, bucket) order and the touched projects in order:
   * every transaction touches shared rows in the same order, so two of them never wait
   * for each other's rows in a cycle.
   */
  async record(tx: Transaction<DB>): Promise<void> {
    if (this.#projects.size === 0) return;
    const deltas: CountDelta[] = [...this.#deltas.values()]
      .filter((d) => d.n !== 0)
      .sort((a, b) => (a.project_id !== b.project_id ? (a.project_id < b.project_id ? -1 : 1) : a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0));
    const projects = [...this.#projects].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    await recordListChanges(tx, projects, deltas);
  }
}

export class JobWriter {
  readonly #observers = new Map<JobObserver, ObserveOptions>();

  constructor(readonly listings: Listings) {}

  /**
   * Adds an observer of every change from now on; returns the function that removes it.
   * One that ignores deleted jobs says so (`deletions: false`), and deleting a whole
   * project or everything then reads none of the rows it deletes.
   */
  observe(observer: JobObserver, options: ObserveOptions = {}): () => void {
    this.#observers.set(observer, options);
    return () => this.#observers.delete(observer);
  }

  /**
   * The stored jobs of these keys (missing ones left out), in key order, locked until the
   * transaction ends on PostgreSQL (SQLite's write transaction holds the whole file). Read
   * what you will change with this, then change it with {@link save}.
   */
  lock(tx: Transaction<DB>, keys: readonly JobKey[]): Promise<JobRow[]> {
    return lockJobs(tx, keys);
  }

  /**
   * Inserts `created` (jobs not stored when locked) and overwrites `updated`; resolves to
   * how many of `created` it inserted. A created job another transaction inserted first
   * is left alone and not counted: a caller that must store it (a report) compares the
   * number and runs its transaction again.
   */
  async save(tx: Transaction<DB>, created: readonly JobRow[], updated: readonly JobUpdate[]): Promise<number> {
    const changes: JobChange[] = [];
    let inserted = 0;
    if (created.length > 0) {
      const byKey = new Map(created.map((row) => [keyOf(row), row]));
      for (const key of await insertNewJobs(
        tx,
        created.map((row) => this.#stored(row)),
      )) {
        changes.push({ before: undefined, after: byKey.get(keyOf(key)) as JobRow });
        inserted++;
      }
    }
    const overwritten: StoredRow[] = [];
    for (const { before, after } of updated) {
      const row = { ...after, project_id: before.project_id, job_id: before.job_id, cleared: before.cleared, created_at: before.created_at };
      overwritten.push(this.#stored(row));
      changes.push({ before, after: row });
    }
    await overwriteJobs(tx, overwritten);
    await this.#finish(tx, changes);
    return inserted;
  }

  /**
   * Takes one job off `list` (it stays stored, `cleared`, updated at `now`); resolves to
   * the job as it was, or undefined when the project has no job by that id in that list.
   */
  async clear(tx: Transaction<DB>, projectId: string, jobId: string, list: ListName, now: number): Promise<JobRow | undefined> {
    const [before] = await lockJobs(tx, [{ project_id: projectId, job_id: jobId }]);
    if (before === undefined || this.listings.listOf(before) !== list) return undefined;
    const after = { ...before, cleared: 1, updated_at: now };
    await overwriteJobs(tx, [this.#stored(after)]);
    await this.#finish(tx, [{ before, after }]);
    return before;
  }

  /**
   * Takes every job of a list scope off its list (`where` comes from the listing's module
   * and names the list and the project); resolves to how many.
   */
  async clearScope(tx: Transaction<DB>, where: ScopeWhere, now: number): Promise<number> {
    const changes: JobChange[] = (await lockScope(tx, where))
      .filter((before) => this.listings.listOf(before) !== null)
      .map((before) => ({ before, after: { ...before, cleared: 1, updated_at: now } }));
    // Every cleared job has the same new columns, so one statement per run of keys writes them.
    const byListing = new Map<string, { fields: Partial<StoredRow>; keys: JobKey[] }>();
    for (const { after } of changes) {
      const row = after as JobRow;
      const fields = { cleared: row.cleared, updated_at: row.updated_at, ...this.listings.listingOf(row) };
      const group = JSON.stringify(fields);
      const same = byListing.get(group);
      if (same === undefined) byListing.set(group, { fields, keys: [row] });
      else same.keys.push(row);
    }
    for (const { fields, keys } of byListing.values()) await updateJobs(tx, keys, fields);
    await this.#finish(tx, changes);
    return changes.length;
  }

  /**
   * Deletes the jobs `filter` selects, with their sub-jobs when it selects by end time;
   * resolves to how many jobs it deleted. Counters and list versions follow; a whole
   * project (or everything) is deleted in a few statements when no observer wants to be
   * told of deletions, else in batches whose every job is told to the observers.
   */
  async delete(tx: Transaction<DB>, filter: DeleteFilter): Promise<number> {
    const { projectId, finishedBefore, limit } = filter;
    const toldOfDeletions = [...this.#observers.values()].some((options) => options.deletions !== false);
    if (finishedBefore === undefined && limit === undefined && !toldOfDeletions) {
      const deleted = await deleteAllJobs(tx, projectId);
      // Versions are raised, never reset: a page cached at a version must never match again.
      if (projectId === undefined) await raiseAllListVersions(tx);
      else await recordListChanges(tx, [projectId], []);
      return deleted;
    }
    let deleted = 0;
    let selected = 0;
    for (;;) {
      const batch = Math.min(DELETE_BATCH, (limit ?? Infinity) - selected);
      if (batch <= 0) break;
      const rows = await selectToDelete(tx, { projectId, finishedBefore, limit: batch });
      selected += rows.length;
      // By end time only what the listing rule puts in no list: the stored `list` said so when
      // the row was written, and this says so for the code running now.
      const doomed = finishedBefore === undefined ? [...rows] : rows.filter((row) => this.listings.listOf(row) === null);
      if (finishedBefore !== undefined) {
        const parents = new Map<string, string[]>();
        for (const row of doomed) parents.set(row.project_id, [...(parents.get(row.project_id) ?? []), row.job_id]);
        for (const [project, ids] of parents) doomed.push(...(await lockSubJobs(tx, project, ids)));
      }
      await deleteJobs(tx, doomed);
      deleted += doomed.length;
      await this.#finish(
        tx,
        doomed.map((before) => ({ before, after: undefined })),
      );
      // A batch of nothing but rows the listing rule keeps would be selected again and again.
      if (rows.length < batch || doomed.length === 0) break;
    }
    return deleted;
  }

  /**
   * Writes jobs exactly as given, stored state included (`cleared`, `created_at`,
   * `updated_at`): a snapshot import. A later row of the same key wins. Rows equal to the
   * stored job are left alone.
   */
  async put(tx: Transaction<DB>, rows: readonly JobRow[]): Promise<PutOutcome> {
    const wanted = new Map(rows.map((row) => [keyOf(row), row]));
    const stored = new Map((await lockJobs(tx, [...wanted.values()])).map((row) => [keyOf(row), row]));
    const changes: JobChange[] = [];
    const fresh: JobRow[] = [];
    const overwritten: StoredRow[] = [];
    let unchanged = 0;
    for (const [key, row] of wanted) {
      const before = stored.get(key);
      if (before === undefined) fresh.push(row);
      else if (sameRow(before, row)) unchanged++;
      else {
        overwritten.push(this.#stored(row));
        changes.push({ before, after: row });
      }
    }
    await overwriteJobs(tx, overwritten);
    const inserted = new Set(
      (
        await insertNewJobs(
          tx,
          fresh.map((row) => this.#stored(row)),
        )
      ).map(keyOf),
    );
    // A job another transaction inserted since the lock: overwrite it now that it exists.
    const raced = fresh.filter((row) => !inserted.has(keyOf(row)));
    const racedBefore = new Map((await lockJobs(tx, raced)).map((row) => [keyOf(row), row]));
    const racedRows: StoredRow[] = [];
    for (const row of fresh) {
      const before = racedBefore.get(keyOf(row));
      if (before !== undefined) racedRows.push(this.#stored(row));
      changes.push({ before, after: row });
    }
    await overwriteJobs(tx, racedRows);
    await this.#finish(tx, changes);
    return { written: changes.length, unchanged };
  }

  /**
   * A rebuild's first pass (src/jobs/listing-rebuild.ts): locks up to `limit` stored jobs
   * after `after` in key order and rewrites the list and item of each whose stored ones
   * differ from what the listings say now (nothing else of the job, `updated_at` included),
   * raising the list versions of their projects. Counters are {@link recount}'s.
   */
  async rerender(tx: Transaction<DB>, after: JobKey | undefined, limit: number): Promise<RerenderOutcome> {
    const rows = await lockRange(tx, after, limit);
    const changed = new Set<string>();
    let rewritten = 0;
    for (const row of rows) {
      const { list, list_item, ...job } = row;
      const fresh = this.listings.listingOf({ ...job, cleared: Number(job.cleared) });
      if (fresh.list === list && fresh.list_item === list_item) continue;
      await setListing(tx, row, fresh);
      changed.add(row.project_id);
      rewritten++;
    }
    if (changed.size > 0) await recordListChanges(tx, [...changed].sort(), []);
    const last = rows.at(-1);
    return {
      jobs: rows.length,
      rewritten,
      last: last === undefined ? undefined : { project_id: last.project_id, job_id: last.job_id },
      projects: [...new Set(rows.map((r) => r.project_id))],
    };
  }

  /**
   * A rebuild's second pass: raises the list versions of `projects` (which, on
   * PostgreSQL, makes every writer of them wait, or be waited for, so that a change is
   * either in the rows counted here or added to the counters afterwards), then sets each
   * of their counters to the count of their listed jobs' buckets. Resolves to how many
   * counters were wrong.
   */
  async recount(tx: Transaction<DB>, projects: readonly string[]): Promise<number> {
    if (projects.length === 0) return 0;
    const sorted = [...new Set(projects)].sort();
    await recordListChanges(tx, sorted, []);
    const counted = new Map<string, Map<string, number>>(sorted.map((p) => [p, new Map()]));
    for (let after: JobKey | undefined; ;) {
      const rows = await listedJobs(tx, sorted, after, RECOUNT_BATCH);
      for (const row of rows) {
        const buckets = counted.get(row.project_id) as Map<string, number>;
        for (const bucket of this.listings.bucketsOf({ ...row, cleared: Number(row.cleared) })) buckets.set(bucket, (buckets.get(bucket) ?? 0) + 1);
      }
      if (rows.length < RECOUNT_BATCH) break;
      const last = rows[rows.length - 1] as JobRow;
      after = { project_id: last.project_id, job_id: last.job_id };
    }
    const stored = await countersOfProjects(tx, sorted);
    let wrong = 0;
    for (const [project, counts] of counted) {
      const before = stored.get(project) ?? new Map<string, number>();
      let differ = 0;
      for (const bucket of new Set([...before.keys(), ...counts.keys()])) if ((before.get(bucket) ?? 0) !== (counts.get(bucket) ?? 0)) differ++;
      if (differ === 0) continue;
      await replaceCounts(tx, project, counts);
      wrong += differ;
    }
    return wrong;
  }

  /** A rebuild's last pass: deletes the counters of projects with no job left, raising their list versions; resolves to how many projects had some. */
  async dropOrphanCounts(tx: Transaction<DB>): Promise<number> {
    const projects = await deleteOrphanCounts(tx);
    if (projects.length > 0) await recordListChanges(tx, projects, []);
    return projects.length;
  }

  /** Records that the stored lists are what this writer's listings render ({@link Listings.stamp}). */
  async recordStamp(tx: Transaction<DB>, now: number): Promise<void> {
    await writeStamp(tx, this.listings.stamp, now);
  }

  /**
   * A row with the listing columns derived from it, as the table stores it. Written field
   * by field: V8 builds `{ ...row, ...listing }` as a dictionary object several times the
   * size, and a batch stores a thousand rows.
   */
  #stored(row: JobRow): StoredRow {
    const { list, list_item } = this.listings.listingOf(row);
    return {
      project_id: row.project_id,
      job_id: row.job_id,
      service: row.service,
      job_type: row.job_type,
      operation: row.operation,
      status: row.status,
      begin_time: row.begin_time,
      end_time: row.end_time,
      error_code: row.error_code,
      fail_reason: row.fail_reason,
      resource_id: row.resource_id,
      resource_name: row.resource_name,
      resource_type: row.resource_type,
      server_group_id: row.server_group_id,
      entities: row.entities,
      parent_job_id: row.parent_job_id,
      server_id: row.server_id,
      server_name: row.server_name,
      keypair_name: row.keypair_name,
      cleared: row.cleared,
      created_at: row.created_at,
      updated_at: row.updated_at,
      list,
      list_item,
    };
  }

  /** Records the changes' effect on the lists, then tells the observers. */
  async #finish(tx: Transaction<DB>, changes: readonly JobChange[]): Promise<void> {
    if (changes.length === 0) return;
    const lists = new ListChanges(this.listings);
    for (const { before, after } of changes) lists.change(before, after);
    await lists.record(tx);
    for (const observer of this.#observers.keys()) await observer(tx, changes);
  }
}
