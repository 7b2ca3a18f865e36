/** Liveness and readiness, for load balancers and orchestrators. Unauthenticated. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { Cancellation, withCancellation } from '../db/cancellation.js';
import type { Database } from '../db/database.js';
import { missingMigrations } from '../db/migrate.js';
import type { Readiness } from './readiness.js';

/**
 * How long readiness waits for the store before answering 503: an orchestrator's probe
 * gets its answer within 2 s, whatever the store does (stalled, partitioned, locked).
 */
export const READINESS_WAIT_MS = 1500;

const Status = Type.Object({ status: Type.String() });

/** What OpenAPI says of a route anyone may call: no security requirement, overriding the document's. */
export const PUBLIC: readonly [] = [];

export function opsRoutes(app: FastifyInstance, db: Database, readiness: Readiness): void {
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
        summary: 'The store answers, its schema is up to date and the node is not draining',
        security: PUBLIC,
        response: { 200: Status, 503: Status },
      },
      // Its own bound, whatever --request-timeout: it answers after READINESS_WAIT_MS.
      handlerTimeout: 2000,
    },
    async (request, reply) => {
      // Stopping: the load balancer should send new requests elsewhere; those that still come are served.
      if (readiness.draining) return reply.code(503).send({ status: 'draining' });
      let missing: readonly string[];
      try {
        missing = await withinReadinessWait(db);
      } catch (error) {
        request.log.warn({ err: error }, 'readiness check failed');
        return reply.code(503).send({ status: 'store unavailable' });
      }
      if (missing.length > 0) {
        request.log.warn({ missing }, 'readiness check failed: schema not migrated');
        return reply.code(503).send({ status: `schema not migrated (missing ${missing.join(', ')}): run taskcenter migrate` });
      }
      return { status: 'ready' };
    },
  );
}

/**
 * The migrations the schema lacks, or a rejection after {@link READINESS_WAIT_MS}: the check's store work
 * is cancelled then, and the answer does not wait for it to end (a SQLite query may be
 * queued behind a transaction waiting for another process's lock).
 */
function withinReadinessWait(db: Database): Promise<readonly string[]> {
  const check = new Cancellation();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = new Error(`the store did not answer within ${READINESS_WAIT_MS} ms`);
      check.cancel(error);
      reject(error);
    }, READINESS_WAIT_MS);
    withCancellation(check, () => missingMigrations(db)).then(
      (missing) => {
        clearTimeout(timer);
        resolve(missing);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
