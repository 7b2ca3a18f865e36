/**
 * Group commit for SQLite's write-ahead log (src/db/sqlite.ts): the log is synced in the
 * thread pool, as `synchronous = FULL` would sync it inside COMMIT in the calling thread.
 */
import { fstatSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/**
 * Syncs after commits. A sync covers every commit written before it began: whoever asks
 * while one runs waits for the next, which everyone asking meanwhile shares.
 */
export class WalSync {
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;

  /** `syncOnce` makes everything written so far durable (see {@link LogFile.sync}). */
  constructor(private readonly syncOnce: () => Promise<void>) {}

  /** Resolves once every commit written before the call is durable; rejects when the sync that covers it fails. */
  sync(): Promise<void> {
    if (this.#next !== undefined) return this.#next;
    if (this.#running === undefined) return this.#start();
    const next = this.#running.then(
      () => this.#startNext(),
      () => this.#startNext(),
    );
    this.#next = next;
    return next;
  }

  #startNext(): Promise<void> {
    this.#next = undefined;
    return this.#start();
  }

  #start(): Promise<void> {
    const running = this.syncOnce().finally(() => {
      if (this.#running === running) this.#running = undefined;
    });
    this.#running = running;
    return running;
  }
}

/**
 * The log file at `path`, synced through a descriptor kept open between syncs. Opening
 * and closing it around each sync made three trips to the thread pool where one does:
 * in one process on the 10 k bench database, single reports (`JobService.report`) and
 * 9-job batches in turn, CPU at the median, three runs each way: 556 / 600 / 580 µs a
 * report with them, 506 / 517 / 518 without; a batch 853 / 897 / 875 against 778 /
 * 786 / 816. Before each sync the path is looked up again, in this thread
 * (a stat: microseconds), so a log SQLite deleted and made again is a new file, opened
 * then, and never missed. No log at all means every commit is in the database file,
 * which the checkpoint that emptied the log synced. A failure is an SQLITE_IOERR: the
 * commit may not be durable, so it is a 503, never an acknowledgement.
 */
export class LogFile {
  #kept: { handle: FileHandle; dev: number; ino: number } | undefined;
  #syncing: Promise<void> | undefined;

  constructor(private readonly path: string) {}

  /** Makes everything written to the log so far durable. Not called again before the last call settles ({@link WalSync} never does). */
  sync(): Promise<void> {
    const syncing = this.#sync();
    this.#syncing = syncing;
    return syncing;
  }

  /** Closes the kept descriptor, after the sync in flight, if any. */
  async close(): Promise<void> {
    await this.#syncing?.catch(() => {});
    const kept = this.#kept;
    this.#kept = undefined;
    await kept?.handle.close();
  }

  async #sync(): Promise<void> {
    let now;
    try {
      now = statSync(this.path);
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'ENOENT') throw ioError(error);
      // A deleted log kept open would keep its disk space.
      const gone = this.#kept;
      this.#kept = undefined;
      await gone?.handle.close();
      return;
    }
    try {
      let kept = this.#kept;
      if (kept === undefined || kept.dev !== now.dev || kept.ino !== now.ino) {
        const handle = await open(this.path, 'r');
        // The file as opened: if the path changed hands since the stat, the next sync sees it.
        const opened = fstatSync(handle.fd);
        const replaced = kept;
        // Kept before the old one is closed: a failing close must not leave the new one open and unowned.
        kept = { handle, dev: opened.dev, ino: opened.ino };
        this.#kept = kept;
        await replaced?.handle.close();
      }
      await kept.handle.datasync();
    } catch (error) {
      // Gone between the stat and the open: no log, as above.
      if ((error as { code?: unknown }).code === 'ENOENT') return;
      throw ioError(error);
    }
  }
}

function ioError(error: unknown): Error {
  return Object.assign(new Error(`syncing the SQLite log failed: ${(error as Error).message}`), { code: 'SQLITE_IOERR' });
}
