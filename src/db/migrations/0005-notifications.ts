import { sql, type Kysely } from 'kysely';
import type { Engine } from '../database.js';

/**
 * Notifications (src/notify/): webhook subscriptions per project, the outbox of
 * deliveries the one writer fills in the transaction of each change, and the log of
 * every delivery attempt.
 *
 * A subscription's `last_seq` numbers its deliveries: the writer raises it with an
 * UPDATE, which on PostgreSQL holds the subscription's row lock until commit, so two
 * transactions enqueueing for one subscription commit in the order of their numbers and
 * delivery in `seq` order is delivery in commit order. Only pending deliveries are in
 * `deliveries_pending`: the delivery workers look up each subscription's first pending
 * delivery there, one index probe each, however many have been delivered.
 */
export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const id = engine === 'postgres' ? sql`text collate "C"` : sql`text`;
  await db.schema
    .createTable('subscriptions')
    .addColumn('id', id, (c) => c.primaryKey())
    .addColumn('project_id', id, (c) => c.notNull())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('events', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('previous_secret', 'text')
    .addColumn('previous_secret_until', 'bigint')
    .addColumn('last_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('subscriptions_by_project').on('subscriptions').columns(['project_id', 'id']).execute();

  await db.schema
    .createTable('deliveries')
    .addColumn('id', engine === 'postgres' ? 'bigserial' : 'integer', (c) => (engine === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('subscription_id', id, (c) => c.notNull().references('subscriptions.id').onDelete('cascade'))
    .addColumn('project_id', id, (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('event_type', 'text', (c) => c.notNull())
    .addColumn('job_id', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('queued_at', 'bigint', (c) => c.notNull())
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', 'bigint')
    .addColumn('last_status', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('settled_at', 'bigint')
    .addUniqueConstraint('deliveries_seq', ['subscription_id', 'seq'])
    .execute();
  await db.schema
    .createIndex('deliveries_pending')
    .on('deliveries')
    .columns(['subscription_id', 'seq'])
    .where(sql<boolean>`state = 'pending'`)
    .execute();
  await db.schema
    .createIndex('deliveries_pending_age')
    .on('deliveries')
    .column('created_at')
    .where(sql<boolean>`state = 'pending'`)
    .execute();
  await db.schema.createIndex('deliveries_by_state').on('deliveries').columns(['subscription_id', 'state', 'id']).execute();

  await db.schema
    .createTable('delivery_attempts')
    .addColumn('delivery_id', 'bigint', (c) => c.notNull().references('deliveries.id').onDelete('cascade'))
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('status', 'integer')
    .addColumn('error', 'text')
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('delivery_attempts_pk', ['delivery_id', 'attempt'])
    .execute();
}
