/**
 * Answers with no body at all: a 204, or KPS's 200 "cleared" whose body is empty. Their
 * response schemas are `null`, so the TypeBox type provider asks routes for a `null`
 * body, which the serializer would send as the text `null`; routes call this instead.
 */
import type { FastifyReply } from 'fastify';

/** Sends `reply` (its status already set) with an empty body. */
export function sendEmpty(reply: FastifyReply): FastifyReply {
  return reply.send();
}
