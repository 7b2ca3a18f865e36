/**
 * Store reads shared by the requests of one turn of the event loop. A busy server takes
 * in several requests per turn; when they ask the store the same small question (a
 * project's list version, an access key's lockout state), one read answers them all: the
 * reads are made once every request of the turn has asked (after `setImmediate`), one per
 * distinct key. Each read therefore starts after its askers arrived, so no asker is
 * answered with what the store held before it asked, which is what makes sharing safe.
 * A read runs as the work of its turn's first asker (under its cancellation,
 * src/db/cancellation.ts): the others asked in the same turn, so their deadlines are no
 * earlier.
 */

/** A read that askers wait for. */
interface PendingRead<V> {
  readonly promise: Promise<V>;
  resolve(value: V): void;
  reject(error: unknown): void;
}

function pendingRead<V>(): PendingRead<V> {
  let resolve!: PendingRead<V>['resolve'];
  let reject!: PendingRead<V>['reject'];
  const promise = new Promise<V>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Reads of values by key, each key read once per turn of the event loop for everyone who asked for it in that turn. */
export class TurnReads<V> {
  /** The reads asked for this turn, by key; undefined when none is waiting. */
  #pending: Map<string, PendingRead<V>> | undefined;

  /**
   * `readAll` reads the values of several keys at once (a key missing from its answer
   * has the value `absent`); it is called at most once per turn, with each key once.
   */
  constructor(
    private readonly readAll: (keys: readonly string[]) => Promise<ReadonlyMap<string, V>>,
    private readonly absent: V,
  ) {}

  /** The value of `key`, read together with every other read asked for in this turn. */
  read(key: string): Promise<V> {
    if (this.#pending === undefined) {
      this.#pending = new Map();
      setImmediate(() => this.#readAll());
    }
    let read = this.#pending.get(key);
    if (read === undefined) {
      read = pendingRead<V>();
      this.#pending.set(key, read);
    }
    return read.promise;
  }

  #readAll(): void {
    const pending = this.#pending ?? new Map<string, PendingRead<V>>();
    this.#pending = undefined;
    this.readAll([...pending.keys()]).then(
      (values) => {
        for (const [key, { resolve }] of pending) resolve(values.has(key) ? (values.get(key) as V) : this.absent);
      },
      (error: unknown) => {
        for (const { reject } of pending.values()) reject(error);
      },
    );
  }
}
