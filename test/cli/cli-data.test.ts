/**
 * The data behind `demo` and `seed`: the demo covers what it promises, synthetic jobs
 * pass the producer API's checks and are reproducible, and progress reads well.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEMO_PROJECTS, demoJobs } from '../../src/cli/demo-jobs.js';
import { Progress } from '../../src/cli/progress.js';
import { Random } from '../../src/cli/random.js';
import { seedJobCount, seedProjectId } from '../../src/cli/seed.js';
import { projectJobs, SDRS_COMBINATIONS } from '../../src/cli/synthetic-jobs.js';
import { toReportedJob } from '../../src/jobs/job.js';
import { BatchItem, JobDocument, JOB_STATUSES, KPS_OPERATIONS, SDRS_OPERATIONS, SDRS_RESOURCE_TYPES } from '../../src/jobs/jobs.schema.js';
import { checkJson } from '../../src/validation.js';
import { REPO_ROOT, taskcenter } from '../cli-helpers.js';

describe('demo data', () => {
  const { items, highlights } = demoJobs(Date.parse('2026-06-01T12:00:00Z'));

  it('passes the producer API checks, with unique ids per project', () => {
    items.forEach((item, i) => {
      const { project_id, ...doc } = checkJson<BatchItem>(BatchItem, item, `jobs[${i}]`);
      toReportedJob(project_id, doc, `jobs[${i}].`);
    });
    assert.equal(new Set(items.map((j) => `${j.project_id}/${j.job_id}`)).size, items.length);
  });

  for (const project of DEMO_PROJECTS) {
    it(`fills project ${project} with every SDRS failure, in-group failures, sub-jobs and KPS tasks in every state`, () => {
      const jobs = items.filter((j) => j.project_id === project);
      const topFailures = jobs.filter((j) => j.service === 'sdrs' && j.status === 'FAIL' && j.parent_job_id == null);
      for (const { resourceType, operation } of SDRS_COMBINATIONS) {
        assert.ok(
          topFailures.some((j) => j.resource?.type === resourceType && j.operation === operation),
          `${operation} on ${resourceType}`,
        );
      }
      assert.deepEqual(new Set(topFailures.map((j) => j.operation)), new Set(SDRS_OPERATIONS));
      assert.deepEqual(new Set(topFailures.map((j) => j.resource?.type)), new Set(SDRS_RESOURCE_TYPES));
      const groupsWithInnerFailures = new Set(topFailures.filter((j) => j.resource?.type !== 'server_groups').map((j) => j.server_group_id));
      assert.ok(groupsWithInnerFailures.size >= 2);
      const subJobs = jobs.filter((j) => j.parent_job_id != null);
      for (const status of JOB_STATUSES)
        assert.ok(
          subJobs.some((j) => j.status === status),
          `a ${status} sub-job`,
        );
      for (const operation of KPS_OPERATIONS) {
        for (const status of JOB_STATUSES) {
          assert.ok(
            jobs.some((j) => j.service === 'kps' && j.operation === operation && j.status === status),
            `kps ${operation} ${status}`,
          );
        }
      }
    });
  }

  it('points its examples at jobs that exist', () => {
    const ids = new Set(items.filter((j) => j.project_id === highlights.projectId).map((j) => j.job_id));
    assert.ok(ids.has(highlights.failedJobWithSubJobs));
    assert.ok(ids.has(highlights.failedTask));
    assert.ok(items.some((j) => j.parent_job_id === highlights.failedJobWithSubJobs));
    assert.ok(items.some((j) => j.server_group_id === highlights.groupWithFailures && j.status === 'FAIL' && j.resource?.type !== 'server_groups'));
  });
});

describe('seed data', () => {
  const span = { endTime: Date.parse('2026-01-01T00:00:00Z'), spanMs: 365 * 24 * 3600 * 1000 };
  const generate = (seed: string, count: number) => [...projectJobs(new Random(seed), count, span)];

  it('gives exactly the requested number of valid jobs, the same for the same seed', () => {
    const jobs = generate('1/seed-000000', 500);
    assert.equal(jobs.length, 500);
    for (const doc of jobs) toReportedJob('seed-000000', checkJson<JobDocument>(JobDocument, doc));
    assert.deepEqual(generate('1/seed-000000', 500), jobs);
    assert.notDeepEqual(generate('2/seed-000000', 500), jobs);
    for (const doc of jobs) {
      if (doc.parent_job_id == null) continue;
      assert.ok(
        jobs.some((p) => p.job_id === doc.parent_job_id),
        'a sub-job follows its parent',
      );
    }
  });

  it('is mostly finished work with a realistic share of failures', () => {
    const top = generate('mix', 5000).filter((j) => j.parent_job_id == null);
    const share = (status: string) => top.filter((j) => j.status === status).length / top.length;
    assert.ok(share('SUCCESS') > 0.75 && share('SUCCESS') < 0.92, `SUCCESS ${share('SUCCESS')}`);
    assert.ok(share('FAIL') > 0.05 && share('FAIL') < 0.2, `FAIL ${share('FAIL')}`);
    assert.ok(share('RUNNING') + share('INIT') < 0.1);
    const begins = top.map((j) => Date.parse(j.begin_time));
    assert.ok(Math.max(...begins) - Math.min(...begins) > 300 * 24 * 3600 * 1000, 'begin times spread over the year');
  });

  it('has the shares of finished and failed jobs that seed --help and the README state', async () => {
    const all = generate('shares', 20_000);
    const top = all.filter((j) => j.parent_job_id == null);
    const percent = (jobs: typeof all, statuses: string[]) => (100 * jobs.filter((j) => statuses.includes(j.status)).length) / jobs.length;
    const stated = /about (\d+)% are finished, and about (\d+)% of all jobs \((\d+)% of top-level tasks\) failed/i;
    const help = (await taskcenter(['seed', '--help'])).stdout.replace(/\s+/g, ' ').match(stated);
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ').match(stated);
    assert.ok(help !== null, 'seed --help states the shares');
    assert.ok(readme !== null, 'the README states the shares');
    assert.deepEqual(readme.slice(1), help.slice(1), 'the README and seed --help agree');
    const [finished, failed, failedTop] = help.slice(1).map(Number) as [number, number, number];
    for (const [measured, claimed] of [
      [percent(all, ['SUCCESS', 'FAIL']), finished],
      [percent(all, ['FAIL']), failed],
      [percent(top, ['FAIL']), failedTop],
    ] as const) {
      assert.ok(Math.abs(measured - claimed) < 1, `measured ${measured.toFixed(1)}%, stated ${claimed}%`);
    }
  });

  it('names projects predictably and spreads jobs evenly', () => {
    assert.equal(seedProjectId(0), 'seed-000000');
    assert.equal(seedProjectId(999), 'seed-000999');
    assert.deepEqual(
      [0, 1, 2].map((i) => seedJobCount(i, 3, 250)),
      [84, 83, 83],
    );
    assert.equal(
      [...Array(1000).keys()].reduce((sum, i) => sum + seedJobCount(i, 1000, 1_000_003), 0),
      1_000_003,
    );
  });
});

describe('progress', () => {
  it('writes a plain line every few seconds off a terminal, and a final line', () => {
    let clock = 0;
    const lines: string[] = [];
    const progress = new Progress(1000, 'jobs', { isTTY: false, write: (text) => lines.push(text) }, () => clock);
    clock = 1000;
    progress.update(100);
    assert.equal(lines.length, 0);
    clock = 5000;
    progress.update(500);
    assert.deepEqual(lines, ['500/1,000 jobs (50%) in 5 s, 100 jobs/s, about 5 s left\n']);
    clock = 7000;
    progress.update(1000);
    progress.finish();
    assert.equal(lines.at(-1), '1,000/1,000 jobs (100%) in 7 s, 143 jobs/s\n');
  });

  it('redraws a bar in place on a terminal', () => {
    const out: string[] = [];
    const progress = new Progress(10, 'jobs', { isTTY: true, write: (text) => out.push(text) }, () => 1000);
    progress.finish();
    assert.match(out.join(''), /^\r\[\.{30}\] 0\/10 jobs \(0%\)/);
  });
});
