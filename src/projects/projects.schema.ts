/**
 * The read endpoints a console needs beside the public lists: who the caller is, which
 * projects have jobs, and one project's summary. Schemas validate, serialize and
 * document them (OpenAPI), as everywhere.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ACTIONS } from '../auth/principal.js';
import { Nullable, OneOf, ProjectId, SDRS_RESOURCE_TYPES } from '../jobs/jobs.schema.js';
import { FAILURE_STATUSES } from '../sdrs/sdrs.schema.js';

/** GET /taskcenter/v1/me. */
export const Me = Type.Object(
  {
    name: Type.String({ description: 'The principal the credentials stand for' }),
    projects: Type.Array(Type.String(), { description: 'Projects it may touch; "*" means every project' }),
    actions: Type.Array(OneOf(ACTIONS), { description: 'Every action it may perform in those projects' }),
  },
  { additionalProperties: false },
);
export type Me = Static<typeof Me>;

export const ProjectListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'Page size, 1 to 1000 (default 100)' })),
  marker: Type.Optional(ProjectId),
});
export type ProjectListQuery = Static<typeof ProjectListQuery>;

/** GET /taskcenter/v1/projects. */
export const ProjectList = Type.Object(
  {
    projects: Type.Array(Type.Object({ project_id: Type.String() }, { additionalProperties: false })),
    next_marker: Nullable(Type.String({ description: 'Pass as `marker` for the next page; null on the last page' })),
  },
  { additionalProperties: false },
);
export type ProjectList = Static<typeof ProjectList>;

const Count = Type.Integer({ minimum: 0 });
const countsOf = <T extends readonly string[]>(keys: T) =>
  Type.Object(Object.fromEntries(keys.map((key) => [key, Count])) as Record<T[number], typeof Count>, { additionalProperties: false });

/** Hours in the failure chart of a summary: the last 7 days. */
export const SUMMARY_HOURS = 7 * 24;

/** GET /taskcenter/v1/projects/{project_id}/summary. */
export const Summary = Type.Object(
  {
    project_id: Type.String(),
    sdrs: Nullable(
      Type.Object(
        {
          by_resource_type: countsOf(SDRS_RESOURCE_TYPES),
          by_failure_status: countsOf(FAILURE_STATUSES),
        },
        {
          additionalProperties: false,
          description:
            'Current SDRS failures (not cleared), exact; by_resource_type.server_groups is the protection-group-level list. Null without sdrs:failureJobs:list',
        },
      ),
    ),
    kps: Nullable(
      Type.Object(
        { failed: Nullable(Count), running: Nullable(Count) },
        {
          additionalProperties: false,
          description: 'KPS failed and running task totals, exact; each null without its list action (kps::getFailedTask, kps::getRunningTask)',
        },
      ),
    ),
    failures_per_hour: Type.Object(
      {
        from: Type.String({ description: 'Start of the first hour, yyyy-MM-ddTHH:00:00.000Z' }),
        sdrs: Nullable(Type.Array(Count, { description: 'Current SDRS failures by the hour they began, oldest hour first' })),
        kps: Nullable(Type.Array(Count, { description: 'Current KPS failed tasks by the hour they began, oldest hour first' })),
      },
      { additionalProperties: false, description: `The last ${SUMMARY_HOURS} hours, the current one last` },
    ),
  },
  { additionalProperties: false },
);
export type Summary = Static<typeof Summary>;
