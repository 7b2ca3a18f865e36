/**
 * Which events a change to a job raises, the CloudEvent each is sent as, and the
 * signature a receiver checks. Pure: no SQL, no HTTP.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { toStoredJob } from '../jobs/job.js';
import type { JobRow } from '../jobs/jobs.table.js';

/** The events a subscription can ask for; `job.*` is every one of them. */
export const EVENT_NAMES = ['job.failed', 'job.succeeded', 'failure.cleared', 'job.*'] as const;
export type EventName = (typeof EVENT_NAMES)[number];
/** The events raised; a subscription's `job.*` matches them all. */
export type EventType = Exclude<EventName, 'job.*'>;

/** The CloudEvents `type` of an event: `com.taskcenter.job.failed`. */
export const cloudEventType = (type: EventType): string => `com.taskcenter.${type}`;

/** The header with the time and the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const SIGNATURE_HEADER = 'taskcenter-signature';
/** The header with the event id, the same on every attempt, for de-duplication. */
export const EVENT_ID_HEADER = 'taskcenter-event-id';

type EventJob = Pick<JobRow, 'service' | 'status' | 'cleared' | 'parent_job_id'>;

/** A failed top-level job not cleared: what both failure lists hold (src/sdrs/sdrs.listing.ts, src/kps/kps.listing.ts). */
const inFailureList = (job: EventJob | undefined): boolean => job !== undefined && job.parent_job_id === null && job.cleared === 0 && job.status === 'FAIL';

/**
 * The events a write of a job raises, from the stored row before it (undefined for a new
 * job) to the row after it:
 * - `job.failed`: the job enters a failure list (SDRS failures, KPS failed tasks), so a
 *   top-level job that failed, once;
 * - `job.succeeded`: a top-level job becomes SUCCESS;
 * - `failure.cleared`: a listed failure is deleted from its list.
 */
export function eventsOf(before: EventJob | undefined, after: EventJob): EventType[] {
  const events: EventType[] = [];
  if (inFailureList(after) && !inFailureList(before)) events.push('job.failed');
  if (after.parent_job_id === null && after.status === 'SUCCESS' && before?.status !== 'SUCCESS') events.push('job.succeeded');
  if (inFailureList(before) && after.cleared !== 0 && before?.cleared === 0) events.push('failure.cleared');
  return events;
}

/** True when a subscription to `subscribed` receives events of `type`. */
export function subscribedTo(subscribed: readonly string[], type: EventType): boolean {
  return subscribed.includes(type) || subscribed.includes('job.*');
}

/** An event ready to store: its id and the exact body every attempt sends. */
export interface RenderedEvent {
  readonly id: string;
  readonly type: EventType;
  readonly jobId: string;
  readonly body: string;
}

/**
 * The event as a CloudEvents 1.0 structured-mode JSON document: `source` is the job's
 * project, `subject` the job id, `time` when the change was written, `data` the job as
 * the producer API shows it after the change.
 */
export function renderEvent(type: EventType, job: JobRow): RenderedEvent {
  const id = randomUUID();
  const body = JSON.stringify({
    specversion: '1.0',
    id,
    source: `/taskcenter/v1/projects/${job.project_id}`,
    type: cloudEventType(type),
    subject: job.job_id,
    time: new Date(job.updated_at).toISOString(),
    datacontenttype: 'application/json',
    data: toStoredJob(job),
  });
  return { id, type, jobId: job.job_id, body };
}

/** The signature header's value for `body` sent at `unixSeconds`, signed with each secret (new first while a rotation overlaps). */
export function signatureHeader(secrets: readonly string[], unixSeconds: number, body: string): string {
  const signed = `${unixSeconds}.${body}`;
  return [`t=${unixSeconds}`, ...secrets.map((secret) => `v1=${createHmac('sha256', secret).update(signed).digest('hex')}`)].join(',');
}
