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

/** Client addresses whose failures are counted at once; beyond it the least recently counted are forgotten first. */
const MAX_ADDRESSES = 10_000;

/**
 * Failed authentications per client address in fixed windows (`--auth-failure-limit`, per
 * minute): an address over the count is refused before authentication until its window
 * ends, so a caller without credentials cannot make the server check token after token
 * (a call to Keystone each), signature after signature (a store read and a body each).
 * Only failures count: @fastify/rate-limit counts every request it sees, and a caller
 * that authenticates is the per-principal throttle's business. Kept per process, in
 * memory, bounded in addresses.
 */
export class AuthFailureLimit {
  readonly #windows = new Map<string, { start: number; failures: number }>();

  constructor(
    /** Failures allowed per window; the next request from the address is refused. */
    readonly max: number,
    readonly windowMs: number = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until `address` may try again (rounded up); 0 when it may now. */
  retryAfter(address: string): number {
    const window = this.#windows.get(address);
    if (window === undefined || window.failures < this.max) return 0;
    const left = window.start + this.windowMs - this.now();
    if (left > 0) return Math.ceil(left / 1000);
    this.#windows.delete(address);
    return 0;
  }

  /** Counts one failed authentication from `address`. */
  fail(address: string): void {
    const now = this.now();
    let window = this.#windows.get(address);
    if (window === undefined || window.start + this.windowMs <= now) {
      this.#windows.delete(address);
      if (this.#windows.size >= MAX_ADDRESSES) this.#windows.delete(this.#windows.keys().next().value as string);
      window = { start: now, failures: 0 };
    } else {
      // Last counted goes last: the oldest at the front is the first to forget.
      this.#windows.delete(address);
    }
    window.failures++;
    this.#windows.set(address, window);
  }

  /** The 429 (APIGW.0308) for an address `seconds` from its next try. */
  refusal(seconds: number): ServiceError {
    return new ServiceError(
      'throttled',
      `The throttling threshold has been reached: policy ip over ratelimit, limit:${this.max} failed authentications, time:${this.windowMs / 1000} seconds; retry in ${seconds} s`,
    );
  }
}
