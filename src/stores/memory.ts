import { LRUCache } from "lru-cache";
import { describe } from "../document/words.js";
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
 * window, oldest first, and its place in the queue of budgets with the same window length.
 */
class Budget {
  /** Entries before `head` have left the window and are dropped lazily. */
  head = 0;
  /** Units from `head` on. */
  total: number;
  /** `null` while every entry weighs 1, which is every entry in policy format v1. */
  weights: number[] | null = null;
  prev: Budget | null = null;
  next: Budget | null = null;

  constructor(
    readonly key: string,
    public windowMs: number,
    /** Times of the counted calls. Created with the first one: `[t]` costs far less than `[]` grown. */
    readonly times: number[],
    cost: number,
    /** Time of the latest counted call: the budget's time never runs backwards past it. */
    public last: number,
  ) {
    this.total = cost;
    if (cost !== 1) this.weights = [cost];
  }

  /**
   * Drops the entries that have left the window for good: those at or before `last - window`.
   * Pruning further on a call that is not counted would be wrong with a clock that steps
   * back: a later call may count as `last` and still see those entries.
   */
  prune(): void {
    const edge = this.last - this.windowMs;
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

  /** Index of the first entry inside the window `(t - window, t]` (binary search; times are sorted). */
  firstIn(t: number): number {
    const edge = t - this.windowMs;
    const times = this.times;
    let lo = this.head;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (times[mid]! <= edge) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Units counted from entry `from` on. */
  unitsFrom(from: number): number {
    const weights = this.weights;
    if (weights === null) return this.times.length - from;
    let units = this.total;
    for (let i = this.head; i < from; i++) units -= weights[i]!;
    return units;
  }

  /** Whole ms from `now` until `cost` more units fit under `max`, given `used` units from `from` on. */
  waitFor(from: number, used: number, cost: number, max: number, now: number): number {
    const weights = this.weights;
    let i = from;
    while (used + cost > max) {
      used -= weights === null ? 1 : weights[i]!;
      i++;
    }
    return this.times[i - 1]! + this.windowMs - now;
  }

  /** Counts `cost` units at `time` (never earlier than `last`). */
  add(time: number, cost: number): void {
    if (cost !== 1 && this.weights === null) this.weights = this.times.map(() => 1);
    this.times.push(time);
    if (this.weights !== null) this.weights.push(cost);
    this.total += cost;
    this.last = time;
    this.prune();
  }
}

/**
 * The budgets of one window length, in the order of their latest counted call. With one window
 * length, budgets empty in that order, so the first is the only candidate for "empty": an
 * empty budget is found in O(window lengths), without scanning every budget.
 */
class Queue {
  first: Budget | null = null;
  lastBudget: Budget | null = null;

  append(b: Budget): void {
    b.prev = this.lastBudget;
    b.next = null;
    if (this.lastBudget === null) this.first = b;
    else this.lastBudget.next = b;
    this.lastBudget = b;
  }

  remove(b: Budget): void {
    if (b.prev === null) {
      if (this.first === b) this.first = b.next;
    } else b.prev.next = b.next;
    if (b.next === null) {
      if (this.lastBudget === b) this.lastBudget = b.prev;
    } else b.next.prev = b.prev;
    b.prev = null;
    b.next = null;
  }

  toEnd(b: Budget): void {
    if (this.lastBudget === b) return;
    this.remove(b);
    this.append(b);
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
  #cache: LRUCache<string, Budget> | undefined;
  readonly #queues = new Map<number, Queue>();

  /** @throws TypeError when an option is unknown or out of range. */
  constructor(options: MemoryStoreOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError(`MemoryStore: options must be an object, got ${describe(options)}`);
    }
    for (const key of Object.keys(options)) {
      if (key !== "maxKeys") throw new TypeError(`MemoryStore: unknown option "${key}"`);
    }
    const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) {
      throw new TypeError(`MemoryStore: maxKeys must be a positive integer, got ${describe(maxKeys)}`);
    }
    this.maxKeys = maxKeys;
  }

  // lru-cache allocates its index arrays for `max` entries up front (about 1.5 MB and tens of
  // milliseconds at the default bound), so the cache is made on first use: a policy compiled
  // without a store, or one whose limits are never reached, pays nothing.
  get #budgets(): LRUCache<string, Budget> {
    if (this.#cache === undefined) {
      this.#cache = new LRUCache<string, Budget>({
        max: this.maxKeys,
        // Called for every budget that leaves, evicted or deleted: it leaves its queue too.
        dispose: (budget) => this.#queue(budget.windowMs).remove(budget),
      });
    }
    return this.#cache;
  }

  /** The number of budgets held now (live or not yet reclaimed). */
  get size(): number {
    return this.#cache?.size ?? 0;
  }

  /** Drops every budget. */
  clear(): void {
    this.#cache?.clear();
    this.#queues.clear();
  }

  /** Checks every budget of the request and counts the call in all of them if all have room. */
  consume(request: ConsumeRequest): ConsumeResult {
    const { budgets: requests, now, dryRun } = request;
    // One budget is the common case (a rule's limit, no policy limits): no arrays to fill.
    if (requests.length === 1) return this.#consumeOne(requests[0]!, now, dryRun);
    const n = requests.length;
    const found: (Budget | undefined)[] = new Array(n);
    const from: number[] = new Array(n);
    const used: number[] = new Array(n);
    let refused = false;
    for (let i = 0; i < n; i++) {
      const r = requests[i]!;
      checkCost(r);
      const b = this.#lookup(r);
      found[i] = b;
      if (b === undefined) {
        used[i] = 0;
        continue;
      }
      from[i] = b.firstIn(now > b.last ? now : b.last);
      used[i] = b.unitsFrom(from[i]!);
      if (used[i]! + r.cost > r.max) refused = true;
    }
    if (refused) {
      const retryAfterMs: number[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const r = requests[i]!;
        retryAfterMs[i] = used[i]! + r.cost <= r.max ? 0 : found[i]!.waitFor(from[i]!, used[i]!, r.cost, r.max, now);
      }
      return { allowed: false, retryAfterMs };
    }
    const remaining: number[] = new Array(n);
    if (dryRun) {
      for (let i = 0; i < n; i++) remaining[i] = requests[i]!.max - used[i]! - requests[i]!.cost;
      return { allowed: true, remaining };
    }
    // Existing budgets first: once counted they are live, so making room for the new ones
    // can never drop a budget this call is counted in.
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < n; i++) {
        if ((found[i] === undefined) !== (pass === 1)) continue;
        const r = requests[i]!;
        remaining[i] = r.max - this.#count(r, found[i], now).total;
      }
    }
    return { allowed: true, remaining };
  }

  #consumeOne(r: BudgetRequest, now: number, dryRun: boolean): ConsumeResult {
    checkCost(r);
    const b = this.#lookup(r);
    if (b === undefined) return { allowed: true, remaining: [dryRun ? r.max - r.cost : r.max - this.#count(r, b, now).total] };
    const from = b.firstIn(now > b.last ? now : b.last);
    const used = b.unitsFrom(from);
    if (used + r.cost > r.max) return { allowed: false, retryAfterMs: [b.waitFor(from, used, r.cost, r.max, now)] };
    return { allowed: true, remaining: [dryRun ? r.max - used - r.cost : r.max - this.#count(r, b, now).total] };
  }

  #lookup(r: BudgetRequest): Budget | undefined {
    const b = this.#budgets.get(r.key);
    if (b !== undefined && b.windowMs !== r.windowMs) {
      // The same key under another window length (two policies sharing a namespace).
      this.#queue(b.windowMs).remove(b);
      b.windowMs = r.windowMs;
      this.#queue(r.windowMs).append(b);
      b.prune();
    }
    return b;
  }

  /** Counts a call in a budget, creating it if needed; returns the budget. */
  #count(r: BudgetRequest, b: Budget | undefined, now: number): Budget {
    if (b === undefined) {
      if (this.#budgets.size >= this.maxKeys) this.#dropOneEmpty(now);
      b = new Budget(r.key, r.windowMs, [now], r.cost, now);
      // When no empty budget was found, this evicts the least recently used budget.
      this.#budgets.set(r.key, b);
      this.#queue(r.windowMs).append(b);
      return b;
    }
    b.add(now > b.last ? now : b.last, r.cost);
    this.#queue(b.windowMs).toEnd(b);
    return b;
  }

  #queue(windowMs: number): Queue {
    let q = this.#queues.get(windowMs);
    if (q === undefined) {
      q = new Queue();
      this.#queues.set(windowMs, q);
    }
    return q;
  }

  #dropOneEmpty(now: number): void {
    for (const queue of this.#queues.values()) {
      const b = queue.first;
      if (b !== null && b.last + b.windowMs <= now) {
        this.#budgets.delete(b.key);
        return;
      }
    }
  }
}

function checkCost(r: BudgetRequest): void {
  if (!Number.isSafeInteger(r.cost) || r.cost < 1) {
    throw new RangeError(`MemoryStore: cost must be a positive integer, got ${describe(r.cost)}`);
  }
  if (r.cost > r.max) throw new RangeError(`MemoryStore: cost ${r.cost} can never fit under max ${r.max}`);
}
