/**
 * The rendering stamp holds what it says: a fixed set of representative jobs, rendered
 * through each listing (its list, its item and its count buckets, the one rule included),
 * hashes to the value recorded here for that listing's stamp. A presenter, a bucket or
 * the rule changed without a version bump changes the hash and fails this test; the
 * stored lists of every deployed store would otherwise stay rendered by the old code,
 * since only a new stamp rebuilds them (src/jobs/listing-rebuild.ts).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { createListings } from '../../src/context.js';
import { toJobRow, toReportedJob } from '../../src/jobs/job.js';
import { JobDocument } from '../../src/jobs/jobs.schema.js';
import type { JobRow } from '../../src/jobs/jobs.table.js';
import { Listings, type Listing } from '../../src/jobs/listing.js';
import { kpsListing } from '../../src/kps/kps.listing.js';
import { sdrsListing } from '../../src/sdrs/sdrs.listing.js';
import { checkJson } from '../../src/validation.js';

/**
 * The hash of the representative jobs rendered under each stamp. After a deliberate
 * change to what a listing renders or counts: bump its `version`, and add the line this
 * test prints (keep the old ones: they document what each version rendered).
 */
const RENDERED: Readonly<Record<string, string>> = {
  'rule:1 sdrs:1': '3c2d55da5726f79e8d8cec5be3511db42c419775ea7806a8433244fb8b980006',
  'rule:1 kps:1': 'f764b0bf24580f2c2cc811ccbf6d38459a7129d9a6bf2d1f05c2976c2812b6ef',
};

const T0 = '2024-03-01T10:00:00.000Z';
const T1 = '2024-03-01T10:05:30.250Z';

function sdrs(id: string, fields: Record<string, unknown>): Record<string, unknown> {
  return {
    job_id: id,
    service: 'sdrs',
    job_type: 'createProtectedInstance',
    operation: 'create',
    status: 'FAIL',
    begin_time: T0,
    end_time: T1,
    error_code: 'EVS.2024',
    fail_reason: 'volume is error!',
    resource: { id: `res-${id}`, name: `Resource "${id}" 50%_off`, type: 'protected_instances' },
    server_group_id: 'group-1',
    entities: { protected_instance_id: `res-${id}`, volume_ids: 'v-1,v-2' },
    ...fields,
  };
}

function kps(id: string, fields: Record<string, unknown>): Record<string, unknown> {
  return {
    job_id: id,
    service: 'kps',
    job_type: 'resetKeypair',
    operation: 'reset',
    status: 'FAIL',
    begin_time: T0,
    end_time: T1,
    error_code: 'KPS.0001',
    fail_reason: 'Update public key error',
    server: { id: `srv-${id}`, name: `ecs-${id}` },
    keypair_name: 'KeyPair-xt',
    ...fields,
  };
}

const RUNNING = { status: 'RUNNING', end_time: null, error_code: null, fail_reason: null };

/** Every kind of job each list shows or leaves out, with the fields its item and buckets depend on varied. */
const JOBS: readonly { doc: Record<string, unknown>; cleared?: number }[] = [
  { doc: sdrs('s-group', { job_type: 'createServerGroup', resource: { id: 'group-1', name: 'pg-1', type: 'server_groups' } }) },
  { doc: sdrs('s-instance', {}) },
  { doc: sdrs('s-replication', { operation: 'attach', job_type: 'attachReplication', resource: { id: 'r-1', name: 'rep', type: 'replications' } }) },
  { doc: sdrs('s-group-implied', { operation: 'expand', server_group_id: null, resource: { id: 'group-2', name: 'pg-2', type: 'server_groups' } }) },
  { doc: sdrs('s-other-group', { operation: 'failover', server_group_id: 'group-2', error_code: null, fail_reason: null }) },
  { doc: sdrs('s-sub', { parent_job_id: 's-instance' }) },
  { doc: sdrs('s-cleared', {}), cleared: 1 },
  { doc: sdrs('s-success', { status: 'SUCCESS', error_code: null, fail_reason: null }) },
  { doc: sdrs('s-running', RUNNING) },
  { doc: kps('k-failed', {}) },
  { doc: kps('k-failed-no-code', { operation: 'unbind', job_type: 'unbindKeypair', error_code: null }) },
  { doc: kps('k-replace', { operation: 'replace', job_type: 'replaceKeypair' }) },
  { doc: kps('k-init', { ...RUNNING, status: 'INIT' }) },
  { doc: kps('k-running', RUNNING) },
  { doc: kps('k-success', { status: 'SUCCESS', error_code: null, fail_reason: null }) },
  { doc: kps('k-cleared', {}), cleared: 1 },
  { doc: kps('k-sub', { ...RUNNING, parent_job_id: 'k-running' }) },
];

const ROWS: readonly JobRow[] = JOBS.map(({ doc, cleared }) =>
  toJobRow(toReportedJob('proj-stamp', checkJson<JobDocument>(JobDocument, doc)), cleared ?? 0, 1, 2),
);

/** What `listing` (under the one rule) makes of its service's representative jobs, hashed. */
function renderedHash(listing: Listing): string {
  const listings = new Listings([listing]);
  const hash = createHash('sha256');
  for (const job of ROWS.filter((r) => r.service === listing.service)) {
    const { list, list_item } = listings.listingOf(job);
    hash.update(`${JSON.stringify([job.job_id, list, list_item, listings.bucketsOf(job)])}\n`);
  }
  return hash.digest('hex');
}

const stampOf = (listing: Listing) => new Listings([listing]).stamp;

describe('the rendering stamp', () => {
  for (const listing of [sdrsListing, kpsListing]) {
    it(`${listing.service}: renders the representative jobs as recorded for its stamp`, () => {
      const stamp = stampOf(listing);
      const hash = renderedHash(listing);
      const record = (as: string) => `record in RENDERED (test/jobs/listing-stamp.test.ts) '${as}': '${hash}'`;
      assert.equal(
        RENDERED[stamp],
        hash,
        RENDERED[stamp] === undefined
          ? `nothing is recorded for '${stamp}': ${record(stamp)}`
          : `the ${listing.service} listing renders or counts differently than when '${stamp}' was recorded: bump its version ` +
              `(src/${listing.service}/${listing.service}.listing.ts; LISTING_RULE_VERSION in src/jobs/listing.ts for the rule) ` +
              `and ${record(stampOf({ ...listing, version: listing.version + 1 }))}`,
      );
    });
  }

  it('covers every list of every listing the context wires in, and shows each a job it leaves out', () => {
    const listings = createListings();
    assert.equal(listings.stamp, new Listings([sdrsListing, kpsListing]).stamp);
    const lists = new Set(ROWS.map((r) => listings.listOf(r)));
    assert.deepEqual([...lists].sort(), ['kps_failed', 'kps_running', 'sdrs', null].sort());
  });

  it('changes the hash when an item, a bucket or list membership changes', () => {
    const recorded = renderedHash(sdrsListing);
    const item: Listing = { ...sdrsListing, render: (list, job) => sdrsListing.render(list, job).replace('{', '{ ') };
    const bucket: Listing = { ...sdrsListing, bucketsOf: (list, job) => sdrsListing.bucketsOf(list, job).slice(1) };
    const membership: Listing = { ...kpsListing, listOf: (job) => (job.status === 'INIT' ? null : kpsListing.listOf(job)) };
    assert.notEqual(renderedHash(item), recorded);
    assert.notEqual(renderedHash(bucket), recorded);
    assert.notEqual(renderedHash(membership), renderedHash(kpsListing));
  });
});
