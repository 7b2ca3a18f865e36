/**
 * Request deadlines (`--request-timeout`). Fastify's `handlerTimeout` (set in app.ts)
 * answers a request that is still running at its deadline with FST_ERR_HANDLER_TIMEOUT,
 * which the gateway's error handler turns into a 503 in the route's format, and aborts
 * `request.signal`. This module makes that deadline reach the store: the request runs
 * under a signal of its own (src/db/cancellation.ts), aborted at the deadline, so its store
 * work is cancelled and any transaction it opened rolled back, never committed after the
 * caller was told 503.
 *
 * Not `request.signal` itself: Fastify also aborts it on the request's `close` event,
 * which Node 20 emits as soon as the body has been read, so every request with a body
 * would see its store work cancelled.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteHandlerMethod } from 'fastify';
import { withCancellation } from '../db/cancellation.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Aborted when the request's deadline passes (and only then); its store work runs under it. */
    deadline: AbortSignal;
  }
}

/** Installs the deadline's reach into the store; call before the hooks and routes that use the store. */
export function installDeadline(app: FastifyInstance): void {
  app.decorateRequest('deadline', null as unknown as AbortSignal);
  app.addHook('onRequest', (request, _reply, done) => {
    const deadline = new AbortController();
    request.signal.addEventListener(
      'abort',
      () => {
        if ((request.signal.reason as { code?: unknown } | undefined)?.code === 'FST_ERR_HANDLER_TIMEOUT') deadline.abort(request.signal.reason);
      },
      { once: true },
    );
    request.deadline = deadline.signal;
    withCancellation(deadline.signal, done);
  });
  const bind = (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => withCancellation(request.deadline, done);
  // Again once the body is read: a body arrives in the socket's events, which run outside
  // the context entered in onRequest, and validation, authentication and the handler follow.
  app.addHook('preValidation', bind);

  app.addHook('onRoute', (route) => {
    const handler = route.handler as RouteHandlerMethod;
    // A handler's outcome after its request was answered 503 is dropped quietly: the
    // cancellation it ran into is the expected end, not an error to log.
    route.handler = function (this: FastifyInstance, request, reply) {
      const result: unknown = handler.call(this, request, reply);
      if (!(result instanceof Promise)) return result;
      const late = () => reply.sent && request.deadline.aborted;
      return result.then(
        (value: unknown) => (late() ? undefined : value),
        (error: unknown) => {
          if (late()) {
            request.log.debug({ err: error }, 'work ended after the request deadline');
            return undefined;
          }
          throw error;
        },
      );
    } as RouteHandlerMethod;
  });
}
