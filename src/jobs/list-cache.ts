/**
 * Rendered list pages kept in memory. Consoles and automation poll the same few pages
 * all day, and a page read costs several times the rest of the request; a kept page is
 * served for as long as its project's list version (src/jobs/listing.store.ts) is the
 * one it was rendered at. Every transaction that changes a project's lists raises that
 * version, whichever process runs it, so a kept page is never older than the data: the
 * version is read before the page is rendered, and a page rendered from newer data than
 * its version is only ever served to requests that began before that data committed.
 *
 * A busy server takes in several requests per turn of the event loop; the requests of
 * one turn share one version read per project, made once they have all arrived (a read
 * costs a kept page's request a third of its time on SQLite, a round trip on PostgreSQL).
 *
 * The same version makes each page's entity tag, so a client that polls with
 * `If-None-Match` is told "not modified" without a page being read or sent. A tag names
 * the process's epoch, the version and the page: versions start again in a new database
 * (a demo restarted, a backup restored), and a tag from before must never match there.
 */
import { createHash, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { jsonBytes, type RenderedJson } from '../rendered-json.js';

/** One kept page and what it costs to keep. */
interface Entry {
  readonly version: number;
  readonly etag: string;
  readonly body: RenderedJson;
  readonly bytes: number;
}

/** A page as {@link ListCache.page} answers it. */
export interface ListAnswer {
  /** The page's strong entity tag at the project's current list version, quoted as the header carries it. */
  readonly etag: string;
  /** The page, or null when the caller's `If-None-Match` already names this tag. */
  readonly body: RenderedJson | null;
}

/**
 * True when an `If-None-Match` header value names `etag`: `*`, or a list of tags
 * compared weakly (a `W/` prefix is ignored), as RFC 9110 says for GET.
 */
export function ifNoneMatchNames(header: string, etag: string): boolean {
  if (header === etag) return true;
  for (const part of header.split(',')) {
    const tag = part.trim();
    if (tag === '*' || tag === etag || (tag.startsWith('W/') && tag.slice(2) === etag)) return true;
  }
  return false;
}

/** A version read that requests wait for. */
interface PendingRead {
  readonly promise: Promise<number>;
  resolve(version: number): void;
  reject(error: unknown): void;
}

function pendingRead(): PendingRead {
  let resolve!: PendingRead['resolve'];
  let reject!: PendingRead['reject'];
  const promise = new Promise<number>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** What a kept entry costs beyond its body and key: the cache's slots, the entry, the Buffer. */
const ENTRY_OVERHEAD = 200;

/** How a {@link ListCache} has answered since it was made, for metrics. */
export interface ListCacheStats {
  /** Answers given without rendering: a kept page still current, or "not modified". */
  readonly hits: number;
  /** Pages rendered: none kept, or kept at an older version. */
  readonly misses: number;
  /** Bytes kept now (bodies, keys and tags, with a fixed overhead per page). */
  readonly bytes: number;
  /** Pages kept now. */
  readonly pages: number;
}

/** Bounded by bytes; the least recently used pages go first. */
export class ListCache {
  /** Undefined when nothing is kept (`maxBytes` 0). */
  readonly #entries: LRUCache<string, Entry> | undefined;
  #hits = 0;
  #misses = 0;
  /** The version reads the requests of this turn wait for, by project; undefined when none is waiting. */
  #reads: Map<string, PendingRead> | undefined;

  /**
   * `maxBytes` bounds the bodies and keys kept; 0 keeps nothing. `readVersion` reads a
   * project's list version from the store. `epoch` starts every entity tag; a new
   * random one per process unless given.
   */
  constructor(
    readonly maxBytes: number,
    private readonly readVersion: (projectId: string) => Promise<number>,
    readonly epoch: string = randomBytes(6).toString('base64url'),
  ) {
    this.#entries =
      maxBytes > 0
        ? new LRUCache<string, Entry>({
            maxSize: maxBytes,
            sizeCalculation: (entry) => entry.bytes,
            // A page too big to share the cache with a few others would only push them out.
            maxEntrySize: Math.max(1, Math.floor(maxBytes / 4)),
          })
        : undefined;
  }

  /** Bytes kept now. */
  get bytes(): number {
    return this.#entries?.calculatedSize ?? 0;
  }

  /** Hits, misses and what is kept now. */
  get stats(): ListCacheStats {
    return { hits: this.#hits, misses: this.#misses, bytes: this.bytes, pages: this.#entries?.size ?? 0 };
  }

  /**
   * The page of `projectId` that `key` names (with every parameter of the page) and its
   * entity tag: no body when `ifNoneMatch` names the tag, else the kept page when the
   * project's list version is still the one it was rendered at, else `render()`'s, kept
   * for next time.
   */
  async page(projectId: string, key: string, render: () => Promise<RenderedJson>, ifNoneMatch?: string): Promise<ListAnswer> {
    const current = await this.#version(projectId);
    const kept = this.#entries?.get(key);
    if (kept !== undefined && kept.version === current) {
      this.#hits += 1;
      return { etag: kept.etag, body: ifNoneMatch !== undefined && ifNoneMatchNames(ifNoneMatch, kept.etag) ? null : kept.body };
    }
    const etag = this.#tag(current, key);
    if (ifNoneMatch !== undefined && ifNoneMatchNames(ifNoneMatch, etag)) {
      this.#hits += 1;
      return { etag, body: null };
    }
    this.#misses += 1;
    if (this.#entries === undefined) return { etag, body: await render() };
    const body = jsonBytes(await render());
    // Replaces a page kept at an older version; one over the entry bound is not kept, and drops that page.
    this.#entries.set(key, { version: current, etag, body, bytes: body.length + etag.length + key.length * 2 + ENTRY_OVERHEAD });
    return { etag, body };
  }

  /** The entity tag of a page at a version: the epoch, the version and a digest of the page's key. */
  #tag(version: number, key: string): string {
    return `"${this.epoch}.${version.toString(36)}.${createHash('sha256').update(key).digest('base64url').slice(0, 16)}"`;
  }

  /** The project's list version, read after every request of this turn that asks for it has arrived. */
  #version(projectId: string): Promise<number> {
    if (this.#reads === undefined) {
      this.#reads = new Map();
      setImmediate(() => this.#readVersions());
    }
    let read = this.#reads.get(projectId);
    if (read === undefined) {
      read = pendingRead();
      this.#reads.set(projectId, read);
    }
    return read.promise;
  }

  #readVersions(): void {
    const reads = this.#reads ?? new Map<string, PendingRead>();
    this.#reads = undefined;
    for (const [projectId, { resolve, reject }] of reads) this.readVersion(projectId).then(resolve, reject);
  }
}
