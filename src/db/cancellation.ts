/**
 * Cancelling store work from above without threading a signal through every call: the
 * gateway runs each request under its deadline's {@link Cancellation}
 * ({@link withCancellation}), and the engines (src/db/postgres.ts, src/db/sqlite.ts) look
 * it up for each query. Once it is cancelled, a query in flight is abandoned and every
 * later one refused, so a transaction the caller gave up on is rolled back, never
 * committed.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * A caller giving up on work: once cancelled it stays so, with the reason. One is made per
 * request, and most requests never wait for anything it must interrupt, so it is plain
 * state, cheap to make and to check; an AbortSignal (whose making, listeners and abort
 * cost far more per request: issue 16) is made only for a wait that takes one
 * ({@link Cancellation.signal}).
 */
export class Cancellation {
  #reason: Error | undefined;
  #listeners: Set<() => void> | undefined;
  #controller: AbortController | undefined;

  /** True once {@link cancel} was called. */
  get aborted(): boolean {
    return this.#reason !== undefined;
  }

  /** What {@link cancel} was given; undefined until then. */
  get reason(): Error | undefined {
    return this.#reason;
  }

  /** Cancels the work (the first call only): the listeners are called now, in the order they were added. */
  cancel(reason: Error): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    this.#controller?.abort(reason);
    const listeners = this.#listeners;
    this.#listeners = undefined;
    listeners?.forEach((listener) => listener());
  }

  /** Calls `listener` when the work is cancelled, unless {@link unlisten} comes first; never if it already is (check {@link aborted} first). */
  listen(listener: () => void): void {
    (this.#listeners ??= new Set()).add(listener);
  }

  /** Stops `listener` from being called. */
  unlisten(listener: () => void): void {
    this.#listeners?.delete(listener);
  }

  /** An AbortSignal that aborts with this, for a wait that takes one; made on first use. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }
}

const current = new AsyncLocalStorage<Cancellation>();

/** Runs `work` (and everything it starts) with `cancellation` as the cancellation of its store work. */
export function withCancellation<T>(cancellation: Cancellation, work: () => T): T {
  return current.run(cancellation, work);
}

/** The cancellation of the work running now; undefined outside {@link withCancellation}. */
export function currentCancellation(): Cancellation | undefined {
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

/** The error for work that was cancelled: the reason's message when it has one. */
export function cancelled(cancellation: Cancellation): StoreTimeoutError {
  return new StoreTimeoutError(`store work cancelled: ${cancellation.reason?.message ?? 'the request ended'}`);
}

/** Runs `work` (and everything it starts) with no cancellation: work shared by several callers, none of whose deadlines is its own. */
export function withoutCancellation<T>(work: () => T): T {
  return current.exit(work);
}
