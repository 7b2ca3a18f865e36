import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ListCache } from './list-cache.js';

/** A page renderer that counts its calls and answers `text`. */
function renderer(text: () => string) {
  const calls = { n: 0 };
  return { calls, render: async () => (calls.n++, text()) };
}

describe('ListCache', () => {
  it('serves a kept page while the version is unchanged, and renders again once it moves', async () => {
    const cache = new ListCache(1024 * 1024);
    let version = 1;
    let text = '{"a":1}';
    const { calls, render } = renderer(() => text);
    const read = () => cache.page('p', async () => version, render);

    assert.equal(String(await read()), '{"a":1}');
    text = '{"a":2}';
    assert.equal(String(await read()), '{"a":1}');
    assert.equal(calls.n, 1);
    version = 2;
    assert.equal(String(await read()), '{"a":2}');
    assert.equal(String(await read()), '{"a":2}');
    assert.equal(calls.n, 2);
  });

  it('keeps pages apart by key', async () => {
    const cache = new ListCache(1024 * 1024);
    assert.equal(String(await cache.page('a', async () => 1, async () => 'A')), 'A');
    assert.equal(String(await cache.page('b', async () => 1, async () => 'B')), 'B');
    assert.equal(String(await cache.page('a', async () => 1, async () => 'not this')), 'A');
  });

  it('stays within its bytes, dropping the least recently used page first', async () => {
    const cache = new ListCache(10_000);
    const body = 'x'.repeat(2000);
    for (const key of ['k1', 'k2', 'k3', 'k4']) await cache.page(key, async () => 1, async () => body);
    assert.ok(cache.bytes <= 10_000, String(cache.bytes));
    // k1 used again, so k2 is now the oldest and goes when k5 needs room.
    const again = renderer(() => 'fresh');
    await cache.page('k1', async () => 1, again.render);
    assert.equal(again.calls.n, 0);
    await cache.page('k5', async () => 1, async () => body);
    assert.ok(cache.bytes <= 10_000, String(cache.bytes));
    const k2 = renderer(() => 'k2 again');
    assert.equal(String(await cache.page('k2', async () => 1, k2.render)), 'k2 again');
    assert.equal(k2.calls.n, 1);
    const k1 = renderer(() => 'k1 again');
    await cache.page('k1', async () => 1, k1.render);
    assert.equal(k1.calls.n, 0);
  });

  it('does not keep a page bigger than a quarter of its bytes, nor anything when its size is 0', async () => {
    const small = new ListCache(4000);
    const big = renderer(() => 'y'.repeat(1500));
    await small.page('big', async () => 1, big.render);
    await small.page('big', async () => 1, big.render);
    assert.equal(big.calls.n, 2);
    assert.equal(small.bytes, 0);

    const none = new ListCache(0);
    const versions = { n: 0 };
    const any = renderer(() => 'z');
    assert.equal(await none.page('k', async () => ++versions.n, any.render), 'z');
    await none.page('k', async () => ++versions.n, any.render);
    assert.equal(any.calls.n, 2);
    assert.equal(versions.n, 0, 'with no cache the version is never read');
  });

  it('forgets the bytes of a page replaced at a newer version', async () => {
    const cache = new ListCache(1024 * 1024);
    await cache.page('k', async () => 1, async () => 'a'.repeat(100));
    const once = cache.bytes;
    await cache.page('k', async () => 2, async () => 'b'.repeat(100));
    assert.equal(cache.bytes, once);
  });
});
