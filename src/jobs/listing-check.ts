/**
 * `taskcenter check`: proves the derived data equals what the rows say. Every stored
 * item and list is compared with a fresh render by the listings (src/jobs/listing.ts),
 * every counter with the count of the rows in its bucket, over one snapshot of the store.
 */
import type { Database } from '../db/database.js';
import type { JobRow } from './jobs.table.js';
import type { Listings } from './listing.js';
import { countersOf, orphanCounters, scanJobs } from './listing.store.js';

/** One difference between the derived data and the rows. */
export type Drift =
  | { readonly kind: 'item'; readonly project_id: string; readonly job_id: string; readonly stored: string | null; readonly expected: string | null }
  | { readonly kind: 'count'; readonly project_id: string; readonly bucket: string; readonly stored: number; readonly expected: number };

export interface CheckReport {
  readonly jobs: number;
  /** How many differences there are in all. */
  readonly drifts: number;
  /** The first differences, in key order. */
  readonly first: readonly Drift[];
}

const BATCH = 5_000;

/** Compares every counter and stored item with the rows; reports the first `keep` differences. */
export async function checkListings(db: Database, listings: Listings, keep = 20, progress?: (jobs: number) => void): Promise<CheckReport> {
  return db.snapshot(async (snap) => {
    const first: Drift[] = [];
    let drifts = 0;
    const drift = (d: Drift) => {
      drifts++;
      if (first.length < keep) first.push(d);
    };
    let jobs = 0;
    let project: string | undefined;
    let counted = new Map<string, number>();
    const finish = async () => {
      if (project === undefined) return;
      const stored = await countersOf(snap, project);
      for (const bucket of new Set([...stored.keys(), ...counted.keys()])) {
        const s = stored.get(bucket) ?? 0;
        const e = counted.get(bucket) ?? 0;
        if (s !== e) drift({ kind: 'count', project_id: project, bucket, stored: s, expected: e });
      }
    };
    let after: { project_id: string; job_id: string } | undefined;
    for (;;) {
      const rows = await scanJobs(snap, after, BATCH);
      for (const row of rows) {
        if (row.project_id !== project) {
          await finish();
          project = row.project_id;
          counted = new Map();
        }
        const job: JobRow = { ...row, cleared: Number(row.cleared) };
        const expected = listings.listingOf(job);
        if (expected.list !== row.list || expected.list_item !== row.list_item) {
          drift({ kind: 'item', project_id: row.project_id, job_id: row.job_id, stored: row.list_item, expected: expected.list_item });
        }
        for (const bucket of listings.bucketsOf(job)) counted.set(bucket, (counted.get(bucket) ?? 0) + 1);
      }
      jobs += rows.length;
      progress?.(jobs);
      if (rows.length < BATCH) break;
      const last = rows[rows.length - 1] as JobRow;
      after = { project_id: last.project_id, job_id: last.job_id };
    }
    await finish();
    for (const orphan of await orphanCounters(snap, keep)) {
      drift({ kind: 'count', project_id: orphan.project_id, bucket: orphan.bucket, stored: Number(orphan.n), expected: 0 });
    }
    return { jobs, drifts, first };
  });
}
