/**
 * The SDRS task center routes (API.md §1), HTTP only. `failure-jobs/batch` is a static
 * path, which the router always prefers over the `{failure_job_id}` and
 * `{server_group_id}` parameters at the same depth, so it is never taken as a job id.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { ifNoneMatch, NotModified, POLLING_NOTE, sendListAnswer } from '../gateway/conditional.js';
import { errorResponses } from '../gateway/dialects.js';
import { sendEmpty } from '../gateway/send-empty.js';
import { JobParams, ProjectParams } from '../jobs/jobs.schema.js';
import { FailureJobList, FailureJobParams, JobStatusView, ListFailureJobsQuery, NoContent, ServerGroupParams } from './sdrs.schema.js';
import type { SdrsService } from './sdrs.service.js';

const TAG = ['SDRS task center'];

/** Registers the five SDRS routes; each answers errors in the SDRS dialect and needs its sdrs:* action. */
export function sdrsRoutes(fastify: FastifyInstance, sdrs: SdrsService): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/v1/:project_id/task-center/failure-jobs',
    {
      config: { dialect: 'sdrs', action: 'sdrs:failureJobs:list' },
      schema: {
        tags: TAG,
        operationId: 'ListFailureJobs',
        summary: 'List failed tasks: protection-group-level by default, inside a group with server_group_id',
        description: POLLING_NOTE,
        params: ProjectParams,
        querystring: ListFailureJobsQuery,
        response: { 200: FailureJobList, 304: NotModified, ...errorResponses('sdrs', [400, 403]) },
      },
    },
    async (request, reply) => sendListAnswer(reply, await sdrs.listFailureJobs(request.params.project_id, request.query, ifNoneMatch(request))),
  );

  app.delete(
    '/v1/:project_id/task-center/failure-jobs/batch',
    {
      config: { dialect: 'sdrs', action: 'sdrs:failureJobs:delete' },
      schema: {
        tags: TAG,
        operationId: 'DeleteAllServerGroupFailureJobs',
        summary: 'Delete every protection-group-level failed task',
        params: ProjectParams,
        response: { 204: NoContent, ...errorResponses('sdrs', [400, 403]) },
      },
    },
    async (request, reply) => {
      await sdrs.deleteGroupLevelFailureJobs(request.params.project_id);
      return sendEmpty(reply.code(204));
    },
  );

  app.delete(
    '/v1/:project_id/task-center/failure-jobs/:failure_job_id',
    {
      config: { dialect: 'sdrs', action: 'sdrs:failureJobs:delete' },
      schema: {
        tags: TAG,
        operationId: 'DeleteFailureJob',
        summary: 'Delete one failed task from the list (the job itself stays)',
        params: FailureJobParams,
        response: { 204: NoContent, ...errorResponses('sdrs', [400, 403, 404]) },
      },
    },
    async (request, reply) => {
      await sdrs.deleteFailureJob(request.params.project_id, request.params.failure_job_id);
      return sendEmpty(reply.code(204));
    },
  );

  app.delete(
    '/v1/:project_id/task-center/:server_group_id/failure-jobs/batch',
    {
      config: { dialect: 'sdrs', action: 'sdrs:failureJobs:delete' },
      schema: {
        tags: TAG,
        operationId: 'DeleteServerGroupFailureJobs',
        summary: 'Delete every failed task inside one protection group',
        params: ServerGroupParams,
        response: { 204: NoContent, ...errorResponses('sdrs', [400, 403]) },
      },
    },
    async (request, reply) => {
      await sdrs.deleteFailureJobsInGroup(request.params.project_id, request.params.server_group_id);
      return sendEmpty(reply.code(204));
    },
  );

  app.get(
    '/v1/:project_id/jobs/:job_id',
    {
      config: { dialect: 'sdrs', action: 'sdrs:jobs:get' },
      schema: {
        tags: TAG,
        operationId: 'ShowJobStatus',
        summary: "A job's status, with its sub-jobs",
        params: JobParams,
        response: { 200: JobStatusView, ...errorResponses('sdrs', [400, 403, 404]) },
      },
    },
    async (request) => sdrs.showJobStatus(request.params.project_id, request.params.job_id),
  );
}
