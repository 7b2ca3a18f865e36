/**
 * Listings: the seam between the job core and the public services that show jobs.
 *
 * Reads are fast because a job's list membership, its rendered list item and the count
 * buckets it adds to are decided when the job is written (src/jobs/job-writer.ts), not on
 * every read: a list request reads ready JSON strings and joins them, and its `count` is
 * one primary-key read of `job_counts` (src/jobs/listing.store.ts).
 *
 * Which list, what item and which buckets belong to the service that shows the list:
 * `src/sdrs/sdrs.listing.ts` and `src/kps/kps.listing.ts` implement {@link Listing}, and
 * the context (src/context.ts) hands them to the writer. Nothing here knows a dialect.
 */
import type { Expression, ExpressionBuilder, SqlBool } from 'kysely';
import type { DB } from '../db/schema.js';
import type { Service } from './jobs.schema.js';
import type { JobRow, ListingColumns, ListName } from './jobs.table.js';

/** What a service decides about its own jobs' place in its public lists. */
export interface Listing {
  /** The service whose jobs it places: every job of that service, and no other. */
  readonly service: Service;
  /**
   * Bumped whenever {@link render} or {@link bucketsOf} gives a different answer for a
   * stored job: a different version at start rebuilds every stored item and counter
   * (src/jobs/listing-rebuild.ts). test/jobs/listing-stamp.test.ts fails when the rendered
   * shape changes and this does not.
   */
  readonly version: number;
  /**
   * The list a top-level job of this service that was not cleared is in now, or null.
   * (Sub-jobs and cleared jobs are in no list: {@link Listings.listOf} decides that.)
   */
  listOf(job: JobRow): ListName | null;
  /** The job's item in `list` (what {@link listOf} answered), as the exact JSON the list shows. */
  render(list: ListName, job: JobRow): string;
  /** Every count bucket a job in `list` adds one to; each bucket is the count of one scope the service reads. */
  bucketsOf(list: ListName, job: JobRow): readonly string[];
}

/**
 * The SQL that selects one scope of a list, as a WHERE term over `jobs` (it names the
 * list, so only listed rows match): supplied by a listing's module, used by the writer to
 * clear a scope and by the service's store to read it.
 */
export type ScopeWhere = (eb: ExpressionBuilder<DB, 'jobs'>) => Expression<SqlBool>;

/**
 * The version of the rule {@link Listings.listOf} applies before any listing (sub-jobs and
 * cleared jobs are in no list): part of the stamp, bumped when that rule changes.
 */
export const LISTING_RULE_VERSION = 1;

/** Every service's listing, and the one rule of which list a job is in. */
export class Listings {
  readonly #byService: ReadonlyMap<Service, Listing>;

  constructor(listings: readonly Listing[]) {
    this.#byService = new Map(listings.map((l) => [l.service, l]));
  }

  /**
   * The stamp of the code that renders items and counts: the version of the one rule
   * below ({@link LISTING_RULE_VERSION}) and every listing's, e.g. `rule:1 kps:1 sdrs:1`.
   * Any of them bumped, or a listing added or removed, gives another stamp, and a store
   * whose recorded stamp differs rebuilds every item and counter, of every service
   * (src/jobs/listing-rebuild.ts): a rebuild costs a scan of `jobs` whichever changed.
   */
  get stamp(): string {
    const listings = [...this.#byService.values()].map((l) => `${l.service}:${l.version}`).sort();
    return [`rule:${LISTING_RULE_VERSION}`, ...listings].join(' ');
  }

  /** The list a job is in now: none for a sub-job or a cleared job; else its service decides. */
  listOf(job: JobRow): ListName | null {
    if (job.parent_job_id !== null || job.cleared !== 0) return null;
    return this.#listing(job).listOf(job);
  }

  /** The listing columns to store with a job: its list and its item there. */
  listingOf(job: JobRow): ListingColumns {
    const list = this.listOf(job);
    return list === null ? { list: null, list_item: null } : { list, list_item: this.#listing(job).render(list, job) };
  }

  /** Every count bucket the job adds one to: none unless it is listed. */
  bucketsOf(job: JobRow): readonly string[] {
    const list = this.listOf(job);
    return list === null ? [] : this.#listing(job).bucketsOf(list, job);
  }

  #listing(job: JobRow): Listing {
    const listing = this.#byService.get(job.service);
    if (listing === undefined) throw new Error(`no listing for service '${job.service}'`);
    return listing;
  }
}
