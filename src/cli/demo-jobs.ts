/**
 * The demo's jobs: for each of two projects, every SDRS operation on every resource type
 * it applies to (failed and succeeded, failed ones with sub-jobs where the operation has
 * steps), protection groups with failures inside them, KPS resets, replaces and unbinds
 * in every state, and some random history around them. Ids are the same at every start;
 * times are relative to the start.
 */
import type { BatchItem, JobDocument, JobStatus } from '../jobs/jobs.schema.js';
import { JOB_STATUSES } from '../jobs/jobs.schema.js';
import { Random } from './random.js';
import {
  KPS_OPERATION_NAMES,
  SDRS_COMBINATIONS,
  beginTimeFor,
  createEstate,
  hasSubJobs,
  kpsJob,
  randomJobs,
  sdrsJobs,
  type TimeSpan,
} from './synthetic-jobs.js';

/** The two demo projects, shaped like Huawei Cloud project ids. */
export const DEMO_PROJECTS = ['0a5f2d7c6e8b4a9d8c1e3f5a7b9d2c4e', '7b9e4c1a3d5f4e2b9a8c6d0e1f3a5b7c'] as const;

/** Jobs of the first project worth pointing at in examples. */
export interface DemoHighlights {
  readonly projectId: string;
  /** A failed protection-group-level job with sub-jobs. */
  readonly failedJobWithSubJobs: string;
  /** A protection group with failures inside it. */
  readonly groupWithFailures: string;
  /** A failed KPS task. */
  readonly failedTask: string;
}

/** The demo's reports, ready for the batch service, and the jobs its examples show. */
export interface DemoData {
  readonly items: readonly BatchItem[];
  readonly highlights: DemoHighlights;
}

const RANDOM_JOBS_PER_PROJECT = 100;

/** The demo data for a start at `now` (epoch milliseconds). */
export function demoJobs(now: number): DemoData {
  const items: BatchItem[] = [];
  let highlights: DemoHighlights | undefined;
  for (const projectId of DEMO_PROJECTS) {
    const rng = new Random(`demo/${projectId}`);
    const estate = createEstate(rng, { groups: 3, servers: 8 });
    const span: TimeSpan = { endTime: now - 60_000, spanMs: 14 * 24 * 3600 * 1000 };
    const docs: JobDocument[] = [];
    let failedJobWithSubJobs: string | undefined;

    SDRS_COMBINATIONS.forEach(({ resourceType, operation }, i) => {
      const group = estate.groups[i % estate.groups.length];
      for (const status of ['FAIL', 'SUCCESS'] as const) {
        const jobs = sdrsJobs(rng, estate, {
          resourceType,
          operation,
          status,
          beginTime: beginTimeFor(rng, status, span),
          ...(group === undefined ? {} : { group }),
          subJobs: hasSubJobs(resourceType, operation),
        });
        if (status === 'FAIL' && resourceType === 'server_groups' && jobs.length > 1) failedJobWithSubJobs ??= jobs[0]?.job_id;
        docs.push(...jobs);
      }
    });
    for (const status of ['RUNNING', 'INIT'] as const) {
      docs.push(
        ...sdrsJobs(rng, estate, { resourceType: 'server_groups', operation: 'failover', status, beginTime: beginTimeFor(rng, status, span), subJobs: true }),
        ...sdrsJobs(rng, estate, {
          resourceType: 'protected_instances',
          operation: 'create',
          status,
          beginTime: beginTimeFor(rng, status, span),
          subJobs: true,
        }),
      );
    }
    let failedTask: string | undefined;
    for (const operation of KPS_OPERATION_NAMES) {
      for (const status of JOB_STATUSES as readonly JobStatus[]) {
        const task = kpsJob(rng, estate, { operation, status, beginTime: beginTimeFor(rng, status, span) });
        if (status === 'FAIL') failedTask ??= task.job_id;
        docs.push(task);
      }
    }
    for (let i = 0; i < RANDOM_JOBS_PER_PROJECT; i++) docs.push(...randomJobs(rng, estate, span));

    items.push(...docs.map((doc) => ({ project_id: projectId, ...doc })));
    const inGroup = docs.find((d) => d.status === 'FAIL' && d.parent_job_id == null && d.resource?.type !== 'server_groups' && d.service === 'sdrs');
    if (highlights === undefined && failedJobWithSubJobs !== undefined && failedTask !== undefined && inGroup?.server_group_id != null) {
      highlights = { projectId, failedJobWithSubJobs, groupWithFailures: inGroup.server_group_id, failedTask };
    }
  }
  if (highlights === undefined) throw new Error('demo data lacks the jobs its examples show');
  return { items, highlights };
}
