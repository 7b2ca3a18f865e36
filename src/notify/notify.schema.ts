/** The subscription and delivery shapes of the producer API: TypeBox schemas and their types. */
import { Type, type Static } from '@sinclair/typebox';
import { Nullable, OneOf, ProjectId } from '../jobs/jobs.schema.js';
import { EVENT_NAMES } from './events.js';
import { DELIVERY_STATES } from './notify.table.js';

/** The most subscriptions one project may have: every event is written once per matching subscription. */
export const MAX_SUBSCRIPTIONS = 20;

export const SUBSCRIPTION_ID_PATTERN = '^sub-[0-9a-f]{32}$';
export const SubscriptionId = Type.String({ pattern: SUBSCRIPTION_ID_PATTERN, description: 'Subscription id' });
export const DeliveryId = Type.String({ pattern: '^[1-9][0-9]{0,15}$', description: 'Delivery id' });

export const SubscriptionParams = Type.Object({ project_id: ProjectId, subscription_id: SubscriptionId });
export const DeliveryParams = Type.Object({ project_id: ProjectId, subscription_id: SubscriptionId, delivery_id: DeliveryId });

const EventName = OneOf(EVENT_NAMES, {
  description:
    'job.failed: a job enters a failure list (SDRS failures, KPS failed tasks); job.succeeded: a top-level job succeeds; failure.cleared: a listed failure is deleted; job.*: all of them',
});

export const SubscriptionBody = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048, description: 'http or https URL the events are POSTed to' }),
    events: Type.Array(EventName, { minItems: 1, maxItems: EVENT_NAMES.length, uniqueItems: true }),
    description: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
  },
  { additionalProperties: false },
);
export type SubscriptionBody = Static<typeof SubscriptionBody>;

const subscriptionFields = {
  id: Type.String(),
  project_id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  description: Nullable(Type.String()),
  created_at: Type.String(),
  updated_at: Type.String(),
};

/** A subscription as every read shows it: never its secret. */
export const Subscription = Type.Object(subscriptionFields);
export type Subscription = Static<typeof Subscription>;

/** A subscription with its signing secret: the answer to creating it and to rotating the secret, the only times it is shown. */
export const SubscriptionWithSecret = Type.Object({
  ...subscriptionFields,
  secret: Type.String({ description: 'The signing secret (HMAC-SHA256 key, its UTF-8 bytes), shown this once' }),
  previous_secret_expires_at: Nullable(
    Type.String({ description: 'After a rotation: until when requests are also signed with the previous secret; null when it was not rotated' }),
  ),
});
export type SubscriptionWithSecret = Static<typeof SubscriptionWithSecret>;

export const SubscriptionList = Type.Object({ subscriptions: Type.Array(Subscription) });

export const DeliveryQuery = Type.Object({
  state: Type.Optional(OneOf(DELIVERY_STATES)),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'Page size, 1 to 1000 (default 100)' })),
  marker: Type.Optional(DeliveryId),
});
export type DeliveryQuery = Static<typeof DeliveryQuery>;

const deliveryFields = {
  id: Type.String(),
  subscription_id: Type.String(),
  event_id: Type.String({ description: 'The CloudEvent id, also sent in the Taskcenter-Event-Id header' }),
  event_type: Type.String({ description: 'job.failed, job.succeeded or failure.cleared' }),
  job_id: Type.String(),
  state: OneOf(DELIVERY_STATES),
  attempts: Type.Integer({ description: 'Attempts made so far' }),
  last_status: Nullable(Type.Integer({ description: "The receiver's HTTP status at the last attempt; null when none answered" })),
  last_error: Nullable(Type.String({ description: 'Why the last attempt failed; null when it succeeded or none was made' })),
  created_at: Type.String({ description: 'When the change that raised the event was written' }),
  next_attempt_at: Nullable(Type.String({ description: 'When the next attempt is due, while pending' })),
  settled_at: Nullable(Type.String({ description: 'When it was delivered or given up' })),
};

export const Delivery = Type.Object(deliveryFields);
export type Delivery = Static<typeof Delivery>;

export const DeliveryList = Type.Object({
  deliveries: Type.Array(Delivery),
  next_marker: Nullable(Type.String({ description: 'Pass as `marker` for the next page; null on the last page' })),
});

export const DeliveryAttempt = Type.Object({
  attempt: Type.Integer(),
  at: Type.String(),
  status: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
  duration_ms: Type.Integer(),
});

/** One delivery with the log of its attempts. */
export const DeliveryDetail = Type.Object({ ...deliveryFields, attempt_log: Type.Array(DeliveryAttempt) });
export type DeliveryDetail = Static<typeof DeliveryDetail>;
