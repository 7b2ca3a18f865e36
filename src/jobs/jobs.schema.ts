import { Type, type Static, type TLiteral, type TSchema, type TUnion } from '@sinclair/typebox';

export const JOB_STATUSES = ['INIT', 'RUNNING', 'SUCCESS', 'FAIL'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const SERVICES = ['sdrs', 'kps'] as const;
export type Service = (typeof SERVICES)[number];

/** SDRS operations; a failed one is listed with `failure_status` `<operation>Fail`. */
export const SDRS_OPERATIONS = ['create', 'delete', 'attach', 'detach', 'expand', 'resize', 'start', 'stop', 'reverse', 'failover', 'reprotect'] as const;
export const SDRS_RESOURCE_TYPES = ['server_groups', 'protected_instances', 'replications', 'disaster_recovery_drills'] as const;
export type SdrsResourceType = (typeof SDRS_RESOURCE_TYPES)[number];

export const KPS_OPERATIONS = ['reset', 'replace', 'unbind'] as const;

export const OPERATIONS: Readonly<Record<Service, readonly string[]>> = { sdrs: SDRS_OPERATIONS, kps: KPS_OPERATIONS };

/** A union of string literals, which validation reports as "must be one of ...". */
export function OneOf<const T extends readonly string[]>(values: T, options: { description?: string } = {}): TUnion<TLiteral<T[number]>[]> {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    options,
  ) as TUnion<TLiteral<T[number]>[]>;
}

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const PROJECT_ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$';
export const JOB_ID_PATTERN = '^[A-Za-z0-9._-]{1,64}$';

export const ProjectId = Type.String({ pattern: PROJECT_ID_PATTERN, description: 'Project (tenant) id' });
export const JobId = Type.String({ pattern: JOB_ID_PATTERN, description: 'Job id, unique within its project' });
/**
 * A protection group id, written with a job id's characters: SDRS takes it in a path
 * segment (`/{server_group_id}/failure-jobs/batch`), so every route that names a group
 * (and every report of one) holds it to the same rule.
 */
export const SERVER_GROUP_ID_PATTERN = JOB_ID_PATTERN;
export const ServerGroupId = Type.String({ pattern: SERVER_GROUP_ID_PATTERN, description: 'Protection group id' });

/** ISO 8601 with an explicit zone; stored as epoch milliseconds. */
export const Timestamp = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$',
  description: 'ISO 8601 time with a zone, e.g. 2019-01-21T12:56:35.754Z',
});

const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength });

export const Entities = Type.Object(
  {
    server_group_id: Type.Optional(Text(64)),
    protected_instance_id: Type.Optional(Text(64)),
    replication_pair_id: Type.Optional(Text(64)),
    volume_ids: Type.Optional(Text(2048)),
    native_server_id: Type.Optional(Text(64)),
    nic_id: Type.Optional(Text(64)),
  },
  { additionalProperties: false, description: 'Ids of the resources the job touches' },
);
export type Entities = Static<typeof Entities>;

const jobFields = {
  job_id: JobId,
  service: OneOf(SERVICES),
  job_type: Text(128),
  operation: Type.String({
    minLength: 1,
    maxLength: 32,
    description: 'sdrs: create delete attach detach expand resize start stop reverse failover reprotect; kps: reset replace unbind',
  }),
  status: OneOf(JOB_STATUSES),
  begin_time: Timestamp,
  end_time: Type.Optional(Nullable(Timestamp)),
  error_code: Type.Optional(Nullable(Type.String({ maxLength: 128 }))),
  fail_reason: Type.Optional(Nullable(Type.String({ maxLength: 4096 }))),
  resource: Type.Optional(
    Nullable(Type.Object({ id: Text(64), name: Type.String({ maxLength: 255 }), type: OneOf(SDRS_RESOURCE_TYPES) }, { additionalProperties: false })),
  ),
  server_group_id: Type.Optional(Nullable(ServerGroupId)),
  entities: Type.Optional(Entities),
  parent_job_id: Type.Optional(Nullable(JobId)),
  server: Type.Optional(Nullable(Type.Object({ id: Text(64), name: Type.String({ maxLength: 255 }) }, { additionalProperties: false }))),
  keypair_name: Type.Optional(Nullable(Text(255))),
};

/** What a producer reports for one job (PUT body). */
export const JobDocument = Type.Object(jobFields, { additionalProperties: false });
export type JobDocument = Static<typeof JobDocument>;

/** One item of a batch: a job document with its project. */
export const BatchItem = Type.Object({ project_id: ProjectId, ...jobFields }, { additionalProperties: false });
export type BatchItem = Static<typeof BatchItem>;

export const MAX_BATCH = 1000;

/** The batch body. Items are checked one by one, so one bad item rejects only itself. */
export const BatchBody = Type.Object({ jobs: Type.Array(Type.Unknown(), { minItems: 1, maxItems: MAX_BATCH }) }, { additionalProperties: false });

export const REPORT_RESULTS = ['created', 'updated', 'unchanged', 'rejected'] as const;
export type ReportResult = (typeof REPORT_RESULTS)[number];

export const ErrorDetail = Type.Object({ code: Type.String(), message: Type.String() });

export const BatchResponse = Type.Object({
  results: Type.Array(
    Type.Object({
      project_id: Type.String(),
      job_id: Type.String(),
      result: OneOf(REPORT_RESULTS),
      error: Type.Optional(ErrorDetail),
    }),
  ),
});
export type BatchResponse = Static<typeof BatchResponse>;

/** A stored job as the producer API shows it: the document with every field present. */
export const StoredJob = Type.Object({
  project_id: Type.String(),
  job_id: Type.String(),
  service: OneOf(SERVICES),
  job_type: Type.String(),
  operation: Type.String(),
  status: OneOf(JOB_STATUSES),
  begin_time: Type.String(),
  end_time: Nullable(Type.String()),
  error_code: Nullable(Type.String()),
  fail_reason: Nullable(Type.String()),
  resource: Nullable(Type.Object({ id: Type.String(), name: Type.String(), type: Type.String() })),
  server_group_id: Nullable(Type.String()),
  entities: Entities,
  parent_job_id: Nullable(Type.String()),
  server: Nullable(Type.Object({ id: Type.String(), name: Type.String() })),
  keypair_name: Nullable(Type.String()),
  failure_cleared: Type.Boolean({ description: 'true once the failure was deleted from the SDRS or KPS failure list' }),
  created_at: Type.String(),
  updated_at: Type.String(),
});
export type StoredJob = Static<typeof StoredJob>;

export const JobList = Type.Object({
  jobs: Type.Array(StoredJob),
  next_marker: Nullable(Type.String({ description: 'Pass as `marker` for the next page; null on the last page' })),
});

/**
 * The producer list's query. `limit` is 1 to 1000 (default 100): a page is reached by
 * `marker`, and an empty page has no last job to continue from, so unlike the SDRS and
 * KPS lists (offset paging, where `limit=0` asks only for the count) 0 is refused.
 */
export const JobListQuery = Type.Object({
  service: Type.Optional(OneOf(SERVICES)),
  status: Type.Optional(OneOf(JOB_STATUSES)),
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 100,
      description: 'Page size, 1 to 1000 (default 100); 0 is refused: the next page starts after the last job of this one',
    }),
  ),
  marker: Type.Optional(JobId),
});
export type JobListQuery = Static<typeof JobListQuery>;

export const ProjectParams = Type.Object({ project_id: ProjectId });
export const JobParams = Type.Object({ project_id: ProjectId, job_id: JobId });
