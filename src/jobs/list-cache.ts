/**
 * Rendered list pages kept in memory. Consoles and automation poll the same few pages
 * all day, and a page read costs several times the rest of the request; a kept page is
 * served for as long as its project's list version (src/jobs/listing.store.ts) is the
 * one it was rendered at. Every transaction that changes a project's lists raises that
 * version, whichever process runs it, so a kept page is never older than the data: the
 * version is read before the page is rendered, and a page rendered from newer data than
 * its version is only ever served to requests that began before that data committed.
 */

/** One kept page and what it costs to keep. */
interface Entry {
  readonly version: number;
  readonly body: Buffer;
  readonly bytes: number;
}

/** What a kept entry costs beyond its body and key: the Map slot, the entry, the Buffer. */
const ENTRY_OVERHEAD = 200;

/** Bounded by bytes; the least recently used pages go first. */
export class ListCache {
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;

  /** `maxBytes` bounds the bodies and keys kept; 0 keeps nothing. */
  constructor(readonly maxBytes: number) {}

  /** Bytes kept now. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * The page `key` names (it must name one project's page and every parameter of it):
   * the kept one when `version()` still reads what it was rendered at, else `render()`'s,
   * kept for next time. `version` must read the project's list version from the store.
   */
  async page(key: string, version: () => Promise<number>, render: () => Promise<string>): Promise<Buffer | string> {
    if (this.maxBytes === 0) return render();
    const current = await version();
    const kept = this.#entries.get(key);
    if (kept !== undefined) {
      this.#entries.delete(key);
      if (kept.version === current) {
        this.#entries.set(key, kept);
        return kept.body;
      }
      this.#bytes -= kept.bytes;
    }
    const body = Buffer.from(await render());
    this.#keep(key, { version: current, body, bytes: body.length + key.length * 2 + ENTRY_OVERHEAD });
    return body;
  }

  #keep(key: string, entry: Entry): void {
    // A page too big to share the cache with a few others would only push them out.
    if (entry.bytes > this.maxBytes / 4) return;
    const replaced = this.#entries.get(key);
    if (replaced !== undefined) {
      this.#entries.delete(key);
      this.#bytes -= replaced.bytes;
    }
    this.#entries.set(key, entry);
    this.#bytes += entry.bytes;
    for (const [oldest, { bytes }] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= bytes;
    }
  }
}
