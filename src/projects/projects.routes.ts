/** The read endpoints beside the public lists: who am I, which projects, one project's summary. HTTP only. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { ANY_ACTION } from '../auth/auth.hook.js';
import { errorResponses } from '../gateway/dialects.js';
import { ProjectParams } from '../jobs/jobs.schema.js';
import { Me, ProjectList, ProjectListQuery, Summary } from './projects.schema.js';
import type { ProjectsService } from './projects.service.js';

const TAG = ['Projects'];

/** Registers the three reads; each needs only an authenticated caller (and the path's project). */
export function projectsRoutes(fastify: FastifyInstance, projects: ProjectsService): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/taskcenter/v1/me',
    {
      config: { dialect: 'taskcenter', action: ANY_ACTION },
      schema: {
        tags: TAG,
        operationId: 'ShowMe',
        summary: 'Who the credentials stand for: name, projects and allowed actions',
        response: { 200: Me, ...errorResponses('taskcenter', []) },
      },
    },
    async (request) => projects.me(request.principal),
  );

  app.get(
    '/taskcenter/v1/projects',
    {
      config: { dialect: 'taskcenter', action: ANY_ACTION },
      schema: {
        tags: TAG,
        operationId: 'ListProjects',
        summary: 'Projects that have jobs, among those the caller may touch, in id order, paged by marker',
        querystring: ProjectListQuery,
        response: { 200: ProjectList, ...errorResponses('taskcenter', [400]) },
      },
    },
    async (request) => projects.list(request.principal, request.query),
  );

  app.get(
    '/taskcenter/v1/projects/:project_id/summary',
    {
      config: { dialect: 'taskcenter', action: ANY_ACTION },
      schema: {
        tags: TAG,
        operationId: 'ShowProjectSummary',
        summary: "A project's current failures by resource type and failure status, KPS totals, and failures per hour over 7 days",
        description: 'Counts are the exact list counters; each part is null when the caller may not read the list it summarizes.',
        params: ProjectParams,
        response: { 200: Summary, ...errorResponses('taskcenter', [400, 403]) },
      },
    },
    async (request) => projects.summary(request.principal, request.params.project_id, Date.now()),
  );
}
