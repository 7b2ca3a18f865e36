/** The producer API (ours): how jobs get in, and how tools read them back. HTTP only. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { ServiceError, quote } from '../errors.js';
import { errorResponses, ERROR_TABLES } from '../gateway/dialects.js';
import { sendJson, toJson } from '../rendered-json.js';
import type { JobService } from './jobs.service.js';
import {
  BatchBody,
  BatchResponse,
  JobDocument,
  JobList,
  JobListQuery,
  JobParams,
  ProjectParams,
  StoredJob,
  type BatchResponse as BatchResponseType,
} from './jobs.schema.js';

const TAG = ['Producer API'];

export function jobsRoutes(fastify: FastifyInstance, jobs: JobService): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.put(
    '/taskcenter/v1/projects/:project_id/jobs/:job_id',
    {
      config: { dialect: 'taskcenter', action: 'taskcenter:jobs:write' },
      schema: {
        tags: TAG,
        operationId: 'ReportJob',
        summary: "Report a job's current state",
        params: JobParams,
        body: JobDocument,
        response: { 200: StoredJob, 201: StoredJob, ...errorResponses('taskcenter', [400, 403, 409, 413]) },
      },
    },
    async (request, reply) => {
      const { project_id, job_id } = request.params;
      if (request.body.job_id !== job_id) {
        throw new ServiceError(
          'invalid_parameter',
          `job_id in the body (${quote(request.body.job_id)}) must equal the job_id in the path (${quote(job_id)})`,
          'job_id',
        );
      }
      const { result, job } = await jobs.report(project_id, request.body).catch((error: unknown) => {
        app.metrics.observeIngest('rejected');
        throw error;
      });
      app.metrics.observeIngest(result);
      return reply.code(result === 'created' ? 201 : 200).send(job);
    },
  );

  app.post(
    '/taskcenter/v1/jobs/batch',
    {
      config: { dialect: 'taskcenter', action: 'taskcenter:jobs:write' },
      schema: {
        tags: TAG,
        operationId: 'ReportJobs',
        summary: 'Report up to 1000 jobs of any projects in one transaction',
        body: BatchBody,
        response: { 200: BatchResponse, ...errorResponses('taskcenter', [400, 403, 413]) },
      },
    },
    async (request, reply) => {
      const outcomes = await jobs.reportBatch(request.principal, request.body.jobs);
      // One count per result, not per job: a labelled increment costs a lookup and its garbage.
      const counts = new Map<string, number>();
      for (const outcome of outcomes) counts.set(outcome.result, (counts.get(outcome.result) ?? 0) + 1);
      for (const [result, n] of counts) app.metrics.observeIngest(result, n);
      const results = outcomes.map(({ project_id, job_id, result, error }) =>
        error === undefined
          ? { project_id, job_id, result }
          : { project_id, job_id, result, error: { code: ERROR_TABLES.taskcenter[error.kind][1], message: error.message } },
      );
      // Written by JSON.stringify into one string: the schema's serializer concatenates a
      // thousand results piece by piece, several times the garbage for the same bytes.
      return sendJson(reply, toJson({ results } satisfies BatchResponseType));
    },
  );

  app.get(
    '/taskcenter/v1/projects/:project_id/jobs/:job_id',
    {
      config: { dialect: 'taskcenter', action: 'taskcenter:jobs:read' },
      schema: {
        tags: TAG,
        operationId: 'ShowJob',
        summary: 'Read one job as stored',
        params: JobParams,
        response: { 200: StoredJob, ...errorResponses('taskcenter', [400, 403, 404]) },
      },
    },
    async (request) => jobs.get(request.params.project_id, request.params.job_id),
  );

  app.get(
    '/taskcenter/v1/projects/:project_id/jobs',
    {
      config: { dialect: 'taskcenter', action: 'taskcenter:jobs:read' },
      schema: {
        tags: TAG,
        operationId: 'ListJobs',
        summary: "List a project's jobs in job_id order",
        params: ProjectParams,
        querystring: JobListQuery,
        response: { 200: JobList, ...errorResponses('taskcenter', [400, 403]) },
      },
    },
    async (request) => jobs.list(request.params.project_id, request.query),
  );
}
