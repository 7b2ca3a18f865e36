/**
 * Webhook delivery metrics of this process, in Prometheus text: deliveries queued (by
 * this node's writes), delivered, retried and dead (by this node's attempts), the time
 * from the change's commit to the receiver's answer, and the age of the oldest pending
 * delivery in the store (the same on every node).
 */

const BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600];

export class NotifyMetrics {
  queued = 0;
  delivered = 0;
  retried = 0;
  dead = 0;
  /** Epoch ms of the oldest pending delivery's change when last looked at; null when none was pending. */
  oldestPending: number | null = null;
  readonly #latency = BUCKETS.map(() => 0);
  #latencySum = 0;
  #latencyCount = 0;

  /** Counts a delivery that arrived `seconds` after its change was written. */
  observeDelivered(seconds: number): void {
    this.delivered += 1;
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= (BUCKETS[i] as number)) this.#latency[i] = (this.#latency[i] ?? 0) + 1;
    this.#latencySum += seconds;
    this.#latencyCount += 1;
  }

  render(now: number = Date.now()): string {
    const lines = [
      '# HELP taskcenter_webhook_deliveries_queued_total Webhook deliveries written to the outbox by this process.',
      '# TYPE taskcenter_webhook_deliveries_queued_total counter',
      `taskcenter_webhook_deliveries_queued_total ${this.queued}`,
      '# HELP taskcenter_webhook_deliveries_delivered_total Webhook deliveries a receiver accepted (2xx), sent by this process.',
      '# TYPE taskcenter_webhook_deliveries_delivered_total counter',
      `taskcenter_webhook_deliveries_delivered_total ${this.delivered}`,
      '# HELP taskcenter_webhook_deliveries_retried_total Webhook attempts by this process that failed and were scheduled again.',
      '# TYPE taskcenter_webhook_deliveries_retried_total counter',
      `taskcenter_webhook_deliveries_retried_total ${this.retried}`,
      '# HELP taskcenter_webhook_deliveries_dead_total Webhook deliveries this process gave up (final answer, refused address or retry window over).',
      '# TYPE taskcenter_webhook_deliveries_dead_total counter',
      `taskcenter_webhook_deliveries_dead_total ${this.dead}`,
      '# HELP taskcenter_webhook_delivery_latency_seconds Time from the commit of a change to its receiver accepting the event.',
      '# TYPE taskcenter_webhook_delivery_latency_seconds histogram',
      ...BUCKETS.map((le, i) => `taskcenter_webhook_delivery_latency_seconds_bucket{le="${le}"} ${this.#latency[i]}`),
      `taskcenter_webhook_delivery_latency_seconds_bucket{le="+Inf"} ${this.#latencyCount}`,
      `taskcenter_webhook_delivery_latency_seconds_sum ${this.#latencySum}`,
      `taskcenter_webhook_delivery_latency_seconds_count ${this.#latencyCount}`,
      '# HELP taskcenter_webhook_oldest_pending_seconds Age of the oldest webhook delivery not yet delivered or given up (0 when none).',
      '# TYPE taskcenter_webhook_oldest_pending_seconds gauge',
      `taskcenter_webhook_oldest_pending_seconds ${this.oldestPending === null ? 0 : Math.max(0, (now - this.oldestPending) / 1000)}`,
    ];
    return lines.join('\n') + '\n';
  }
}
