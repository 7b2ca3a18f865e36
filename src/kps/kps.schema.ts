/**
 * The KPS key-pair task API's wire shapes (API.md §2): path and query parameters, and a
 * response schema for every answer. The same schemas validate, serialize and document.
 */
import { Type, type Static } from '@sinclair/typebox';
import { JOB_ID_PATTERN, Nullable, OneOf, ProjectId } from '../jobs/jobs.schema.js';
import { Limit, Offset } from '../paging.js';

/** `operate_type` of a failed task. */
export const FAILED_OPERATE_TYPES = ['FAILED_RESET', 'FAILED_REPLACE', 'FAILED_UNBIND'] as const;
/** `operate_type` of a waiting or running task. */
export const RUNNING_OPERATE_TYPES = ['RUNNING_RESET', 'RUNNING_REPLACE', 'RUNNING_UNBIND'] as const;
/** A task's state (INIT is shown as READY) joined to its operation. */
export const TASK_STATUSES = [
  'READY_RESET',
  'READY_REPLACE',
  'READY_UNBIND',
  'RUNNING_RESET',
  'RUNNING_REPLACE',
  'RUNNING_UNBIND',
  'FAILED_RESET',
  'FAILED_REPLACE',
  'FAILED_UNBIND',
  'SUCCESS_RESET',
  'SUCCESS_REPLACE',
  'SUCCESS_UNBIND',
] as const;

/** Path of the routes on one task. A malformed `task_id` is answered 400 KPS.0001 (illegal task id) by the dialect's field codes. */
export const TaskParams = Type.Object({ project_id: ProjectId, task_id: Type.String({ pattern: JOB_ID_PATTERN, description: 'Task id' }) });
export type TaskParams = Static<typeof TaskParams>;

/** `limit` (0..1000, default 1000) and `offset` (>= 0); anything else is 400 KPS.0002. */
export const PageQuery = Type.Object({ limit: Type.Optional(Limit), offset: Type.Optional(Offset) });
export type PageQuery = Static<typeof PageQuery>;

const taskTime = Type.String({ pattern: '^\\d+$', description: 'Begin time in epoch milliseconds, as a string ("1523342130000")' });

/** An item of ListFailedTask. */
export const FailedTask = Type.Object({
  task_id: Type.String({ description: 'Task id' }),
  operate_type: OneOf(FAILED_OPERATE_TYPES),
  task_time: taskTime,
  task_error_code: Nullable(Type.String({ description: 'Error code the failing step reported; null when it reported none' })),
  task_error_msg: Nullable(Type.String({ description: 'Why the task failed; null when the producer gave no reason' })),
  server_name: Type.String({ description: 'VM name' }),
  server_id: Type.String({ description: 'VM id' }),
  keypair_name: Type.String({ description: 'Key pair name' }),
});
export type FailedTask = Static<typeof FailedTask>;

/** ListFailedTask's body. */
export const FailedTaskList = Type.Object(
  {
    total: Type.Integer({ description: 'Number of failed tasks in the project, not the page size' }),
    tasks: Type.Array(FailedTask),
  },
  { description: 'Failed tasks, newest first' },
);
export type FailedTaskList = Static<typeof FailedTaskList>;

/** An item of ListRunningTask. */
export const RunningTask = Type.Object({
  task_id: Type.String({ description: 'Task id' }),
  operate_type: OneOf(RUNNING_OPERATE_TYPES),
  task_time: taskTime,
  server_name: Type.String({ description: 'VM name' }),
  server_id: Type.String({ description: 'VM id' }),
  keypair_name: Type.String({ description: 'Key pair name' }),
});
export type RunningTask = Static<typeof RunningTask>;

/** ListRunningTask's body. */
export const RunningTaskList = Type.Object(
  {
    total: Type.Integer({ description: 'Number of waiting or running tasks in the project, not the page size' }),
    tasks: Type.Array(RunningTask),
  },
  { description: 'Waiting (INIT) and running tasks, newest first' },
);
export type RunningTaskList = Static<typeof RunningTaskList>;

/** ListKeypairTask's body. */
export const KeypairTask = Type.Object(
  {
    task_id: Type.String({ description: 'Task id' }),
    task_status: OneOf(TASK_STATUSES, { description: '<READY|RUNNING|FAILED|SUCCESS>_<RESET|REPLACE|UNBIND>' }),
    server_id: Type.String({ description: 'VM id' }),
  },
  { description: 'One task and its state' },
);
export type KeypairTask = Static<typeof KeypairTask>;

/** DELETE answers 200 with no body at all, as KPS does. */
export const Cleared = Type.Null({ description: 'Cleared; the body is empty' });
