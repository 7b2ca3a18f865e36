/**
 * JSON rendered ahead of sending. The list pages are built as text from stored items and
 * the batch answer by one `JSON.stringify`, so Fastify's schema serializer never sees
 * them; the brand marks text that is a whole JSON body, so nothing else can be sent as
 * one, and {@link sendJson} is the one way it goes out. test/gateway/rendered-json.test.ts
 * holds every kind against its route's 200 schema, since the serializer does not.
 */
import type { FastifyReply } from 'fastify';

declare const brand: unique symbol;

/** A whole JSON body, as text or as its UTF-8 bytes, made only by the functions below. */
export type RenderedJson = (string | Buffer) & { readonly [brand]: 'RenderedJson' };

/** The Content-Type Fastify sends for a JSON body it serialized; rendered bodies carry the same. */
export const JSON_TYPE = 'application/json; charset=utf-8';

/** `value` as a JSON body. */
export function toJson(value: unknown): RenderedJson {
  return JSON.stringify(value) as RenderedJson;
}

/** Brands `text`, which the caller builds as one whole JSON document (from stored items, in its schema's field order). */
export function renderedJson(text: string): RenderedJson {
  return text as RenderedJson;
}

/** The UTF-8 bytes of a body, for keeping: sending bytes skips encoding the text again. */
export function jsonBytes(json: RenderedJson): RenderedJson {
  return (typeof json === 'string' ? Buffer.from(json) : json) as RenderedJson;
}

/** Sends `body` as the reply's JSON, with the JSON content type, as it is. */
export function sendJson(reply: FastifyReply, body: RenderedJson): FastifyReply {
  return reply.type(JSON_TYPE).send(body);
}
