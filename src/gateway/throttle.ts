/**
 * Per-principal request throttling, as the API gateway's "user" throttling policy: a
 * token bucket per principal name, refilled continuously at the configured rate and
 * holding at most one second's worth (never less than one request). A request over the
 * rate is refused with 429 APIGW.0308 before its route runs. No timers: buckets refill
 * lazily when next used, so nothing keeps the process alive.
 */
import type { FastifyInstance } from 'fastify';
import { ServiceError, quote } from '../errors.js';

export interface TokenBucketsOptions {
  /** The clock, epoch milliseconds; tests pass a fake one. */
  readonly now?: () => number;
  /** Buckets kept before idle (full) ones are dropped; bounds memory when principals are many. */
  readonly maxBuckets?: number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date, epoch ms. */
  at: number;
}

/** A token bucket per key. */
export class TokenBuckets {
  readonly #rate: number;
  readonly #capacity: number;
  readonly #now: () => number;
  readonly #maxBuckets: number;
  readonly #buckets = new Map<string, Bucket>();

  /** `ratePerSecond` must be positive; the burst allowed is one second's worth, at least 1. */
  constructor(ratePerSecond: number, options: TokenBucketsOptions = {}) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) throw new RangeError(`throttle rate must be a positive number, got ${ratePerSecond}`);
    this.#rate = ratePerSecond;
    this.#capacity = Math.max(1, ratePerSecond);
    this.#now = options.now ?? Date.now;
    this.#maxBuckets = options.maxBuckets ?? 10_000;
  }

  /** Requests per second per key. */
  get rate(): number {
    return this.#rate;
  }

  /** How many keys have a bucket now (for tests). */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Takes one request's token from `key`'s bucket. Resolves to 0 when the request may go
   * on, else to the milliseconds until a token will be there (nothing is taken then).
   */
  take(key: string): number {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxBuckets) this.#sweep(now);
      bucket = { tokens: this.#capacity, at: now };
      this.#buckets.set(key, bucket);
    } else {
      // A clock that went backwards refills nothing rather than draining the bucket.
      const elapsed = Math.max(0, now - bucket.at);
      bucket.tokens = Math.min(this.#capacity, bucket.tokens + (elapsed * this.#rate) / 1000);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    // The epsilon keeps float dust (0.998 tokens as 0.99799...) from adding a millisecond.
    return Math.max(1, Math.ceil(((1 - bucket.tokens) * 1000) / this.#rate - 1e-6));
  }

  /** Drops the buckets that have refilled completely: they behave exactly like absent ones. */
  #sweep(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) * this.#rate) / 1000 >= this.#capacity) this.#buckets.delete(key);
    }
    // Every principal busy at once: forget the oldest rather than grow without bound.
    while (this.#buckets.size >= this.#maxBuckets) this.#buckets.delete(this.#buckets.keys().next().value as string);
  }
}

/**
 * Throttles every authenticated route by its principal. Install after the auth hook
 * (hooks run in order): public routes, which have no principal, are not throttled.
 */
export function installThrottle(app: FastifyInstance, buckets: TokenBuckets): void {
  app.addHook('preValidation', async (request, reply) => {
    const principal = request.principal as typeof request.principal | null;
    if (principal === null || principal === undefined) return;
    const waitMs = buckets.take(principal.name);
    if (waitMs === 0) return;
    reply.header('Retry-After', String(Math.ceil(waitMs / 1000)));
    throw new ServiceError(
      'throttled',
      `The throttling threshold has been reached: policy user over ratelimit, limit:${buckets.rate}, time:1 second (principal ${quote(principal.name)})`,
    );
  });
}
