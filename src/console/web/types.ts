/** The shapes the console reads, as the API documents them (/openapi.json). */

export const ACTIONS = [
  'sdrs:failureJobs:list',
  'sdrs:failureJobs:delete',
  'sdrs:jobs:get',
  'kps::getFailedTask',
  'kps::deleteFailedTask',
  'kps::getRunningTask',
  'kps::getTask',
  'taskcenter:jobs:write',
  'taskcenter:jobs:read',
  'taskcenter:subscriptions:write',
  'taskcenter:subscriptions:read',
] as const;
export type Action = (typeof ACTIONS)[number];

export interface Me {
  readonly name: string;
  readonly projects: readonly string[];
  readonly actions: readonly Action[];
}

export interface ProjectList {
  readonly projects: readonly { readonly project_id: string }[];
  readonly next_marker: string | null;
}

export const RESOURCE_TYPES = ['server_groups', 'protected_instances', 'replications', 'disaster_recovery_drills'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

export const FAILURE_STATUSES = [
  'createFail',
  'deleteFail',
  'attachFail',
  'detachFail',
  'expandFail',
  'resizeFail',
  'startFail',
  'stopFail',
  'reverseFail',
  'failoverFail',
  'reprotectFail',
] as const;
export type FailureStatus = (typeof FAILURE_STATUSES)[number];

export const JOB_STATUSES = ['INIT', 'RUNNING', 'SUCCESS', 'FAIL'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export interface Summary {
  readonly project_id: string;
  readonly sdrs: { readonly by_resource_type: Record<ResourceType, number>; readonly by_failure_status: Record<FailureStatus, number> } | null;
  readonly kps: { readonly failed: number | null; readonly running: number | null } | null;
  readonly failures_per_hour: { readonly from: string; readonly sdrs: readonly number[] | null; readonly kps: readonly number[] | null };
}

export interface FailureJob {
  readonly job_status: 'FAIL';
  readonly job_id: string;
  readonly job_type: string;
  readonly begin_time: string;
  readonly failure_status: FailureStatus;
  readonly resource_id: string;
  readonly resource_name: string;
  readonly resource_type: ResourceType;
  readonly error_code: string;
  readonly fail_reason: string;
}

export interface FailureJobList {
  readonly failure_jobs: readonly FailureJob[];
  readonly count: number;
}

export interface Entities {
  readonly server_group_id?: string;
  readonly protected_instance_id?: string;
  readonly replication_pair_id?: string;
  readonly volume_ids?: string;
  readonly native_server_id?: string;
  readonly nic_id?: string;
}

export interface SubJob {
  readonly status: JobStatus;
  readonly job_id: string;
  readonly job_type: string;
  readonly begin_time: string;
  readonly end_time: string | null;
  readonly error_code: string | null;
  readonly fail_reason: string | null;
  readonly entities: Entities;
}

export interface JobStatusView extends SubJob {
  readonly entities: Entities & { readonly sub_jobs?: readonly SubJob[] };
}

export interface StoredJob {
  readonly project_id: string;
  readonly job_id: string;
  readonly service: 'sdrs' | 'kps';
  readonly job_type: string;
  readonly operation: string;
  readonly status: JobStatus;
  readonly begin_time: string;
  readonly end_time: string | null;
  readonly error_code: string | null;
  readonly fail_reason: string | null;
  readonly resource: { readonly id: string; readonly name: string; readonly type: string } | null;
  readonly server_group_id: string | null;
  readonly entities: Entities;
  readonly parent_job_id: string | null;
  readonly server: { readonly id: string; readonly name: string } | null;
  readonly keypair_name: string | null;
  readonly failure_cleared: boolean;
  readonly created_at: string;
  readonly updated_at: string;
}

export interface JobList {
  readonly jobs: readonly StoredJob[];
  readonly next_marker: string | null;
}

export interface KpsTask {
  readonly task_id: string;
  readonly operate_type: string;
  readonly task_time: string;
  readonly task_error_code?: string | null;
  readonly task_error_msg?: string;
  readonly server_name: string;
  readonly server_id: string;
  readonly keypair_name: string;
}

export interface KpsTaskList {
  readonly total: number;
  readonly tasks: readonly KpsTask[];
}

export interface KeypairTask {
  readonly task_id: string;
  readonly task_status: string;
  readonly server_id: string;
}
