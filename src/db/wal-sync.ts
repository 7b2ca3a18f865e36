/**
 * Group commit for SQLite's write-ahead log (src/db/sqlite.ts): the log is synced in the
 * thread pool, as `synchronous = FULL` would sync it inside COMMIT in the calling thread.
 */
import { open } from 'node:fs/promises';

/**
 * Syncs after commits. A sync covers every commit written before it began: whoever asks
 * while one runs waits for the next, which everyone asking meanwhile shares.
 */
export class WalSync {
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;

  /** `syncOnce` makes everything written so far durable (see {@link syncFile}). */
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
 * A sync of the file at `path` (the log): opened for each sync, so a log SQLite deleted
 * and made again is never missed. No log at all means every commit is in the database
 * file, which the checkpoint that emptied the log synced. A failure is an SQLITE_IOERR:
 * the commit may not be durable, so it is a 503, never an acknowledgement.
 */
export function syncFile(path: string): () => Promise<void> {
  return async () => {
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') return;
      throw ioError(error);
    }
    try {
      await handle.datasync();
    } catch (error) {
      throw ioError(error);
    } finally {
      await handle.close();
    }
  };
}

function ioError(error: unknown): Error {
  return Object.assign(new Error(`syncing the SQLite log failed: ${(error as Error).message}`), { code: 'SQLITE_IOERR' });
}
