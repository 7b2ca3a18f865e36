/**
 * The plans of the list pages on SQLite (migration 0009): the SDRS pages of the default
 * scope and of a failure status, and both KPS lists, are read from their index alone (a
 * covering index: no table row per item) and in its order (no sort). Each page's exact
 * statement is taken as the route runs it and explained with the values it ran with.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CompiledQuery } from 'kysely';
import type { Database } from '../../src/db/database.js';
import { TOKENS, createTestServer, kpsJob, reportJobs, sdrsJob, timeAt, uniqueId, type TestServer } from '../helpers.js';

describe('list page plans [sqlite]', () => {
  let server: TestServer;
  before(async () => {
    server = await createTestServer('sqlite');
  });
  after(async () => {
    await server.close();
  });

  /** The plan lines (EXPLAIN QUERY PLAN) of every prepared statement a GET of `url` runs. */
  async function plansOf(url: string): Promise<string[]> {
    const db = server.ctx.db as { -readonly [K in keyof Database]: Database[K] };
    const run = db.runPrepared;
    const statements: CompiledQuery[] = [];
    db.runPrepared = (handle, query) => {
      statements.push(query);
      return run(handle, query);
    };
    try {
      const response = await server.app.inject({ method: 'GET', url, headers: { 'x-auth-token': TOKENS.admin } });
      assert.equal(response.statusCode, 200, response.body);
    } finally {
      db.runPrepared = run;
    }
    assert.ok(statements.length > 0, `${url} read no prepared statement`);
    const plans: string[] = [];
    for (const { sql, parameters } of statements) {
      const rows = await server.ctx.db.kysely.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${sql}`, [...parameters]));
      plans.push(...rows.rows.map((row) => row.detail));
    }
    return plans;
  }

  it('read the SDRS default scope, a failure status and the KPS lists from their index alone, unsorted', async () => {
    const project = uniqueId('plans');
    await reportJobs(server.app, project, [
      ...[1, 2, 3].map((n) =>
        sdrsJob({
          begin_time: timeAt(n),
          end_time: timeAt(n + 1),
          resource: { id: `g-${n}`, name: `group-${n}`, type: 'server_groups' },
          server_group_id: `g-${n}`,
        }),
      ),
      ...[1, 2].map((n) => kpsJob({ begin_time: timeAt(n), end_time: timeAt(n + 1) })),
      kpsJob({ status: 'RUNNING', end_time: null, error_code: null, fail_reason: null }),
    ]);
    for (const [url, index] of [
      [`/v1/${project}/task-center/failure-jobs?limit=100`, 'jobs_sdrs_failures_by_type'],
      [`/v1/${project}/task-center/failure-jobs?failure_status=createFail&limit=100`, 'jobs_sdrs_failures_by_type'],
      [`/v3/${project}/failed-tasks?limit=100`, 'jobs_kps_tasks'],
      [`/v3/${project}/running-tasks?limit=100`, 'jobs_kps_tasks'],
    ] as const) {
      const plans = await plansOf(url);
      assert.ok(
        plans.some((line) => line.startsWith(`SEARCH jobs USING COVERING INDEX ${index} `)),
        `${url}: ${plans.join(' | ')}`,
      );
      assert.ok(!plans.some((line) => line.includes('TEMP B-TREE')), `${url} sorts: ${plans.join(' | ')}`);
    }
  });
});
