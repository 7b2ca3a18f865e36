/**
 * The producer side of jobs: reports go through the state machine inside one
 * transaction per request, so a response means the outcome is durable.
 */
import { allows, type Principal } from '../auth/principal.js';
import { isRetryableConflict, type Database } from '../db/database.js';
import { ServiceError, quote, type ErrorKind } from '../errors.js';
import { checkJson } from '../validation.js';
import { decideReport, toJobRow, toReportedJob, toStoredJob, type Decision, type ReportedJob } from './job.js';
import { BatchItem, type JobDocument, type JobListQuery, type ReportResult, type StoredJob } from './jobs.schema.js';
import type { JobWriter } from './job-writer.js';
import { findJob, listJobs, type JobKey } from './jobs.store.js';
import type { JobRow } from './jobs.table.js';

/** One item's outcome in a batch. */
export interface ItemOutcome {
  readonly project_id: string;
  readonly job_id: string;
  readonly result: ReportResult;
  readonly error?: { readonly kind: ErrorKind; readonly message: string };
}

/** A report's outcome inside the transaction: the decision, and the job as the report left it. */
interface Applied {
  readonly decision: Decision;
  readonly job: JobRow | undefined;
}

/** Attempts for a transaction PostgreSQL aborted as a deadlock or serialization failure. */
const ATTEMPTS = 3;

const keyOf = (k: JobKey) => `${k.project_id}\u0000${k.job_id}`;

/** Thrown inside a transaction when another writer created a job between our read and insert. */
class LostInsertRace extends Error {}

export class JobService {
  constructor(
    private readonly db: Database,
    private readonly writer: JobWriter,
  ) {}

  /**
   * Applies one report. Resolves to `created`, `updated` or `unchanged` with the stored
   * job; throws `conflict` when the state machine refuses it (nothing changes then).
   */
  async report(projectId: string, doc: JobDocument): Promise<{ result: ReportResult; job: StoredJob }> {
    const reported = toReportedJob(projectId, doc);
    const [applied] = await this.#apply([reported]);
    if (applied === undefined) throw new Error('apply returned no decision');
    const { decision, job } = applied;
    if (decision.result === 'rejected') throw decision.error;
    // As this report left it, from the transaction: no second read, and no later report's state.
    return { result: decision.result, job: toStoredJob(job as JobRow) };
  }

  /**
   * Applies a batch in order (a later report of the same job sees the earlier one) in a
   * single transaction. Invalid items, and items for projects the principal may not
   * write, are rejected with their reason; the others are stored.
   */
  async reportBatch(principal: Principal, items: readonly unknown[]): Promise<ItemOutcome[]> {
    const outcomes: (ItemOutcome | ReportedJob)[] = items.map((item, i) => {
      const echo = item as { project_id?: unknown; job_id?: unknown } | null;
      const key = {
        project_id: typeof echo?.project_id === 'string' ? echo.project_id : '',
        job_id: typeof echo?.job_id === 'string' ? echo.job_id : '',
      };
      try {
        // The item is its own document: no copy without `project_id` (a thousand per batch),
        // whose text (a project id's characters) never holds what toReportedJob refuses.
        const doc = checkJson<BatchItem>(BatchItem, item, `jobs[${i}]`);
        if (!allows(principal, 'taskcenter:jobs:write', doc.project_id)) {
          throw new ServiceError('forbidden', `jobs[${i}]: principal ${quote(principal.name)} may not write jobs in project ${quote(doc.project_id)}`);
        }
        return toReportedJob(doc.project_id, doc, `jobs[${i}].`);
      } catch (error) {
        if (!(error instanceof ServiceError)) throw error;
        return { ...key, result: 'rejected', error: { kind: error.kind, message: error.message } };
      }
    });
    const valid = outcomes.filter((o): o is ReportedJob => !('result' in o));
    const applied = valid.length === 0 ? [] : await this.#apply(valid);
    let next = 0;
    return outcomes.map((o) => {
      if ('result' in o) return o;
      const { decision } = applied[next++] as Applied;
      return decision.result === 'rejected'
        ? { project_id: o.project_id, job_id: o.job_id, result: 'rejected', error: { kind: decision.error.kind, message: decision.error.message } }
        : { project_id: o.project_id, job_id: o.job_id, result: decision.result };
    });
  }

  /** The stored job; throws `not_found`. */
  async get(projectId: string, jobId: string): Promise<StoredJob> {
    const row = await findJob(this.db.kysely, projectId, jobId);
    if (row === undefined) throw new ServiceError('not_found', `job ${quote(jobId)} does not exist in project ${quote(projectId)}`);
    return toStoredJob(row);
  }

  /** A page of a project's jobs in job_id order; `next_marker` is null on the last page. */
  async list(projectId: string, query: JobListQuery): Promise<{ jobs: StoredJob[]; next_marker: string | null }> {
    const limit = query.limit ?? 100;
    const rows = await listJobs(this.db.kysely, projectId, { ...query, limit: limit + 1 });
    const page = rows.slice(0, limit);
    return { jobs: page.map(toStoredJob), next_marker: rows.length > limit ? (page.at(-1)?.job_id ?? null) : null };
  }

  /**
   * Stores the jobs that do not exist yet, in one transaction, as the state machine
   * would create them; jobs already stored are left alone. Resolves to how many were
   * added. For bulk loading (`taskcenter seed`): no per-job outcome, no batch limit.
   */
  async importNew(reports: readonly ReportedJob[]): Promise<number> {
    const now = Date.now();
    const rows = new Map(reports.map((r): [string, JobRow] => [keyOf(r), toJobRow(r, 0, now, now)]));
    return this.db.kysely.transaction().execute((tx) => this.writer.save(tx, [...rows.values()], []));
  }

  /** The decision on each report, in order, with the job as that report left it (undefined when a refused report found none). */
  async #apply(reports: readonly ReportedJob[]): Promise<Applied[]> {
    const uniqueKeys = new Map(reports.map((r) => [keyOf(r), { project_id: r.project_id, job_id: r.job_id }]));
    // A lost insert race means another writer created one of these jobs; the next attempt
    // finds it stored. Jobs are deleted only by a reset or retention, so each lost race
    // leaves one job fewer to create, and one attempt per job plus one ends in a commit: a
    // fixed small number does not, when many batches create overlapping jobs at once.
    const insertAttempts = uniqueKeys.size + 1;
    for (let attempt = 1, conflicts = 0; ; attempt++) {
      try {
        // Shared with batches that arrive meanwhile on SQLite: one sync commits them all.
        return await this.db.groupedTransaction(async (tx) => {
          const now = Date.now();
          const stored = new Map((await this.writer.lock(tx, [...uniqueKeys.values()])).map((row) => [keyOf(row), row]));
          const fresh = new Map<string, JobRow>();
          const changed = new Map<string, JobRow>();

          const applied = reports.map((report): Applied => {
            const key = keyOf(report);
            const current = fresh.get(key) ?? changed.get(key) ?? stored.get(key);
            const decision = decideReport(current, report);
            if (decision.result === 'created') {
              const job = toJobRow(report, 0, now, now);
              fresh.set(key, job);
              return { decision, job };
            }
            if (decision.result === 'updated' && current !== undefined) {
              const job = toJobRow(report, current.cleared, current.created_at, now);
              (fresh.has(key) ? fresh : changed).set(key, job);
              return { decision, job };
            }
            return { decision, job: current };
          });

          // From the stored row to the final one: a job reported twice in a batch changes once.
          const updated = [...changed].map(([key, after]) => ({ before: stored.get(key) as JobRow, after }));
          if ((await this.writer.save(tx, [...fresh.values()], updated)) !== fresh.size) throw new LostInsertRace();
          return applied;
        });
      } catch (error) {
        if (error instanceof LostInsertRace && attempt < insertAttempts) continue;
        if (isRetryableConflict(error) && ++conflicts < ATTEMPTS) continue;
        throw error;
      }
    }
  }
}
