/**
 * Authenticates and authorizes every route that names an action: before validation,
 * so an unauthenticated caller learns nothing about its parameters.
 */
import type { FastifyInstance } from 'fastify';
import { ServiceError, quote } from '../errors.js';
import type { Authenticator } from './authenticator.js';
import { allows, mayTouch, type Action, type Principal } from './principal.js';

/**
 * The `action` of routes open to every authenticated caller: any action will do, on the
 * path's project when the path has one (who am I, which projects, a project's summary).
 */
export const ANY_ACTION = 'any';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The action a caller needs on the path's project, or {@link ANY_ACTION}; routes without one are public. */
    action?: Action | typeof ANY_ACTION;
  }
  interface FastifyRequest {
    /** Who the caller is: set before validation on every route that names an action. */
    principal: Principal;
  }
}

const EMPTY = Buffer.alloc(0);

export function installAuth(app: FastifyInstance, authenticator: Authenticator): void {
  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('preValidation', async (request) => {
    const action = request.routeOptions.config?.action;
    if (action === undefined) return;
    const projectId = (request.params as { project_id?: string }).project_id;
    const principal = await authenticator.authenticate({
      method: request.method,
      url: request.url,
      headers: request.headers,
      body: request.rawBody ?? EMPTY,
      projectId,
      address: request.ip,
    });
    request.principal = principal;
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
  });
}
