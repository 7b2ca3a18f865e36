/**
 * Progress of a long command on stderr: a bar redrawn in place on a terminal, a plain
 * line every few seconds otherwise (CI logs, pipes), and a final line either way.
 */

/** Where progress goes; `process.stderr` fits. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

const REDRAW_MS = 100;
const LINE_MS = 5000;
const WIDTH = 30;

export class Progress {
  readonly #started: number;
  #shownAt = 0;
  #done = 0;
  #shownDone = -1;

  constructor(
    private readonly total: number,
    private readonly unit: string,
    private readonly stream: ProgressStream = process.stderr,
    private readonly now: () => number = Date.now,
  ) {
    this.#started = now();
    this.#shownAt = this.#started;
  }

  /** Records that `done` of the total are finished; shows it when it is time to. */
  update(done: number): void {
    this.#done = done;
    const now = this.now();
    if (now - this.#shownAt < (this.stream.isTTY === true ? REDRAW_MS : LINE_MS)) return;
    this.#shownAt = now;
    this.#shownDone = done;
    this.stream.write(this.stream.isTTY === true ? `\r${this.#bar(now)}\x1b[K` : `${this.#line(now)}\n`);
  }

  /** Shows the final state on its own line. */
  finish(): void {
    const now = this.now();
    if (this.stream.isTTY === true) this.stream.write(`\r${this.#bar(now)}\x1b[K\n`);
    else if (this.#shownDone !== this.#done) this.stream.write(`${this.#line(now)}\n`);
  }

  #line(now: number): string {
    const seconds = (now - this.#started) / 1000;
    const rate = seconds > 0 ? Math.round(this.#done / seconds) : 0;
    const left = rate > 0 && this.#done < this.total ? `, about ${duration((this.total - this.#done) / rate)} left` : '';
    return `${count(this.#done)}/${count(this.total)} ${this.unit} (${this.#percent()}%) in ${duration(seconds)}, ${count(rate)} ${this.unit}/s${left}`;
  }

  #bar(now: number): string {
    const filled = this.total === 0 ? WIDTH : Math.round((this.#done / this.total) * WIDTH);
    return `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${this.#line(now)}`;
  }

  #percent(): number {
    return this.total === 0 ? 100 : Math.floor((this.#done / this.total) * 100);
  }
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function duration(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}
