/** The KPS key-pair task routes (API.md §2). HTTP only: validation is the schemas. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { ifNoneMatch, NotModified, POLLING_NOTE, sendListAnswer } from '../gateway/conditional.js';
import { errorResponses } from '../gateway/dialects.js';
import { sendEmpty } from '../gateway/send-empty.js';
import { ProjectParams } from '../jobs/jobs.schema.js';
import { pageOf } from '../paging.js';
import type { KpsService } from './kps.service.js';
import { Cleared, FailedTaskList, KeypairTask, PageQuery, RunningTaskList, TaskParams } from './kps.schema.js';

const TAG = ['KPS key-pair tasks'];

/** Registers the five KPS routes; each answers errors in the KPS dialect and needs its kps:: action. */
export function kpsRoutes(fastify: FastifyInstance, kps: KpsService): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/v3/:project_id/failed-tasks',
    {
      config: { dialect: 'kps', action: 'kps::getFailedTask' },
      schema: {
        tags: TAG,
        summary: 'ListFailedTask: failed key-pair tasks, newest first',
        operationId: 'ListFailedTask',
        description: POLLING_NOTE,
        params: ProjectParams,
        querystring: PageQuery,
        response: { 200: FailedTaskList, 304: NotModified, ...errorResponses('kps', [400, 403]) },
      },
    },
    async (request, reply) => sendListAnswer(reply, await kps.listFailedTasks(request.params.project_id, pageOf(request.query), ifNoneMatch(request))),
  );

  app.delete(
    '/v3/:project_id/failed-tasks',
    {
      config: { dialect: 'kps', action: 'kps::deleteFailedTask' },
      schema: {
        tags: TAG,
        summary: 'DeleteAllFailedTask: clear every failed task of the project (200, empty body)',
        operationId: 'DeleteAllFailedTask',
        params: ProjectParams,
        response: { 200: Cleared, ...errorResponses('kps', [400, 403, 413]) },
      },
    },
    async (request, reply) => {
      await kps.deleteAllFailedTasks(request.params.project_id);
      return sendEmpty(reply.code(200));
    },
  );

  app.delete(
    '/v3/:project_id/failed-tasks/:task_id',
    {
      config: { dialect: 'kps', action: 'kps::deleteFailedTask' },
      schema: {
        tags: TAG,
        summary: 'DeleteFailedTask: clear one failed task (200, empty body); the task stays readable',
        operationId: 'DeleteFailedTask',
        params: TaskParams,
        response: { 200: Cleared, ...errorResponses('kps', [400, 403, 413]) },
      },
    },
    async (request, reply) => {
      await kps.deleteFailedTask(request.params.project_id, request.params.task_id);
      return sendEmpty(reply.code(200));
    },
  );

  app.get(
    '/v3/:project_id/running-tasks',
    {
      config: { dialect: 'kps', action: 'kps::getRunningTask' },
      schema: {
        tags: TAG,
        summary: 'ListRunningTask: waiting and running key-pair tasks, newest first',
        operationId: 'ListRunningTask',
        description: POLLING_NOTE,
        params: ProjectParams,
        querystring: PageQuery,
        response: { 200: RunningTaskList, 304: NotModified, ...errorResponses('kps', [400, 403]) },
      },
    },
    async (request, reply) => sendListAnswer(reply, await kps.listRunningTasks(request.params.project_id, pageOf(request.query), ifNoneMatch(request))),
  );

  app.get(
    '/v3/:project_id/tasks/:task_id',
    {
      config: { dialect: 'kps', action: 'kps::getTask' },
      schema: {
        tags: TAG,
        summary: "ListKeypairTask: one key-pair task's state",
        operationId: 'ListKeypairTask',
        params: TaskParams,
        response: { 200: KeypairTask, ...errorResponses('kps', [400, 403]) },
      },
    },
    async (request) => kps.getTask(request.params.project_id, request.params.task_id),
  );
}
