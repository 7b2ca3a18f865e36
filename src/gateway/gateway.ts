/**
 * What the API gateway does for every route: a request id on every response, JSON
 * bodies kept raw for signature checks, unknown routes, and turning every error into
 * the body of the route's dialect without leaking internals.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import type { ConnectionError, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isMissingRelation, isStoreUnavailable } from '../db/database.js';
import { ServiceError } from '../errors.js';
import { parseJsonBody } from '../validation.js';
import { BodyGate } from './body-gate.js';
import { DeadlinePassed } from './deadline.js';
import { ERROR_TABLES, renderError, type Dialect } from './dialects.js';

/** Random bytes drawn at once for 256 request ids: one draw per id cost ~6% of a small request. */
let idPool = Buffer.alloc(0);
let idOffset = 0;

/** A new request id: 32 lowercase hex characters, as Huawei's gateway issues them. */
export function newRequestId(): string {
  if (idOffset === idPool.length) {
    idPool = randomBytes(16 * 256);
    idOffset = 0;
  }
  idOffset += 16;
  return idPool.toString('hex', idOffset - 16, idOffset);
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Which API's error format this route answers in. */
    dialect?: Dialect;
  }
  interface FastifyRequest {
    /** The body bytes exactly as received; null when there was no JSON body. */
    rawBody: Buffer | null;
    /** The request's reply, for the body parser, which Fastify hands the request alone; set before the body is read. */
    replyForBody: FastifyReply | null;
  }
}

/**
 * A body that is not JSON (malformed, or another Content-Type). Parsing never fails a
 * request by itself: {@link installBodyGuard} refuses it after authentication, so a
 * caller without valid credentials gets 401 and an unknown route 404, whatever the body.
 */
export class UnreadableBody {
  constructor(readonly error: ServiceError) {}
}

/**
 * A refusal the API gateway answers itself, in its own format, whatever the route's
 * dialect: a body sent to a route that takes none never reaches the service.
 */
export class GatewayRefusal extends ServiceError {}

/**
 * Fastify's `frameworkErrors` option: a path that is not valid percent-encoding, or a
 * path parameter over the router's length limit, is refused before routing; answer it
 * as the gateway does, with a request id, instead of Fastify's own body.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const refusal =
    error.code === 'FST_ERR_BAD_URL' || error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new ServiceError(
          'malformed_request',
          `the request path ${error.code === 'FST_ERR_BAD_URL' ? 'is not valid percent-encoding' : 'has a segment over 100 characters'}`,
        )
      : new ServiceError('internal', `internal error; quote request id ${request.id} when reporting it`);
  if (refusal.kind === 'internal') request.log.error({ err: error }, 'router error');
  const { status, body } = renderError('apigw', refusal, request.id);
  void reply.code(status).header('X-Request-Id', request.id).send(body);
}

const CLIENT_ERRORS: Readonly<Record<string, readonly [status: number, reason: string, message: string]>> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'the request was not received in time'],
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'the request headers are too large'],
};

/**
 * Requests read from each connection and not yet answered, and what to do once all are:
 * a connection whose later bytes are not HTTP still owes answers to the requests
 * pipelined before them, in order.
 */
const connections = new WeakMap<Socket, { unanswered: Set<IncomingMessage>; whenAnswered?: () => void }>();

function track(request: IncomingMessage, response: ServerResponse): void {
  const socket = request.socket;
  let state = connections.get(socket);
  if (state === undefined) {
    state = { unanswered: new Set() };
    connections.set(socket, state);
  }
  state.unanswered.add(request);
  const current = state;
  response.once('close', () => {
    current.unanswered.delete(request);
    if (current.whenAnswered !== undefined && answered(current.unanswered)) {
      const whenAnswered = current.whenAnswered;
      current.whenAnswered = undefined;
      whenAnswered();
    }
  });
}

/**
 * True when no request read in full still awaits its answer. A request whose body was
 * cut short by the bad bytes never completes: the refusal is its answer.
 */
function answered(unanswered: ReadonlySet<IncomingMessage>): boolean {
  for (const request of unanswered) if (request.complete) return false;
  return true;
}

/** How many Host header lines `rawHeaders` (names and values, alternating) holds. */
function hostHeaders(rawHeaders: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if ((rawHeaders[i] as string).length === 4 && (rawHeaders[i] as string).toLowerCase() === 'host') n++;
  return n;
}

/** A connection that already got its refusal: later bytes and errors are ignored. */
const refused = new WeakSet<Socket>();

/**
 * Fastify's `clientErrorHandler` option: a request Node cannot even parse (malformed
 * HTTP, headers too large, too slow) never reaches a route; answer it as the gateway
 * does, with a request id and an APIGW body, once every request pipelined before it
 * has been answered, then close the connection.
 */
export function clientErrorHandler(error: ConnectionError, socket: Socket): void {
  if (refused.has(socket)) return;
  refused.add(socket);
  if (error.code === 'ECONNRESET' || socket.destroyed) {
    socket.destroy();
    return;
  }
  const [status, reason, message] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'Bad Request', 'the request is not valid HTTP'];
  refuseConnection(socket, status, reason, ERROR_TABLES.apigw.malformed_request[1], message);
}

/**
 * Answers on `socket` itself, as the gateway (a request id and an APIGW body), once every
 * request pipelined before has been answered, then closes the connection: for what never
 * reaches a route.
 */
function refuseConnection(socket: Socket, status: number, reason: string, code: string, message: string): void {
  // Nothing more is read: what follows the bad bytes cannot be trusted to be a request.
  socket.pause();
  const refuse = () => {
    if (socket.destroyed) return;
    if (socket.writable) {
      const id = newRequestId();
      const body = JSON.stringify({ error_msg: message, error_code: code, request_id: id });
      socket.end(
        `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
          `X-Request-Id: ${id}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    // Read on, discarding, so the peer's close is seen and the connection ends with it;
    // a peer that never closes must not hold it open.
    socket.removeAllListeners('data');
    socket.resume();
    setTimeout(() => socket.destroy(), 2000).unref();
  };
  const state = connections.get(socket);
  if (state !== undefined && !answered(state.unanswered)) state.whenAnswered = refuse;
  else refuse();
}

/** Installs the gateway behaviour on an app; call before registering routes. */
export function installGateway(app: FastifyInstance): void {
  app.decorateRequest('rawBody', null);
  // A property of the request, not a WeakMap keyed by it: with every request a key of one
  // WeakMap, requests outlived the young-generation GCs that should have freed them, and
  // a poll load filled the old generation (issue 16: a kept page's server CPU 97-103 µs
  // instead of 73-81, scavenges 3.9-4.1 ms instead of 0.6-0.8, 12-14 full GCs in 6 s instead
  // of none, p99 11-12 ms instead of 6-7).
  app.decorateRequest('replyForBody', null);

  // Fastify's own 503 for requests arriving while the server closes (pipelined, or on a
  // kept-alive connection) has neither a request id nor the route's error format, so
  // app.ts turns it off and the gateway refuses them here instead.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Every request a connection carries, in the order read (inject() requests have none).
  app.server.on('request', track);
  // Node answers these itself unless told otherwise: a bare 417 for an Expect other than
  // 100-continue, and it drops a CONNECT without a word. The gateway answers both.
  app.server.on('checkExpectation', (_request: IncomingMessage, response: ServerResponse) => {
    const id = newRequestId();
    const body = JSON.stringify({
      error_msg: 'the Expect header asks for what this server cannot do: only 100-continue is supported',
      error_code: ERROR_TABLES.apigw.malformed_request[1],
      request_id: id,
    });
    // The body of the request, if any, is not read: the connection closes after the answer.
    response.writeHead(417, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'X-Request-Id': id, Connection: 'close' });
    response.end(body);
  });
  app.server.on('connect', (_request: IncomingMessage, socket: Socket) => {
    const [status, code] = ERROR_TABLES.apigw.no_route;
    refuseConnection(socket, status, 'Not Found', code, 'No API matches CONNECT: the API does not exist or has not been published');
  });

  // A callback hook, not an async one: it runs on every request and never waits.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('X-Request-Id', request.id);
    if (closing) return done(new ServiceError('unavailable', 'the server is shutting down; retry the request'));
    // Node answers a Host-less HTTP/1.1 request itself, without a request id, unless told
    // not to (app.ts); the gateway refuses it here instead.
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      return done(new GatewayRefusal('malformed_request', 'an HTTP/1.1 request must carry a Host header'));
    }
    // Node keeps the first of several Host headers; a proxy in front may take another, and
    // an AK/SK signature covers one of them (RFC 9112 3.2: refuse).
    if (hostHeaders(request.raw.rawHeaders) > 1) return done(new GatewayRefusal('malformed_request', 'a request must carry one Host header, not several'));
    done();
  });

  // Fastify reads no body on GET and HEAD, so a malformed one would pass unseen there.
  app.addHttpMethod('GET', { hasBody: true, overrideExisting: true });
  app.addHttpMethod('HEAD', { hasBody: true, overrideExisting: true });

  // Before the body parser's own listener, so the error is marked before it is answered.
  app.addHook('preParsing', (request, reply, payload, done) => {
    request.replyForBody = reply;
    payload.once('error', (error: Error) => {
      if (typeof error === 'object' && error !== null) fromRequestStream.add(error);
    });
    done(null, payload);
  });

  app.removeAllContentTypeParsers();
  const gate = new BodyGate();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    request.rawBody = body;
    // SDKs send Content-Type: application/json on bodiless DELETEs.
    if (body.length === 0) return done(null, undefined);
    const reply = request.replyForBody as FastifyReply;
    gate.admit(body.length, reply.raw, () => {
      // Answered while it waited (its deadline passed): nothing to parse for.
      if (reply.sent) return;
      try {
        done(null, parseJsonBody(body));
      } catch (error) {
        const refusal =
          error instanceof ServiceError ? error : new ServiceError('malformed_request', `request body is not valid JSON: ${(error as Error).message}`);
        done(null, new UnreadableBody(refusal));
      }
    });
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    request.rawBody = body;
    if (body.length === 0) return done(null, undefined);
    const type = request.headers['content-type'] ?? '';
    done(null, new UnreadableBody(new ServiceError('malformed_request', `Content-Type must be application/json, got '${type}'`)));
  });

  app.setNotFoundHandler(async (request, reply) => {
    const error = new ServiceError(
      'no_route',
      `No API matches ${request.method} ${request.url.split('?')[0]}: the API does not exist or has not been published`,
    );
    return sendError(request, reply, error);
  });

  app.setErrorHandler(async (error: FastifyError | ServiceError | Error, request, reply) => {
    return sendError(request, reply, toServiceError(error, request));
  });
}

/**
 * Refuses a body that could not be read, before validation and the handler: on a route
 * that takes a body, in the route's own format; on one that takes none (every SDRS and
 * KPS route), as the gateway (400 APIGW.0201), so a destructive route never runs on a
 * request it should refuse. Install after authentication: a caller without credentials
 * gets 401 and an unknown route 404, whatever the body.
 */
export function installBodyGuard(app: FastifyInstance): void {
  app.addHook('preValidation', (request, _reply, done) => {
    const body = request.body;
    if (!(body instanceof UnreadableBody) || request.is404) return done();
    const error = body.error;
    if (request.routeOptions.schema?.body !== undefined) return done(error);
    done(new GatewayRefusal(error.kind, error.message, error.field));
  });
}

/**
 * Errors raised by reading a request's body (the client hung up mid-body, a stream
 * error): they carry codes such as ECONNRESET that a store's errors carry too, so they
 * are told apart by where they came from, never by code alone.
 */
const fromRequestStream = new WeakSet<Error>();

function toServiceError(error: Error, request: FastifyRequest): ServiceError {
  if (error instanceof ServiceError) return error;
  if (fromRequestStream.has(error)) {
    request.log.info({ err: error }, 'the client broke off the request body');
    return new ServiceError('malformed_request', 'the request body was cut short: the client closed the connection or the stream failed');
  }
  if (error instanceof DeadlinePassed) {
    // src/gateway/deadline.ts: the request's store work was cancelled as this is sent.
    request.log.warn({ deadlineMs: error.ms }, 'request deadline passed');
    return new ServiceError('unavailable', `${error.message} and was cancelled; retry it`);
  }
  const code = (error as FastifyError).code;
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ServiceError('body_too_large', `request body exceeds the ${request.routeOptions.bodyLimit ?? 0}-byte limit`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ServiceError('malformed_request', `Content-Type must be application/json, got '${request.headers['content-type'] ?? ''}'`);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ServiceError('malformed_request', 'Content-Length does not match the body');
  }
  if (isMissingRelation(error)) {
    request.log.error({ err: error }, 'store schema missing');
    request.server.metrics?.observeStoreError();
    return new ServiceError('unavailable', 'the job store has no schema (a table is missing): run taskcenter migrate against it, then retry');
  }
  if (isStoreUnavailable(error)) {
    request.log.error({ err: error }, 'store unavailable');
    request.server.metrics?.observeStoreError();
    return new ServiceError('unavailable', 'the job store is unavailable; retry later');
  }
  const status = (error as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    // A client error Fastify itself detected (bad header, aborted body): say so, briefly,
    // in words: a framework's error code means nothing to a caller.
    request.log.info({ err: error }, 'client error');
    return new ServiceError('malformed_request', 'the request is malformed and cannot be read');
  }
  request.log.error({ err: error }, 'unexpected error');
  return new ServiceError('internal', `internal error; quote request id ${request.id} when reporting it`);
}

/** True when the request announced a body (a length above 0, or chunks) and none of it was kept: it is unread, or still arriving. */
function bodyUnread(request: FastifyRequest): boolean {
  const { headers } = request;
  const announced = headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
  return announced && request.rawBody === null;
}

/** How long, and how many more bytes, a connection refused before its body was read is read from (and the bytes dropped) before it is closed. */
const LINGER_MS = 2000;
const LINGER_BYTES = 1024 * 1024;

/**
 * Closes the connection once the refusal is written the way servers do it (a "lingering
 * close"): the answer is sent with a FIN, then what the client is still sending is read
 * and dropped for a moment, up to LINGER_BYTES, before the socket is closed. Closed at
 * once, with its body unread, the socket would send the client a reset, and a client
 * still writing its body loses the answer it was sent (a quarter of them, measured by
 * bench/flood.ts). Node's server calls `destroySoon` on the socket after a `Connection:
 * close` answer; this socket's does the above instead.
 */
function lingerOnClose(socket: Socket): void {
  socket.destroySoon = () => {
    socket.end();
    let read = 0;
    socket.on('data', (chunk: Buffer) => {
      read += chunk.length;
      if (read > LINGER_BYTES) socket.destroy();
    });
    // The server paused the socket while the refused request was in hand; a 'data'
    // listener alone does not restart a stream paused that way.
    socket.resume();
    // Not unref'd: closing the server waits for this socket, and an unref'd timer left that
    // wait with nothing to end it when the peer never closed.
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    socket.once('close', () => clearTimeout(timer));
  };
}

function sendError(request: FastifyRequest, reply: FastifyReply, error: ServiceError) {
  const dialect = error instanceof GatewayRefusal ? 'apigw' : (request.routeOptions.config?.dialect ?? 'apigw');
  const { status, body } = renderError(dialect, error, request.id);
  // Refused before its body was read (no credentials, too large): the connection closes
  // after the answer, rather than reading the rest of the body to reach the next request,
  // which would cost what refusing early saved.
  if (bodyUnread(request)) {
    void reply.header('Connection', 'close');
    // inject() requests have no socket of their own.
    if (request.raw.socket instanceof net.Socket) lingerOnClose(request.raw.socket);
  }
  return reply.code(status).header('X-Request-Id', request.id).send(body);
}
