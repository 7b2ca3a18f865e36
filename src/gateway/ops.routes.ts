/** Liveness and readiness, for load balancers and orchestrators. Unauthenticated. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Database } from '../db/database.js';
import { LATEST_MIGRATION, schemaVersion } from '../db/migrate.js';

const Status = Type.Object({ status: Type.String() });

/** What OpenAPI says of a route anyone may call: no security requirement, overriding the document's. */
export const PUBLIC: readonly [] = [];

export function opsRoutes(app: FastifyInstance, db: Database): void {
  app.get(
    '/healthz',
    { schema: { tags: ['Operations'], operationId: 'CheckHealth', summary: 'The process is up', security: PUBLIC, response: { 200: Status } } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['Operations'],
        operationId: 'CheckReadiness',
        summary: 'The store answers and its schema is up to date',
        security: PUBLIC,
        response: { 200: Status, 503: Status },
      },
    },
    async (request, reply) => {
      let version: string | null;
      try {
        version = await schemaVersion(db);
      } catch (error) {
        request.log.warn({ err: error }, 'readiness check failed');
        return reply.code(503).send({ status: 'store unavailable' });
      }
      // A newer schema (another server migrated it ahead of a rollout) still has all this one needs.
      if (version === null || version < LATEST_MIGRATION) {
        request.log.warn({ version, needed: LATEST_MIGRATION }, 'readiness check failed: schema not migrated');
        return reply.code(503).send({ status: `schema not migrated (at ${version ?? 'none'}, needs ${LATEST_MIGRATION}): run taskcenter migrate` });
      }
      return { status: 'ready' };
    },
  );
}
