/** All SQL of `subscriptions`. Every function takes its handle and is scoped by project. */
import type { Kysely, Transaction } from 'kysely';
import { jsonRows, jsonRowsValue, type JsonRowColumns, type JsonRowsValue } from '../db/json-rows.js';
import { PreparedQuery } from '../db/prepared.js';
import type { DB } from '../db/schema.js';
import type { SubscriptionRow } from './notify.table.js';

type Handle = Kysely<DB> | Transaction<DB>;

export async function insertSubscription(db: Handle, row: SubscriptionRow): Promise<void> {
  await db.insertInto('subscriptions').values(row).execute();
}

/** A project's subscriptions in id order. */
export async function listSubscriptions(db: Handle, projectId: string): Promise<SubscriptionRow[]> {
  return db.selectFrom('subscriptions').selectAll().where('project_id', '=', projectId).orderBy('id').execute();
}

export async function countSubscriptions(db: Handle, projectId: string): Promise<number> {
  const row = await db
    .selectFrom('subscriptions')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('project_id', '=', projectId)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function findSubscription(db: Handle, projectId: string, id: string): Promise<SubscriptionRow | undefined> {
  return db.selectFrom('subscriptions').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
}

/** Deletes a subscription with its deliveries and their attempts (the foreign keys cascade); resolves to whether it existed. */
export async function deleteSubscription(db: Handle, projectId: string, id: string): Promise<boolean> {
  const result = await db.deleteFrom('subscriptions').where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Replaces the secret, keeping the old one beside it until `previousUntil`. */
export async function replaceSecret(
  db: Handle,
  projectId: string,
  id: string,
  fields: { secret: string; previous_secret: string; previous_secret_until: number; updated_at: number },
): Promise<boolean> {
  const result = await db.updateTable('subscriptions').set(fields).where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

const PROJECT_TYPES: JsonRowColumns<{ project_id: string }> = { project_id: 'text' };

/**
 * The subscriptions of the projects in `rows` (JSON rows), in id order. Prepared: the
 * writer reads them in every transaction that raises an event, and Kysely building the
 * query each time cost more than SQLite reading it. The projects are read first (SQLite
 * takes a CROSS JOIN's order as written), then each one's subscriptions by its index.
 */
const subscriptionsOfQuery = new PreparedQuery<{ rows: JsonRowsValue }, Pick<SubscriptionRow, 'id' | 'project_id' | 'events'>>((db, { rows }) =>
  db
    .selectFrom(jsonRows(db, rows, PROJECT_TYPES).as('p'))
    .crossJoin('subscriptions as s')
    .select(['s.id', 's.project_id', 's.events'])
    .whereRef('s.project_id', '=', 'p.project_id')
    .orderBy('s.id'),
);

/** The subscriptions of these projects (each named once), with what the writer needs to match events to them. */
export async function subscriptionsOf(tx: Kysely<DB>, projectIds: readonly string[]): Promise<Pick<SubscriptionRow, 'id' | 'project_id' | 'events'>[]> {
  if (projectIds.length === 0) return [];
  return subscriptionsOfQuery.execute(tx, {
    rows: jsonRowsValue(
      tx,
      projectIds.map((project_id) => ({ project_id })),
      PROJECT_TYPES,
    ),
  });
}

/**
 * Raises a subscription's delivery number by `n` and resolves to the new last number
 * (the deliveries get the `n` numbers up to it). On PostgreSQL the row stays locked
 * until the transaction ends, so numbers follow commit order.
 */
export async function takeSeqs(tx: Transaction<DB>, projectId: string, id: string, n: number): Promise<number> {
  const row = await tx
    .updateTable('subscriptions')
    .set((eb) => ({ last_seq: eb('last_seq', '+', n) }))
    .where('project_id', '=', projectId)
    .where('id', '=', id)
    .returning('last_seq')
    .executeTakeFirstOrThrow();
  return Number(row.last_seq);
}
