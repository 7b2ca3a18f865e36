import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LogFile, WalSync } from './wal-sync.js';

/** A sync that finishes when told, counting how many were started. */
function manualSync() {
  const started: { finish: (error?: Error) => void }[] = [];
  const syncOnce = () =>
    new Promise<void>((resolve, reject) => {
      started.push({ finish: (error) => (error === undefined ? resolve() : reject(error)) });
    });
  return { started, syncOnce };
}

describe('WalSync', () => {
  it('starts a sync at once when none runs', async () => {
    const { started, syncOnce } = manualSync();
    const wal = new WalSync(syncOnce);
    const done = wal.sync();
    assert.equal(started.length, 1);
    started[0]?.finish();
    await done;
  });

  it('makes a commit asked about while a sync runs wait for the next one, which all such commits share', async () => {
    const { started, syncOnce } = manualSync();
    const wal = new WalSync(syncOnce);
    const order: string[] = [];
    const first = wal.sync().then(() => order.push('first'));
    const second = wal.sync().then(() => order.push('second'));
    const third = wal.sync().then(() => order.push('third'));
    assert.equal(started.length, 1, 'the later ones wait: the running sync may have begun before they wrote');
    started[0]?.finish();
    await first;
    await new Promise((r) => setImmediate(r));
    assert.equal(started.length, 2, 'one more sync for both');
    assert.deepEqual(order, ['first']);
    started[1]?.finish();
    await Promise.all([second, third]);
    assert.deepEqual(order, ['first', 'second', 'third']);
    const later = wal.sync();
    assert.equal(started.length, 3, 'idle again: the next starts at once');
    started[2]?.finish();
    await later;
  });

  it('fails the commits a failed sync covered, and syncs again for the next', async () => {
    const { started, syncOnce } = manualSync();
    const wal = new WalSync(syncOnce);
    const failed = wal.sync();
    const waiting = wal.sync();
    started[0]?.finish(new Error('EIO'));
    await assert.rejects(failed, /EIO/);
    await new Promise((r) => setImmediate(r));
    assert.equal(started.length, 2, 'the waiting commit gets a sync of its own');
    started[1]?.finish();
    await waiting;
  });
});

describe('LogFile', () => {
  /** What this process's open descriptors point at, among the files in `dir`. */
  function openIn(dir: string): string[] {
    return readdirSync('/proc/self/fd').flatMap((fd) => {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`);
        return target.startsWith(dir) ? [target] : [];
      } catch {
        return [];
      }
    });
  }

  it('syncs an existing file, treats a missing one as nothing to sync, and fails as an SQLITE_IOERR otherwise', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wal-sync-'));
    const files = [new LogFile(join(dir, 'db-wal')), new LogFile(join(dir, 'missing-wal')), new LogFile(dir + '/db-wal/not-a-dir')];
    try {
      writeFileSync(join(dir, 'db-wal'), 'frames');
      await (files[0] as LogFile).sync();
      await (files[1] as LogFile).sync();
      await assert.rejects((files[2] as LogFile).sync(), (error: { code?: string }) => error.code === 'SQLITE_IOERR');
    } finally {
      for (const file of files) await file.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps one descriptor between syncs, opens the file made again at its path, and closes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wal-sync-'));
    const path = join(dir, 'db-wal');
    const log = new LogFile(path);
    try {
      writeFileSync(path, 'frames');
      await log.sync();
      await log.sync();
      assert.deepEqual(openIn(dir), [path]);
      // SQLite deletes the log when the last connection closes and makes it again at the next open.
      rmSync(path);
      await log.sync();
      assert.deepEqual(openIn(dir), [], 'a missing log is nothing to sync, and the deleted one is closed');
      writeFileSync(path, 'new frames');
      await log.sync();
      assert.deepEqual(openIn(dir), [path], 'the new log is opened');
      await log.close();
      assert.deepEqual(openIn(dir), []);
    } finally {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
