/**
 * Builds the Fastify application from a context. Never listens: the CLI does, and tests
 * use `inject()`.
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { TSchema } from '@sinclair/typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { installAuth } from './auth/auth.hook.js';
import type { Context } from './context.js';
import { consoleRoutes } from './console/console.routes.js';
import { emulatorRoutes, installEmulator } from './emulator/emulator.routes.js';
import { clientErrorHandler, frameworkErrors, installBodyGuard, installGateway, newRequestId } from './gateway/gateway.js';
import { installDeadline } from './gateway/deadline.js';
import { installMetrics, metricsRoutes } from './gateway/metrics.js';
import { opsRoutes } from './gateway/ops.routes.js';
import { AuthFailureLimit, installThrottle } from './gateway/throttle.js';
import { jobsRoutes } from './jobs/jobs.routes.js';
import { kpsRoutes } from './kps/kps.routes.js';
import { notifyRoutes } from './notify/notify.routes.js';
import { projectsRoutes } from './projects/projects.routes.js';
import { sdrsRoutes } from './sdrs/sdrs.routes.js';
import { checkJson, parseTextFields } from './validation.js';
import { VERSION } from './version.js';

/** The largest request body accepted from an authenticated caller: a full batch of 1000 large jobs fits. */
export const BODY_LIMIT = 8 * 1024 * 1024;

export async function buildApp(ctx: Context): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.logger as FastifyBaseLogger,
    genReqId: newRequestId,
    bodyLimit: BODY_LIMIT,
    // The gateway answers requests that arrive while closing, in the route's format.
    return503OnClosing: false,
    frameworkErrors,
    clientErrorHandler,
    http: {
      // The gateway refuses a Host-less HTTP/1.1 request itself, with a request id and its body.
      requireHostHeader: false,
      // Slow clients (README, Timeouts): headers and the whole request each have their time,
      // answered 408 by the gateway's clientErrorHandler; Node checks every
      // connectionsCheckingInterval (30 s by default, which would stretch a 10 s limit to 40).
      headersTimeout: Math.round(ctx.config.headersTimeout * 1000),
      requestTimeout: Math.round(ctx.config.receiveTimeout * 1000),
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.round((ctx.config.headersTimeout * 1000) / 4))),
    },
    // Fastify sets these on the server after creating it, overriding what `http` says.
    requestTimeout: Math.round(ctx.config.receiveTimeout * 1000),
    keepAliveTimeout: Math.round(ctx.config.keepAliveTimeout * 1000),
    // Whose X-Forwarded-For names the client (request.ip), which the AK/SK lockout and
    // the failed-authentication limit count by: nobody's unless configured.
    trustProxy: ctx.config.trustProxy === false ? false : ctx.config.trustProxy === true ? true : [...ctx.config.trustProxy],
  });

  // Every route validates with the same code, so every message has the same shape.
  app.setValidatorCompiler(({ schema, httpPart }) => {
    if (httpPart === 'headers') return () => true;
    const check = httpPart === 'body' ? (data: unknown) => checkJson(schema as TSchema, data) : (data: unknown) => parseTextFields(schema as TSchema, data);
    return (data: unknown) => {
      try {
        return { value: check(data) };
      } catch (error) {
        return { error: error as Error };
      }
    };
  });

  // A connection over the cap is closed as soon as it is accepted, so slow clients cannot
  // use up the process's file descriptors (its store and logs need some too).
  app.server.maxConnections = ctx.config.maxConnections;
  installGateway(app);
  installMetrics(app, ctx.metrics);
  // Before authentication and the routes: their store work runs under the deadline, past
  // which the route answers 503.
  installDeadline(app, Math.round(ctx.config.requestTimeout * 1000));
  installAuth(app, ctx.auth, ctx.config.authFailureLimit > 0 ? new AuthFailureLimit(ctx.config.authFailureLimit) : null);
  // After authentication: the count is the principal's.
  if (ctx.config.throttle > 0) await installThrottle(app, ctx.config.throttle);
  installBodyGuard(app);
  // Only with --emulator; before the routes, so it sees each one's operationId.
  const emulator = installEmulator(app, ctx);

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'Task Center',
        version: VERSION,
        description: 'SDRS task center and KPS key-pair task APIs, plus the producer API that feeds them.',
        license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
      },
      // The server that serves the document: Try it out at /docs asks the same origin.
      servers: [{ url: '/', description: 'this server' }],
      components: {
        securitySchemes: {
          token: { type: 'apiKey', in: 'header', name: 'X-Auth-Token' },
          aksk: {
            type: 'apiKey',
            in: 'header',
            name: 'Authorization',
            description: 'AK/SK signature: `SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b;c>, Signature=<hex>` with X-Sdk-Date, as the official SDKs sign',
          },
        },
      },
      security: [{ token: [] }, { aksk: [] }],
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  opsRoutes(app, ctx.db, ctx.readiness);
  metricsRoutes(app, [() => ctx.notifyMetrics.render()]);
  jobsRoutes(app, ctx.jobs);
  sdrsRoutes(app, ctx.sdrs);
  kpsRoutes(app, ctx.kps);
  notifyRoutes(app, ctx.notify);
  projectsRoutes(app, ctx.projects);
  consoleRoutes(app);
  if (emulator !== null) emulatorRoutes(app, ctx, emulator);
  return app;
}
