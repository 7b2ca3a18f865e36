/**
 * Group commit for SQLite: the work of callers that ask for a write transaction while
 * another one runs waits for it, then all of it runs in one transaction, one caller's
 * after another's, and one commit (one sync of the log) makes all of it durable. Every
 * caller is still answered only after the commit that stores its work. When a caller's
 * work throws, or the transaction itself fails (its commit, or a statement that ends
 * it), nothing of the group is stored and each caller's work runs again in a transaction
 * of its own, so one caller's failure never becomes another's.
 *
 * No savepoint keeps the callers apart: inside one, SQLite copies every page a statement
 * changes to its sub-journal, and keeps the copies until the savepoint ends (the writer's
 * one-row inserts of a fleet batch took 45 ms so in the server, against 23 for the same
 * rows in multi-row statements outside savepoints). A
 * caller's work rarely throws on SQLite: its statements never wait (the transaction
 * holds the write lock), so the only deadline that can stop it is one already passed
 * when it starts, which is checked first.
 *
 * SQLite runs one transaction at a time on its one connection, so a burst of batches
 * would otherwise pay one sync each, back to back, with the event loop blocked in each.
 */
import { setImmediate } from 'node:timers/promises';
import type { Kysely, Transaction } from 'kysely';
import { cancelled, currentCancellation, withCancellation, withoutCancellation, type Cancellation } from './cancellation.js';
import type { DB } from './schema.js';

/** One caller's work, waiting for its transaction. */
interface Waiting {
  readonly work: (tx: Transaction<DB>) => Promise<unknown>;
  /** The caller's cancellation (src/db/cancellation.ts): its own work runs under it. */
  readonly cancellation: Cancellation | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** The most callers one transaction serves: a group's commit waits for all of them. */
const MAX_GROUP = 16;

export class GroupCommit {
  readonly #waiting: Waiting[] = [];
  #running = false;

  /** `inTransaction` says whether the connection is in a transaction now. */
  constructor(
    private readonly kysely: Kysely<DB>,
    private readonly inTransaction: () => boolean,
  ) {}

  /** Runs `work` in a write transaction, maybe shared with other callers' work; resolves after that transaction commits. */
  run<T>(work: (tx: Transaction<DB>) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#waiting.push({ work, cancellation: currentCancellation(), resolve: resolve as (value: unknown) => void, reject });
      if (this.#running) return;
      this.#running = true;
      // The loop serves many callers: none's deadline may cancel the transaction itself.
      withoutCancellation(() => void this.#drain());
    });
  }

  async #drain(): Promise<void> {
    try {
      do {
        // A transaction on SQLite never yields to the event loop, so requests that arrived
        // meanwhile are still unread: let the loop read them, so they join this group.
        await setImmediate();
        await this.#commit(this.#waiting.splice(0, MAX_GROUP));
      } while (this.#waiting.length > 0);
    } finally {
      this.#running = false;
    }
  }

  async #commit(group: readonly Waiting[]): Promise<void> {
    // Work whose caller gave up while it waited is not begun: it would fail the group.
    const live = group.filter((waiting) => {
      if (waiting.cancellation?.aborted !== true) return true;
      waiting.reject(cancelled(waiting.cancellation));
      return false;
    });
    if (live.length === 0) return;
    const values: unknown[] = [];
    let begun = false;
    try {
      await this.kysely.transaction().execute(async (tx) => {
        begun = true;
        for (const waiting of live) {
          values.push(await ownWork(waiting, tx));
          // Work that ended the transaction (a failed statement SQLite rolled back with it)
          // would leave the next caller's statements each committing on its own.
          if (!this.inTransaction()) throw new Error('grouped work ended the shared transaction');
        }
      });
    } catch (error) {
      if (live.length === 1 || !begun) {
        // Alone, or the transaction never began (the write lock not had): each caller gets the error.
        for (const waiting of live) waiting.reject(error);
        return;
      }
      for (const waiting of live) await this.#commit([waiting]);
      return;
    }
    live.forEach((waiting, i) => waiting.resolve(values[i]));
  }
}

function ownWork(waiting: Waiting, tx: Transaction<DB>): Promise<unknown> {
  return waiting.cancellation === undefined ? waiting.work(tx) : withCancellation(waiting.cancellation, () => waiting.work(tx));
}
