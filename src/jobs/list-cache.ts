/**
 * Rendered list pages kept in memory. Consoles and automation poll the same few pages
 * all day, and a page read costs several times the rest of the request; a kept page is
 * served for as long as its project's list version (src/jobs/listing.store.ts) is the
 * one it was rendered at. Every transaction that changes a project's lists raises that
 * version, whichever process runs it, so a kept page is never older than the data. A
 * page is read together with the version, in one statement (src/db/list-page.ts), so it
 * is kept and tagged at exactly the version of the data it shows.
 *
 * A busy server takes in several requests per turn of the event loop; the requests of
 * one turn share one read of their projects' versions, made once they have all arrived
 * (src/db/turn-reads.ts; a read costs a kept page's request a third of its time on
 * SQLite, a round trip on PostgreSQL, whatever the number of projects).
 * After a write, every poller of a page finds it out of date at once: the requests that
 * read the same new version share one render of the page instead of each reading it.
 * Sharing is safe because a version read made after a request arrived equal to the one
 * a render started from means nothing changed the project's lists in between.
 *
 * With no pages kept (`maxBytes` 0), a request that names no entity tag reads its page
 * and the version in that one statement and nothing else: no version read before it.
 *
 * The same version makes each page's entity tag, so a client that polls with
 * `If-None-Match` is told "not modified" without a page being read or sent. A tag names
 * the process's epoch, the version and the page: versions start again in a new database
 * (a demo restarted, a backup restored), and a tag from before must never match there.
 */
import { hash, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { TurnReads } from '../db/turn-reads.js';
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

/** What a kept entry costs beyond its body and key: the cache's slots, the entry, the Buffer. */
const ENTRY_OVERHEAD = 200;

/** A page as a render reads it: the body, and the project's list version it was read at. */
export interface RenderedPage {
  readonly body: RenderedJson;
  readonly version: number;
}

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
  /** The projects' list versions, read once per turn for every request of the turn that asks. */
  readonly #versions: TurnReads<number>;
  /** Renders under way, by the version read they started from and the page's key: later requests that read the same version share them. */
  readonly #rendering = new Map<string, Promise<RenderedPage>>();

  /**
   * `maxBytes` bounds the bodies and keys kept; 0 keeps nothing. `readVersions` reads
   * the list versions of several projects from the store at once (a project missing from
   * its answer is at version 0). `epoch` starts every entity tag; a new random one per
   * process unless given.
   */
  constructor(
    readonly maxBytes: number,
    readVersions: (projectIds: readonly string[]) => Promise<ReadonlyMap<string, number>>,
    readonly epoch: string = randomBytes(6).toString('base64url'),
  ) {
    this.#versions = new TurnReads(readVersions, 0);
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
   * project's list version is still the one it was rendered at, else `render()`'s (the
   * page and the version it was read at), kept for next time.
   */
  async page(projectId: string, key: string, render: () => Promise<RenderedPage>, ifNoneMatch?: string): Promise<ListAnswer> {
    if (this.#entries === undefined && ifNoneMatch === undefined) {
      // Nothing kept and no tag to compare: the page's own read gives its version.
      this.#misses += 1;
      const { body, version } = await render();
      return { etag: this.#tag(version, key), body };
    }
    const current = await this.#versions.read(projectId);
    const kept = this.#entries?.get(key);
    if (kept !== undefined && kept.version === current) {
      this.#hits += 1;
      return { etag: kept.etag, body: ifNoneMatch !== undefined && ifNoneMatchNames(ifNoneMatch, kept.etag) ? null : kept.body };
    }
    const currentTag = this.#tag(current, key);
    if (ifNoneMatch !== undefined && ifNoneMatchNames(ifNoneMatch, currentTag)) {
      this.#hits += 1;
      return { etag: currentTag, body: null };
    }
    this.#misses += 1;
    const { body, version } = await this.#render(current, key, render);
    const etag = version === current ? currentTag : this.#tag(version, key);
    // A page read at a newer version than the one asked about: its tag may be the caller's.
    if (version !== current && ifNoneMatch !== undefined && ifNoneMatchNames(ifNoneMatch, etag)) return { etag, body: null };
    return { etag, body };
  }

  /**
   * The page rendered once for every request that read `current`, kept (when pages are
   * kept) at the version it was read at. The render is the first request's store work,
   * under its deadline: the others arrived in the same turn or later, so theirs are no earlier.
   */
  #render(current: number, key: string, render: () => Promise<RenderedPage>): Promise<RenderedPage> {
    const sharedKey = `${current} ${key}`;
    let rendering = this.#rendering.get(sharedKey);
    if (rendering === undefined) {
      rendering = render().then(({ body, version }) => this.#keep(key, version, body));
      this.#rendering.set(sharedKey, rendering);
      const done = () => this.#rendering.delete(sharedKey);
      rendering.then(done, done);
    }
    return rendering;
  }

  /** Keeps a page at `version` unless a page kept at a newer one is there; returns it (as bytes when kept, which sending needs no encoding of). */
  #keep(key: string, version: number, rendered: RenderedJson): RenderedPage {
    const entries = this.#entries;
    if (entries === undefined) return { body: rendered, version };
    const body = jsonBytes(rendered);
    const kept = entries.get(key);
    if (kept === undefined || kept.version < version) {
      const etag = this.#tag(version, key);
      // Replaces a page kept at an older version; one over the entry bound is not kept, and drops that page.
      entries.set(key, { version, etag, body, bytes: body.length + etag.length + key.length * 2 + ENTRY_OVERHEAD });
    }
    return { body, version };
  }

  /** The entity tag of a page at a version: the epoch, the version and a digest of the page's key. */
  #tag(version: number, key: string): string {
    return `"${this.epoch}.${version.toString(36)}.${hash('sha256', key, 'base64url').slice(0, 16)}"`;
  }
}
