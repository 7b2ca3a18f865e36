/**
 * Jobs that move by themselves: stored INIT, moved to RUNNING once `start_after_ms` has
 * passed and to their outcome `run_ms` later, each step a report through the state
 * machine and the one writer, in the transaction that takes the step from
 * `emulator_steps`. Steps live in the store: a restart resumes them, and any server
 * process may take a due step, never two the same one.
 */
import type { Logger } from 'pino';
import { inTransaction, type Database } from '../db/database.js';
import { ServiceError, quote } from '../errors.js';
import { decideReport, toJobRow, toReportedJob, toStoredJob, type ReportedJob } from '../jobs/job.js';
import type { JobWriter } from '../jobs/job-writer.js';
import type { StoredJob } from '../jobs/jobs.schema.js';
import type { JobRow } from '../jobs/jobs.table.js';
import type { Transaction } from 'kysely';
import type { DB } from '../db/schema.js';
import type { Progress, ProgressingJob } from './emulator.schema.js';
import { deleteStep, insertSteps, lockDueSteps, lockStep, moveStep, type StepRow } from './progress.store.js';

/** How often a server looks for due steps: the lag a step may have after its time. */
export const POLL_MS = 100;
/** Steps taken per transaction. */
const STEPS_PER_RUN = 100;

export class Progression {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = true;
  #taken = 0;

  constructor(
    private readonly db: Database,
    private readonly writer: JobWriter,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Stores a job (and its sub-jobs) as INIT with their steps. Throws `invalid_parameter`
   * naming the field for a document a producer could not report, `conflict` when one of
   * the jobs already exists.
   */
  async create(body: ProgressingJob): Promise<StoredJob> {
    const { project_id: projectId, progress, sub_jobs: subJobs = [], ...doc } = body;
    const jobs: { report: ReportedJob; progress: Progress }[] = [{ report: checked(projectId, { ...doc, status: 'INIT' }, progress, ''), progress }];
    subJobs.forEach(({ progress: own, ...sub }, i) => {
      const prefix = `sub_jobs[${i}].`;
      const subProgress = own ?? progress;
      jobs.push({ report: checked(projectId, { ...sub, status: 'INIT', parent_job_id: doc.job_id }, subProgress, prefix), progress: subProgress });
    });
    const ids = new Set<string>();
    jobs.forEach(({ report }, i) => {
      if (ids.has(report.job_id)) {
        throw new ServiceError(
          'invalid_parameter',
          `sub_jobs[${i - 1}].job_id ${quote(report.job_id)} is used twice in this request`,
          `sub_jobs[${i - 1}].job_id`,
        );
      }
      ids.add(report.job_id);
    });
    const now = this.now();
    const rows = jobs.map(({ report }) => toJobRow(report, 0, now, now));
    const steps: StepRow[] = jobs.map(({ report, progress: p }) => ({
      project_id: projectId,
      job_id: report.job_id,
      next_status: 'RUNNING',
      due_at: now + (p.start_after_ms ?? 0),
      run_ms: p.run_ms ?? 0,
      outcome: p.outcome,
      error_code: p.error_code ?? null,
      fail_reason: p.fail_reason ?? null,
    }));
    await inTransaction(this.db, async (tx) => {
      const existing = await this.writer.lock(tx, rows);
      if (existing.length > 0) {
        throw new ServiceError('conflict', `job ${quote(existing[0]?.job_id)} already exists in project ${quote(projectId)}: a progressing job is a new one`);
      }
      if ((await this.writer.save(tx, rows, [])) !== rows.length) {
        throw new ServiceError('conflict', `a job of this request was created by another writer meanwhile in project ${quote(projectId)}`);
      }
      await insertSteps(tx, steps);
    });
    return toStoredJob(rows[0] as JobRow);
  }

  /** Steps this process has taken (committed) since it started. */
  get taken(): number {
    return this.#taken;
  }

  /** Takes a job's next step now; resolves to the job after it. Throws `not_found` when it has none. */
  async advance(projectId: string, jobId: string): Promise<StoredJob> {
    const row = await inTransaction(this.db, async (tx) => {
      const step = await lockStep(tx, projectId, jobId);
      if (step === undefined) {
        throw new ServiceError('not_found', `job ${quote(jobId)} in project ${quote(projectId)} has no pending step: it is not progressing, or has finished`);
      }
      return this.#take(tx, step, this.now());
    });
    this.#taken += 1;
    if (row === null) throw new ServiceError('not_found', `job ${quote(jobId)} does not exist in project ${quote(projectId)}`);
    return toStoredJob(row);
  }

  /** Takes every step due now (up to a run's worth); resolves to how many it took. */
  async runDue(): Promise<number> {
    const taken = await inTransaction(this.db, async (tx) => {
      const now = this.now();
      const steps = await lockDueSteps(tx, now, STEPS_PER_RUN);
      for (const step of steps) await this.#take(tx, step, now);
      return steps.length;
    });
    this.#taken += taken;
    return taken;
  }

  /** Starts taking due steps every {@link POLL_MS} until {@link stop}. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    const tick = () => {
      this.#running = (async () => {
        try {
          // A full run means more may be due: go on at once.
          while (!this.#stopped && (await this.runDue()) === STEPS_PER_RUN);
        } catch (error) {
          this.logger.error({ err: error }, 'progressing jobs: taking due steps failed; retrying');
        }
        if (!this.#stopped) this.#timer = setTimeout(tick, POLL_MS).unref();
      })();
    };
    this.#timer = setTimeout(tick, POLL_MS).unref();
  }

  /** Stops taking steps; resolves once a run in progress has finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /**
   * Applies one step to its job in `tx`, as a producer's report would be: through the
   * state machine (a job someone else moved on, or finished, drops its step) and the
   * writer. Resolves to the job after it; null when the job is gone (reset).
   */
  async #take(tx: Transaction<DB>, step: StepRow, now: number): Promise<JobRow | null> {
    const [current] = await this.writer.lock(tx, [step]);
    if (current === undefined) {
      await deleteStep(tx, step);
      return null;
    }
    const next: JobRow = { ...current, status: step.next_status, updated_at: now };
    if (step.next_status !== 'RUNNING') {
      next.end_time = Math.max(now, current.begin_time);
      if (step.next_status === 'FAIL') {
        next.error_code = step.error_code;
        next.fail_reason = step.fail_reason;
      }
    }
    const decision = decideReport(current, next);
    if (decision.result === 'rejected') {
      this.logger.info(
        { project_id: step.project_id, job_id: step.job_id, reason: decision.error.message },
        'progressing job moved on by another writer; step dropped',
      );
      await deleteStep(tx, step);
      return current;
    }
    if (decision.result === 'updated') await this.writer.save(tx, [], [{ before: current, after: next }]);
    if (step.next_status === 'RUNNING') await moveStep(tx, step, { next_status: step.outcome, due_at: now + step.run_ms });
    else await deleteStep(tx, step);
    return next;
  }
}

/**
 * The job as it starts, checked as a report is; its outcome is checked the same way now,
 * so a step never fails later on what the request said.
 */
function checked(projectId: string, doc: Parameters<typeof toReportedJob>[1], progress: Progress, prefix: string): ReportedJob {
  const start = toReportedJob(projectId, doc, prefix);
  if (progress.outcome !== 'FAIL') {
    for (const field of ['error_code', 'fail_reason'] as const) {
      if (progress[field] !== undefined) {
        throw new ServiceError('invalid_parameter', `${prefix}progress.${field} is for a FAIL outcome only`, `${prefix}progress.${field}`);
      }
    }
  }
  toReportedJob(
    projectId,
    { ...doc, status: progress.outcome, end_time: doc.begin_time, error_code: progress.error_code ?? null, fail_reason: progress.fail_reason ?? null },
    `${prefix}progress.`,
  );
  return start;
}
