/**
 * The AK/SK lockout's state, in the store (`auth_failures`, migration 0004): bad
 * signatures counted per access key and client address, so that every server process
 * counts the same failures and refuses the same locked pairs. SQL only; the rules are
 * in src/auth/aksk.ts.
 */
import { sql, type Kysely } from 'kysely';
import { inTransaction, type Database } from '../db/database.js';
import { PreparedQuery } from '../db/prepared.js';
import { TurnReads } from '../db/turn-reads.js';
import type { DB } from '../db/schema.js';

/** What is known of an access key from an address. */
export interface LockoutState {
  readonly failures: number;
  readonly lockedUntil: number;
}

/** Where the lockout keeps its counts: {@link StoreLockout} in a server, shared by all its processes. */
export interface Lockout {
  /** The pair's state; undefined when it has no failure on record. */
  state(accessKey: string, address: string): Promise<LockoutState | undefined>;
  /**
   * Counts one bad signature at `now` and answers the new state: a lock that ran out
   * starts a fresh count, and the `max`-th failure locks the pair until `now + lockMs`.
   * Counted atomically, so exactly one failure (in whichever process) is the `max`-th.
   */
  fail(accessKey: string, address: string, now: number, max: number, lockMs: number): Promise<LockoutState>;
  /** Forgets the pair's failures (a good signature). */
  clear(accessKey: string, address: string): Promise<void>;
}

const stateQuery = new PreparedQuery<{ accessKey: string; address: string }, { failures: number; locked_until: number }>((db, { accessKey, address }) =>
  db.selectFrom('auth_failures').select(['failures', 'locked_until']).where('access_key', '=', accessKey).where('address', '=', address),
);

/**
 * The lockout's counts in the store: one primary-key read per pair per turn of the event
 * loop, shared by the signed requests of that turn from the same key and address
 * (src/db/turn-reads.ts: an SDK client sends many at once, and on PostgreSQL each read
 * is a round trip), and a write only on a failure or the first success after one.
 */
export class StoreLockout implements Lockout {
  readonly #states: TurnReads<LockoutState | undefined>;

  constructor(private readonly db: Database) {
    this.#states = new TurnReads((pairs) => this.#readStates(pairs), undefined);
  }

  state(accessKey: string, address: string): Promise<LockoutState | undefined> {
    return this.#states.read(JSON.stringify([accessKey, address]));
  }

  /** The states of pairs (each the JSON of `[accessKey, address]`), one read each, all at once. */
  async #readStates(pairs: readonly string[]): Promise<Map<string, LockoutState | undefined>> {
    const states = await Promise.all(
      pairs.map(async (pair) => {
        const [accessKey, address] = JSON.parse(pair) as [string, string];
        const row = await stateQuery.executeTakeFirst(this.db.kysely, { accessKey, address });
        return row === undefined ? undefined : { failures: row.failures, lockedUntil: row.locked_until };
      }),
    );
    return new Map(pairs.map((pair, i) => [pair, states[i]]));
  }

  async fail(accessKey: string, address: string, now: number, max: number, lockMs: number): Promise<LockoutState> {
    // Values cast: PostgreSQL would otherwise type a CASE's parameters from its other
    // branches (integer), and an epoch in ms does not fit.
    // The count after this failure: a fresh one when the last lock has run out.
    const failures = sql<number>`case when auth_failures.locked_until > 0 and auth_failures.locked_until <= cast(${now} as bigint) then 1 else auth_failures.failures + 1 end`;
    // A transaction, so that on SQLite the write waits for the lock like every other
    // (src/db/sqlite.ts), and with the one-statement upsert both engines count atomically.
    const row = await inTransaction(this.db, (tx: Kysely<DB>) =>
      tx
        .insertInto('auth_failures')
        .values({ access_key: accessKey, address, failures: 1, locked_until: max <= 1 ? now + lockMs : 0, updated_at: now })
        .onConflict((conflict) =>
          conflict.columns(['access_key', 'address']).doUpdateSet({
            failures,
            locked_until: sql<number>`case when ${failures} >= cast(${max} as integer) then cast(${now + lockMs} as bigint) else 0 end`,
            updated_at: now,
          }),
        )
        .returning(['failures', 'locked_until'])
        .executeTakeFirstOrThrow(),
    );
    return { failures: row.failures, lockedUntil: row.locked_until };
  }

  async clear(accessKey: string, address: string): Promise<void> {
    await inTransaction(this.db, (tx: Kysely<DB>) =>
      tx.deleteFrom('auth_failures').where('access_key', '=', accessKey).where('address', '=', address).execute(),
    );
  }
}
