/**
 * Conditional GETs of list pages: every SDRS and KPS list answer carries the page's
 * entity tag, and a client that sends it back in `If-None-Match` gets 304 with no body
 * while the list is unchanged (src/jobs/list-cache.ts decides which).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ListAnswer } from '../jobs/list-cache.js';
import { sendJson } from '../rendered-json.js';

/**
 * The lists are tenant data behind credentials: no shared cache may keep them, and a
 * browser that keeps one must ask again (with its tag) before showing it.
 */
const CACHE_CONTROL = 'private, no-cache';

/** The 304 answer in a route's response schemas. */
export const NotModified = Type.Null({ description: 'Not Modified: the If-None-Match tag is still current; no body' });

/** Description of the 200 of a list route, for its schema: says how to poll it cheaply. */
export const POLLING_NOTE = 'The answer carries an ETag; send it back in If-None-Match and the answer is 304 with no body until the list changes.';

/** The request's `If-None-Match`, when it has one. */
export function ifNoneMatch(request: FastifyRequest): string | undefined {
  const value = request.headers['if-none-match'];
  return value === undefined || value === '' ? undefined : value;
}

/** Sends a list answer: 304 with its tag and no body, or 200 with the exact JSON body. */
export function sendListAnswer(reply: FastifyReply, answer: ListAnswer): FastifyReply {
  reply.header('ETag', answer.etag).header('Cache-Control', CACHE_CONTROL);
  if (answer.body === null) return reply.code(304).send();
  return sendJson(reply, answer.body);
}
