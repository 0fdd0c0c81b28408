/**
 * Deadlines for store calls, on one timer. Every call waits `timeoutMs`, so deadlines come due
 * in the order they were set: a list in that order, and one timer for its head, replace a
 * `setTimeout` and a `clearTimeout` per call (about a microsecond each, the largest cost of a
 * decision on a fast networked store). A settled call leaves the list at once, so the list holds
 * only the calls still waiting: at many thousand decisions a second, keeping every call until its
 * deadline passed would keep seconds' worth of them alive, for the garbage collector to move.
 */

/** One call's deadline. */
export class Deadline {
  prev: Deadline | null = null;
  next: Deadline | null = null;
  constructor(
    readonly due: number,
    /** Runs if the deadline passes first; `null` once settled or expired. */
    public expire: (() => void) | null,
  ) {}
}

/** Deadlines of one policy's store calls. */
export class Deadlines {
  #first: Deadline | null = null;
  #last: Deadline | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #size = 0;

  constructor(readonly timeoutMs: number) {}

  /**
   * Starts a deadline: `expire` is called once it passes, unless {@link Deadlines.settle} is
   * called first. Time is the real clock (`Date.now`), not the engine's: a timeout is about waiting.
   */
  start(expire: () => void): Deadline {
    const d = new Deadline(Date.now() + this.timeoutMs, expire);
    const last = this.#last;
    d.prev = last;
    if (last === null) this.#first = d;
    else last.next = d;
    this.#last = d;
    this.#size++;
    if (this.#timer === undefined) this.#arm(this.timeoutMs);
    return d;
  }

  /** How many calls are waiting now. */
  get size(): number {
    return this.#size;
  }

  /** The call answered in time: its deadline will never run. Idempotent. */
  settle(d: Deadline): void {
    if (d.expire === null) return;
    d.expire = null;
    this.#unlink(d);
  }

  #unlink(d: Deadline): void {
    const { prev, next } = d;
    if (prev === null) this.#first = next;
    else prev.next = next;
    if (next === null) this.#last = prev;
    else next.prev = prev;
    d.prev = null;
    d.next = null;
    this.#size--;
  }

  #arm(ms: number): void {
    const t = setTimeout(() => this.#fire(), Math.max(0, ms));
    t.unref?.();
    this.#timer = t;
  }

  #fire(): void {
    this.#timer = undefined;
    const now = Date.now();
    let d = this.#first;
    while (d !== null && d.due <= now) {
      this.#unlink(d);
      const expire = d.expire!;
      d.expire = null;
      expire();
      d = this.#first;
    }
    // The head was set last when the timer was armed, or has settled since: wait for the new one.
    if (d !== null) this.#arm(d.due - now);
  }
}
