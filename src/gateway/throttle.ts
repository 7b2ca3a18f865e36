/**
 * Per-principal request throttling, as the API gateway's "user" throttling policy
 * ("limit:N, time:1 second"): @fastify/rate-limit counts each principal's requests in
 * fixed windows, and a request over the count is refused with 429 APIGW.0308, and a
 * Retry-After, before its route runs. Its store is an LRU bounded in keys, and it keeps
 * no timers, so nothing holds the process open.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ServiceError, quote } from '../errors.js';

/** Principals whose counts are kept at once; the least recently seen go first beyond it. */
const MAX_PRINCIPALS = 10_000;

/**
 * The fixed window that allows `ratePerSecond` on average in whole requests: N per second
 * for a whole N, else the smallest whole count over a window that long (2.5/s is 3 per
 * 1.2 s, 0.001/s is 1 per 1000 s).
 */
export function throttleWindow(ratePerSecond: number): { readonly max: number; readonly timeWindowMs: number } {
  if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) throw new RangeError(`throttle rate must be a positive number, got ${ratePerSecond}`);
  const max = Math.ceil(ratePerSecond);
  return { max, timeWindowMs: Math.round((max * 1000) / ratePerSecond) };
}

/** The request's principal, or null before authentication and on public routes. */
function principalOf(request: FastifyRequest): { readonly name: string } | null {
  return (request.principal as typeof request.principal | null) ?? null;
}

/**
 * Throttles every authenticated route by its principal at `ratePerSecond`. Install after
 * the auth hook and before the routes (the limit is added to each route as it is
 * declared): public routes, which have no principal, are not throttled.
 */
export async function installThrottle(app: FastifyInstance, ratePerSecond: number): Promise<void> {
  const { max, timeWindowMs } = throttleWindow(ratePerSecond);
  await app.register(rateLimit, {
    hook: 'preValidation',
    max,
    timeWindow: timeWindowMs,
    cache: MAX_PRINCIPALS,
    keyGenerator: (request) => principalOf(request)?.name ?? '',
    allowList: (request) => principalOf(request) === null,
    // Only the refusal says when to come back; answers under the limit carry no extra headers.
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    addHeaders: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false, 'retry-after': true },
    errorResponseBuilder: (request) => {
      request.server.metrics.observeThrottled();
      return new ServiceError(
        'throttled',
        `The throttling threshold has been reached: policy user over ratelimit, limit:${ratePerSecond}, time:1 second (principal ${quote(principalOf(request)?.name ?? '')})`,
      );
    },
  });
}
