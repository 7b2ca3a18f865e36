/** Schemas of the emulator's controls (`/taskcenter/v1/emulator/...`) and their types. */
import { Type, type Static } from '@sinclair/typebox';
import { JobDocument, JobId, Nullable, ProjectId, Timestamp } from '../jobs/jobs.schema.js';

/** A fault rule as a caller gives it (POST body, or one entry of a `--faults` file). */
export const FaultRuleInput = Type.Object(
  {
    operation: Type.String({ minLength: 1, maxLength: 64, description: 'An operationId of /openapi.json, such as ListFailureJobs or DeleteFailedTask' }),
    project_id: Type.Optional(ProjectId),
    probability: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Chance that a matching request is faulted (default 1)' })),
    times: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Fire this many times, then expire (default: never expires)' })),
    status: Type.Optional(Type.Integer({ minimum: 400, maximum: 599, description: 'Answer this error status instead of running the request' })),
    error_code: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "The error code (default: the route's own for that status)" })),
    message: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    delay_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000, description: 'Answer this much later (before the error, if any)' })),
  },
  { additionalProperties: false },
);
export type FaultRuleInput = Static<typeof FaultRuleInput>;

export const FaultFile = Type.Object({ faults: Type.Array(Type.Unknown(), { maxItems: 1000 }) });

/** A stored rule: its id, every field resolved, and how often it fired. */
export const FaultRule = Type.Object({
  id: Type.String(),
  operation: Type.String(),
  project_id: Nullable(Type.String()),
  probability: Type.Number(),
  times: Nullable(Type.Integer()),
  status: Nullable(Type.Integer()),
  error_code: Nullable(Type.String()),
  message: Nullable(Type.String()),
  delay_ms: Nullable(Type.Integer()),
  fired: Type.Integer({ description: 'Requests this rule has faulted' }),
  expired: Type.Boolean({ description: 'true once it fired `times` times: it fires no more' }),
});
export type FaultRule = Static<typeof FaultRule>;

export const FaultList = Type.Object({ faults: Type.Array(FaultRule) });
export const FaultParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const Deleted = Type.Object({ deleted: Type.Integer() });

/** One request as the journal keeps it: never a token, a signature or a body. */
export const JournalEntry = Type.Object({
  time: Type.String({ description: 'When the answer was sent, ISO 8601 UTC' }),
  method: Type.String(),
  path: Type.String({ description: 'The path, without the query string' }),
  operation: Nullable(Type.String({ description: "The route's operationId, when it has one" })),
  principal: Nullable(Type.String({ description: 'Who the caller authenticated as; null on public routes and refusals before that' })),
  status: Type.Integer(),
  ms: Type.Number(),
  request_id: Type.String(),
});
export type JournalEntry = Static<typeof JournalEntry>;

export const JournalQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'How many of the newest requests, 1 to 1000 (default 100)' })),
});
export const JournalList = Type.Object({ requests: Type.Array(JournalEntry) });

export const ProjectQuery = Type.Object({ project_id: Type.Optional(ProjectId) });

/**
 * One line of a snapshot: a job as the producer API stores it (the reported document
 * with its project, plus `failure_cleared`, `created_at`, `updated_at`).
 */
export const SnapshotLine = Type.Object(
  {
    project_id: ProjectId,
    ...JobDocument.properties,
    failure_cleared: Type.Boolean(),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { additionalProperties: false },
);
export type SnapshotLine = Static<typeof SnapshotLine>;

export const ImportResult = Type.Object({
  imported: Type.Integer({ description: 'Jobs written: new, or different from the stored job' }),
  unchanged: Type.Integer({ description: 'Jobs already stored exactly as the snapshot says' }),
});
export type ImportResult = Static<typeof ImportResult>;

const MAX_MS = 7 * 24 * 3600 * 1000;

/** How a job moves by itself: INIT for `start_after_ms`, RUNNING for `run_ms`, then `outcome`. */
export const Progress = Type.Object(
  {
    start_after_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_MS, default: 0, description: 'Time in INIT before RUNNING (default 0)' })),
    run_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_MS, default: 0, description: 'Time in RUNNING before the outcome (default 0)' })),
    outcome: Type.Union([Type.Literal('SUCCESS'), Type.Literal('FAIL')]),
    error_code: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'For a FAIL outcome' })),
    fail_reason: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'For a FAIL outcome' })),
  },
  { additionalProperties: false },
);
export type Progress = Static<typeof Progress>;

const { status: _status, end_time: _end, error_code: _code, fail_reason: _reason, parent_job_id: _parent, ...startFields } = JobDocument.properties;
const progressingFields = {
  ...startFields,
  status: Type.Optional(Type.Literal('INIT', { description: 'A progressing job starts as INIT' })),
};

export const ProgressingSubJob = Type.Object({ ...progressingFields, progress: Type.Optional(Progress) }, { additionalProperties: false });

/** POST /taskcenter/v1/emulator/jobs: a job document that starts INIT, how it moves, and its sub-jobs. */
export const ProgressingJob = Type.Object(
  {
    project_id: ProjectId,
    ...progressingFields,
    progress: Progress,
    sub_jobs: Type.Optional(
      Type.Array(ProgressingSubJob, {
        maxItems: 100,
        description: 'Steps of this job, stored with parent_job_id set; each moves as its own progress says, else as the parent',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ProgressingJob = Static<typeof ProgressingJob>;

export const StepParams = Type.Object({ project_id: ProjectId, job_id: JobId });

export const ResetBody = Type.Object({ project_id: Type.Optional(ProjectId) }, { additionalProperties: false });
export const ResetResult = Type.Object({ deleted_jobs: Type.Integer({ description: 'Jobs deleted, sub-jobs included' }) });
