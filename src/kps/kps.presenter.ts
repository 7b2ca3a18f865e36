/**
 * Turns stored KPS jobs into the KPS API's shapes: one named function per shape.
 * Top-level KPS jobs always carry a server and a key pair name (the producer API
 * requires them), so the empty-string fallbacks only satisfy the row types.
 */
import type { FailedTask, KeypairTask, RunningTask } from './kps.schema.js';
import { renderedJson, type RenderedJson } from '../rendered-json.js';
import type { JobRow } from '../jobs/jobs.table.js';

/** The columns a failed-task item is made of. */
export type FailedTaskRow = Pick<JobRow, 'job_id' | 'operation' | 'begin_time' | 'error_code' | 'fail_reason' | 'server_name' | 'server_id' | 'keypair_name'>;
/** The columns a running-task item is made of. */
export type RunningTaskRow = Pick<JobRow, 'job_id' | 'operation' | 'begin_time' | 'server_name' | 'server_id' | 'keypair_name'>;
/** The columns ListKeypairTask shows. */
export type TaskRow = Pick<JobRow, 'job_id' | 'operation' | 'status' | 'server_id'>;

type OperateName = 'RESET' | 'REPLACE' | 'UNBIND';

const STATE_NAMES = { INIT: 'READY', RUNNING: 'RUNNING', FAIL: 'FAILED', SUCCESS: 'SUCCESS' } as const;

/** `reset` → `RESET`; KPS jobs are only ever stored with one of the three operations. */
function operateName(operation: string): OperateName {
  return operation.toUpperCase() as OperateName;
}

/** Epoch milliseconds as KPS writes them: a string of digits. */
function taskTime(beginTime: number): string {
  return String(beginTime);
}

/** An item of ListFailedTask. */
export function toFailedTask(row: FailedTaskRow): FailedTask {
  return {
    task_id: row.job_id,
    operate_type: `FAILED_${operateName(row.operation)}`,
    task_time: taskTime(row.begin_time),
    task_error_code: row.error_code,
    task_error_msg: row.fail_reason,
    server_name: row.server_name ?? '',
    server_id: row.server_id ?? '',
    keypair_name: row.keypair_name ?? '',
  };
}

/** An item of ListRunningTask. */
export function toRunningTask(row: RunningTaskRow): RunningTask {
  return {
    task_id: row.job_id,
    operate_type: `RUNNING_${operateName(row.operation)}`,
    task_time: taskTime(row.begin_time),
    server_name: row.server_name ?? '',
    server_id: row.server_id ?? '',
    keypair_name: row.keypair_name ?? '',
  };
}

/** The body of ListKeypairTask: INIT shows as READY, FAIL as FAILED. */
export function toKeypairTask(row: TaskRow): KeypairTask {
  return {
    task_id: row.job_id,
    task_status: `${STATE_NAMES[row.status]}_${operateName(row.operation)}`,
    server_id: row.server_id ?? '',
  };
}

/**
 * ListFailedTask's and ListRunningTask's body from stored items (each the JSON of
 * {@link toFailedTask} or {@link toRunningTask}, joined with commas): built as text, in
 * the schema's field order, so no page is ever parsed or serialized.
 */
export function taskListJson(total: number, items: string): RenderedJson {
  return renderedJson(`{"total":${total},"tasks":[${items}]}`);
}
