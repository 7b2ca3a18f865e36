/**
 * The job model: turning a reported document into a row (with the rules a schema cannot
 * say), the state machine that decides what a report does to a stored job, and the
 * producer API's view of a row.
 */
import { ServiceError, quote } from '../errors.js';
import { unstorableText } from '../validation.js';
import type { JobRow } from './jobs.table.js';
import { Entities, OPERATIONS, SERVER_GROUP_ID_PATTERN, type JobDocument, type JobStatus, type ReportResult, type StoredJob } from './jobs.schema.js';

export const TERMINAL: ReadonlySet<JobStatus> = new Set(['SUCCESS', 'FAIL']);
const GROUP_ID = new RegExp(SERVER_GROUP_ID_PATTERN);
const RANK: Readonly<Record<JobStatus, number>> = { INIT: 0, RUNNING: 1, SUCCESS: 2, FAIL: 2 };

/** A report turned into the row it would store; `cleared`, `created_at` are the store's to keep. */
export type ReportedJob = Omit<JobRow, 'cleared' | 'created_at' | 'updated_at'>;

/**
 * Checks the rules that span fields and turns a schema-valid document into a row.
 * Throws `invalid_parameter` naming the field (under `prefix`, e.g. `jobs[3].`).
 */
export function toReportedJob(projectId: string, doc: JobDocument, prefix = ''): ReportedJob {
  const invalid = (field: string, message: string) => new ServiceError('invalid_parameter', `${prefix}${field} ${message}`, `${prefix}${field}`);
  const unstorable = firstUnstorableText(doc);
  if (unstorable !== null) throw invalid(unstorable.path, unstorable.problem);
  const operations = OPERATIONS[doc.service];
  if (!operations.includes(doc.operation)) {
    throw invalid('operation', `must be one of ${operations.join(', ')} for service ${doc.service}, got ${quote(doc.operation)}`);
  }
  const beginTime = parseTime(doc.begin_time);
  if (Number.isNaN(beginTime)) throw invalid('begin_time', `is not a real date, got ${quote(doc.begin_time)}`);
  let endTime: number | null = null;
  if (doc.end_time == null && TERMINAL.has(doc.status)) {
    throw invalid('end_time', `is required when status is ${doc.status}: when the job finished (ISO 8601 with a zone)`);
  }
  if (doc.end_time != null) {
    if (!TERMINAL.has(doc.status)) throw invalid('end_time', `must be null until the job is SUCCESS or FAIL (status is ${doc.status})`);
    endTime = parseTime(doc.end_time);
    if (Number.isNaN(endTime)) throw invalid('end_time', `is not a real date, got ${quote(doc.end_time)}`);
    if (endTime < beginTime) throw invalid('end_time', `must not be before begin_time (${doc.begin_time}), got ${quote(doc.end_time)}`);
  }
  if (doc.status !== 'FAIL') {
    for (const field of ['error_code', 'fail_reason'] as const) {
      if (doc[field] != null) throw invalid(field, `must be null unless status is FAIL (status is ${doc.status})`);
    }
  }
  if (doc.parent_job_id === doc.job_id) throw invalid('parent_job_id', 'must not be the job itself');
  const topLevel = doc.parent_job_id == null;

  let serverGroupId = doc.server_group_id ?? null;
  if (doc.service === 'sdrs') {
    for (const field of ['server', 'keypair_name'] as const) {
      if (doc[field] != null) throw invalid(field, 'is for kps jobs only');
    }
    if (topLevel && doc.resource == null) throw invalid('resource', 'is required for a top-level sdrs job ({"id", "name", "type"})');
    if (doc.resource?.type === 'server_groups') {
      if (!GROUP_ID.test(doc.resource.id)) {
        throw invalid(
          'resource.id',
          `of a server_groups job is its protection group id, which must match ${SERVER_GROUP_ID_PATTERN}, got ${quote(doc.resource.id)}`,
        );
      }
      if (serverGroupId !== null && serverGroupId !== doc.resource.id) {
        throw invalid(
          'server_group_id',
          `must be the group itself (resource.id ${quote(doc.resource.id)}) for a server_groups job, got ${quote(serverGroupId)}`,
        );
      }
      serverGroupId = doc.resource.id;
    } else if (topLevel && serverGroupId === null) {
      throw invalid('server_group_id', `is required for a ${doc.resource?.type} job: the protection group it belongs to`);
    }
  } else {
    for (const field of ['resource', 'server_group_id'] as const) {
      if (doc[field] != null) throw invalid(field, 'is for sdrs jobs only');
    }
    if (doc.entities !== undefined && Object.keys(doc.entities).length > 0) throw invalid('entities', 'is for sdrs jobs only');
    if (topLevel && doc.server == null) throw invalid('server', 'is required for a top-level kps job ({"id", "name"})');
    if (topLevel && doc.keypair_name == null) throw invalid('keypair_name', 'is required for a top-level kps job');
  }

  return {
    project_id: projectId,
    job_id: doc.job_id,
    service: doc.service,
    job_type: doc.job_type,
    operation: doc.operation,
    status: doc.status,
    begin_time: beginTime,
    end_time: endTime,
    error_code: doc.error_code ?? null,
    fail_reason: doc.fail_reason ?? null,
    resource_id: doc.resource?.id ?? null,
    resource_name: doc.resource?.name ?? null,
    resource_type: doc.resource?.type ?? null,
    server_group_id: serverGroupId,
    entities: entitiesJson(doc.entities ?? {}),
    parent_job_id: doc.parent_job_id ?? null,
    server_id: doc.server?.id ?? null,
    server_name: doc.server?.name ?? null,
    keypair_name: doc.keypair_name ?? null,
  };
}

/**
 * The row a report is stored as, with the fields only the store keeps. Written field by
 * field: a spread followed by more fields (`{ ...report, cleared }`) makes V8 build a
 * dictionary object, about ten times the size, and a batch builds a thousand rows.
 */
export function toJobRow(report: ReportedJob, cleared: number, createdAt: number, updatedAt: number): JobRow {
  return {
    project_id: report.project_id,
    job_id: report.job_id,
    service: report.service,
    job_type: report.job_type,
    operation: report.operation,
    status: report.status,
    begin_time: report.begin_time,
    end_time: report.end_time,
    error_code: report.error_code,
    fail_reason: report.fail_reason,
    resource_id: report.resource_id,
    resource_name: report.resource_name,
    resource_type: report.resource_type,
    server_group_id: report.server_group_id,
    entities: report.entities,
    parent_job_id: report.parent_job_id,
    server_id: report.server_id,
    server_name: report.server_name,
    keypair_name: report.keypair_name,
    cleared,
    created_at: createdAt,
    updated_at: updatedAt,
  };
}

/**
 * The first string in a document, in field order, that cannot be stored, with its field
 * path (`resource.name`); null when every string can. The path is built only for the
 * string it names: a batch checks every string of a thousand documents, and building a
 * path and an entry for each was over a third of everything a batch allocated.
 */
function firstUnstorableText(value: unknown): { path: string; problem: string } | null {
  if (typeof value === 'string') {
    const problem = unstorableText(value);
    return problem === null ? null : { path: '', problem };
  }
  if (typeof value !== 'object' || value === null) return null;
  // A document is plain JSON: it has no inherited enumerable fields for `in` to reach.
  for (const key in value) {
    const found = firstUnstorableText((value as Record<string, unknown>)[key]);
    if (found !== null) return { path: found.path === '' ? key : `${key}.${found.path}`, problem: found.problem };
  }
  return null;
}

/** Days in each month of a common year. */
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Epoch milliseconds of a schema-valid timestamp, NaN when it names no real day. Reads
 * the date's digits where the schema's pattern puts them (`yyyy-MM-dd...`) rather than
 * splitting the text, and checks the day against its month's length rather than building
 * a Date to see whether it rolls over: two timestamps per job, a thousand jobs per batch.
 */
function parseTime(text: string): number {
  // Date.parse rolls 2019-02-30 over into March: only a real calendar day is taken.
  const ms = Date.parse(text);
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 7);
  const day = digits(text, 8, 10);
  return day >= 1 && day <= monthDays(year, month) ? ms : NaN;
}

/**
 * The days of a month (1 to 12; NaN for any other). Years 0 to 99 count as 1900 to 1999,
 * as `Date.UTC` (which this replaced) takes them: 0000-02-29 stays refused.
 */
function monthDays(year: number, month: number): number {
  if (!(month >= 1 && month <= 12)) return NaN;
  if (month !== 2) return MONTH_DAYS[month - 1] as number;
  const y = year < 100 ? year + 1900 : year;
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28;
}

/** The decimal number written in `text` from `start` to `end`; NaN if a character there is not a digit. */
function digits(text: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (!(digit >= 0 && digit <= 9)) return NaN;
    n = n * 10 + digit;
  }
  return n;
}

/** The keys entities may have, in the order they are stored. */
const ENTITY_KEYS = (Object.keys(Entities.properties) as (keyof Entities)[]).sort();

/**
 * The entities as stored: JSON with its keys in order, so that the same entities always
 * store the same text. Producers rarely send them sorted: the values are copied into an
 * object in key order and that is written, one flat string from JSON.stringify (each
 * key's text appended in turn left a chain of pieces per job for the rows' JSON to
 * flatten, and a sorted copy by entries cost 4% of a fleet batch).
 */
function entitiesJson(entities: Entities): string {
  const ordered: Record<string, string> = {};
  let written = 0;
  for (const key of ENTITY_KEYS) {
    const value = entities[key];
    if (value === undefined) continue;
    ordered[key] = value;
    written++;
  }
  let keys = 0;
  for (const key in entities) if (Object.hasOwn(entities, key)) keys++;
  // Keys the schema does not know cannot pass it; should any reach here, keep them.
  if (keys !== written) return JSON.stringify(Object.fromEntries(Object.entries(entities).sort(([a], [b]) => (a < b ? -1 : 1))));
  return JSON.stringify(ordered);
}

/** Fields that identify what a job is; a report may never change them. */
const IDENTITY = ['service', 'operation', 'job_type', 'parent_job_id', 'begin_time', 'resource_type', 'resource_id', 'server_id', 'server_group_id'] as const;
const CONTENT = [...IDENTITY, 'status', 'end_time', 'error_code', 'fail_reason', 'resource_name', 'entities', 'server_name', 'keypair_name'] as const;

/** What a report does to the stored job: its result, or the conflict that refuses it. */
export type Decision = { result: Exclude<ReportResult, 'rejected'> } | { result: 'rejected'; error: ServiceError };

/**
 * The state machine: INIT → RUNNING → SUCCESS | FAIL. A terminal job never changes; a
 * report that moves a job backwards is refused; repeating the stored state is
 * `unchanged`. So reports delivered twice or out of order cannot corrupt a job.
 */
export function decideReport(current: ReportedJob | undefined, next: ReportedJob): Decision {
  if (current === undefined) return { result: 'created' };
  const conflict = (message: string): Decision => ({
    result: 'rejected',
    error: new ServiceError('conflict', `job ${quote(next.job_id)}: ${message}`),
  });
  const changed = CONTENT.filter((field) => current[field] !== next[field]);
  if (changed.length === 0) return { result: 'unchanged' };
  const identity = IDENTITY.find((field) => current[field] !== next[field]);
  if (identity !== undefined) {
    return conflict(`${identity} cannot change once reported (stored ${quote(current[identity])}, reported ${quote(next[identity])})`);
  }
  if (TERMINAL.has(current.status)) {
    return conflict(`the job is already ${current.status} and a finished job never changes (reported ${changed.join(', ')} differ)`);
  }
  if (RANK[next.status] < RANK[current.status]) {
    return conflict(`status cannot move back from ${current.status} to ${next.status}`);
  }
  return { result: 'updated' };
}

/** The producer API's view of a stored row. */
export function toStoredJob(row: JobRow): StoredJob {
  return {
    project_id: row.project_id,
    job_id: row.job_id,
    service: row.service,
    job_type: row.job_type,
    operation: row.operation,
    status: row.status,
    begin_time: isoTime(row.begin_time),
    end_time: row.end_time === null ? null : isoTime(row.end_time),
    error_code: row.error_code,
    fail_reason: row.fail_reason,
    resource: row.resource_id === null ? null : { id: row.resource_id, name: row.resource_name ?? '', type: row.resource_type ?? '' },
    server_group_id: row.server_group_id,
    entities: JSON.parse(row.entities) as Entities,
    parent_job_id: row.parent_job_id,
    server: row.server_id === null ? null : { id: row.server_id, name: row.server_name ?? '' },
    keypair_name: row.keypair_name,
    failure_cleared: row.cleared === 1,
    created_at: isoTime(row.created_at),
    updated_at: isoTime(row.updated_at),
  };
}

const DAY_MS = 86_400_000;
/** 9999-12-31T23:59:59.999Z: past it (and before 1970) the date part is not four digits of year after the epoch. */
const LAST_FOUR_DIGIT_MS = 253_402_300_799_999;
/** The first millisecond of the day {@link isoTime} last formatted, and that day's `yyyy-MM-ddT`. */
let dayStart = Number.NaN;
let dayPrefix = '';

/** Epoch milliseconds as `yyyy-MM-ddTHH:mm:ss.SSSZ` in UTC, as `Date.prototype.toISOString` writes them. */
export function isoTime(ms: number): string {
  // The times of a response or a batch fall on few days, so the date part is kept from the
  // last call: 0.14 µs a call against toISOString's 0.6, and a ShowJobStatus with sub-jobs
  // formats two per job (5% of its request on SQLite).
  const sinceDayStart = ms - dayStart;
  if (!(Number.isInteger(ms) && sinceDayStart >= 0 && sinceDayStart < DAY_MS)) {
    if (!Number.isInteger(ms) || ms < 0 || ms > LAST_FOUR_DIGIT_MS) return new Date(ms).toISOString();
    dayStart = ms - (ms % DAY_MS);
    dayPrefix = new Date(dayStart).toISOString().slice(0, 11);
  }
  const inDay = ms - dayStart;
  const hours = Math.floor(inDay / 3_600_000);
  const minutes = Math.floor(inDay / 60_000) % 60;
  const seconds = Math.floor(inDay / 1000) % 60;
  const millis = inDay % 1000;
  return `${dayPrefix}${twoDigits(hours)}:${twoDigits(minutes)}:${twoDigits(seconds)}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
}

function twoDigits(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}
