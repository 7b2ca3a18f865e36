import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderedJson } from '../rendered-json.js';
import { ListCache, ifNoneMatchNames, type ListAnswer, type RenderedPage } from './list-cache.js';

/** A render of `text` read at `version`, as a page read with its version in one statement answers. */
function page(text: string, version = 0): () => Promise<RenderedPage> {
  return async () => ({ body: renderedJson(text), version });
}

/** A page renderer that counts its calls and answers `text`, read at `version()` (0 unless given). */
function renderer(text: () => string, version: () => number = () => 0) {
  const calls = { n: 0 };
  return { calls, render: async (): Promise<RenderedPage> => (calls.n++, { body: renderedJson(text()), version: version() }) };
}

/** The body of an answer, as text. */
async function bodyOf(answer: Promise<ListAnswer>): Promise<string> {
  return String((await answer).body);
}

/** A version store: `versions[project]` (0 when absent), counting reads by project. */
function store(versions: Record<string, number> = {}) {
  const reads: string[] = [];
  const batches: number[] = [];
  const read = async (projectIds: readonly string[]) => {
    reads.push(...projectIds);
    batches.push(projectIds.length);
    return new Map(projectIds.map((p) => [p, versions[p] ?? 0]));
  };
  return { versions, reads, batches, read };
}

describe('ListCache', () => {
  it('serves a kept page while the version is unchanged, and renders again once it moves', async () => {
    const versions = store({ p: 1 });
    const cache = new ListCache(1024 * 1024, versions.read);
    let text = '{"a":1}';
    const { calls, render } = renderer(
      () => text,
      () => versions.versions.p ?? 0,
    );
    const read = () => cache.page('p', 'k', render);

    assert.equal(await bodyOf(read()), '{"a":1}');
    text = '{"a":2}';
    assert.equal(await bodyOf(read()), '{"a":1}');
    assert.equal(calls.n, 1);
    versions.versions.p = 2;
    assert.equal(await bodyOf(read()), '{"a":2}');
    assert.equal(await bodyOf(read()), '{"a":2}');
    assert.equal(calls.n, 2);
  });

  it('keeps pages apart by key', async () => {
    const cache = new ListCache(1024 * 1024, store().read);
    assert.equal(await bodyOf(cache.page('p', 'a', page('A'))), 'A');
    assert.equal(await bodyOf(cache.page('p', 'b', page('B'))), 'B');
    assert.equal(await bodyOf(cache.page('p', 'a', page('not this'))), 'A');
  });

  it('reads each project’s version once for all the requests of a turn, after they have all arrived', async () => {
    const versions = store({ p: 1, q: 1 });
    const cache = new ListCache(1024 * 1024, versions.read);
    await cache.page('p', 'k', page('old', 1));
    versions.reads.length = 0;

    const first = cache.page('p', 'k', page('new', 2));
    const second = cache.page('q', 'k2', page('q page', 1));
    // A change committed after the first request arrived but before the read: it is seen.
    versions.versions.p = 2;
    const third = cache.page('p', 'k', page('new', 2));
    assert.deepEqual(await Promise.all([first, second, third].map(bodyOf)), ['new', 'q page', 'new']);
    assert.deepEqual(versions.reads.sort(), ['p', 'q']);
    assert.deepEqual(versions.batches.slice(-1), [2], 'both projects in one read');

    // The next turn reads again.
    assert.equal(await bodyOf(cache.page('p', 'k', page('newer', 2))), 'new');
    assert.deepEqual(versions.reads.sort(), ['p', 'p', 'q']);
  });

  it('fails the requests waiting for a version read that fails, and reads again next time', async () => {
    let down = true;
    const cache = new ListCache(1024 * 1024, async (projectIds) => {
      if (down) throw new Error('store unavailable');
      return new Map(projectIds.map((p) => [p, 1]));
    });
    await assert.rejects(Promise.all([cache.page('p', 'a', page('A', 1)), cache.page('p', 'b', page('B', 1))]), /store unavailable/);
    down = false;
    assert.equal(await bodyOf(cache.page('p', 'a', page('A', 1))), 'A');
  });

  it('stays within its bytes, dropping the least recently used page first', async () => {
    const cache = new ListCache(10_000, store().read);
    const body = 'x'.repeat(2000);
    for (const key of ['k1', 'k2', 'k3', 'k4']) await cache.page('p', key, page(body));
    assert.ok(cache.bytes <= 10_000, String(cache.bytes));
    // k1 used again, so k2 is now the oldest and goes when k5 needs room.
    const again = renderer(() => 'fresh');
    await cache.page('p', 'k1', again.render);
    assert.equal(again.calls.n, 0);
    await cache.page('p', 'k5', page(body));
    assert.ok(cache.bytes <= 10_000, String(cache.bytes));
    const k2 = renderer(() => 'k2 again');
    assert.equal(await bodyOf(cache.page('p', 'k2', k2.render)), 'k2 again');
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
    assert.equal(await bodyOf(none.page('p', 'k', any.render)), 'z');
    await none.page('p', 'k', any.render);
    assert.equal(any.calls.n, 2);
    assert.equal(none.bytes, 0);
    assert.deepEqual(versions.reads, [], 'with nothing kept, the page read alone gives the version');
  });

  it('counts hits (no render) and misses (a render), and what it keeps, for metrics', async () => {
    const versions = store({ p: 1 });
    const cache = new ListCache(1024 * 1024, versions.read);
    const { etag } = await cache.page('p', 'k', page('a', 1));
    await cache.page('p', 'k', page('unused', 1));
    await cache.page('p', 'k', page('unused', 1), etag);
    versions.versions.p = 2;
    await cache.page('p', 'k', page('b', 2));
    const { hits, misses, pages, bytes } = cache.stats;
    assert.deepEqual({ hits, misses, pages }, { hits: 2, misses: 2, pages: 1 });
    assert.equal(bytes, cache.bytes);
    assert.ok(bytes > 1);
  });

  it('forgets the bytes of a page replaced at a newer version', async () => {
    const versions = store({ p: 1 });
    const cache = new ListCache(1024 * 1024, versions.read);
    await cache.page('p', 'k', page('a'.repeat(100), 1));
    const once = cache.bytes;
    versions.versions.p = 2;
    await cache.page('p', 'k', page('b'.repeat(100), 2));
    assert.equal(cache.bytes, once);
  });

  it('tags a page with the epoch, the version and the page, and a new version with a new tag', async () => {
    const versions = store({ p: 1, q: 1 });
    const cache = new ListCache(1024 * 1024, versions.read, 'epoch1');
    const first = await cache.page('p', 'k', page('a', 1));
    assert.match(first.etag, /^"epoch1\.1\.[A-Za-z0-9_-]{16}"$/);
    assert.equal((await cache.page('p', 'k', page('unused', 1))).etag, first.etag, 'a kept page keeps its tag');
    assert.notEqual((await cache.page('p', 'k2', page('b', 1))).etag, first.etag, 'another page of the same version');
    versions.versions.p = 2;
    const second = await cache.page('p', 'k', page('a', 2));
    assert.match(second.etag, /^"epoch1\.2\./);
    assert.notEqual(second.etag, first.etag);
    const otherProcess = new ListCache(1024 * 1024, versions.read, 'epoch2');
    assert.notEqual((await otherProcess.page('p', 'k', page('a', 2))).etag, second.etag, 'a tag never matches in another process');
  });

  it('gives the requests that read the same version one render of a page', async () => {
    const versions = store({ p: 1 });
    const cache = new ListCache(1024 * 1024, versions.read);
    const { calls, render } = renderer(
      () => 'page',
      () => versions.versions.p ?? 0,
    );
    const answers = await Promise.all(Array.from({ length: 5 }, () => cache.page('p', 'k', render)));
    assert.equal(calls.n, 1);
    assert.deepEqual(new Set(answers.map((a) => String(a.body))), new Set(['page']));
    versions.versions.p = 2;
    await Promise.all([cache.page('p', 'k', render), cache.page('p', 'k', render)]);
    assert.equal(calls.n, 2, 'a new version renders again, once');
    await Promise.all([cache.page('p', 'other', render), cache.page('p', 'k', render)]);
    assert.equal(calls.n, 3, 'another page is not shared');
  });

  it('keeps and tags a page at the version it was read at, when that is newer than the one asked about', async () => {
    for (const maxBytes of [1024 * 1024, 0]) {
      const versions = store({ p: 1 });
      const cache = new ListCache(maxBytes, versions.read, 'e');
      // A write committed between the version read and the page read.
      const answer = await cache.page('p', 'k', page('newer', 2), '"nothing"');
      assert.match(answer.etag, /^"e\.2\./, `maxBytes ${maxBytes}`);
      versions.versions.p = 2;
      const { calls, render } = renderer(
        () => 'again',
        () => 2,
      );
      const kept = await cache.page('p', 'k', render);
      assert.equal(kept.etag, answer.etag);
      assert.equal(calls.n, maxBytes === 0 ? 1 : 0, `maxBytes ${maxBytes}`);
    }
  });

  it('answers no body, without rendering, when If-None-Match names the current tag; kept or not', async () => {
    for (const maxBytes of [1024 * 1024, 0]) {
      const versions = store({ p: 1 });
      const cache = new ListCache(maxBytes, versions.read);
      const { calls, render } = renderer(
        () => 'page',
        () => versions.versions.p ?? 0,
      );
      const { etag } = await cache.page('p', 'k', render);
      const rendered = calls.n;
      const again = await cache.page('p', 'k', render, etag);
      assert.deepEqual(again, { etag, body: null }, `maxBytes ${maxBytes}`);
      assert.equal(calls.n, rendered, 'nothing rendered for a 304');
      assert.equal((await cache.page('p', 'k', render, `W/"x", ${etag}`)).body, null);
      assert.equal((await cache.page('p', 'k', render, '*')).body, null);
      assert.equal(String((await cache.page('p', 'k', render, '"stale"')).body), 'page');
      versions.versions.p = 2;
      const changed = await cache.page('p', 'k', render, etag);
      assert.equal(String(changed.body), 'page', 'a changed list answers its page');
      assert.notEqual(changed.etag, etag);
    }
  });
});

describe('ifNoneMatchNames', () => {
  it('matches the tag itself, one of a list, a weak form of it, or *', () => {
    const tag = '"a.1.xyz"';
    assert.equal(ifNoneMatchNames(tag, tag), true);
    assert.equal(ifNoneMatchNames(`"other", ${tag}`, tag), true);
    assert.equal(ifNoneMatchNames(`W/${tag}`, tag), true);
    assert.equal(ifNoneMatchNames('*', tag), true);
    assert.equal(ifNoneMatchNames('"a.1.xy"', tag), false);
    assert.equal(ifNoneMatchNames('a.1.xyz', tag), false, 'an unquoted tag is another tag');
    assert.equal(ifNoneMatchNames('', tag), false);
  });
});
