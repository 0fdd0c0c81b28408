import { LRUCache } from "lru-cache";
import type { BudgetRequest, ConsumeRequest, ConsumeResult, SyncStore } from "../store.js";

/** Options of {@link MemoryStore}. Unknown options are rejected. */
export interface MemoryStoreOptions {
  /**
   * The most budgets kept at once (a budget is one limit for one session, attribute value, or
   * the whole policy). When a new budget needs room, a budget whose window is empty is dropped
   * first; if every budget is live, the least recently used one is dropped and starts again
   * empty. Size it above the number of budgets live at once: that eviction is the one place
   * where exactness yields to the memory bound.
   * @default 100000
   */
  maxKeys?: number;
}

/**
 * One budget: the times (and, for weighted calls, the units) of the calls counted in its
 * window, oldest first. Entries before `head` have left the window and are dropped lazily.
 */
class Budget {
  times: number[] = [];
  /** `null` while every entry weighs 1, which is every entry in policy format v1. */
  weights: number[] | null = null;
  head = 0;
  /** Units inside the window (entries from `head` on). */
  total = 0;
  /** Time of the latest counted entry: a budget's time never runs backwards past it. */
  last = Number.NEGATIVE_INFINITY;
  constructor(public windowMs: number) {}

  /** Drops the entries that have left the window at `now` (window is half-open: `(now - W, now]`). */
  prune(now: number): void {
    const edge = now - this.windowMs;
    const times = this.times;
    let head = this.head;
    const end = times.length;
    if (head >= end || times[head]! > edge) return;
    const weights = this.weights;
    let total = this.total;
    while (head < end && times[head]! <= edge) {
      total -= weights === null ? 1 : weights[head]!;
      head++;
    }
    this.total = total;
    if (head === end) {
      times.length = 0;
      if (weights !== null) weights.length = 0;
      this.head = 0;
    } else if (head > 16 && head * 2 > end) {
      // Compact once the dead prefix outweighs the live part: memory stays proportional to
      // the calls inside the window, at amortised O(1) per call.
      times.copyWithin(0, head);
      times.length = end - head;
      if (weights !== null) {
        weights.copyWithin(0, head);
        weights.length = end - head;
      }
      this.head = 0;
    } else {
      this.head = head;
    }
  }

  /** Whole ms from `now` until `cost` more units fit under `max`; the budget must be full. */
  waitFor(cost: number, max: number, now: number): number {
    const times = this.times;
    const weights = this.weights;
    let total = this.total;
    let i = this.head;
    while (total + cost > max) {
      total -= weights === null ? 1 : weights[i]!;
      i++;
    }
    return times[i - 1]! + this.windowMs - now;
  }

  add(time: number, cost: number): void {
    if (cost !== 1 && this.weights === null) this.weights = this.times.map(() => 1);
    this.times.push(time);
    if (this.weights !== null) this.weights.push(cost);
    this.total += cost;
    this.last = time;
  }
}

const DEFAULT_MAX_KEYS = 100_000;

/**
 * The default store: budgets in this process's memory, bounded by `maxKeys`. Synchronous, so
 * it works with `decideSync`. Exact sliding windows; time comes from the engine's clock.
 * Memory per budget is proportional to the calls inside its window, never to all calls ever
 * made; windows that have emptied are reclaimed lazily, with no timer per key.
 *
 * @example
 * ```ts
 * const store = new MemoryStore({ maxKeys: 50_000 });
 * const policy = compilePolicy(doc, { store });
 * ```
 */
export class MemoryStore implements SyncStore {
  /** Always `true`: `consume` answers synchronously. */
  readonly synchronous = true as const;
  /** The bound on budgets kept at once. */
  readonly maxKeys: number;
  readonly #budgets: LRUCache<string, Budget>;
  /**
   * One queue per window length, in order of each budget's latest count. With one window
   * length every budget in a queue empties in that order, so the first entry of each queue is
   * the only candidate for "empty" — which finds an empty budget to drop in O(window lengths)
   * instead of scanning every budget.
   */
  readonly #byWindow = new Map<number, Map<string, Budget>>();

  /** @throws TypeError when an option is unknown or out of range. */
  constructor(options: MemoryStoreOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError(`MemoryStore: options must be an object, got ${describeValue(options)}`);
    }
    for (const key of Object.keys(options)) {
      if (key !== "maxKeys") throw new TypeError(`MemoryStore: unknown option "${key}"`);
    }
    const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) {
      throw new TypeError(`MemoryStore: maxKeys must be a positive integer, got ${describeValue(maxKeys)}`);
    }
    this.maxKeys = maxKeys;
    this.#budgets = new LRUCache<string, Budget>({
      max: maxKeys,
      dispose: (budget, key) => {
        this.#byWindow.get(budget.windowMs)?.delete(key);
      },
    });
  }

  /** The number of budgets held now (live or not yet reclaimed). */
  get size(): number {
    return this.#budgets.size;
  }

  /** Drops every budget. */
  clear(): void {
    this.#budgets.clear();
    this.#byWindow.clear();
  }

  /** Checks every budget of the request and counts the call in all of them if all have room. */
  consume(request: ConsumeRequest): ConsumeResult {
    const { budgets: requests, now, dryRun } = request;
    const n = requests.length;
    const found: (Budget | undefined)[] = new Array(n);
    const times: number[] = new Array(n);
    let refused = false;
    for (let i = 0; i < n; i++) {
      const r = requests[i]!;
      checkCost(r);
      const b = this.#budgets.get(r.key);
      let t = now;
      if (b !== undefined) {
        if (b.windowMs !== r.windowMs) this.#moveQueue(r.key, b, r.windowMs);
        if (b.last > t) t = b.last;
        b.prune(t);
        if (b.total + r.cost > r.max) refused = true;
      } else if (r.cost > r.max) {
        refused = true;
      }
      found[i] = b;
      times[i] = t;
    }
    if (refused) {
      const retryAfterMs: number[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const r = requests[i]!;
        const b = found[i];
        const used = b === undefined ? 0 : b.total;
        retryAfterMs[i] = used + r.cost <= r.max ? 0 : b!.waitFor(r.cost, r.max, now);
      }
      return { allowed: false, retryAfterMs };
    }
    const remaining: number[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const r = requests[i]!;
      let b = found[i];
      if (dryRun) {
        remaining[i] = r.max - (b === undefined ? 0 : b.total) - r.cost;
        continue;
      }
      if (b === undefined) b = this.#create(r.key, r.windowMs, now);
      b.add(times[i]!, r.cost);
      const queue = this.#queue(r.windowMs);
      queue.delete(r.key);
      queue.set(r.key, b);
      remaining[i] = r.max - b.total;
    }
    return { allowed: true, remaining };
  }

  #queue(windowMs: number): Map<string, Budget> {
    let q = this.#byWindow.get(windowMs);
    if (q === undefined) {
      q = new Map();
      this.#byWindow.set(windowMs, q);
    }
    return q;
  }

  #moveQueue(key: string, b: Budget, windowMs: number): void {
    this.#byWindow.get(b.windowMs)?.delete(key);
    b.windowMs = windowMs;
    this.#queue(windowMs).set(key, b);
  }

  #create(key: string, windowMs: number, now: number): Budget {
    if (this.#budgets.size >= this.maxKeys) this.#dropOneEmpty(now);
    const b = new Budget(windowMs);
    // When no empty budget was found, this set evicts the least recently used budget.
    this.#budgets.set(key, b);
    return b;
  }

  #dropOneEmpty(now: number): void {
    for (const queue of this.#byWindow.values()) {
      for (const [key, b] of queue) {
        if (b.last + b.windowMs <= now) {
          this.#budgets.delete(key);
          return;
        }
        break;
      }
    }
  }
}

function checkCost(r: BudgetRequest): void {
  if (!Number.isSafeInteger(r.cost) || r.cost < 1) {
    throw new RangeError(`MemoryStore: cost must be a positive integer, got ${describeValue(r.cost)}`);
  }
}

function describeValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean" || v === null || v === undefined) return String(v);
  return typeof v;
}
