/**
 * The list counts kept in `job_counts` against what they stand for, on both engines:
 * random reports (single and batched, out of order, repeated, refused, with sub-jobs),
 * single deletes and batch clears of SDRS and KPS failures, some of them concurrent;
 * after each round every bucket must equal the COUNT(*) of its jobs, computed here from
 * the rows alone with API.md's rules, and no other bucket may exist. The lists' `count`
 * and `total` over HTTP must agree, their items must be the stored rows, and
 * `checkListings` (what `taskcenter check` runs) must find no drift.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import { Random } from '../../src/cli/random.js';
import { SDRS_OPERATIONS, SDRS_RESOURCE_TYPES } from '../../src/jobs/jobs.schema.js';
import { checkListings } from '../../src/jobs/listing-check.js';
import { KPS_FAILED_BUCKET, KPS_RUNNING_BUCKET } from '../../src/kps/kps.listing.js';
import { sdrsBucket } from '../../src/sdrs/sdrs.listing.js';
import { describeEachEngine, TOKENS } from '../helpers.js';

const PROJECTS = ['counts-a', 'counts-b'];
const GROUPS = ['g-1', 'g-2', 'g-3'];
const KPS_OPERATIONS = ['reset', 'replace', 'unbind'];
const HEADERS = { 'x-auth-token': TOKENS.admin };

interface Plan {
  readonly project: string;
  readonly doc: Record<string, unknown>;
  /** The statuses it will be reported with, in order. */
  readonly path: readonly string[];
  /** How far along the path it has been reported. */
  step: number;
}

/** What one row of `jobs` says about the lists. */
interface Row {
  project_id: string;
  job_id: string;
  service: string;
  status: string;
  cleared: number;
  parent_job_id: string | null;
  resource_type: string | null;
  server_group_id: string | null;
  operation: string;
}

function time(seconds: number): string {
  return new Date(Date.UTC(2024, 0, 1) + seconds * 1000).toISOString();
}

/** A job to report over a few rounds: a random SDRS job (some are sub-jobs) or KPS task, with where its status goes. */
function plan(rng: Random, n: number, parents: readonly Plan[]): Plan {
  const project = rng.pick(PROJECTS);
  const terminal = rng.pick(['FAIL', 'FAIL', 'SUCCESS']);
  const path = rng.chance(0.3) ? [terminal] : rng.chance(0.5) ? ['INIT', 'RUNNING', terminal] : ['RUNNING', terminal];
  const id = `job-${n}`;
  const begin = time(rng.int(0, 500));
  if (rng.chance(0.35)) {
    const operation = rng.pick(KPS_OPERATIONS);
    return {
      project,
      path,
      step: 0,
      doc: {
        job_id: id,
        service: 'kps',
        job_type: `${operation}Keypair`,
        operation,
        begin_time: begin,
        server: { id: `srv-${n}`, name: `server ${n}` },
        keypair_name: 'kp',
      },
    };
  }
  const resourceType = rng.pick(SDRS_RESOURCE_TYPES);
  const group = rng.pick(GROUPS);
  const parent = parents.filter((p) => p.project === project && p.doc.service === 'sdrs');
  const doc: Record<string, unknown> = {
    job_id: id,
    service: 'sdrs',
    job_type: 'someJob',
    operation: rng.pick(SDRS_OPERATIONS),
    begin_time: begin,
    resource: { id: resourceType === 'server_groups' ? group : `res-${n}`, name: `resource ${n} 50%_off`, type: resourceType },
    server_group_id: group,
    entities: {},
  };
  if (parent.length > 0 && rng.chance(0.15)) doc.parent_job_id = rng.pick(parent).doc.job_id;
  return { project, path, step: 0, doc };
}

/** The document reporting `status`, consistent with it (end time and error only when due). */
function report(p: Plan, status: string): Record<string, unknown> {
  const terminal = status === 'SUCCESS' || status === 'FAIL';
  return {
    ...p.doc,
    project_id: p.project,
    status,
    end_time: terminal ? time(1000) : null,
    error_code: status === 'FAIL' ? 'EVS.2024' : null,
    fail_reason: status === 'FAIL' ? 'volume is error!' : null,
  };
}

describeEachEngine('list counts', (server) => {
  const app = (): FastifyInstance => server().app;
  const db = () => server().ctx.db.kysely;

  async function batch(docs: Record<string, unknown>[]): Promise<void> {
    if (docs.length === 0) return;
    const response = await app().inject({ method: 'POST', url: '/taskcenter/v1/jobs/batch', headers: HEADERS, payload: { jobs: docs } });
    assert.equal(response.statusCode, 200, response.body);
  }

  async function put(doc: Record<string, unknown>): Promise<void> {
    const { project_id, ...body } = doc;
    const response = await app().inject({
      method: 'PUT',
      url: `/taskcenter/v1/projects/${String(project_id)}/jobs/${String(body.job_id)}`,
      headers: HEADERS,
      payload: body,
    });
    assert.ok([200, 201, 409].includes(response.statusCode), response.body);
  }

  async function del(url: string, ok: number[]): Promise<void> {
    const response = await app().inject({ method: 'DELETE', url, headers: HEADERS });
    assert.ok(ok.includes(response.statusCode), `${url}: ${response.statusCode} ${response.body}`);
  }

  /** Reports the next step of some plans (some twice, some out of order), batched and one by one, some at once. */
  async function reportRound(rng: Random, plans: Plan[]): Promise<void> {
    const docs: Record<string, unknown>[] = [];
    for (const p of plans) {
      if (!rng.chance(0.6)) continue;
      if (p.step < p.path.length) {
        docs.push(report(p, p.path[p.step] as string));
        // Delivered twice in one batch, or a stale state after the new one (refused, changes nothing).
        if (rng.chance(0.1)) docs.push(report(p, p.path[p.step] as string));
        if (p.step > 0 && rng.chance(0.1)) docs.push(report(p, p.path[p.step - 1] as string));
        p.step++;
      } else if (rng.chance(0.2)) {
        docs.push(report(p, p.path.at(-1) as string));
      }
    }
    const single = docs.filter(() => rng.chance(0.2));
    const batched = docs.filter((d) => !single.includes(d));
    const half = Math.floor(batched.length / 2);
    await Promise.all([batch(batched.slice(0, half)), batch(batched.slice(half))]);
    for (const doc of single) await put(doc);
  }

  /** Random single deletes and batch clears of both APIs, some of them at once. */
  async function deleteRound(rng: Random, plans: Plan[]): Promise<void> {
    const work: Promise<void>[] = [];
    for (const p of plans.filter(() => rng.chance(0.08))) {
      const id = String(p.doc.job_id);
      work.push(
        p.doc.service === 'sdrs' ? del(`/v1/${p.project}/task-center/failure-jobs/${id}`, [204, 404]) : del(`/v3/${p.project}/failed-tasks/${id}`, [200, 400]),
      );
    }
    if (rng.chance(0.3)) work.push(del(`/v1/${rng.pick(PROJECTS)}/task-center/failure-jobs/batch`, [204]));
    if (rng.chance(0.4)) work.push(del(`/v1/${rng.pick(PROJECTS)}/task-center/${rng.pick(GROUPS)}/failure-jobs/batch`, [204]));
    if (rng.chance(0.2)) work.push(del(`/v3/${rng.pick(PROJECTS)}/failed-tasks`, [200]));
    await Promise.all(work);
  }

  /** Every bucket a reader can ask for, with the COUNT(*) of its jobs from the rows. */
  function expectedCounts(rows: readonly Row[]): Map<string, number> {
    const expected = new Map<string, number>();
    const count = (project: string, bucket: string, matches: (r: Row) => boolean) =>
      expected.set(`${project} ${bucket}`, rows.filter((r) => r.project_id === project && matches(r)).length);
    for (const project of PROJECTS) {
      const top = (r: Row) => r.parent_job_id === null && r.cleared === 0;
      count(project, KPS_FAILED_BUCKET, (r) => top(r) && r.service === 'kps' && r.status === 'FAIL');
      count(project, KPS_RUNNING_BUCKET, (r) => top(r) && r.service === 'kps' && (r.status === 'INIT' || r.status === 'RUNNING'));
      const failure = (r: Row) => top(r) && r.service === 'sdrs' && r.status === 'FAIL';
      for (const operation of [undefined, ...SDRS_OPERATIONS]) {
        const op = (r: Row) => operation === undefined || r.operation === operation;
        for (const serverGroupId of [undefined, ...GROUPS]) {
          const group = (r: Row) => serverGroupId === undefined || r.server_group_id === serverGroupId;
          for (const resourceType of SDRS_RESOURCE_TYPES) {
            count(project, sdrsBucket({ resourceType, serverGroupId, operation }), (r) => failure(r) && op(r) && group(r) && r.resource_type === resourceType);
          }
          if (serverGroupId !== undefined) {
            count(project, sdrsBucket({ serverGroupId, operation }), (r) => failure(r) && op(r) && group(r) && r.resource_type !== 'server_groups');
          }
        }
      }
    }
    return expected;
  }

  async function checkCounts(round: string): Promise<void> {
    const rows = (
      await sql<Row>`select project_id, job_id, service, status, cleared, parent_job_id, resource_type, server_group_id, operation from jobs`.execute(db())
    ).rows.map((r) => ({ ...r, cleared: Number(r.cleared) }));
    const stored = (await sql<{ project_id: string; bucket: string; n: number | string }>`select project_id, bucket, n from job_counts`.execute(db())).rows;
    const expected = expectedCounts(rows);
    const actual = new Map(stored.map((r) => [`${r.project_id} ${r.bucket}`, Number(r.n)]));
    for (const key of actual.keys()) assert.ok(expected.has(key), `${round}: job_counts has a bucket no query reads: ${key}`);
    for (const [key, n] of expected) assert.equal(actual.get(key) ?? 0, n, `${round}: bucket ${key}`);
    // taskcenter check's own comparison agrees: every counter and stored item as the rows say.
    const { ctx } = server();
    assert.deepEqual((await checkListings(ctx.db, ctx.writer.listings)).first, [], `${round}: taskcenter check found drift`);

    // The public lists agree, and show exactly the listed rows.
    for (const project of PROJECTS) {
      const list = async (url: string) => {
        const response = await app().inject({ url, headers: HEADERS });
        assert.equal(response.statusCode, 200, response.body);
        return response.json() as Record<string, unknown>;
      };
      const queries: [string, string][] = [
        ['', sdrsBucket({ resourceType: 'server_groups' })],
        [`?server_group_id=${GROUPS[0]}`, sdrsBucket({ serverGroupId: GROUPS[0] })],
        [`?server_group_id=${GROUPS[1]}&failure_status=createFail`, sdrsBucket({ serverGroupId: GROUPS[1], operation: 'create' })],
        ['?resource_type=replications&failure_status=deleteFail', sdrsBucket({ resourceType: 'replications', operation: 'delete' })],
        [`?resource_type=protected_instances&server_group_id=${GROUPS[2]}`, sdrsBucket({ resourceType: 'protected_instances', serverGroupId: GROUPS[2] })],
      ];
      for (const [query, bucket] of queries) {
        const body = await list(`/v1/${project}/task-center/failure-jobs${query}`);
        const n = expected.get(`${project} ${bucket}`);
        assert.equal(body.count, n, `${round}: ${project} ${query}`);
        assert.equal((body.failure_jobs as unknown[]).length, n);
      }
      // A resource name is counted by reading the rows; the two ways must agree.
      const named = await list(`/v1/${project}/task-center/failure-jobs?resource_type=protected_instances&resource_name=50%25_off`);
      assert.equal(named.count, expected.get(`${project} ${sdrsBucket({ resourceType: 'protected_instances' })}`));
      const failed = await list(`/v3/${project}/failed-tasks`);
      assert.equal(failed.total, expected.get(`${project} ${KPS_FAILED_BUCKET}`));
      assert.equal((failed.tasks as unknown[]).length, failed.total);
      const running = await list(`/v3/${project}/running-tasks`);
      assert.equal(running.total, expected.get(`${project} ${KPS_RUNNING_BUCKET}`));
      assert.equal((running.tasks as unknown[]).length, running.total);
    }
  }

  it('keep every bucket equal to the COUNT(*) of its jobs through random reports, deletes and batch clears', async () => {
    const rng = new Random(`job-counts/${server().engine}`);
    const plans: Plan[] = [];
    for (let round = 1; round <= 8; round++) {
      for (let i = 0; i < 40; i++) plans.push(plan(rng, plans.length, plans));
      await reportRound(rng, plans);
      await checkCounts(`round ${round}, after reports`);
      await deleteRound(rng, plans);
      await checkCounts(`round ${round}, after deletes`);
    }
    const listed = (await sql<{ n: number | string }>`select count(*) as n from jobs where list is not null`.execute(db())).rows[0];
    assert.ok(Number(listed?.n) > 20, `the random rounds should leave listed jobs, found ${String(listed?.n)}`);
  });
});
