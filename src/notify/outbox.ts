/**
 * The outbox's writing side: called by the one writer (src/jobs/) inside the transaction
 * of each change, it turns the changes into events and adds one delivery per event and
 * matching subscription, so an event exists if and only if its change committed.
 */
import type { Insertable, Transaction } from 'kysely';
import type { DB } from '../db/schema.js';
import type { JobRow } from '../jobs/jobs.table.js';
import { insertDeliveries } from './deliveries.store.js';
import { eventsOf, renderEvent, subscribedTo, type EventType, type RenderedEvent } from './events.js';
import type { NotifyMetrics } from './notify.metrics.js';
import type { DeliveriesTable } from './notify.table.js';
import { subscriptionsOf, takeSeqs } from './subscriptions.store.js';

/** One job written by a transaction: the stored row before (undefined when new) and after. */
export interface JobChange {
  readonly before: JobRow | undefined;
  readonly after: JobRow;
}

export class Outbox {
  /**
   * `queued` is told how many deliveries a call added; it cannot know whether the
   * transaction will commit, so the count is of deliveries written, including the rare
   * ones a failed transaction rolls back.
   */
  constructor(
    private readonly metrics: NotifyMetrics,
    private readonly queued: (n: number) => void = () => {},
  ) {}

  /**
   * Adds the deliveries for `changes`, in their order, to `tx`. Costs one read of the
   * projects' subscriptions when a change raises an event and nothing otherwise; per
   * subscription that matches, one update that numbers its deliveries and holds its row
   * until commit (so its deliveries are numbered in commit order), and the inserts.
   * Resolves to the number of deliveries added.
   */
  async record(tx: Transaction<DB>, changes: Iterable<JobChange>): Promise<number> {
    const raised: { type: EventType; job: JobRow }[] = [];
    for (const { before, after } of changes) for (const type of eventsOf(before, after)) raised.push({ type, job: after });
    if (raised.length === 0) return 0;
    const projects = [...new Set(raised.map((r) => r.job.project_id))].sort();
    const subscriptions = await subscriptionsOf(tx, projects);
    if (subscriptions.length === 0) return 0;

    const rendered = new Map<number, RenderedEvent>();
    const now = Date.now();
    const rows: Insertable<DeliveriesTable>[] = [];
    // By subscription id: transactions take subscription rows in the same order.
    for (const subscription of subscriptions) {
      const names = JSON.parse(subscription.events) as string[];
      const matching: number[] = [];
      raised.forEach((r, i) => {
        if (r.job.project_id === subscription.project_id && subscribedTo(names, r.type)) matching.push(i);
      });
      if (matching.length === 0) continue;
      const last = await takeSeqs(tx, subscription.project_id, subscription.id, matching.length);
      matching.forEach((i, n) => {
        const { type, job } = raised[i] as { type: EventType; job: JobRow };
        let event = rendered.get(i);
        if (event === undefined) {
          event = renderEvent(type, job);
          rendered.set(i, event);
        }
        rows.push({
          subscription_id: subscription.id,
          project_id: subscription.project_id,
          seq: last - matching.length + 1 + n,
          event_id: event.id,
          event_type: event.type,
          job_id: event.jobId,
          body: event.body,
          state: 'pending',
          attempts: 0,
          queued_at: now,
          next_attempt_at: now,
          created_at: now,
        });
      });
    }
    await insertDeliveries(tx, rows);
    this.metrics.queued += rows.length;
    if (rows.length > 0) this.queued(rows.length);
    return rows.length;
  }
}
