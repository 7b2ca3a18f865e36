/**
 * How many large request bodies are parsed and in hand at once. A batch of a thousand
 * jobs is about 600 KB of JSON, but parsed, checked, turned into rows and statements and
 * answered it is tens of megabytes of objects that live as long as its request: with every
 * connection's batch parsed as soon as it arrived, the server held all of them at once
 * while they queued for the store, and peaked at 240-260 MB under ingest (issue 16). A
 * body over the threshold waits here, as received bytes only, until one of the few places
 * is free; it takes its place after it has arrived in full, so a client that sends slowly
 * never holds one, and it keeps it until its answer is sent or its connection closes.
 * A request that waits past its deadline is answered 503 by the deadline
 * (src/gateway/deadline.ts), like any other that runs out of time, and leaves the queue.
 */
import type { EventEmitter } from 'node:events';

/** Bodies this size or smaller never wait: a single report, and everything an unauthenticated caller may send. */
export const GATED_BODY_BYTES = 64 * 1024;

/** Large bodies parsed and in hand at once: enough for one to be in the store while the next is parsed. */
export const GATED_BODIES = 2;

/** A FIFO of requests waiting for a place to parse their body. */
export class BodyGate {
  #inUse = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(private readonly places: number = GATED_BODIES) {}

  /**
   * Calls `go` once a request may parse its body of `bytes`: at once when it is small or
   * a place is free, else in arrival order as places free up. `response` is the request's
   * response (`reply.raw`): the place is given back when it emits `close` (sent, or the
   * connection gone), and `go` is never called for a request whose response closed while
   * it waited.
   */
  admit(bytes: number, response: EventEmitter, go: () => void): void {
    if (bytes <= GATED_BODY_BYTES) return go();
    let state: 'waiting' | 'holding' | 'done' = 'waiting';
    const enter = () => {
      state = 'holding';
      this.#inUse++;
      go();
    };
    response.once('close', () => {
      if (state === 'holding') this.#leave();
      else if (state === 'waiting') this.#waiting.splice(this.#waiting.indexOf(enter), 1);
      state = 'done';
    });
    if (this.#inUse < this.places) enter();
    else this.#waiting.push(enter);
  }

  #leave(): void {
    this.#inUse--;
    const next = this.#waiting.shift();
    if (next !== undefined) next();
  }
}
