/**
 * The request journal: the last {@link JOURNAL_SIZE} answered requests, kept in a ring
 * of fixed slots so that recording one costs a few field writes and no allocation
 * beyond the entry itself. Never a token, a signature, a query string or a body.
 */
import type { JournalEntry } from './emulator.schema.js';

export const JOURNAL_SIZE = 1000;

interface Slot {
  at: number;
  method: string;
  path: string;
  operation: string | null;
  principal: string | null;
  status: number;
  ms: number;
  requestId: string;
}

export class Journal {
  readonly #slots: (Slot | undefined)[] = new Array<Slot | undefined>(JOURNAL_SIZE);
  /** Requests recorded since start; the next goes to slot `#count % JOURNAL_SIZE`. */
  #count = 0;

  /** Records an answered request; `url` may carry a query string, which is dropped. */
  record(method: string, url: string, operation: string | null, principal: string | null, status: number, ms: number, requestId: string): void {
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    const index = this.#count++ % JOURNAL_SIZE;
    const slot = this.#slots[index];
    if (slot === undefined) {
      this.#slots[index] = { at: Date.now(), method, path, operation, principal, status, ms, requestId };
      return;
    }
    slot.at = Date.now();
    slot.method = method;
    slot.path = path;
    slot.operation = operation;
    slot.principal = principal;
    slot.status = status;
    slot.ms = ms;
    slot.requestId = requestId;
  }

  /** The newest `limit` requests, newest first. */
  newest(limit: number): JournalEntry[] {
    const out: JournalEntry[] = [];
    for (let n = this.#count - 1; n >= 0 && n >= this.#count - JOURNAL_SIZE && out.length < limit; n--) {
      const slot = this.#slots[n % JOURNAL_SIZE] as Slot;
      out.push({
        time: new Date(slot.at).toISOString(),
        method: slot.method,
        path: slot.path,
        operation: slot.operation,
        principal: slot.principal,
        status: slot.status,
        ms: Math.round(slot.ms * 1000) / 1000,
        request_id: slot.requestId,
      });
    }
    return out;
  }
}
