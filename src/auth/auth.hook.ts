/**
 * Authenticates and authorizes every route that names an action, from the request's
 * headers, before any of its body is read: a caller without valid credentials costs the
 * server a header check, never a body (issue 11 item 5). An AK/SK signature covers the
 * body's hash, so its headers are checked first (a known key, not locked out, a date in
 * its window) and the signature itself once the body is in, before validation: an
 * unauthenticated caller learns nothing about its parameters either way.
 */
import { Transform, type Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ServiceError, quote } from '../errors.js';
import type { AuthFailureLimit } from '../gateway/throttle.js';
import { PendingSignature, type Authenticator, type HeadVerdict } from './authenticator.js';
import { allows, mayTouch, type Action, type Principal } from './principal.js';

/**
 * The `action` of routes open to every authenticated caller: any action will do, on the
 * path's project when the path has one (who am I, which projects, a project's summary).
 */
export const ANY_ACTION = 'any';

/**
 * The largest body read from a request that is not authenticated (a public route, an
 * unknown one, an AK/SK signature still to check aside): no public route takes a body, so
 * this only bounds what a caller without credentials can make the server read.
 */
export const UNAUTHENTICATED_BODY_LIMIT = 64 * 1024;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The action a caller needs on the path's project, or {@link ANY_ACTION}; routes without one are public. */
    action?: Action | typeof ANY_ACTION;
  }
  interface FastifyRequest {
    /** Who the caller is: set before validation on every route that names an action. */
    principal: Principal;
    /** An AK/SK signature whose headers passed, waiting for the request's body (a property, not a WeakMap entry: see installGateway). */
    pendingSignature: PendingSignature | null;
  }
}

const EMPTY = Buffer.alloc(0);

function projectOf(request: FastifyRequest): string | undefined {
  return (request.params as { project_id?: string } | undefined)?.project_id;
}

/** Throws `forbidden` unless `principal` may perform the route's `action`. */
function authorize(principal: Principal, action: Action | typeof ANY_ACTION, projectId: string | undefined): void {
  if (action === ANY_ACTION) {
    if (projectId !== undefined && !mayTouch(principal, projectId)) {
      throw new ServiceError('forbidden', `principal ${quote(principal.name)} has no access to project ${quote(projectId)}`);
    }
    return;
  }
  if (!allows(principal, action, projectId)) {
    const where = projectId === undefined ? '' : ` in project ${quote(projectId)}`;
    throw new ServiceError('forbidden', `principal ${quote(principal.name)} is not allowed to perform ${action}${where}`);
  }
}

/**
 * `payload` with a refusal once more than `limit` bytes came through: for a body of
 * unannounced length (chunked), which Content-Length cannot refuse up front.
 */
function capped(payload: Readable, limit: number, refusal: () => ServiceError): Readable {
  let received = 0;
  const out = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (received > limit) callback(refusal());
      else callback(null, chunk);
    },
  });
  // A client hanging up mid-body errors the request, and so `out`: its reader hears of it,
  // and a body nobody reads (a route that takes none, a refusal) must not throw it uncaught
  // and take the process down, hence the listener that ignores it.
  out.on('error', () => {});
  payload.once('error', (error) => out.destroy(error));
  // pipe, not pipeline: a refusal must not destroy the request, whose socket carries the answer.
  return payload.pipe(out);
}

/**
 * Installs authentication on every route that names an action. `failures`, when given,
 * counts each failed authentication by client address and refuses an address over its
 * count with 429 before authenticating it again.
 */
export function installAuth(app: FastifyInstance, authenticator: Authenticator, failures: AuthFailureLimit | null = null): void {
  app.decorateRequest('principal', null as unknown as Principal);
  app.decorateRequest('pendingSignature', null);

  const counted = (request: FastifyRequest, error: unknown): unknown => {
    if (failures !== null && error instanceof ServiceError && error.kind === 'unauthenticated') failures.fail(request.ip);
    return error;
  };

  app.addHook('onRequest', async (request, reply) => {
    const action = request.routeOptions.config?.action;
    if (action === undefined) return;
    if (failures !== null) {
      const seconds = failures.retryAfter(request.ip);
      if (seconds > 0) {
        void reply.header('Retry-After', String(seconds));
        throw failures.refusal(seconds);
      }
    }
    const projectId = projectOf(request);
    let verdict: HeadVerdict;
    try {
      verdict = await authenticator.authenticateHead({ method: request.method, url: request.url, headers: request.headers, projectId, address: request.ip });
    } catch (error) {
      throw counted(request, error);
    }
    if (verdict instanceof PendingSignature) {
      request.pendingSignature = verdict;
      return;
    }
    request.principal = verdict;
    authorize(verdict, action, projectId);
  });

  // The body of a request that is not authenticated is kept small; see UNAUTHENTICATED_BODY_LIMIT.
  app.addHook('preParsing', (request, _reply, payload, done) => {
    if ((request.principal as Principal | null) !== null || request.pendingSignature !== null) return done(null, payload);
    const refusal = () =>
      new ServiceError('body_too_large', `request body exceeds the ${UNAUTHENTICATED_BODY_LIMIT}-byte limit of a request that is not authenticated`);
    const length = request.headers['content-length'];
    if (length !== undefined) return Number(length) > UNAUTHENTICATED_BODY_LIMIT ? done(refusal()) : done(null, payload);
    if (request.headers['transfer-encoding'] === undefined) return done(null, payload);
    done(null, capped(payload, UNAUTHENTICATED_BODY_LIMIT, refusal));
  });

  app.addHook('preValidation', async (request) => {
    const signature = request.pendingSignature;
    if (signature === null) return;
    request.pendingSignature = null;
    let principal: Principal;
    try {
      principal = await signature.complete(request.rawBody ?? EMPTY);
    } catch (error) {
      throw counted(request, error);
    }
    request.principal = principal;
    authorize(principal, request.routeOptions.config?.action ?? ANY_ACTION, projectOf(request));
  });
}
