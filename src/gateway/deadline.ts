/**
 * Request deadlines (`--request-timeout`, or a route's own `handlerTimeout`): a request
 * still running at its deadline is answered with {@link DeadlinePassed}, which the
 * gateway's error handler turns into a 503 in the route's format, and its store work is
 * cancelled: the request runs under a {@link Cancellation} of its own
 * (src/db/cancellation.ts), cancelled at the deadline, so its store work stops and any
 * transaction it opened is rolled back, never committed after the caller was told 503.
 *
 * Our own timer, not Fastify's `handlerTimeout`: that makes an AbortController, a timer
 * and a `close` listener for every request, and aborts the controller (making a
 * DOMException) when the request closes, the largest cost of our own code in a read
 * (issue 16). A route's `handlerTimeout` is taken over here for the same reason. Nor
 * `request.signal` (made on first use): Fastify aborts it on the request's `close` event,
 * which Node 20 emits as soon as the body has been read.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler, RouteHandlerMethod } from 'fastify';
import { Cancellation, withCancellation } from '../db/cancellation.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Cancelled when the request's deadline passes (and only then); its store work runs under it. */
    deadline: RequestDeadline;
  }
}

/** What a request still running at its deadline is answered with (a 503, src/gateway/gateway.ts), and its work cancelled with. */
export class DeadlinePassed extends Error {
  constructor(readonly ms: number) {
    super(`the request did not complete within ${ms / 1000} s`);
    this.name = 'DeadlinePassed';
  }
}

/** A request's deadline: one timer, cleared when the response is finished. */
export class RequestDeadline extends Cancellation {
  #timer: NodeJS.Timeout | undefined;

  /** Answers `reply` with {@link DeadlinePassed} and cancels the work `ms` from now, unless it was sent by then; replaces the previous arming. */
  arm(reply: FastifyReply, ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#pass(reply, ms), ms);
  }

  /** The response is finished: nothing left to answer. */
  disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #pass(reply: FastifyReply, ms: number): void {
    // Sent already (or hijacked): the response is in other hands.
    if (reply.sent) return;
    const error = new DeadlinePassed(ms);
    this.cancel(error);
    // A listener may have answered.
    if (reply.sent) return;
    // Headers out (a stream under way): an error can no longer be answered, only the response cut.
    if (reply.raw.headersSent) reply.raw.destroy(error);
    else reply.send(error);
  }
}

/**
 * Installs deadlines, `defaultMs` after a request arrives unless its route sets its own
 * `handlerTimeout`; call before the hooks and routes that use the store.
 */
export function installDeadline(app: FastifyInstance, defaultMs: number): void {
  app.decorateRequest('deadline', null as unknown as RequestDeadline);
  app.addHook('onRequest', (request, reply, done) => {
    const deadline = new RequestDeadline();
    deadline.arm(reply, defaultMs);
    request.deadline = deadline;
    withCancellation(deadline, done);
  });
  // Again once the body is read: a body arrives in the socket's events, which run outside
  // the context entered in onRequest, and validation, authentication and the handler follow.
  app.addHook('preValidation', (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => withCancellation(request.deadline, done));
  app.addHook('onResponse', (request, _reply, done) => {
    // Null for a request refused by an onRequest hook before ours.
    (request.deadline as RequestDeadline | null)?.disarm();
    done();
  });

  app.addHook('onRoute', (route) => {
    const own = route.handlerTimeout;
    if (own !== undefined) {
      route.handlerTimeout = undefined;
      // Route hooks run after the app's: re-armed from the request's arrival.
      const rearm: onRequestHookHandler = (request, reply, done) => {
        request.deadline.arm(reply, Math.max(0, own - reply.elapsedTime));
        done();
      };
      route.onRequest = [rearm, ...[route.onRequest ?? []].flat()];
    }

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
