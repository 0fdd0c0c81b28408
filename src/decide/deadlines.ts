/**
 * Deadlines for store calls, on one timer. Every call waits `timeoutMs`, so deadlines come due
 * in the order they were set: a queue, and one timer for its head, replace a `setTimeout` and a
 * `clearTimeout` per call (about a microsecond each, the largest cost of a decision on a fast
 * networked store).
 */

/** One call's deadline: `expire` runs if the call has not settled when it comes due. */
interface Pending {
  readonly due: number;
  settled: boolean;
  readonly expire: () => void;
}

/** Deadlines of one policy's store calls. */
export class Deadlines {
  #queue: Pending[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly timeoutMs: number) {}

  /**
   * Starts a deadline; `expire` is called once it passes unless the returned `settle` is called
   * first. Time is the real clock (`Date.now`), not the engine's: a timeout is about waiting.
   */
  start(expire: () => void): () => void {
    const p: Pending = { due: Date.now() + this.timeoutMs, settled: false, expire };
    this.#queue.push(p);
    if (this.#timer === undefined) this.#arm(this.timeoutMs);
    return () => {
      p.settled = true;
    };
  }

  #arm(ms: number): void {
    const t = setTimeout(() => this.#fire(), Math.max(0, ms));
    t.unref?.();
    this.#timer = t;
  }

  #fire(): void {
    this.#timer = undefined;
    const now = Date.now();
    const q = this.#queue;
    let i = this.#head;
    while (i < q.length && (q[i]!.settled || q[i]!.due <= now)) {
      const p = q[i]!;
      i++;
      if (!p.settled) {
        p.settled = true;
        p.expire();
      }
    }
    // Compact now and then, so the queue holds only calls still waiting.
    if (i === q.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (i > 1024 && i * 2 > q.length) {
      this.#queue = q.slice(i);
      this.#head = 0;
    } else {
      this.#head = i;
    }
    const next = this.#queue[this.#head];
    if (next !== undefined) this.#arm(next.due - now);
  }
}
