/**
 * Rebuilding the lists' derived data: every stored item re-rendered, every counter
 * recounted, the list versions raised, and the code's stamp recorded (`listing_stamp`).
 * It runs at start when the stored stamp is not the code's ({@link rebuildIfStale}: a
 * listing's version was bumped, or the store predates the stamp), and on demand
 * (`taskcenter rebuild-listings`), which also mends drift `taskcenter check` found.
 *
 * Every write goes through the one writer (src/jobs/job-writer.ts), and only one process
 * rebuilds at a time (Database.exclusively): others starting at once wait for it, then
 * find the stamp current and rebuild nothing.
 *
 * Interrupted, it is simply run again. On PostgreSQL each batch is a transaction of its
 * own, so requests go on between batches and an interrupted rebuild keeps the batches it
 * finished (running again reads them, finds their items right and rewrites nothing); the
 * stamp is recorded last, so a store is never marked rebuilt before it is. On SQLite the
 * whole rebuild is one transaction: interrupted, it leaves the store as it was.
 */
import type { Transaction } from 'kysely';
import { isRetryableConflict, type Database } from '../db/database.js';
import type { DB } from '../db/schema.js';
import type { JobWriter } from './job-writer.js';
import type { JobKey } from './jobs.store.js';
import { anyJob, jobCount, storedStamp } from './listing.store.js';

/** Jobs re-rendered per batch. */
const ITEM_BATCH = 2_000;
/** Projects recounted per batch. */
const PROJECT_BATCH = 100;
/** Tries of a batch that lost a race with a writer (PostgreSQL deadlock or serialization failure). */
const BATCH_ATTEMPTS = 5;
/** The store-wide lock a rebuild holds. */
const LOCK = 'listing-rebuild';

/** Where a rebuild is: its first pass counts jobs, its second projects. */
export interface RebuildProgress {
  readonly phase: 'items' | 'counts';
  readonly done: number;
  readonly total: number;
}

/** What a rebuild did. */
export interface RebuildReport {
  /** The stamp the store had before, null when it had none. */
  readonly previous: string | null;
  /** The stamp recorded: the code's. */
  readonly stamp: string;
  readonly jobs: number;
  /** Jobs whose stored list or item was rewritten. */
  readonly items: number;
  /** Counters that were wrong (a project without jobs counts its own as one each). */
  readonly counters: number;
  /** Projects whose lists were recounted and their versions raised. */
  readonly projects: number;
  readonly ms: number;
}

export interface RebuildOptions {
  /** Rebuild only if the stored stamp, read again under the lock, is not the code's (what start does). */
  readonly onlyIfStale?: boolean;
  /** Told after every batch. */
  readonly onProgress?: (progress: RebuildProgress) => void;
  readonly now?: () => number;
}

/**
 * Rebuilds every stored item and counter through `writer`; resolves to what it did, or to
 * null when `onlyIfStale` and the stamp was current (another process rebuilt first).
 */
export async function rebuildListings(db: Database, writer: JobWriter, options: RebuildOptions = {}): Promise<RebuildReport | null> {
  const now = options.now ?? Date.now;
  return db.exclusively(LOCK, async (batch) => {
    const started = now();
    const previous = await batch((tx) => storedStamp(tx));
    const stamp = writer.listings.stamp;
    if (options.onlyIfStale === true && previous === stamp) return null;
    const step = async <R>(work: (tx: Transaction<DB>) => Promise<R>): Promise<R> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await batch(work);
        } catch (error) {
          if (attempt < BATCH_ATTEMPTS && isRetryableConflict(error)) continue;
          throw error;
        }
      }
    };

    const total = await batch((tx) => jobCount(tx));
    const projects = new Set<string>();
    let jobs = 0;
    let items = 0;
    for (let after: JobKey | undefined; ;) {
      const outcome = await step((tx) => writer.rerender(tx, after, ITEM_BATCH));
      jobs += outcome.jobs;
      items += outcome.rewritten;
      for (const project of outcome.projects) projects.add(project);
      options.onProgress?.({ phase: 'items', done: jobs, total: Math.max(total, jobs) });
      if (outcome.jobs < ITEM_BATCH) break;
      after = outcome.last;
    }

    const recounted = [...projects].sort();
    let counters = 0;
    for (let i = 0; i < recounted.length; i += PROJECT_BATCH) {
      const some = recounted.slice(i, i + PROJECT_BATCH);
      counters += await step((tx) => writer.recount(tx, some));
      options.onProgress?.({ phase: 'counts', done: i + some.length, total: recounted.length });
    }
    counters += await step((tx) => writer.dropOrphanCounts(tx));
    await step((tx) => writer.recordStamp(tx, now()));
    return { previous, stamp, jobs, items, counters, projects: recounted.length, ms: now() - started };
  });
}

/** Where {@link rebuildIfStale} says what it does. */
export interface RebuildLog {
  info(fields: object, message: string): void;
}

/** How often a rebuild at start logs its progress. */
const LOG_EVERY_MS = 5_000;

/**
 * What a process does at start, before it serves: nothing when the stored stamp is the
 * code's (one read), else a rebuild, logging its progress every few seconds. Resolves to
 * the rebuild's report, or null when there was nothing to do here.
 */
export async function rebuildIfStale(db: Database, writer: JobWriter, log: RebuildLog): Promise<RebuildReport | null> {
  const stored = await storedStamp(db.kysely);
  const stamp = writer.listings.stamp;
  if (stored === stamp) return null;
  // A new store has nothing to rebuild: its stamp is recorded without a word.
  if (!(await anyJob(db.kysely))) log = { info: () => {} };
  log.info({ stored, stamp }, 'listing stamp differs: rebuilding every list item and count before serving');
  let logged = Date.now();
  const report = await rebuildListings(db, writer, {
    onlyIfStale: true,
    onProgress: (progress) => {
      if (Date.now() - logged < LOG_EVERY_MS) return;
      logged = Date.now();
      log.info({ ...progress }, 'rebuilding lists');
    },
  });
  if (report === null) log.info({ stamp }, 'lists already rebuilt by another process');
  else log.info({ ...report }, 'lists rebuilt');
  return report;
}
