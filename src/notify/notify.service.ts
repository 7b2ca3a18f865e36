/**
 * Subscriptions and their deliveries, as the producer API offers them: rules and
 * transactions; the SQL is in the stores, the HTTP in notify.routes.ts.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { inTransaction, type Database } from '../db/database.js';
import { ServiceError, quote } from '../errors.js';
import { isoTime } from '../jobs/job.js';
import { attemptsOf, findDelivery, listDeliveries, requeueDelivery } from './deliveries.store.js';
import {
  MAX_SUBSCRIPTIONS,
  type Delivery,
  type DeliveryDetail,
  type DeliveryQuery,
  type Subscription,
  type SubscriptionBody,
  type SubscriptionWithSecret,
} from './notify.schema.js';
import type { DeliveryRow, SubscriptionRow } from './notify.table.js';
import { newSecret, type SecretBox } from './secrets.js';
import {
  countSubscriptions,
  deleteSubscription,
  findSubscription,
  insertSubscription,
  listSubscriptions,
  replaceSecret,
  takeSeqs,
} from './subscriptions.store.js';
import { BlockedAddressError, parseWebhookUrl, resolveTarget, WebhookUrlError } from './webhook-url.js';

/** How long a rotated-out secret keeps signing beside the new one, so receivers can switch without losing events. */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;

export interface NotifyServiceOptions {
  readonly allowPrivate: boolean;
}

export class NotifyService {
  #warnedUnsealed = false;

  constructor(
    private readonly db: Database,
    private readonly secrets: SecretBox,
    private readonly logger: Logger,
    private readonly options: NotifyServiceOptions,
    /** Called after a redelivery commits, so the local worker looks at once. */
    private readonly queued: () => void = () => {},
  ) {}

  /**
   * Creates a subscription and answers it with its secret, shown this once. Throws
   * `invalid_parameter` for a URL that is not http(s), does not resolve, or reaches a
   * refused address; `conflict` past {@link MAX_SUBSCRIPTIONS}.
   */
  async create(projectId: string, body: SubscriptionBody): Promise<SubscriptionWithSecret> {
    const url = await this.#checkUrl(body.url);
    const now = Date.now();
    const id = `sub-${randomBytes(16).toString('hex')}`;
    const secret = newSecret();
    const row: SubscriptionRow = {
      id,
      project_id: projectId,
      url,
      events: JSON.stringify(body.events),
      description: body.description ?? null,
      secret: this.secrets.seal(id, secret),
      previous_secret: null,
      previous_secret_until: null,
      last_seq: 0,
      created_at: now,
      updated_at: now,
    };
    await inTransaction(this.db, async (tx) => {
      if ((await countSubscriptions(tx, projectId)) >= MAX_SUBSCRIPTIONS) {
        throw new ServiceError('conflict', `project ${quote(projectId)} already has ${MAX_SUBSCRIPTIONS} subscriptions, the most it may have`);
      }
      await insertSubscription(tx, row);
    });
    if (!this.secrets.sealing && !this.#warnedUnsealed) {
      this.#warnedUnsealed = true;
      this.logger.warn('webhook signing secrets are stored unsealed: set TASKCENTER_WEBHOOK_KEY (openssl rand -hex 32, the same on every node) to seal them');
    }
    return { ...toSubscription(row), secret, previous_secret_expires_at: null };
  }

  async list(projectId: string): Promise<{ subscriptions: Subscription[] }> {
    return { subscriptions: (await listSubscriptions(this.db.kysely, projectId)).map(toSubscription) };
  }

  async get(projectId: string, id: string): Promise<Subscription> {
    return toSubscription(await this.#find(projectId, id));
  }

  /** Deletes the subscription and its deliveries; throws `not_found`. */
  async delete(projectId: string, id: string): Promise<void> {
    if (!(await deleteSubscription(this.db.kysely, projectId, id))) throw notFound(projectId, id);
  }

  /** Gives the subscription a new secret, shown this once; the old one keeps signing beside it for {@link ROTATION_OVERLAP_MS}. */
  async rotateSecret(projectId: string, id: string): Promise<SubscriptionWithSecret> {
    const current = await this.#find(projectId, id);
    const now = Date.now();
    const secret = newSecret();
    const until = now + ROTATION_OVERLAP_MS;
    const updated = await replaceSecret(this.db.kysely, projectId, id, {
      secret: this.secrets.seal(id, secret),
      previous_secret: current.secret,
      previous_secret_until: until,
      updated_at: now,
    });
    if (!updated) throw notFound(projectId, id);
    return { ...toSubscription({ ...current, updated_at: now }), secret, previous_secret_expires_at: isoTime(until) };
  }

  /** A page of the subscription's deliveries, newest first. */
  async deliveries(projectId: string, id: string, query: DeliveryQuery): Promise<{ deliveries: Delivery[]; next_marker: string | null }> {
    await this.#find(projectId, id);
    const limit = query.limit ?? 100;
    const rows = await listDeliveries(this.db.kysely, projectId, id, {
      state: query.state,
      marker: query.marker === undefined ? undefined : Number(query.marker),
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    return { deliveries: page.map(toDelivery), next_marker: rows.length > limit ? String(page.at(-1)?.id) : null };
  }

  /** One delivery with its attempt log; throws `not_found`. */
  async delivery(projectId: string, id: string, deliveryId: string): Promise<DeliveryDetail> {
    const row = await findDelivery(this.db.kysely, projectId, id, Number(deliveryId));
    if (row === undefined) throw deliveryNotFound(id, deliveryId);
    const attempts = await attemptsOf(this.db.kysely, projectId, row.id);
    return {
      ...toDelivery(row),
      attempt_log: attempts.map((a) => ({ attempt: a.attempt, at: isoTime(Number(a.at)), status: a.status, error: a.error, duration_ms: a.duration_ms })),
    };
  }

  /**
   * Sends a dead (or delivered) delivery again: it goes to the end of the subscription's
   * queue, due now, with a new retry window. Throws `conflict` while it is pending.
   */
  async redeliver(projectId: string, id: string, deliveryId: string): Promise<Delivery> {
    const row = await inTransaction(this.db, async (tx) => {
      const found = await findDelivery(tx, projectId, id, Number(deliveryId));
      if (found === undefined) throw deliveryNotFound(id, deliveryId);
      if (found.state === 'pending') throw new ServiceError('conflict', `delivery ${quote(deliveryId)} is pending already: it is sent when due`);
      const now = Date.now();
      const seq = await takeSeqs(tx, projectId, id, 1);
      await requeueDelivery(tx, projectId, found.id, seq, now);
      return (await findDelivery(tx, projectId, id, found.id)) as DeliveryRow;
    });
    this.queued();
    return toDelivery(row);
  }

  async #find(projectId: string, id: string): Promise<SubscriptionRow> {
    const row = await findSubscription(this.db.kysely, projectId, id);
    if (row === undefined) throw notFound(projectId, id);
    return row;
  }

  async #checkUrl(text: string): Promise<string> {
    const invalid = (message: string) => new ServiceError('invalid_parameter', `url ${message}`, 'url');
    try {
      const target = parseWebhookUrl(text);
      await resolveTarget(target, this.options.allowPrivate);
      return target.url.href;
    } catch (error) {
      if (error instanceof WebhookUrlError) throw invalid(error.message);
      if (error instanceof BlockedAddressError) throw invalid(`is ${error.message}`);
      const code = (error as { code?: unknown }).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA') throw invalid(`names a host that does not resolve: ${quote(text)}`);
      // DNS is down or slow for now: the address is checked again on every delivery.
      return new URL(text).href;
    }
  }
}

function notFound(projectId: string, id: string): ServiceError {
  return new ServiceError('not_found', `subscription ${quote(id)} does not exist in project ${quote(projectId)}`);
}

function deliveryNotFound(id: string, deliveryId: string): ServiceError {
  return new ServiceError('not_found', `delivery ${quote(deliveryId)} does not exist in subscription ${quote(id)}`);
}

/** A subscription as every read shows it: no secret. */
function toSubscription(row: SubscriptionRow): Subscription {
  return {
    id: row.id,
    project_id: row.project_id,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    description: row.description,
    created_at: isoTime(Number(row.created_at)),
    updated_at: isoTime(Number(row.updated_at)),
  };
}

function toDelivery(row: DeliveryRow): Delivery {
  return {
    id: String(row.id),
    subscription_id: row.subscription_id,
    event_id: row.event_id,
    event_type: row.event_type,
    job_id: row.job_id,
    state: row.state,
    attempts: row.attempts,
    last_status: row.last_status,
    last_error: row.last_error,
    created_at: isoTime(Number(row.created_at)),
    next_attempt_at: row.state === 'pending' ? isoTime(Number(row.next_attempt_at)) : null,
    settled_at: row.settled_at === null ? null : isoTime(Number(row.settled_at)),
  };
}
