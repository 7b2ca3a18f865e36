/**
 * All SQL of the outbox (`deliveries`) and its attempt log. The claim works on each
 * subscription's first pending delivery (its head): deliveries of one subscription are
 * sent in `seq` order, one run at a time, by whichever node claims its head.
 */
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { DB } from '../db/schema.js';
import type { DeliveriesTable, DeliveryAttemptRow, DeliveryRow, DeliveryState } from './notify.table.js';

type Handle = Kysely<DB> | Transaction<DB>;

/** Rows per INSERT: far below both engines' parameter limits (18 columns). */
const CHUNK = 500;

export async function insertDeliveries(tx: Transaction<DB>, rows: readonly Insertable<DeliveriesTable>[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK)
    await tx
      .insertInto('deliveries')
      .values(rows.slice(i, i + CHUNK))
      .execute();
}

/** A subscription's deliveries, newest first, in `state` when given, after `marker` (a delivery id). */
export async function listDeliveries(
  db: Handle,
  projectId: string,
  subscriptionId: string,
  filter: { state?: DeliveryState | undefined; marker?: number | undefined; limit: number },
): Promise<DeliveryRow[]> {
  let query = db.selectFrom('deliveries').selectAll().where('subscription_id', '=', subscriptionId).where('project_id', '=', projectId);
  if (filter.state !== undefined) query = query.where('state', '=', filter.state);
  if (filter.marker !== undefined) query = query.where('id', '<', filter.marker);
  return query.orderBy('id', 'desc').limit(filter.limit).execute();
}

export async function findDelivery(db: Handle, projectId: string, subscriptionId: string, id: number): Promise<DeliveryRow | undefined> {
  return db
    .selectFrom('deliveries')
    .selectAll()
    .where('id', '=', id)
    .where('subscription_id', '=', subscriptionId)
    .where('project_id', '=', projectId)
    .executeTakeFirst();
}

/** A delivery's attempts in order; scoped by project through the delivery. */
export async function attemptsOf(db: Handle, projectId: string, deliveryId: number): Promise<DeliveryAttemptRow[]> {
  return db
    .selectFrom('delivery_attempts as a')
    .innerJoin('deliveries as d', 'd.id', 'a.delivery_id')
    .selectAll('a')
    .where('d.project_id', '=', projectId)
    .where('a.delivery_id', '=', deliveryId)
    .orderBy('a.attempt')
    .execute();
}

/**
 * Puts a settled delivery back in the queue as the subscription's newest (`seq`), due
 * now, its retry window starting again; attempts and their log are kept.
 */
export async function requeueDelivery(tx: Transaction<DB>, projectId: string, id: number, seq: number, now: number): Promise<void> {
  await tx
    .updateTable('deliveries')
    .set({ state: 'pending', seq, queued_at: now, next_attempt_at: now, lease_owner: null, lease_until: null, settled_at: null })
    .where('project_id', '=', projectId)
    .where('id', '=', id)
    .execute();
}

/** A subscription's first pending delivery that is due and not leased, with what sending needs. */
export interface DueHead {
  readonly subscription_id: string;
  readonly seq: number;
  readonly url: string;
  readonly secret: string;
  readonly previous_secret: string | null;
  readonly previous_secret_until: number | null;
}

/**
 * Every subscription whose first pending delivery is due at `now` and not leased, most
 * overdue first: one probe of `deliveries_pending` per subscription. Reads without
 * locking; {@link claimRun} checks again under a lock.
 */
export async function dueHeads(db: Handle, now: number, limit: number): Promise<DueHead[]> {
  return db
    .selectFrom('subscriptions as s')
    .innerJoin('deliveries as d', (join) =>
      join.onRef('d.subscription_id', '=', 's.id').on('d.seq', '=', (eb) =>
        eb
          .selectFrom('deliveries as p')
          .select((e) => e.fn.min<number>('p.seq').as('head'))
          .whereRef('p.subscription_id', '=', 's.id')
          .where('p.state', '=', 'pending'),
      ),
    )
    .select(['s.id as subscription_id', 'd.seq', 's.url', 's.secret', 's.previous_secret', 's.previous_secret_until'])
    .where('d.state', '=', 'pending')
    .where('d.next_attempt_at', '<=', now)
    .where((eb) => eb.or([eb('d.lease_until', 'is', null), eb('d.lease_until', '<', now)]))
    .orderBy('d.next_attempt_at')
    .limit(limit)
    .execute();
}

/** What a claimed delivery carries to the sender. */
export type ClaimedDelivery = Pick<DeliveryRow, 'id' | 'seq' | 'event_id' | 'body' | 'attempts' | 'queued_at' | 'created_at'>;

/**
 * Claims the run of up to `size` pending deliveries of a subscription that starts at its
 * head `seq`, leasing them to `owner` until `until`; resolves to none when the head was
 * claimed, settled or is no longer due (checked under the head's row lock, which
 * another node's claim holds: PostgreSQL skips it, SQLite's write lock serializes).
 * A head is the first pending delivery until it settles: a later commit only appends.
 */
export async function claimRun(
  tx: Transaction<DB>,
  head: Pick<DueHead, 'subscription_id' | 'seq'>,
  size: number,
  owner: string,
  now: number,
  until: number,
): Promise<ClaimedDelivery[]> {
  const locked = await tx
    .selectFrom('deliveries')
    .select('id')
    .where('subscription_id', '=', head.subscription_id)
    .where('seq', '=', head.seq)
    .where('state', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .forUpdate()
    .skipLocked()
    .executeTakeFirst();
  if (locked === undefined) return [];
  const run = await tx
    .selectFrom('deliveries')
    .select(['id', 'seq', 'event_id', 'body', 'attempts', 'queued_at', 'created_at'])
    .where('subscription_id', '=', head.subscription_id)
    .where('state', '=', 'pending')
    .where('seq', '>=', head.seq)
    .orderBy('seq')
    .limit(size)
    .forUpdate()
    .execute();
  await tx
    .updateTable('deliveries')
    .set({ lease_owner: owner, lease_until: until })
    .where(
      'id',
      'in',
      run.map((r) => r.id),
    )
    .execute();
  return run;
}

/** Marks deliveries that one attempt delivered with `status`, if `owner` still holds them. */
export async function markDelivered(tx: Transaction<DB>, ids: readonly number[], status: number, owner: string, now: number): Promise<void> {
  for (let i = 0; i < ids.length; i += CHUNK) {
    await tx
      .updateTable('deliveries')
      .set((eb) => ({
        state: 'delivered',
        attempts: eb('attempts', '+', 1),
        last_status: status,
        last_error: null,
        settled_at: now,
        lease_owner: null,
        lease_until: null,
      }))
      .where('id', 'in', ids.slice(i, i + CHUNK))
      .where('lease_owner', '=', owner)
      .execute();
  }
}

/** Records a failed attempt: the delivery waits for `nextAttemptAt`, or is dead when that is null. */
export async function markFailed(
  tx: Transaction<DB>,
  id: number,
  owner: string,
  failure: { status: number | null; error: string; nextAttemptAt: number | null; now: number },
): Promise<void> {
  await tx
    .updateTable('deliveries')
    .set((eb) => ({
      state: failure.nextAttemptAt === null ? 'dead' : 'pending',
      attempts: eb('attempts', '+', 1),
      last_status: failure.status,
      last_error: failure.error,
      next_attempt_at: failure.nextAttemptAt ?? failure.now,
      settled_at: failure.nextAttemptAt === null ? failure.now : null,
      lease_owner: null,
      lease_until: null,
    }))
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .execute();
}

/** Gives back claimed deliveries that were not attempted. */
export async function releaseDeliveries(tx: Handle, ids: readonly number[], owner: string): Promise<void> {
  if (ids.length === 0) return;
  await tx
    .updateTable('deliveries')
    .set({ lease_owner: null, lease_until: null })
    .where('id', 'in', [...ids])
    .where('lease_owner', '=', owner)
    .execute();
}

/** Logs attempts; an attempt another node logged under the same number (it took over an expired lease) is kept as it was. */
export async function insertAttempts(tx: Transaction<DB>, rows: readonly DeliveryAttemptRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    await tx
      .insertInto('delivery_attempts')
      .values(rows.slice(i, i + CHUNK))
      .onConflict((oc) => oc.columns(['delivery_id', 'attempt']).doNothing())
      .execute();
  }
}

/** When the oldest pending delivery's change was written, or null when none is pending. */
export async function oldestPending(db: Handle): Promise<number | null> {
  const row = await db.selectFrom('deliveries').select('created_at').where('state', '=', 'pending').orderBy('created_at').limit(1).executeTakeFirst();
  return row === undefined ? null : Number(row.created_at);
}

/**
 * Deletes up to `limit` deliveries delivered before `settledBefore` (epoch ms), oldest
 * first, with their attempt log (the foreign key cascades); resolves to how many.
 * Retention's (src/jobs/retention.service.ts): pending deliveries are still to be sent
 * and dead ones wait for someone to look at them or send them again, so both stay.
 */
export async function deleteDelivered(tx: Transaction<DB>, settledBefore: number, limit: number): Promise<number> {
  const { numDeletedRows } = await tx
    .deleteFrom('deliveries')
    .where('id', 'in', (eb) =>
      eb.selectFrom('deliveries').select('id').where('state', '=', 'delivered').where('settled_at', '<', settledBefore).orderBy('settled_at').limit(limit),
    )
    .where('state', '=', 'delivered')
    .executeTakeFirst();
  return Number(numDeletedRows);
}
