/**
 * The delivery worker every node runs: it claims the first pending deliveries of
 * subscriptions under a lease, sends each run in order, and records what came of every
 * attempt. A node that dies leaves its leases to expire; another node then sends the
 * same events again (at least once, with the same event ids).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { inTransaction, type Database } from '../db/database.js';
import { VERSION } from '../version.js';
import {
  claimRun,
  dueHeads,
  insertAttempts,
  markDelivered,
  markFailed,
  oldestPending,
  releaseDeliveries,
  type ClaimedDelivery,
  type DueHead,
} from './deliveries.store.js';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signatureHeader } from './events.js';
import type { NotifyMetrics } from './notify.metrics.js';
import type { DeliveryAttemptRow } from './notify.table.js';
import { SecretUnavailableError, type SecretBox } from './secrets.js';
import { send, type SendOutcome } from './sender.js';
import { parseWebhookUrl } from './webhook-url.js';

export interface DeliveryOptions {
  readonly allowPrivate: boolean;
  /** How long a delivery is retried, from when it was queued. */
  readonly retryWindowMs: number;
  /** The wait before the first retry; each later one waits about twice as long, up to {@link MAX_BACKOFF_MS}. */
  readonly retryDelayMs: number;
  /** How long claimed deliveries stay this node's. A run stops sending after half of it. */
  readonly leaseMs: number;
  /** How long to wait for a receiver (5 s). */
  readonly timeoutMs?: number;
  /** How often to look for due deliveries when not woken (250 ms). */
  readonly pollMs?: number;
  /** Deliveries claimed at once per subscription (50). */
  readonly runSize?: number;
  /** Subscriptions served at once (8). */
  readonly concurrency?: number;
}

/** The longest wait between two attempts. */
export const MAX_BACKOFF_MS = 60 * 60 * 1000;

/**
 * The wait before attempt `attempts + 1` after a failure: `delay * 2^(attempts-1)`,
 * capped, with "equal jitter" (half fixed, half random) so receivers coming back are not
 * hit by every sender at once.
 */
export function backoffMs(attempts: number, delayMs: number, random: () => number = Math.random): number {
  const full = Math.min(MAX_BACKOFF_MS, delayMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(full / 2 + (full / 2) * random());
}

/** Milliseconds a `Retry-After` value asks for (seconds or an HTTP date), or null when it is absent or unreadable. */
export function retryAfterMs(value: string | undefined, now: number): number | null {
  if (value === undefined) return null;
  if (/^\d{1,10}$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** True when a status means "try again later": 408, 429 and every 5xx. */
const retryable = (status: number) => status === 408 || status === 429 || status >= 500;

export class DeliveryWorker {
  readonly #owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  readonly #timeoutMs: number;
  readonly #pollMs: number;
  readonly #runSize: number;
  readonly #concurrency: number;
  #running = false;
  /** Set by {@link stop}: runs in flight send nothing more. */
  #stopping = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #woken = false;
  #lastAgeCheck = 0;

  constructor(
    private readonly db: Database,
    private readonly secrets: SecretBox,
    private readonly metrics: NotifyMetrics,
    private readonly logger: Logger,
    private readonly options: DeliveryOptions,
  ) {
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#pollMs = options.pollMs ?? 250;
    this.#runSize = options.runSize ?? 50;
    this.#concurrency = options.concurrency ?? 8;
  }

  /** Starts delivering until {@link stop}. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stopping = false;
    this.#loop = this.#run();
  }

  /** Looks for due deliveries now rather than at the next poll (a local write just queued some). */
  nudge(): void {
    this.#woken = true;
    this.#wake?.();
  }

  /** Stops claiming, lets the runs in flight finish (each within its lease budget) and gives back what they did not send. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#stopping = true;
    this.#wake?.();
    await this.#loop;
  }

  /** One pass: claims and sends what is due now. Resolves to the number of attempts made. Tests call it directly. */
  async deliverDue(): Promise<number> {
    const now = Date.now();
    if (now - this.#lastAgeCheck >= 1000) {
      this.#lastAgeCheck = now;
      this.metrics.oldestPending = await oldestPending(this.db.kysely);
    }
    const heads = await dueHeads(this.db.kysely, now, this.#concurrency * 4);
    let attempts = 0;
    const queue = [...heads];
    const workers = Array.from({ length: Math.min(this.#concurrency, queue.length) }, async () => {
      for (let head = queue.shift(); head !== undefined && !this.#stopping; head = queue.shift()) attempts += await this.#serve(head);
    });
    await Promise.all(workers);
    return attempts;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      let attempts = 0;
      try {
        attempts = await this.deliverDue();
      } catch (error) {
        this.logger.error({ err: error }, 'webhook delivery pass failed; trying again');
      }
      if (attempts > 0 || !this.#running) continue;
      await this.#sleep();
    }
  }

  #sleep(): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.#pollMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        this.#woken = false;
        done();
      };
    });
  }

  /** Claims one subscription's run and sends it in order. Resolves to the number of attempts made. */
  async #serve(head: DueHead): Promise<number> {
    const started = Date.now();
    const run = await inTransaction(this.db, (tx) => claimRun(tx, head, this.#runSize, this.#owner, started, started + this.options.leaseMs));
    if (run.length === 0) return 0;

    let secrets: string[];
    try {
      secrets = [this.secrets.open(head.subscription_id, head.secret)];
      if (head.previous_secret !== null && (head.previous_secret_until ?? 0) > started) {
        secrets.push(this.secrets.open(head.subscription_id, head.previous_secret));
      }
    } catch (error) {
      if (!(error instanceof SecretUnavailableError)) throw error;
      // This node's key is wrong, not the delivery: leave it to a node that has the right one.
      this.logger.error({ subscription: head.subscription_id, reason: error.message }, 'cannot sign webhook deliveries on this node');
      await releaseDeliveries(
        this.db.kysely,
        run.map((d) => d.id),
        this.#owner,
      );
      return 0;
    }
    const target = parseWebhookUrl(head.url);

    const attemptLog: DeliveryAttemptRow[] = [];
    const delivered = new Map<number, number[]>();
    const failed: { id: number; status: number | null; error: string; nextAttemptAt: number | null; now: number }[] = [];
    const unsent: number[] = [];
    let stopped = false;
    for (const delivery of run) {
      if (stopped || this.#stopping || Date.now() - started > this.options.leaseMs / 2) {
        unsent.push(delivery.id);
        continue;
      }
      const at = Date.now();
      const outcome = await send(target, delivery.body, {
        allowPrivate: this.options.allowPrivate,
        timeoutMs: this.#timeoutMs,
        headers: {
          'content-type': 'application/cloudevents+json; charset=utf-8',
          'user-agent': `taskcenter-webhooks/${VERSION}`,
          [EVENT_ID_HEADER]: delivery.event_id,
          [SIGNATURE_HEADER]: signatureHeader(secrets, Math.floor(at / 1000), delivery.body),
        },
      });
      const done = Date.now();
      const status = outcome.kind === 'answered' ? outcome.status : null;
      const error = describe(outcome);
      attemptLog.push({ delivery_id: delivery.id, attempt: delivery.attempts + 1, at, status, error, duration_ms: done - at });
      if (error === null) {
        const same = delivered.get(status as number);
        if (same === undefined) delivered.set(status as number, [delivery.id]);
        else same.push(delivery.id);
        this.metrics.observeDelivered((done - delivery.created_at) / 1000);
        continue;
      }
      const next = this.#nextAttempt(delivery, outcome, done);
      if (next === null) this.metrics.dead += 1;
      else this.metrics.retried += 1;
      failed.push({ id: delivery.id, status, error, nextAttemptAt: next, now: done });
      // Later events wait behind this one: the subscription's order is commit order.
      if (next !== null) stopped = true;
    }
    // One transaction records the whole run: a node that dies before it sends the run
    // again after the lease (at least once), never loses it.
    const finished = Date.now();
    await inTransaction(this.db, async (tx) => {
      for (const [status, ids] of delivered) await markDelivered(tx, ids, status, this.#owner, finished);
      for (const { id, ...failure } of failed) await markFailed(tx, id, this.#owner, failure);
      await releaseDeliveries(tx, unsent, this.#owner);
      await insertAttempts(tx, attemptLog);
    });
    return attemptLog.length;
  }

  /** When to try a failed delivery again, or null when it is dead: a final answer, a refused address, or past its retry window. */
  #nextAttempt(delivery: ClaimedDelivery, outcome: SendOutcome, now: number): number | null {
    if (outcome.kind === 'refused') return null;
    if (outcome.kind === 'answered' && !retryable(outcome.status)) return null;
    let wait = backoffMs(delivery.attempts + 1, this.options.retryDelayMs);
    if (outcome.kind === 'answered') wait = Math.max(wait, retryAfterMs(outcome.retryAfter, now) ?? 0);
    const next = now + wait;
    return next > delivery.queued_at + this.options.retryWindowMs ? null : next;
  }
}

/** Why an attempt failed, for the delivery log; null when it succeeded. */
function describe(outcome: SendOutcome): string | null {
  switch (outcome.kind) {
    case 'answered':
      if (outcome.status >= 200 && outcome.status < 300) return null;
      if (outcome.status >= 300 && outcome.status < 400) return `HTTP ${outcome.status}: redirects are not followed`;
      return `HTTP ${outcome.status}`;
    case 'failed':
    case 'refused':
      return outcome.error;
  }
}
