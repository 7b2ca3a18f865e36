/** Rows of the job table in the SDRS wire shapes: one function per API shape. */
import { isoTime } from '../jobs/job.js';
import type { Entities, SdrsResourceType } from '../jobs/jobs.schema.js';
import type { JobRow } from '../jobs/jobs.table.js';
import type { FailureJob, FailureStatus, JobStatusView, SubJobStatus } from './sdrs.schema.js';
import { renderedJson, type RenderedJson } from '../rendered-json.js';

/** The columns a failure list item is made of. */
export type FailureRow = Pick<
  JobRow,
  'job_id' | 'job_type' | 'begin_time' | 'operation' | 'resource_id' | 'resource_name' | 'resource_type' | 'error_code' | 'fail_reason'
>;

/** The columns ShowJobStatus shows. */
export type JobStatusRow = Pick<JobRow, 'job_id' | 'job_type' | 'status' | 'begin_time' | 'end_time' | 'error_code' | 'fail_reason' | 'entities'>;

/**
 * A failed task as ListFailureJobs shows it. Every field is a string: what a producer
 * left null (an error code, say) is shown as `""`, never null.
 */
export function toFailureJob(row: FailureRow): FailureJob {
  return {
    job_status: 'FAIL',
    job_id: row.job_id,
    job_type: row.job_type,
    begin_time: isoTime(row.begin_time),
    failure_status: `${row.operation}Fail` as FailureStatus,
    resource_id: row.resource_id ?? '',
    resource_name: row.resource_name ?? '',
    // Listed failures are top-level SDRS jobs, which always carry a resource type.
    resource_type: row.resource_type as SdrsResourceType,
    error_code: row.error_code ?? '',
    fail_reason: row.fail_reason ?? '',
  };
}

/** A sub-job as shown inside its parent's ShowJobStatus: no `sub_jobs` of its own. */
export function toSubJobStatus(row: JobStatusRow): SubJobStatus {
  return {
    status: row.status,
    job_id: row.job_id,
    job_type: row.job_type,
    begin_time: isoTime(row.begin_time),
    end_time: row.end_time === null ? null : isoTime(row.end_time),
    error_code: row.error_code,
    fail_reason: row.fail_reason,
    entities: JSON.parse(row.entities) as Entities,
  };
}

/** ShowJobStatus: the job, with `entities.sub_jobs` only when it has sub-jobs. */
export function toJobStatus(row: JobStatusRow, subJobs: readonly JobStatusRow[]): JobStatusView {
  const view = toSubJobStatus(row);
  return subJobs.length === 0 ? view : { ...view, entities: { ...view.entities, sub_jobs: subJobs.map(toSubJobStatus) } };
}

/**
 * ListFailureJobs' body from stored items (each the JSON of {@link toFailureJob}, joined
 * with commas): built as text, in the schema's field order, so no page is ever parsed or
 * serialized.
 */
export function failureJobListJson(items: string, count: number): RenderedJson {
  return renderedJson(`{"failure_jobs":[${items}],"count":${count}}`);
}
