/**
 * Who the caller is, which projects have jobs, and a project's summary: the reads a
 * console needs beside the public lists. Each part of a summary is there only when the
 * caller may read the list it summarizes.
 */
import { ACTIONS, allows, type Principal } from '../auth/principal.js';
import type { Database } from '../db/database.js';
import { isoTime } from '../jobs/job.js';
import { SDRS_OPERATIONS, SDRS_RESOURCE_TYPES, type SdrsResourceType } from '../jobs/jobs.schema.js';
import { KPS_FAILED_BUCKET, KPS_RUNNING_BUCKET } from '../kps/kps.listing.js';
import { sdrsBucket } from '../sdrs/sdrs.listing.js';
import { FAILURE_STATUSES, type FailureStatus } from '../sdrs/sdrs.schema.js';
import { hasJobs, listedPerHour, projectsWithJobs, readCounts } from './projects.store.js';
import { SUMMARY_HOURS, type Me, type ProjectList, type ProjectListQuery, type Summary } from './projects.schema.js';

const HOUR_MS = 3_600_000;

export class ProjectsService {
  constructor(private readonly db: Database) {}

  /** The caller: its name, its projects as granted, and every action its grants allow. */
  me(principal: Principal): Me {
    return { name: principal.name, projects: [...principal.projects], actions: ACTIONS.filter((action) => allows(principal, action)) };
  }

  /**
   * A page of the projects that have jobs, in id order, among those the caller may see:
   * every one for a `*` grant, else its own.
   */
  async list(principal: Principal, query: ProjectListQuery): Promise<ProjectList> {
    const limit = query.limit ?? 100;
    const marker = query.marker ?? '';
    let ids: string[];
    if (principal.projects.includes('*')) {
      ids = await projectsWithJobs(this.db.kysely, marker, limit + 1);
    } else {
      ids = [];
      for (const projectId of [...new Set(principal.projects)].filter((p) => p > marker).sort()) {
        if (ids.length > limit) break;
        if (await hasJobs(this.db.kysely, projectId)) ids.push(projectId);
      }
    }
    const page = ids.slice(0, limit);
    return { projects: page.map((project_id) => ({ project_id })), next_marker: ids.length > limit ? (page.at(-1) ?? null) : null };
  }

  /**
   * The project's current failures by resource type and by failure status, its KPS
   * totals (all exact counters), and its current failures by the hour they began over
   * the last 7 days, up to `now` (epoch milliseconds).
   */
  async summary(principal: Principal, projectId: string, now: number): Promise<Summary> {
    const db = this.db.kysely;
    const readsSdrs = allows(principal, 'sdrs:failureJobs:list', projectId);
    const readsFailed = allows(principal, 'kps::getFailedTask', projectId);
    const readsRunning = allows(principal, 'kps::getRunningTask', projectId);

    // Every SDRS counter a summary shows: each resource type, and each type by operation.
    const sdrsBuckets = SDRS_RESOURCE_TYPES.flatMap((resourceType) => [
      sdrsBucket({ resourceType }),
      ...SDRS_OPERATIONS.map((operation) => sdrsBucket({ resourceType, operation })),
    ]);
    const counts = await readCounts(db, projectId, [...(readsSdrs ? sdrsBuckets : []), KPS_FAILED_BUCKET, KPS_RUNNING_BUCKET]);
    const count = (bucket: string) => counts.get(bucket) ?? 0;

    const lastHour = Math.floor(now / HOUR_MS);
    const fromHour = lastHour - SUMMARY_HOURS + 1;
    const perHour = async (list: 'sdrs' | 'kps_failed') => {
      const byHour = await listedPerHour(db, projectId, list, fromHour);
      return Array.from({ length: SUMMARY_HOURS }, (_, i) => byHour.get(fromHour + i) ?? 0);
    };

    return {
      project_id: projectId,
      sdrs: readsSdrs
        ? {
            by_resource_type: byResourceType(count),
            by_failure_status: byFailureStatus(count),
          }
        : null,
      kps:
        readsFailed || readsRunning
          ? { failed: readsFailed ? count(KPS_FAILED_BUCKET) : null, running: readsRunning ? count(KPS_RUNNING_BUCKET) : null }
          : null,
      failures_per_hour: {
        from: isoTime(fromHour * HOUR_MS),
        sdrs: readsSdrs ? await perHour('sdrs') : null,
        kps: readsFailed ? await perHour('kps_failed') : null,
      },
    };
  }
}

/** Failures by resource type. */
function byResourceType(count: (bucket: string) => number): Record<SdrsResourceType, number> {
  const out = {} as Record<SdrsResourceType, number>;
  for (const resourceType of SDRS_RESOURCE_TYPES) out[resourceType] = count(sdrsBucket({ resourceType }));
  return out;
}

/** Failures by failure status: each operation's count summed over the resource types. */
function byFailureStatus(count: (bucket: string) => number): Record<FailureStatus, number> {
  const out = {} as Record<FailureStatus, number>;
  SDRS_OPERATIONS.forEach((operation, i) => {
    out[FAILURE_STATUSES[i] as FailureStatus] = SDRS_RESOURCE_TYPES.reduce((sum, resourceType) => sum + count(sdrsBucket({ resourceType, operation })), 0);
  });
  return out;
}
