/**
 * Serves the web console at /console/ from the built files (console-files.ts): hashed
 * assets for a year, the page itself revalidated every time, and the page for every
 * other path under /console/, so each view's URL opens it directly. `/` sends a browser
 * to the console. Public: the console holds no data; it asks the APIs with the
 * caller's token.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ServiceError } from '../errors.js';
import { ifNoneMatchNames } from '../jobs/list-cache.js';
import { CONSOLE_DIR, readConsoleFiles, type ConsoleFile } from './console-files.js';

/** Vite names every asset by a hash of its content, so an asset URL never changes meaning. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** The page names the current assets: a browser asks again (cheaply, with its tag) every time. */
const REVALIDATE = 'no-cache';

/**
 * Only the console's own files, and requests to the server it came from: a page that
 * shows another service's error messages must not run or load anything else.
 */
const PAGE_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const HIDDEN = { schema: { hide: true } };

/** Registers `/`, `/console` and `/console/*` over the console built into `dir`. */
export function consoleRoutes(app: FastifyInstance, dir: string = CONSOLE_DIR): void {
  const files = readConsoleFiles(dir);
  const page = files.get('index.html');

  app.get('/', HIDDEN, async (_request, reply) => reply.redirect('/console/'));
  app.get('/console', HIDDEN, async (_request, reply) => reply.redirect('/console/'));
  app.get<{ Params: { '*': string } }>('/console/*', HIDDEN, async (request, reply) => {
    if (page === undefined) {
      throw new ServiceError('not_found', 'the console is not built on this server: run `npm run build` (npm ci does) and restart it');
    }
    const path = request.params['*'];
    const file = files.get(path);
    if (file !== undefined && path !== 'index.html') return send(request, reply, file, path.startsWith('assets/') ? IMMUTABLE : REVALIDATE);
    // A missing asset is a 404, not the page: a browser must not take HTML for a script.
    if (path.startsWith('assets/')) throw new ServiceError('not_found', `no console asset ${path}`);
    reply.header('Content-Security-Policy', PAGE_POLICY).header('X-Frame-Options', 'DENY').header('Referrer-Policy', 'no-referrer');
    return send(request, reply, page, REVALIDATE);
  });
}

function send(request: FastifyRequest, reply: FastifyReply, file: ConsoleFile, cacheControl: string): FastifyReply {
  reply.header('Cache-Control', cacheControl).header('ETag', file.etag).header('X-Content-Type-Options', 'nosniff');
  if (file.gzip !== null) reply.header('Vary', 'Accept-Encoding');
  const condition = request.headers['if-none-match'];
  if (condition !== undefined && ifNoneMatchNames(condition, file.etag)) return reply.code(304).send();
  reply.type(file.type);
  const accepts = request.headers['accept-encoding'];
  if (file.gzip !== null && typeof accepts === 'string' && /\bgzip\b/.test(accepts)) return reply.header('Content-Encoding', 'gzip').send(file.gzip);
  return reply.send(file.body);
}
