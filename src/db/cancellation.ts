/**
 * Cancelling store work from above without threading a signal through every call: the
 * gateway runs each request under its deadline's AbortSignal ({@link withCancellation}),
 * and the engines (src/db/postgres.ts, src/db/sqlite.ts) look it up for each query.
 * Once the signal aborts, a query in flight is abandoned and every later one refused,
 * so a transaction the caller gave up on is rolled back, never committed.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const current = new AsyncLocalStorage<AbortSignal>();

/** Runs `work` (and everything it starts) with `signal` as the cancellation of its store work. */
export function withCancellation<T>(signal: AbortSignal, work: () => T): T {
  return current.run(signal, work);
}

/** The cancellation signal of the work running now; undefined outside {@link withCancellation}. */
export function cancellationSignal(): AbortSignal | undefined {
  return current.getStore();
}

/**
 * Thrown instead of a query's result when the store did not answer in time or the work
 * was cancelled. Its `code` is `ETIMEDOUT`, so it is answered 503 like any store outage
 * (src/db/database.ts `isStoreUnavailable`).
 */
export class StoreTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';

  constructor(message: string) {
    super(message);
    this.name = 'StoreTimeoutError';
  }
}

/** The error for work whose signal aborted: the reason's message when it has one. */
export function cancelled(signal: AbortSignal): StoreTimeoutError {
  const reason = (signal.reason as { message?: unknown } | undefined)?.message;
  return new StoreTimeoutError(`store work cancelled: ${typeof reason === 'string' ? reason : 'the request ended'}`);
}

/** Runs `work` (and everything it starts) with no cancellation: work shared by several callers, none of whose deadlines is its own. */
export function withoutCancellation<T>(work: () => T): T {
  return current.exit(work);
}
