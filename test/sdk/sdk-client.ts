/**
 * A client for the Task Center APIs built on the official Huawei Cloud SDK core, the way
 * the generated per-service SDK packages are: one request definition per operation
 * (method, URL template, content type, query, path parameters, body) handed to
 * `HcClient.sendRequest`, which substitutes the project id from the credentials, signs
 * with AK/SK (`SDK-HMAC-SHA256`) and sends with its own HTTP client. Only the core is
 * used, so what reaches the server is exactly what those SDKs send.
 */
import { BasicCredentials } from '@huaweicloud/huaweicloud-sdk-core';
import { ClientBuilder } from '@huaweicloud/huaweicloud-sdk-core/ClientBuilder.js';
import type { HcClient } from '@huaweicloud/huaweicloud-sdk-core/HcClient.js';

/** What a generated `ParamCreater()` returns for one call. */
interface RequestOptions {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  url: string;
  contentType: string;
  queryParams: Record<string, unknown>;
  pathParams: Record<string, unknown>;
  headers: Record<string, string>;
  data?: unknown;
}

/** What the core returns: the parsed JSON body plus the status. */
export type SdkResponse<T = Record<string, unknown>> = T & { httpStatusCode: number };

/** Drops unset fields, as generated code only copies the parameters that are set. */
function defined(query: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(query).filter(([, value]) => value !== undefined && value !== null));
}

function request(
  method: RequestOptions['method'],
  url: string,
  parts: Partial<Pick<RequestOptions, 'queryParams' | 'pathParams' | 'data'>> = {},
): RequestOptions {
  const options: RequestOptions = {
    method,
    url,
    contentType: 'application/json',
    queryParams: parts.queryParams ?? {},
    pathParams: parts.pathParams ?? {},
    headers: {},
  };
  if (parts.data !== undefined) {
    options.data = parts.data;
    options.headers['Content-Type'] = 'application/json';
  }
  return options;
}

export interface ListFailureJobsRequest {
  failure_status?: string;
  resource_type?: string;
  server_group_id?: string;
  resource_name?: string;
  limit?: number;
  offset?: number;
}

export interface PageRequest {
  limit?: number;
  offset?: number;
}

/** One definition per operation, as the generated SDKs' `ParamCreater` has. */
export const ParamCreater = {
  putJob: (jobId: string, body: Record<string, unknown>) =>
    request('PUT', '/taskcenter/v1/projects/{project_id}/jobs/{job_id}', { pathParams: { job_id: jobId }, data: body }),
  showJob: (jobId: string) => request('GET', '/taskcenter/v1/projects/{project_id}/jobs/{job_id}', { pathParams: { job_id: jobId } }),

  listFailureJobs: (query: ListFailureJobsRequest = {}) => request('GET', '/v1/{project_id}/task-center/failure-jobs', { queryParams: defined({ ...query }) }),
  deleteFailureJob: (failureJobId: string) =>
    request('DELETE', '/v1/{project_id}/task-center/failure-jobs/{failure_job_id}', { pathParams: { failure_job_id: failureJobId } }),
  deleteAllServerGroupFailureJobs: () => request('DELETE', '/v1/{project_id}/task-center/failure-jobs/batch'),
  deleteServerGroupFailureJobs: (serverGroupId: string) =>
    request('DELETE', '/v1/{project_id}/task-center/{server_group_id}/failure-jobs/batch', { pathParams: { server_group_id: serverGroupId } }),
  showJobStatus: (jobId: string) => request('GET', '/v1/{project_id}/jobs/{job_id}', { pathParams: { job_id: jobId } }),

  listFailedTask: (query: PageRequest = {}) => request('GET', '/v3/{project_id}/failed-tasks', { queryParams: defined({ ...query }) }),
  deleteFailedTask: (taskId: string) => request('DELETE', '/v3/{project_id}/failed-tasks/{task_id}', { pathParams: { task_id: taskId } }),
  deleteAllFailedTask: () => request('DELETE', '/v3/{project_id}/failed-tasks'),
  listRunningTask: (query: PageRequest = {}) => request('GET', '/v3/{project_id}/running-tasks', { queryParams: defined({ ...query }) }),
  listKeypairTask: (taskId: string) => request('GET', '/v3/{project_id}/tasks/{task_id}', { pathParams: { task_id: taskId } }),
} as const;

type Operation = keyof typeof ParamCreater;

/** Every operation of the three APIs, each a signed call through the SDK core. */
export class TaskCenterClient {
  constructor(private readonly hcClient: HcClient) {}

  /** Calls `operation` with the arguments of its definition; resolves to the parsed body, rejects with the SDK's exception. */
  call<K extends Operation>(operation: K, ...args: Parameters<(typeof ParamCreater)[K]>): Promise<SdkResponse> {
    const options = (ParamCreater[operation] as (...a: unknown[]) => RequestOptions)(...args);
    return this.hcClient.sendRequest(options as never) as Promise<SdkResponse>;
  }
}

/** The SDK's log lines carry request headers (the signature): tests keep them off stdout. */
const QUIET = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * A client for `endpoint` signing with `key` for `projectId`, built with the core's
 * ClientBuilder; with `securityToken`, in the core's temporary-credential mode (it then
 * sends the token in X-Security-Token).
 */
export function taskCenterClient(endpoint: string, key: { ak: string; sk: string; securityToken?: string }, projectId: string): TaskCenterClient {
  let credentials = new BasicCredentials().withAk(key.ak).withSk(key.sk).withProjectId(projectId);
  if (key.securityToken !== undefined) credentials = credentials.withSecurityToken(key.securityToken);
  return new ClientBuilder((hcClient: HcClient) => {
    (hcClient as unknown as { httpClient: { _logger: typeof QUIET } }).httpClient._logger = QUIET;
    return new TaskCenterClient(hcClient);
  })
    .withCredential(credentials)
    .withEndpoint(endpoint)
    .build();
}

/** The fields the SDK's exceptions (ClientRequestException, ServerResponseException) expose. */
export interface SdkError {
  name: string;
  httpStatusCode: number;
  errorCode: string;
  errorMsg: string;
  requestId: string;
}

/** Runs `call`, which must fail, and returns the SDK's exception. */
export async function sdkError(call: Promise<unknown>): Promise<SdkError> {
  try {
    await call;
  } catch (error) {
    return error as SdkError;
  }
  throw new Error('the call succeeded');
}
