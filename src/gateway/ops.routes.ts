/** Liveness and readiness, for load balancers and orchestrators. Unauthenticated. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Database } from '../db/database.js';

const Status = Type.Object({ status: Type.String() });

export function opsRoutes(app: FastifyInstance, db: Database): void {
  app.get('/healthz', { schema: { tags: ['Operations'], summary: 'The process is up', response: { 200: Status } } }, async () => ({
    status: 'ok',
  }));

  app.get('/readyz', { schema: { tags: ['Operations'], summary: 'The store answers', response: { 200: Status, 503: Status } } }, async (request, reply) => {
    try {
      await db.ping();
      return { status: 'ready' };
    } catch (error) {
      request.log.warn({ err: error }, 'readiness check failed');
      return reply.code(503).send({ status: 'store unavailable' });
    }
  });
}
