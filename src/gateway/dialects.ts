/**
 * Each public API's error format: one table per dialect turning an error kind into a
 * status and a code, and the body shape that carries them. Gateway-level failures
 * (no route, authentication, throttling, oversized bodies) always speak APIGW.
 */
import { Type } from '@sinclair/typebox';
import type { ErrorKind, ServiceError } from '../errors.js';

export const DIALECTS = ['sdrs', 'kps', 'taskcenter', 'apigw'] as const;
export type Dialect = (typeof DIALECTS)[number];

type Table = Readonly<Record<ErrorKind, readonly [status: number, code: string]>>;

export const ERROR_TABLES: Readonly<Record<Dialect, Table>> = {
  sdrs: {
    invalid_parameter: [400, 'SDRS.0201'],
    malformed_request: [400, 'SDRS.0201'],
    body_too_large: [413, 'SDRS.0201'],
    not_found: [404, 'SDRS.0901'],
    conflict: [409, 'SDRS.0902'],
    forbidden: [403, 'SDRS.0005'],
    unauthenticated: [401, 'SDRS.0004'],
    throttled: [429, 'SDRS.0903'],
    no_route: [404, 'SDRS.0904'],
    unavailable: [503, 'SDRS.0905'],
    internal: [500, 'SDRS.0906'],
  },
  kps: {
    invalid_parameter: [400, 'KPS.0002'],
    malformed_request: [400, 'KPS.0002'],
    body_too_large: [413, 'KPS.0002'],
    not_found: [400, 'KPS.0005'],
    conflict: [409, 'KPS.0006'],
    forbidden: [403, 'KPS.9003'],
    unauthenticated: [401, 'KPS.9001'],
    throttled: [429, 'KPS.9004'],
    no_route: [404, 'KPS.9005'],
    unavailable: [503, 'KPS.9006'],
    internal: [500, 'KPS.9999'],
  },
  taskcenter: {
    invalid_parameter: [400, 'TASKCENTER.0001'],
    malformed_request: [400, 'TASKCENTER.0002'],
    not_found: [404, 'TASKCENTER.0003'],
    conflict: [409, 'TASKCENTER.0004'],
    forbidden: [403, 'TASKCENTER.0005'],
    body_too_large: [413, 'TASKCENTER.0006'],
    unauthenticated: [401, 'TASKCENTER.0007'],
    throttled: [429, 'TASKCENTER.0008'],
    no_route: [404, 'TASKCENTER.0009'],
    unavailable: [503, 'TASKCENTER.0010'],
    internal: [500, 'TASKCENTER.0011'],
  },
  apigw: {
    invalid_parameter: [400, 'APIGW.0201'],
    malformed_request: [400, 'APIGW.0201'],
    body_too_large: [413, 'APIGW.0201'],
    not_found: [404, 'APIGW.0101'],
    conflict: [409, 'APIGW.0201'],
    forbidden: [403, 'APIGW.0302'],
    unauthenticated: [401, 'APIGW.0301'],
    throttled: [429, 'APIGW.0308'],
    no_route: [404, 'APIGW.0101'],
    unavailable: [503, 'APIGW.0203'],
    internal: [500, 'APIGW.0103'],
  },
};

/**
 * Codes for a bad or unknown value of one particular field, where the dialect's catalogue
 * has one (SDRS.0221 bad limit, KPS.0001 illegal task id: malformed, or naming no task);
 * other fields take the table's general code (KPS.0002 parameter error, the project id
 * included).
 */
const FIELD_CODES: Readonly<Partial<Record<Dialect, Readonly<Record<string, string>>>>> = {
  sdrs: { limit: 'SDRS.0221', offset: 'SDRS.0222', server_group_id: 'SDRS.0207' },
  kps: { task_id: 'KPS.0001' },
};

const FIELD_KINDS: ReadonlySet<ErrorKind> = new Set(['invalid_parameter', 'not_found']);

/** Failures the API gateway answers before a service sees the request. */
const GATEWAY_KINDS: ReadonlySet<ErrorKind> = new Set(['unauthenticated', 'throttled', 'no_route', 'body_too_large']);

/** The status and body for an error on a route of `dialect`. */
export function renderError(dialect: Dialect, error: ServiceError, requestId: string): { status: number; body: object } {
  const speaker: Dialect = GATEWAY_KINDS.has(error.kind) ? 'apigw' : dialect;
  const [status, general] = ERROR_TABLES[speaker][error.kind];
  const code = (FIELD_KINDS.has(error.kind) && error.field !== undefined && FIELD_CODES[speaker]?.[error.field]) || general;
  switch (speaker) {
    case 'sdrs':
    case 'taskcenter':
      return { status, body: { error: { code, message: error.message } } };
    case 'kps':
      return { status, body: { error_code: code, error_msg: error.message } };
    case 'apigw':
      return { status, body: { error_msg: error.message, error_code: code, request_id: requestId } };
  }
}

/** `{"error": {"code", "message"}}`: SDRS and the producer API. */
export const NestedError = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String() }) }, { description: 'Error' });
/** `{"error_code", "error_msg"}`: KPS. */
export const FlatError = Type.Object({ error_code: Type.String(), error_msg: Type.String() }, { description: 'Error' });
/** `{"error_msg", "error_code", "request_id"}`: the API gateway. */
export const GatewayError = Type.Object(
  { error_msg: Type.String(), error_code: Type.String(), request_id: Type.String() },
  { description: 'Refused by the API gateway' },
);

/**
 * Response schemas for the error statuses a route of `dialect` can return: the gateway's
 * 401, 413 and 429 beside the dialect's own, and either at 400 (the gateway refuses a
 * malformed request before the service sees it), so `/openapi.json` lists every answer.
 */
export function errorResponses(dialect: Exclude<Dialect, 'apigw'>, statuses: readonly number[]): Record<number, unknown> {
  const own = dialect === 'kps' ? FlatError : NestedError;
  const badRequest = Type.Union([GatewayError, own], { description: 'Invalid parameter, or a malformed request refused by the API gateway' });
  const out: Record<number, unknown> = { 400: badRequest, 401: GatewayError, 429: GatewayError, 503: own, 500: own };
  for (const status of statuses) out[status] = status === 413 ? GatewayError : status === 400 ? badRequest : own;
  return out;
}
