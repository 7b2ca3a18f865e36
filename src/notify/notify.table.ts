import type { Generated, Selectable } from 'kysely';

/**
 * `subscriptions`: a project's webhook. `events` is a JSON array of event names;
 * `secret` is the signing secret sealed by src/notify/secrets.ts (never shown after
 * creation); `last_seq` is the number of the subscription's last delivery.
 */
export interface SubscriptionsTable {
  id: string;
  project_id: string;
  url: string;
  events: string;
  description: string | null;
  secret: string;
  /** After a rotation, the secret before it (sealed), still signing beside the new one until `previous_secret_until`. */
  previous_secret: string | null;
  previous_secret_until: number | null;
  last_seq: number;
  created_at: number;
  updated_at: number;
}

export type SubscriptionRow = Selectable<SubscriptionsTable>;

export const DELIVERY_STATES = ['pending', 'delivered', 'dead'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/**
 * `deliveries`, the outbox: one row per event and matching subscription, written by the
 * one writer in the transaction of the change. `body` is the exact CloudEvent sent on
 * every attempt. `queued_at` starts the retry window (creation, or a redelivery);
 * `lease_owner`/`lease_until` mark a delivery a node has claimed.
 */
export interface DeliveriesTable {
  id: Generated<number>;
  subscription_id: string;
  project_id: string;
  seq: number;
  event_id: string;
  event_type: string;
  job_id: string;
  body: string;
  state: DeliveryState;
  attempts: number;
  queued_at: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  settled_at: number | null;
}

export type DeliveryRow = Selectable<DeliveriesTable>;

/** `delivery_attempts`: one row per attempt to send a delivery; `status` null when no HTTP answer came. */
export interface DeliveryAttemptsTable {
  delivery_id: number;
  attempt: number;
  at: number;
  status: number | null;
  error: string | null;
  duration_ms: number;
}

export type DeliveryAttemptRow = Selectable<DeliveryAttemptsTable>;
