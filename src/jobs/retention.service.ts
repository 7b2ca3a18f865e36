/**
 * Retention (`serve --retain-days N`): deletes finished jobs whose end is more than N days
 * old, with their sub-jobs, except the ones the listing rule still puts in a list (an
 * uncleared failure is kept however old), and whatever else is given to it by age (the
 * delivered webhook deliveries). Every job is deleted through the one writer
 * (src/jobs/job-writer.ts), so counters and list versions stay exact.
 *
 * A round works in small batches, each its own transaction, so that requests go on
 * between them. One node deletes at a time: each batch first takes the store-wide lock
 * `retention` without waiting (Database.tryLock: a PostgreSQL advisory lock; SQLite's
 * write transaction), and a node that finds it taken ends its round, leaving the work to
 * the node that holds it. Rounds run shortly after start and then every interval.
 *
 * Retention is maintenance, not a request: its statements select old rows across every
 * project (README, "Beyond one PostgreSQL"), and it runs only in `serve`.
 */
import type { Transaction } from 'kysely';
import type { Logger } from 'pino';
import { inTransaction, type Database } from '../db/database.js';
import type { DB } from '../db/schema.js';
import type { JobWriter } from './job-writer.js';

/** Something else retention deletes by age, in batches: `deleteBatch` deletes up to `limit` rows older than `before` and says how many. */
export interface RetainedRows {
  readonly name: string;
  deleteBatch(tx: Transaction<DB>, before: number, limit: number): Promise<number>;
}

export interface RetentionOptions {
  /** Days a finished job is kept after its end. */
  readonly days: number;
  /** Top-level jobs (their sub-jobs besides) and other rows per batch (500). */
  readonly batchSize?: number;
  /** Milliseconds between rounds (an hour). */
  readonly intervalMs?: number;
  /** Milliseconds from {@link RetentionService.start} to the first round (30 s). */
  readonly firstRunMs?: number;
  /** Other rows deleted by age in each round, after the jobs. */
  readonly more?: readonly RetainedRows[];
  /** Told how many jobs each committed batch deleted (the metric). */
  readonly onDeleted?: (jobs: number) => void;
  /** The clock (tests move it). */
  readonly now?: () => number;
}

/** What one round did; `skipped` when another node held the lock at its first batch. */
export interface RetentionOutcome {
  readonly skipped: boolean;
  /** Jobs deleted, sub-jobs included. */
  readonly jobs: number;
  /** Rows deleted of each of {@link RetentionOptions.more}, by name. */
  readonly more: Readonly<Record<string, number>>;
  readonly batches: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The name of the store-wide lock a batch holds. */
const LOCK = 'retention';

export class RetentionService {
  readonly #batchSize: number;
  readonly #intervalMs: number;
  readonly #firstRunMs: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<unknown> | undefined;
  #started = false;
  /** Set by {@link stop}: a round in progress begins no further batch. */
  #stopping = false;

  constructor(
    private readonly db: Database,
    private readonly writer: JobWriter,
    private readonly logger: Logger,
    private readonly options: RetentionOptions,
  ) {
    this.#batchSize = options.batchSize ?? 500;
    this.#intervalMs = options.intervalMs ?? 60 * 60 * 1000;
    this.#firstRunMs = options.firstRunMs ?? 30 * 1000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Runs one round now: batches until nothing old is left, the lock is found taken, or
   * {@link stop} is called. A batch that fails ends the round and throws; what the
   * batches before it deleted stays deleted.
   */
  async runOnce(): Promise<RetentionOutcome> {
    const before = this.#now() - this.options.days * DAY_MS;
    const more: Record<string, number> = {};
    let jobs = 0;
    let batches = 0;
    const kinds: { name: string; deleteBatch: (tx: Transaction<DB>, limit: number) => Promise<number> }[] = [
      { name: 'jobs', deleteBatch: (tx, limit) => this.writer.delete(tx, { finishedBefore: before, limit }) },
      ...(this.options.more ?? []).map((rows) => ({
        name: rows.name,
        deleteBatch: (tx: Transaction<DB>, limit: number) => rows.deleteBatch(tx, before, limit),
      })),
    ];
    for (const kind of kinds) {
      for (;;) {
        // Between batches rather than inside one: a batch begun is committed.
        if (this.#stopping) return { skipped: false, jobs, more, batches };
        const deleted = await inTransaction(this.db, async (tx) => ((await this.db.tryLock(tx, LOCK)) ? kind.deleteBatch(tx, this.#batchSize) : null));
        if (deleted === null) return { skipped: batches === 0, jobs, more, batches };
        batches++;
        if (kind.name === 'jobs') {
          jobs += deleted;
          if (deleted > 0) this.options.onDeleted?.(deleted);
        } else more[kind.name] = (more[kind.name] ?? 0) + deleted;
        if (deleted === 0) break;
      }
    }
    return { skipped: false, jobs, more, batches };
  }

  /** Runs a round {@link RetentionOptions.firstRunMs} from now, then every interval, until {@link stop}; the timers keep no process alive. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#stopping = false;
    const tick = () => {
      this.#timer = undefined;
      const round = this.#logged();
      this.#round = round;
      void round.finally(() => {
        if (!this.#stopping) this.#timer = setTimeout(tick, this.#intervalMs).unref();
      });
    };
    this.#timer = setTimeout(tick, this.#firstRunMs).unref();
  }

  /** Stops the rounds; resolves once a round in progress has finished its batch. */
  async stop(): Promise<void> {
    this.#started = false;
    this.#stopping = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#round;
  }

  async #logged(): Promise<void> {
    const started = Date.now();
    try {
      const outcome = await this.runOnce();
      if (outcome.skipped) this.logger.debug('retention: another node holds the lock; skipping this round');
      else if (outcome.jobs > 0 || Object.values(outcome.more).some((n) => n > 0)) {
        this.logger.info(
          { retain_days: this.options.days, deleted_jobs: outcome.jobs, deleted: outcome.more, batches: outcome.batches, ms: Date.now() - started },
          'retention round',
        );
      }
    } catch (error) {
      this.logger.error({ err: error }, 'retention round failed; trying again at the next round');
    }
  }
}
