/**
 * The SDRS task center wire contract (API.md §1): path and query schemas, which are also
 * the validation, and the response shapes, which are also the serialization and the
 * OpenAPI document.
 */
import { Type, type Static } from '@sinclair/typebox';
import { JobId, Nullable, OneOf, ProjectId, SDRS_OPERATIONS, SDRS_RESOURCE_TYPES, JOB_STATUSES, ServerGroupId } from '../jobs/jobs.schema.js';
import { Limit, Offset } from '../paging.js';

export type SdrsOperation = (typeof SDRS_OPERATIONS)[number];
export type FailureStatus = `${SdrsOperation}Fail`;

/** `failure_status` values: each SDRS operation followed by `Fail` (`createFail`). */
export const FAILURE_STATUSES: readonly FailureStatus[] = SDRS_OPERATIONS.map((op): FailureStatus => `${op}Fail`);

/** The operation a `failure_status` stands for (`createFail` → `create`). */
export function operationOf(status: FailureStatus): SdrsOperation {
  return status.slice(0, -'Fail'.length) as SdrsOperation;
}

/** DeleteFailureJob's path. */
export const FailureJobParams = Type.Object({ project_id: ProjectId, failure_job_id: JobId });
/**
 * DeleteServerGroupFailureJobs' path. A group id producers could not have reported (see
 * ServerGroupId) cannot name a group: refused with SDRS.0207, on this route as on the
 * list, rather than clearing nothing.
 */
export const ServerGroupParams = Type.Object({ project_id: ProjectId, server_group_id: ServerGroupId });

/** ListFailureJobs' query; unknown parameters are ignored, bad values refused (never defaulted). */
export const ListFailureJobsQuery = Type.Object({
  failure_status: Type.Optional(OneOf(FAILURE_STATUSES, { description: 'Only failures of this operation' })),
  resource_type: Type.Optional(OneOf(SDRS_RESOURCE_TYPES, { description: 'Only failures of this resource type; decides the scope when given' })),
  server_group_id: Type.Optional(ServerGroupId),
  resource_name: Type.Optional(Type.String({ maxLength: 255, description: 'Only resources whose name contains this text (case-sensitive, literal)' })),
  limit: Type.Optional(Limit),
  offset: Type.Optional(Offset),
});
export type ListFailureJobsQuery = Static<typeof ListFailureJobsQuery>;

/** One failed task in the list: exactly these ten string fields. */
export const FailureJob = Type.Object(
  {
    job_status: Type.Literal('FAIL'),
    job_id: Type.String(),
    job_type: Type.String(),
    begin_time: Type.String({ description: 'yyyy-MM-ddTHH:mm:ss.SSSZ, UTC' }),
    failure_status: OneOf(FAILURE_STATUSES),
    resource_id: Type.String(),
    resource_name: Type.String(),
    resource_type: OneOf(SDRS_RESOURCE_TYPES),
    error_code: Type.String({ description: "What the failing step reported, often another service's code (EVS.2024)" }),
    fail_reason: Type.String(),
  },
  { additionalProperties: false },
);
export type FailureJob = Static<typeof FailureJob>;

/** ListFailureJobs' answer. */
export const FailureJobList = Type.Object(
  {
    failure_jobs: Type.Array(FailureJob),
    count: Type.Integer({ description: 'All failures that match, not the size of this page' }),
  },
  { additionalProperties: false },
);
export type FailureJobList = Static<typeof FailureJobList>;

const entityIds = {
  server_group_id: Type.Optional(Type.String()),
  protected_instance_id: Type.Optional(Type.String()),
  replication_pair_id: Type.Optional(Type.String()),
  volume_ids: Type.Optional(Type.String({ description: 'Comma-separated volume ids' })),
  native_server_id: Type.Optional(Type.String()),
  nic_id: Type.Optional(Type.String()),
};

const jobStatusFields = {
  status: OneOf(JOB_STATUSES),
  job_id: Type.String(),
  job_type: Type.String(),
  begin_time: Type.String({ description: 'yyyy-MM-ddTHH:mm:ss.SSSZ, UTC' }),
  end_time: Nullable(Type.String({ description: 'null until the job is SUCCESS or FAIL' })),
  error_code: Nullable(Type.String({ description: 'null unless FAIL' })),
  fail_reason: Nullable(Type.String({ description: 'null unless FAIL' })),
};

/** A sub-job inside ShowJobStatus: the same shape, without further `sub_jobs`. */
export const SubJobStatus = Type.Object(
  { ...jobStatusFields, entities: Type.Object(entityIds, { additionalProperties: false }) },
  { additionalProperties: false },
);
export type SubJobStatus = Static<typeof SubJobStatus>;

/**
 * ShowJobStatus. `entities.sub_jobs` is present only when the job has sub-jobs, as the
 * SDRS page says ("if a subjob is available, details about the subjob are displayed").
 */
export const JobStatusView = Type.Object(
  {
    ...jobStatusFields,
    entities: Type.Object(
      { ...entityIds, sub_jobs: Type.Optional(Type.Array(SubJobStatus, { description: 'Present only when the job has sub-jobs' })) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type JobStatusView = Static<typeof JobStatusView>;

/** The 204 of the deletes: no body. */
export const NoContent = Type.Null({ description: 'No content' });
