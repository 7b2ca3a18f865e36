/**
 * Group commit for SQLite: the work of callers that ask for a write transaction while
 * another one runs waits for it, then all of it runs in one transaction, each caller's
 * in a savepoint of its own, and one commit (one sync of the log) makes all of it
 * durable. Every caller is still answered only after the commit that stores its work.
 * A caller whose work throws has its savepoint rolled back and gets its error; the
 * others' work commits. When the transaction itself fails (its commit, or a statement
 * that ends it), nothing of the group was stored and each caller's work runs again in a
 * transaction of its own, so one caller's failure never becomes another's.
 *
 * SQLite runs one transaction at a time on its one connection, so a burst of batches
 * would otherwise pay one sync each, back to back, with the event loop blocked in each.
 */
import { setImmediate } from 'node:timers/promises';
import { sql, type Kysely, type Transaction } from 'kysely';
import { currentCancellation, withCancellation, withoutCancellation, type Cancellation } from './cancellation.js';
import type { DB } from './schema.js';

/** One caller's work, waiting for its transaction. */
interface Waiting {
  readonly work: (tx: Transaction<DB>) => Promise<unknown>;
  /** The caller's cancellation (src/db/cancellation.ts): its own work runs under it. */
  readonly cancellation: Cancellation | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { readonly value: unknown } | { readonly error: unknown };

/** The most callers one transaction serves: a group's commit waits for all of them. */
const MAX_GROUP = 16;

export class GroupCommit {
  readonly #waiting: Waiting[] = [];
  #running = false;

  constructor(private readonly kysely: Kysely<DB>) {}

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
    const outcomes: Outcome[] = [];
    try {
      await this.kysely.transaction().execute(async (tx) => {
        if (group.length === 1) {
          // Alone, the transaction is the savepoint: a throw rolls it back.
          outcomes.push({ value: await ownWork(group[0] as Waiting, tx) });
          return;
        }
        for (const waiting of group) {
          await sql`savepoint grouped`.execute(tx);
          try {
            outcomes.push({ value: await ownWork(waiting, tx) });
          } catch (error) {
            await sql`rollback to grouped`.execute(tx);
            outcomes.push({ error });
          }
          await sql`release grouped`.execute(tx);
        }
      });
    } catch (error) {
      if (group.length === 1 || outcomes.length === 0) {
        // Alone, or the transaction never began (the write lock not had): each caller gets the error.
        for (const waiting of group) waiting.reject(error);
        return;
      }
      for (const waiting of group) await this.#commit([waiting]);
      return;
    }
    group.forEach((waiting, i) => {
      const outcome = outcomes[i] as Outcome;
      if ('error' in outcome) waiting.reject(outcome.error);
      else waiting.resolve(outcome.value);
    });
  }
}

function ownWork(waiting: Waiting, tx: Transaction<DB>): Promise<unknown> {
  return waiting.cancellation === undefined ? waiting.work(tx) : withCancellation(waiting.cancellation, () => waiting.work(tx));
}
