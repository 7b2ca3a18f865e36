import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ListCache } from './list-cache.js';

/** A page renderer that counts its calls and answers `text`. */
function renderer(text: () => string) {
  const calls = { n: 0 };
  return { calls, render: async () => (calls.n++, text()) };
}

/** A version store: `versions[project]` (0 when absent), counting reads by project. */
function store(versions: Record<string, number> = {}) {
  const reads: string[] = [];
  return { versions, reads, read: async (projectId: string) => (reads.push(projectId), versions[projectId] ?? 0) };
}

describe('ListCache', () => {
  it('serves a kept page while the version is unchanged, and renders again once it moves', async () => {
    const versions = store({ p: 1 });
    const cache = new ListCache(1024 * 1024, versions.read);
    let text = '{"a":1}';
    const { calls, render } = renderer(() => text);
    const read = () => cache.page('p', 'k', render);

    assert.equal(String(await read()), '{"a":1}');
    text = '{"a":2}';
    assert.equal(String(await read()), '{"a":1}');
    assert.equal(calls.n, 1);
    versions.versions.p = 2;
    assert.equal(String(await read()), '{"a":2}');
    assert.equal(String(await read()), '{"a":2}');
    assert.equal(calls.n, 2);
  });

  it('keeps pages apart by key', async () => {
    const cache = new ListCache(1024 * 1024, store().read);
    assert.equal(String(await cache.page('p', 'a', async () => 'A')), 'A');
    assert.equal(String(await cache.page('p', 'b', async () => 'B')), 'B');
    assert.equal(String(await cache.page('p', 'a', async () => 'not this')), 'A');
  });

  it('reads each project’s version once for all the requests of a turn, after they have all arrived', async () => {
    const versions = store({ p: 1, q: 1 });
    const cache = new ListCache(1024 * 1024, versions.read);
    await cache.page('p', 'k', async () => 'old');
    versions.reads.length = 0;

    const first = cache.page('p', 'k', async () => 'new');
    const second = cache.page('q', 'k2', async () => 'q page');
    // A change committed after the first request arrived but before the read: it is seen.
    versions.versions.p = 2;
    const third = cache.page('p', 'k', async () => 'new');
    assert.deepEqual(await Promise.all([first, second, third]).then((pages) => pages.map(String)), ['new', 'q page', 'new']);
    assert.deepEqual(versions.reads.sort(), ['p', 'q']);

    // The next turn reads again.
    assert.equal(String(await cache.page('p', 'k', async () => 'newer')), 'new');
    assert.deepEqual(versions.reads.sort(), ['p', 'p', 'q']);
  });

  it('fails the requests waiting for a version read that fails, and reads again next time', async () => {
    let down = true;
    const cache = new ListCache(1024 * 1024, async () => {
      if (down) throw new Error('store unavailable');
      return 1;
    });
    await assert.rejects(Promise.all([cache.page('p', 'a', async () => 'A'), cache.page('p', 'b', async () => 'B')]), /store unavailable/);
    down = false;
    assert.equal(String(await cache.page('p', 'a', async () => 'A')), 'A');
  });

  it('stays within its bytes, dropping the least recently used page first', async () => {
    const cache = new ListCache(10_000, store().read);
    const body = 'x'.repeat(2000);
    for (const key of ['k1', 'k2', 'k3', 'k4']) await cache.page('p', key, async () => body);
    assert.ok(cache.bytes <= 10_000, String(cache.bytes));
    // k1 used again, so k2 is now the oldest and goes when k5 needs room.
    const again = renderer(() => 'fresh');
    await cache.page('p', 'k1', again.render);
    assert.equal(again.calls.n, 0);
    await cache.page('p', 'k5', async () => body);
    assert.ok(cache.bytes <= 10_000, String(cache.bytes));
    const k2 = renderer(() => 'k2 again');
    assert.equal(String(await cache.page('p', 'k2', k2.render)), 'k2 again');
    assert.equal(k2.calls.n, 1);
    const k1 = renderer(() => 'k1 again');
    await cache.page('p', 'k1', k1.render);
    assert.equal(k1.calls.n, 0);
  });

  it('does not keep a page bigger than a quarter of its bytes, nor anything when its size is 0', async () => {
    const small = new ListCache(4000, store().read);
    const big = renderer(() => 'y'.repeat(1500));
    await small.page('p', 'big', big.render);
    await small.page('p', 'big', big.render);
    assert.equal(big.calls.n, 2);
    assert.equal(small.bytes, 0);

    const versions = store();
    const none = new ListCache(0, versions.read);
    const any = renderer(() => 'z');
    assert.equal(await none.page('p', 'k', any.render), 'z');
    await none.page('p', 'k', any.render);
    assert.equal(any.calls.n, 2);
    assert.deepEqual(versions.reads, [], 'with no cache the version is never read');
  });

  it('forgets the bytes of a page replaced at a newer version', async () => {
    const versions = store({ p: 1 });
    const cache = new ListCache(1024 * 1024, versions.read);
    await cache.page('p', 'k', async () => 'a'.repeat(100));
    const once = cache.bytes;
    versions.versions.p = 2;
    await cache.page('p', 'k', async () => 'b'.repeat(100));
    assert.equal(cache.bytes, once);
  });
});
