import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { REPO_ROOT } from '../cli-helpers.js';
import { createTestApp, describeEachEngine, PROJECT_A, putJob, sdrsJob, TOKENS, writeTestCredentials, type TestApp } from '../helpers.js';
import { locate, PROMTOOL, describeWithTools } from '../tools.js';

/** The value of one sample of the exposition `text`, or undefined when it has none. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** The metric names of the exposition's samples (`_bucket`, `_sum`, `_count` included). */
function sampleNames(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)?.[0] ?? ''),
  );
}

const DASHBOARD = join(REPO_ROOT, 'docs', 'grafana-dashboard.json');

/** Every PromQL expression of the dashboard's panels. */
function dashboardQueries(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  return dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
}

/** The metric names a PromQL expression uses: identifiers of the server's families, before a selector, a range or the end. */
function metricsOf(expr: string): string[] {
  return [...expr.matchAll(/\b((?:taskcenter|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1] as string);
}

describeEachEngine('GET /metrics', (server) => {
  const scrape = async () => {
    const response = await server().app.inject({ url: '/metrics' });
    assert.equal(response.statusCode, 200);
    assert.match(response.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
    return response.body;
  };

  it('counts requests by operationId and status, with their durations, and reported jobs by result', async () => {
    const job = sdrsJob();
    assert.equal((await putJob(server().app, PROJECT_A, job)).statusCode, 201);
    assert.equal((await putJob(server().app, PROJECT_A, job)).statusCode, 200);
    assert.equal((await putJob(server().app, PROJECT_A, { ...job, status: 'RUNNING', end_time: null, error_code: null, fail_reason: null })).statusCode, 409);
    assert.equal((await server().app.inject({ url: `/nowhere/${String(job.job_id)}` })).statusCode, 404);
    const text = await scrape();
    assert.equal(sample(text, 'taskcenter_http_requests_total{operation="ReportJob",status="201"}'), 1);
    assert.equal(sample(text, 'taskcenter_http_requests_total{operation="ReportJob",status="409"}'), 1);
    assert.equal(sample(text, 'taskcenter_http_requests_total{operation="unmatched",status="404"}'), 1);
    assert.equal(sample(text, 'taskcenter_http_request_duration_seconds_count{operation="ReportJob"}'), 3);
    assert.equal(sample(text, 'taskcenter_http_request_duration_seconds_bucket{le="+Inf",operation="ReportJob"}'), 3);
    assert.equal(sample(text, 'taskcenter_jobs_reported_total{result="created"}'), 1);
    assert.equal(sample(text, 'taskcenter_jobs_reported_total{result="unchanged"}'), 1);
    assert.equal(sample(text, 'taskcenter_jobs_reported_total{result="rejected"}'), 1);
    assert.equal(sample(text, 'taskcenter_jobs_reported_total{result="updated"}'), 0);
    assert.doesNotMatch(text, new RegExp(String(job.job_id)), 'raw URLs never become labels');
  });

  it('counts the scrape itself in flight, and nothing left over from answered requests', async () => {
    assert.equal(sample(await scrape(), 'taskcenter_http_requests_in_flight'), 1);
  });

  it("shows the store's connections and the list page cache's hits, misses and bytes", async () => {
    const before = await scrape();
    const list = () => server().app.inject({ url: `/v1/${PROJECT_A}/task-center/failure-jobs?limit=7`, headers: { 'x-auth-token': TOKENS.admin } });
    assert.equal((await list()).statusCode, 200);
    assert.equal((await list()).statusCode, 200);
    const text = await scrape();
    const delta = (name: string) => (sample(text, name) ?? NaN) - (sample(before, name) ?? NaN);
    assert.equal(delta('taskcenter_list_cache_misses_total'), 1);
    assert.equal(delta('taskcenter_list_cache_hits_total'), 1);
    assert.ok((sample(text, 'taskcenter_list_cache_bytes') ?? 0) > 0);
    assert.ok((sample(text, 'taskcenter_store_connections') ?? 0) >= 1);
    assert.ok((sample(text, 'taskcenter_store_connections_idle') ?? -1) >= 0);
    assert.equal(sample(text, 'taskcenter_store_connection_waiters'), 0);
    for (const name of [
      'taskcenter_store_errors_total',
      'taskcenter_aksk_lockouts_total',
      'taskcenter_throttled_requests_total',
      'taskcenter_retention_deleted_jobs_total',
    ]) {
      assert.equal(sample(text, name), 0, `${name} is there from the start`);
    }
    assert.ok((sample(text, 'process_resident_memory_bytes') ?? 0) > 0, 'with the process metrics');
  });

  describeWithTools('promtool check metrics', [PROMTOOL], () => {
    it('passes on the scraped text', async () => {
      const text = await scrape();
      const run = spawnSync(locate(PROMTOOL.command) as string, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
    });
  });

  it('has every metric the Grafana dashboard (docs/grafana-dashboard.json) queries, and the dashboard shows every taskcenter metric', async () => {
    const names = sampleNames(await scrape());
    const queries = dashboardQueries();
    assert.ok(queries.length >= 10);
    const used = new Set<string>();
    for (const expr of queries) {
      const metrics = metricsOf(expr);
      assert.ok(metrics.length > 0, `${expr} names a metric`);
      for (const metric of metrics) {
        assert.ok(names.has(metric), `${metric} (in ${expr}) is exposed`);
        used.add(metric.replace(/_(bucket|sum|count)$/, ''));
      }
    }
    const families = [...names]
      .filter((n) => n.startsWith('taskcenter_') && !n.startsWith('taskcenter_emulator_'))
      .map((n) => n.replace(/_(bucket|sum|count)$/, ''));
    assert.deepEqual(
      [...new Set(families)].filter((family) => !used.has(family)),
      [],
      'every taskcenter metric has a panel',
    );
  });
});

describe('GET /metrics with --throttle', () => {
  let server: TestApp;
  before(async () => {
    server = await createTestApp('sqlite', (db, dir) => loadConfig({ db, credentials: writeTestCredentials(dir), logLevel: 'silent', throttle: '1' }, {}));
  });
  after(async () => {
    await server?.close();
  });

  it('counts the requests the throttle refused', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await server.app.inject({ url: `/v3/${PROJECT_A}/failed-tasks`, headers: { 'x-auth-token': TOKENS.admin } })).statusCode);
    }
    const refused = statuses.filter((s) => s === 429).length;
    assert.ok(refused >= 1, String(statuses));
    const text = (await server.app.inject({ url: '/metrics' })).body;
    assert.equal(sample(text, 'taskcenter_throttled_requests_total'), refused);
  });
});
