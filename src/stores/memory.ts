/**
 * MemoryStore: budgets in this process's memory (docs/stores.md, "MemoryStore").
 *
 * Data design, chosen so that counting and unit-cost refusals are O(1) amortized per budget
 * whatever its window holds, and a weighted refusal's exact wait is O(log n):
 *
 * - A budget holding at most one entry keeps it inline (its time is the budget's `last`, its
 *   units in `units`): most per-session budgets never allocate anything more.
 * - From the second entry on, a {@link Log} holds the entries' times, oldest first, in an array
 *   that grows with use (never preallocated: `max` may be 1e9) and is compacted once its dead
 *   prefix outweighs the live part. While every entry weighs one unit the entry index is the
 *   unit count, so "is there room for `cost`" reads one slot; once a weighted entry (or a refund)
 *   appears, a parallel array of running totals makes the units in any window one subtraction
 *   and the entry to wait for a binary search.
 * - Entry ids are ordinals: entry p of a log (p from its oldest) is number `counted - n + p`.
 *   Entries leave only from the oldest end, and a refunded entry stays in place with zero units,
 *   so the ordinal finds it in O(1). Ordinals come from a store-wide counter, so a budget that was
 *   dropped and made again never reuses an id an old ticket may still hold.
 * - Budgets of one window length, one class (per-session or shared) and one refund mode form a
 *   group: a queue in the order of their latest counted time, plus a min-heap for the few counted
 *   at a time earlier than the queue's tail (a clock stepped back). Counting only marks a queued
 *   budget; it moves to its place when the group's oldest is looked for (amortized O(1)). The
 *   group's oldest budget is the first of the queue or the top of the heap, so the store finds an
 *   empty budget in O(groups), without scanning budgets.
 * - Budgets are found by key in one Map, and each class (per-session, shared) is a doubly linked
 *   list in least recently used order threaded through the budgets themselves: a use moves the
 *   budget to the list's end with a few pointer writes (re-inserting into the Map, as a Map-ordered
 *   LRU would, costs two hash operations and leaves holes to rehash), and the budget to drop when
 *   every one is live is the first of the per-session list.
 *
 * @packageDocumentation
 */

import { createHash } from "node:crypto";
import type { BudgetRequest, ConsumeRequest, ConsumeResult, RefundRequest, RefundResult, SyncStore } from "../store.js";
import { isPlainObject } from "../shared/objects.js";
import { checkIntegerOption, checkOptionKeys } from "../shared/options.js";
import { describeValue } from "../shared/text.js";

/** Options of {@link MemoryStore}. Unknown options are rejected. */
export interface MemoryStoreOptions {
  /**
   * The most budgets kept at once (a budget is one limit for one session, attribute value, or
   * the whole policy). When a new budget needs room, a budget whose window is empty is dropped
   * first; if every budget is live, the least recently used per-session budget is dropped and
   * starts again empty. Shared budgets (`per: "global"` or a session attribute) are
   * dropped only when no per-session budget is left, and never to make room for a per-session
   * one: then the call is refused as a store failure. Size it above the number of budgets live
   * at once: eviction is the one place where exactness yields to the memory bound.
   * @default 100000
   */
  maxKeys?: number;
}

/** The entries of a budget with two or more of them. */
class Log {
  /** Entries before `head` have left the window for good and are dropped lazily. */
  head = 0;
  /** Running totals of units, entry by entry; `null` while every entry weighs one unit. */
  cum: number[] | null = null;
  /** Units counted before `times[head]` (the running total's base; weighted logs only). */
  base = 0;
  constructor(
    /** Times of the entries, oldest first (non-decreasing: time never runs backwards). */
    public times: number[],
  ) {}
}

/** One budget: one limit for one session, attribute value, or the whole policy. */
class Budget {
  /** Units of the inline entry (log `null`), 0 when there is none or it was given back. */
  units = 0;
  log: Log | null = null;
  prev: Budget | null = null;
  next: Budget | null = null;
  /** Neighbours in its class's least recently used list (older, newer). */
  older: Budget | null = null;
  newer: Budget | null = null;
  /**
   * Place in its group: -1 in the queue, -3 in the queue but counted since it was put there
   * (its place is fixed lazily, when the group's oldest is looked for), ≥ 0 in the heap, -2 in
   * neither.
   */
  heapIndex = -2;
  constructor(
    readonly key: string,
    public group: Group,
    /** The latest counted time: the budget's time never runs backwards past it. */
    public last: number,
    /** Ordinal of the next entry (ids are ordinals, so this is also "entries ever counted"). */
    public counted: number,
  ) {}
}

/**
 * Budgets of one window length, one class (per-session or shared) and one refund mode, oldest
 * latest-counted time first. Only entries of a refundable budget can be given back: a ticket
 * forged for any other budget gives nothing back.
 */
class Group {
  first: Budget | null = null;
  tail: Budget | null = null;
  /** Budgets counted at a time earlier than the queue's tail, as a min-heap on `last`. */
  readonly heap: Budget[] = [];
  size = 0;
  constructor(
    readonly windowMs: number,
    /** Index into the store's groups: bit 0 shared, bit 1 refundable. */
    readonly kind: number,
  ) {}

  /**
   * The budget with the oldest latest-counted time, or `null`. Budgets counted since they were
   * queued move to their place first: each such move pays for a count, so this is O(1) amortized.
   */
  oldest(): Budget | null {
    let q = this.first;
    while (q !== null && q.heapIndex === -3) {
      this.remove(q);
      this.add(q);
      q = this.first;
    }
    const h = this.heap[0];
    if (q === null) return h ?? null;
    if (h === undefined) return q;
    return h.last < q.last ? h : q;
  }

  /** Adds a budget, detached, at the place its `last` gives it. */
  add(b: Budget): void {
    const tail = this.tail;
    if (tail === null || b.last >= tail.last) {
      b.prev = tail;
      b.next = null;
      if (tail === null) this.first = b;
      else tail.next = b;
      this.tail = b;
      b.heapIndex = -1;
    } else {
      const heap = this.heap;
      b.heapIndex = heap.length;
      heap.push(b);
      this.#up(b.heapIndex);
    }
    this.size++;
  }

  /** Takes a budget out, wherever it is. */
  remove(b: Budget): void {
    const i = b.heapIndex;
    if (i === -1 || i === -3) {
      if (b.prev === null) this.first = b.next;
      else b.prev.next = b.next;
      if (b.next === null) this.tail = b.prev;
      else b.next.prev = b.prev;
      b.prev = null;
      b.next = null;
    } else if (i >= 0) {
      const heap = this.heap;
      const end = heap.pop()!;
      if (end !== b) {
        heap[i] = end;
        end.heapIndex = i;
        this.#down(i);
        this.#up(end.heapIndex);
      }
    } else {
      return;
    }
    b.heapIndex = -2;
    this.size--;
  }

  /**
   * Notes that a budget's `last` just grew. A queued budget is only marked (no other budget is
   * touched on the counting path); a budget in the heap moves at once, as the heap orders by `last`.
   */
  touch(b: Budget): void {
    const i = b.heapIndex;
    if (i === -1) {
      if (b !== this.tail) b.heapIndex = -3;
    } else if (i >= 0) {
      this.remove(b);
      this.add(b);
    }
  }

  #up(i: number): void {
    const heap = this.heap;
    const b = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (parent.last <= b.last) break;
      heap[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    heap[i] = b;
    b.heapIndex = i;
  }

  #down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const b = heap[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && heap[c + 1]!.last < heap[c]!.last) c++;
      const child = heap[c]!;
      if (child.last >= b.last) break;
      heap[i] = child;
      child.heapIndex = i;
      i = c;
    }
    heap[i] = b;
    b.heapIndex = i;
  }
}

/**
 * The budgets of one class (per-session or shared), least recently used first: a doubly linked
 * list through {@link Budget.older} and {@link Budget.newer}.
 */
class Recency {
  first: Budget | null = null;
  last: Budget | null = null;

  /** Appends a detached budget as the most recently used. */
  push(b: Budget): void {
    const l = this.last;
    b.older = l;
    b.newer = null;
    if (l === null) this.first = b;
    else l.newer = b;
    this.last = b;
  }

  /** Takes a budget out of the list. */
  remove(b: Budget): void {
    const o = b.older;
    const n = b.newer;
    if (o === null) this.first = n;
    else o.newer = n;
    if (n === null) this.last = o;
    else n.older = o;
    b.older = null;
    b.newer = null;
  }

  /** Makes a listed budget the most recently used. */
  use(b: Budget): void {
    const n = b.newer;
    if (n === null) return;
    const o = b.older;
    if (o === null) this.first = n;
    else o.newer = n;
    n.older = o;
    const l = this.last!;
    l.newer = b;
    b.older = l;
    b.newer = null;
    this.last = b;
  }
}

const DEFAULT_MAX_KEYS = 100_000;
const SHARED = 1;
const REFUNDABLE = 2;

/** A budget's group kind: bit 0 shared, bit 1 refundable. */
function kindOf(r: BudgetRequest): number {
  return (r.shared === true ? SHARED : 0) | (r.refundable === true ? REFUNDABLE : 0);
}
const OPTIONS = ["maxKeys"] as const;

/**
 * One budget's check-and-count without the request and answer objects: the engine's path to a
 * MemoryStore for a call with one limit of fixed cost. The arguments are the engine's own,
 * checked when the policy compiled (a key string; `max`, `windowMs` and `cost` as the store
 * contract says; a finite `now`). Answers what `consume` would with that one budget, as a number:
 * the units left (≥ 0) when allowed, or minus the wait in ms (≤ -1) when refused. After an
 * allowed call counted in a refundable budget, `entry()` is the id of the entry it counted.
 * Throws what `consume` throws.
 */
export interface DirectBudget {
  consume(
    key: string,
    max: number,
    windowMs: number,
    cost: number,
    shared: boolean,
    refundable: boolean,
    now: number,
    dryRun: boolean,
  ): number;
  entry(): string;
}

let directOf: (store: MemoryStore) => DirectBudget;

/**
 * The direct path of a MemoryStore whose `consume` is MemoryStore's own (a subclass that wraps
 * `consume` is asked through it, as any store), else `undefined`.
 */
export function directBudgetOf(store: unknown): DirectBudget | undefined {
  return store instanceof MemoryStore && store.consume === MemoryStore.prototype.consume ? directOf(store) : undefined;
}
const OWNER = "MemoryStore";

/**
 * The default store: budgets in this process's memory, bounded by `maxKeys`. Synchronous, so
 * it works with `decideSync`. Exact sliding windows in integer units, weighted calls, refunds;
 * time comes from the engine's clock. Memory per budget is proportional to the calls inside its
 * window, never to all calls ever made; windows that have emptied are reclaimed lazily, with no
 * timer per key.
 *
 * @example
 * ```ts
 * const store = new MemoryStore({ maxKeys: 50_000 });
 * const policy = compilePolicy(doc, { store });
 * ```
 */
export class MemoryStore implements SyncStore {
  /** Always `true`: `consume` and `refund` answer synchronously. */
  readonly synchronous = true as const;
  /** The bound on budgets kept at once. */
  readonly maxKeys: number;
  /** Every budget, by the key it is held under. */
  readonly #budgets = new Map<string, Budget>();
  /**
   * Per-session and shared budgets, each in least recently used order: a budget used by a call
   * (counted, refused, or a dry run) becomes the last, so the first is the least recently used.
   */
  readonly #sessions = new Recency();
  readonly #shared = new Recency();
  /** Groups by window length, per kind (bit 0: shared, bit 1: refundable). */
  readonly #groups = [
    new Map<number, Group>(),
    new Map<number, Group>(),
    new Map<number, Group>(),
    new Map<number, Group>(),
  ] as const;
  /** Ordinal of the next entry of a new budget: store-wide, so ids are never reused. */
  #ordinals = 0;
  /** Units used after the latest count (see `#count`). */
  #used = 0;

  static {
    directOf = (store) => ({
      consume: (key, max, windowMs, cost, shared, refundable, now, dryRun) =>
        store.#direct(key, max, windowMs, cost, (shared ? SHARED : 0) | (refundable ? REFUNDABLE : 0), now, dryRun),
      entry: () => String(store.#entry),
    });
  }

  /** Ordinal of the entry the latest direct count made. */
  #entry = 0;

  /** @throws TypeError when an option is unknown or out of range. */
  constructor(options: MemoryStoreOptions = {}) {
    const o = checkOptionKeys(OWNER, options, OPTIONS);
    checkIntegerOption(OWNER, "maxKeys", o.maxKeys, 1);
    this.maxKeys = o.maxKeys ?? DEFAULT_MAX_KEYS;
  }

  /** The number of budgets held now (live or not yet reclaimed). */
  get size(): number {
    return this.#budgets.size;
  }

  /** Drops every budget. */
  clear(): void {
    this.#budgets.clear();
    this.#sessions.first = this.#sessions.last = null;
    this.#shared.first = this.#shared.last = null;
    for (const groups of this.#groups) groups.clear();
  }

  /**
   * Checks every budget of the request and, if all have room and it is not a dry run, counts the
   * call in all of them.
   * @throws TypeError or RangeError for a request that breaks the store contract; Error when a
   *   new budget cannot be kept (every budget is a live shared one).
   */
  consume(request: ConsumeRequest): ConsumeResult {
    const { now, dryRun, budgets: requests } = readRequest(request);
    const n = requests.length;
    // One budget is the common case (a rule's limit, no policy limits): no arrays to fill.
    if (n === 1) return this.#consumeOne(readBudget(requests[0], 0), now, dryRun);
    const rs: BudgetRequest[] = new Array<BudgetRequest>(n);
    const found: (Budget | undefined)[] = new Array<Budget | undefined>(n);
    const waits: number[] = new Array<number>(n);
    let refused = false;
    // One call's budgets are distinct (the engine rejects a repeated id): checked apart, a
    // repeated budget could be counted past its max. Pairwise for the few of a real call.
    const seen = n > 8 ? new Map<string, number>() : undefined;
    for (let i = 0; i < n; i++) {
      const r = (rs[i] = readBudget(requests[i], i));
      if (seen === undefined) {
        for (let j = 0; j < i; j++) if (rs[j]!.key === r.key) throw repeated(i, j);
      } else {
        const j = seen.get(r.key);
        if (j !== undefined) throw repeated(i, j);
        seen.set(r.key, i);
      }
      const b = this.#lookup(r);
      found[i] = b;
      const wait = b === undefined || r.cost === 0 ? 0 : waitFor(b, r.max, r.windowMs, r.cost, now);
      waits[i] = wait;
      if (wait > 0) refused = true;
    }
    if (refused) return { allowed: false, retryAfterMs: waits };
    if (!dryRun) this.#roomFor(rs, found, now);
    const remaining: number[] = new Array<number>(n);
    let entries: (string | null)[] | undefined;
    // Existing budgets first: once counted they are the newest. (Room for the new ones was made
    // above, before anything was counted.)
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < n; i++) {
        const b = found[i];
        if ((b === undefined) !== (pass === 1)) continue;
        const r = rs[i]!;
        if (r.refundable === true && !dryRun) entries ??= new Array<string | null>(n).fill(null);
        if (dryRun || r.cost === 0) {
          const u = b === undefined ? 0 : unitsIn(b, r.windowMs, now > b.last ? now : b.last);
          // Never below 0, even when a reload lowered max under what the budget holds.
          remaining[i] = Math.max(0, r.max - u - r.cost);
          continue;
        }
        const counted = this.#add(r.key, r.windowMs, kindOf(r), r.cost, b, now, found);
        remaining[i] = r.max - this.#used;
        if (entries !== undefined && r.refundable === true) entries[i] = String(counted.counted - 1);
      }
    }
    return entries === undefined ? { allowed: true, remaining } : { allowed: true, remaining, entries };
  }

  /**
   * Makes room, before a call is counted, for every budget the call will make: all of it or, by
   * throwing, none, so a call is never counted in some budgets and then refused as a store
   * failure, and no budget the call has just made is dropped for its next one. A new shared
   * budget may take the place of a shared one, a per-session budget only of a per-session one,
   * so the drops are made for the new shared budgets first.
   */
  #roomFor(rs: readonly BudgetRequest[], found: readonly (Budget | undefined)[], now: number): void {
    let need = 0;
    let shared = 0;
    for (let i = 0; i < rs.length; i++) {
      if (found[i] !== undefined || rs[i]!.cost === 0) continue;
      need++;
      if (rs[i]!.shared === true) shared++;
    }
    if (need > this.maxKeys) {
      throw new Error(`${OWNER}: a call needs ${need} new budgets, more than maxKeys (${this.maxKeys}); raise maxKeys`);
    }
    if (this.size + need <= this.maxKeys) return;
    // The call's own budgets are not counted yet, so one may be the oldest of its group and hide
    // an empty budget behind it: they leave their groups while room is made.
    const held: Budget[] = [];
    for (const b of found) if (b !== undefined) held.push(b);
    for (const b of held) b.group.remove(b);
    try {
      while (this.size + need > this.maxKeys) {
        this.#makeRoom(shared > 0, now, found);
        if (shared > 0) shared--;
      }
    } finally {
      // A group left empty by a drop meanwhile is gone from the store's groups: rejoin its
      // window's group as the store now has it.
      for (const b of held) {
        b.group = this.#group(b.group.windowMs, b.group.kind);
        b.group.add(b);
      }
    }
  }

  /** One budget: the direct path's answer, as a result. */
  #consumeOne(r: BudgetRequest, now: number, dryRun: boolean): ConsumeResult {
    const v = this.#direct(r.key, r.max, r.windowMs, r.cost, kindOf(r), now, dryRun);
    if (v < 0) return { allowed: false, retryAfterMs: [-v] };
    if (r.refundable !== true || dryRun) return { allowed: true, remaining: [v] };
    return { allowed: true, remaining: [v], entries: [r.cost > 0 ? String(this.#entry) : null] };
  }

  /** {@link DirectBudget.consume}: {@link MemoryStore.consume} of one budget, without objects. */
  #direct(
    key: string,
    max: number,
    windowMs: number,
    cost: number,
    kind: number,
    now: number,
    dryRun: boolean,
  ): number {
    const b = this.#find(key, windowMs, kind);
    if (b !== undefined && cost > 0) {
      const wait = waitFor(b, max, windowMs, cost, now);
      if (wait > 0) return -wait;
    }
    if (dryRun || cost === 0) {
      const u = b === undefined ? 0 : unitsIn(b, windowMs, now > b.last ? now : b.last);
      return Math.max(0, max - u - cost);
    }
    const counted = this.#add(key, windowMs, kind, cost, b, now, undefined);
    this.#entry = counted.counted - 1;
    return max - this.#used;
  }

  /**
   * Gives back entries counted earlier: each at most once, and only while it is inside its
   * window as counting judges it (at the later of `now` and the budget's latest counted time).
   * @throws TypeError for a request that is not a refund request.
   */
  refund(request: RefundRequest): RefundResult {
    if (!isPlainObject(request))
      throw new TypeError(`${OWNER}: refund request must be a plain object, got ${describeValue(request)}`);
    const { entries, now } = request;
    if (!Array.isArray(entries))
      throw new TypeError(`${OWNER}: refund entries must be an array, got ${describeValue(entries)}`);
    checkNow(now);
    const given: boolean[] = new Array<boolean>(entries.length);
    for (let i = 0; i < entries.length; i++) {
      const e: unknown = entries[i];
      if (!isPlainObject(e) || typeof e.key !== "string" || typeof e.entry !== "string") {
        throw new TypeError(`${OWNER}: refund entries[${i}] must be { key: string, entry: string }`);
      }
      given[i] = this.#refundOne(e.key, e.entry, now);
    }
    return { given };
  }

  #refundOne(requested: string, id: string, now: number): boolean {
    const ordinal = parseOrdinal(id);
    if (ordinal < 0) return false;
    const key = heldKey(requested);
    const b = this.#budgets.get(key);
    if (b === undefined || (b.group.kind & REFUNDABLE) === 0) return false;
    const t = now > b.last ? now : b.last;
    const edge = t - b.group.windowMs;
    const log = b.log;
    if (log === null) {
      if (ordinal !== b.counted - 1 || b.units === 0 || b.last <= edge) return false;
      b.units = 0;
      return true;
    }
    const times = log.times;
    const end = times.length;
    const p = ordinal - (b.counted - (end - log.head));
    if (p < 0 || p >= end - log.head) return false;
    const i = log.head + p;
    if (times[i]! <= edge) return false;
    const cum = log.cum ?? weigh(log);
    const units = cum[i]! - (i > log.head ? cum[i - 1]! : log.base);
    if (units === 0) return false;
    // Later running totals drop by the entry's units: usually few, since a tool fails soon
    // after its call is counted.
    for (let j = i; j < end; j++) cum[j] = cum[j]! - units;
    return true;
  }

  /** Finds a request's budget, and makes it the most recently used of its class. */
  #lookup(r: BudgetRequest): Budget | undefined {
    return this.#find(r.key, r.windowMs, kindOf(r));
  }

  #find(requested: string, windowMs: number, kind: number): Budget | undefined {
    const b = this.#budgets.get(requested.length <= KEY_KEPT ? requested : heldKey(requested));
    if (b === undefined) return undefined;
    if (b.group.windowMs !== windowMs || b.group.kind !== kind) {
      // The same key under another window length, class or refund mode (a custom caller; the
      // engine's keys name the window): the budget moves, and its log is judged by the new window.
      this.#recencyOf(b).remove(b);
      this.#leave(b);
      b.group = this.#group(windowMs, kind);
      b.group.add(b);
      this.#recencyOf(b).push(b);
    } else {
      this.#recencyOf(b).use(b);
    }
    return b;
  }

  #recencyOf(b: Budget): Recency {
    return (b.group.kind & SHARED) === 0 ? this.#sessions : this.#shared;
  }

  /**
   * Counts a call that fits; returns its budget (whose entry is ordinal `counted - 1`) and leaves
   * the units used after it in `#used` (no object per call on the counting path).
   */
  #add(
    key: string,
    windowMs: number,
    kind: number,
    cost: number,
    b: Budget | undefined,
    now: number,
    pinned: readonly (Budget | undefined)[] | undefined,
  ): Budget {
    if (b === undefined) {
      if (this.size >= this.maxKeys) this.#makeRoom((kind & SHARED) !== 0, now, pinned);
      b = new Budget(heldKey(key), this.#group(windowMs, kind), now, this.#ordinals);
      b.units = cost;
      this.#budgets.set(b.key, b);
      this.#recencyOf(b).push(b);
      b.group.add(b);
      return this.#counted(b, cost);
    }
    const t = now > b.last ? now : b.last;
    const edge = t - windowMs;
    const log = b.log;
    let used: number;
    if (log === null) {
      if (b.units === 0 || b.last <= edge) {
        b.units = cost;
        used = cost;
      } else {
        const l = new Log([b.last, t]);
        if (b.units !== 1 || cost !== 1) l.cum = [b.units, b.units + cost];
        used = b.units + cost;
        b.units = 0;
        b.log = l;
      }
    } else {
      used = append(log, edge, t, cost);
      if (log.head === log.times.length - 1) {
        // Everything else has left the window: back to one inline entry, and the log's memory goes.
        b.units = used;
        b.log = null;
      }
    }
    if (t !== b.last) {
      b.last = t;
      b.group.touch(b);
    }
    return this.#counted(b, used);
  }

  #counted(b: Budget, used: number): Budget {
    const ordinal = b.counted;
    b.counted = ordinal + 1;
    if (ordinal >= this.#ordinals) this.#ordinals = ordinal + 1;
    this.#used = used;
    return b;
  }

  #group(windowMs: number, kind: number): Group {
    const groups = this.#groups[kind]!;
    let g = groups.get(windowMs);
    if (g === undefined) {
      g = new Group(windowMs, kind);
      groups.set(windowMs, g);
    }
    return g;
  }

  #leave(b: Budget): void {
    const g = b.group;
    g.remove(b);
    if (g.size === 0) this.#groups[g.kind]!.delete(g.windowMs);
  }

  #drop(b: Budget): void {
    this.#budgets.delete(b.key);
    this.#recencyOf(b).remove(b);
    this.#leave(b);
    // Its ordinals stay used: a ticket for one of its entries never matches a later budget.
    if (b.counted > this.#ordinals) this.#ordinals = b.counted;
  }

  /**
   * Drops one budget so a new one fits: an empty one if any (whatever its class), else the least
   * recently used per-session budget, else — for a new shared budget only — the least recently
   * used shared one. Never a budget of the call being counted.
   */
  #makeRoom(forShared: boolean, now: number, pinned: readonly (Budget | undefined)[] | undefined): void {
    let victim: Budget | null = null;
    for (const groups of this.#groups) {
      for (const g of groups.values()) {
        const b = g.oldest();
        if (b !== null && b.last + g.windowMs <= now && !pinned?.includes(b)) {
          this.#drop(b);
          return;
        }
      }
    }
    for (const list of forShared ? [this.#sessions, this.#shared] : [this.#sessions]) {
      // The first is the least recently used; a budget of this call is among the most recently
      // used, so this passes over at most the call's own budgets.
      for (let b = list.first; b !== null; b = b.newer) {
        if (pinned === undefined || !pinned.includes(b)) {
          victim = b;
          break;
        }
      }
      if (victim !== null) break;
    }
    if (victim === null) {
      throw new Error(
        `${OWNER}: all ${this.maxKeys} budgets (maxKeys) are in use by shared budgets or by this call, ` +
          "and a shared budget is never dropped to make room for a per-session one; raise maxKeys",
      );
    }
    this.#drop(victim);
  }
}

/**
 * Prunes a log to the window ending at `t` (the call is counted, so `t` becomes the budget's
 * latest time and what is at or before `edge` is gone for good), appends the entry, and returns
 * the units inside the window after it.
 */
function append(log: Log, edge: number, t: number, cost: number): number {
  const times = log.times;
  let cum = log.cum;
  let head = log.head;
  const end = times.length;
  while (head < end && times[head]! <= edge) head++;
  if (cum !== null && head > log.head) log.base = cum[head - 1]!;
  if (head === end) {
    times.length = 0;
    if (cum !== null) cum.length = 0;
    head = 0;
  } else if (head > 16 && head * 2 > end) {
    // Compact once the dead prefix outweighs the live part: memory stays proportional to the
    // calls inside the window, at amortized O(1) per call.
    times.copyWithin(0, head);
    times.length = end - head;
    if (cum !== null) {
      cum.copyWithin(0, head);
      cum.length = end - head;
    }
    head = 0;
  }
  log.head = head;
  if (cost !== 1 && cum === null) cum = weigh(log);
  times.push(t);
  if (cum === null) return times.length - head;
  let top = cum.length === 0 ? log.base : cum[cum.length - 1]!;
  if (top + cost > Number.MAX_SAFE_INTEGER) {
    // Running totals only grow; rebase them on the units still held (at most `max`).
    const base = log.base;
    for (let j = 0; j < cum.length; j++) cum[j] = cum[j]! - base;
    top -= base;
    log.base = 0;
  }
  cum.push(top + cost);
  return top + cost - log.base;
}

/** Gives a unit log its running totals (each entry one unit), once. */
function weigh(log: Log): number[] {
  const n = log.times.length;
  const cum: number[] = new Array<number>(n);
  for (let j = 0; j < n; j++) cum[j] = j < log.head ? 0 : j - log.head + 1;
  log.base = 0;
  log.cum = cum;
  return cum;
}

/** Index of the first entry after `edge`: gallops from the oldest, then bisects. */
function firstAfter(times: number[], head: number, edge: number): number {
  const end = times.length;
  let lo = head;
  const stop = head + 4 < end ? head + 4 : end;
  while (lo < stop) {
    if (times[lo]! > edge) return lo;
    lo++;
  }
  let hi = end;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! <= edge) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Units of a budget inside the window ending at `t`. */
function unitsIn(b: Budget, windowMs: number, t: number): number {
  const edge = t - windowMs;
  const log = b.log;
  if (log === null) return b.last > edge ? b.units : 0;
  const k = firstAfter(log.times, log.head, edge);
  const cum = log.cum;
  if (cum === null) return log.times.length - k;
  const end = cum.length;
  if (k === end) return 0;
  return cum[end - 1]! - (k > log.head ? cum[k - 1]! : log.base);
}

/** 0 when `cost` more units fit at `now`, else the whole ms (≥ 1) until they would. */
function waitFor(b: Budget, max: number, windowMs: number, cost: number, now: number): number {
  const t = now > b.last ? now : b.last;
  const edge = t - windowMs;
  const log = b.log;
  let leaving: number;
  if (log === null) {
    if (b.units + cost <= max || b.last <= edge) return 0;
    leaving = b.last;
  } else {
    const times = log.times;
    const end = times.length;
    const cum = log.cum;
    if (cum === null) {
      // Every entry is one unit: room iff the (max - cost + 1)-th newest entry has left. O(1).
      const j = end - (max - cost) - 1;
      if (j < log.head || times[j]! <= edge) return 0;
      leaving = times[j]!;
    } else {
      const k = firstAfter(times, log.head, edge);
      if (k === end) return 0;
      const top = cum[end - 1]!;
      const used = top - (k > log.head ? cum[k - 1]! : log.base);
      if (used + cost <= max) return 0;
      // The first entry whose leaving makes room: its running total reaches top + cost - max.
      const need = top + cost - max;
      let lo = k;
      let hi = end - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cum[mid]! >= need) hi = mid;
        else lo = mid + 1;
      }
      leaving = times[lo]!;
    }
  }
  const wait = Math.ceil(leaving + windowMs - now);
  return wait >= 1 ? wait : 1;
}

/** A canonical decimal ordinal (as the store writes them), or -1. */
function parseOrdinal(id: string): number {
  if (id.length === 0 || id.length > 16) return -1;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 48 || c > 57 || (c === 48 && i === 0 && id.length > 1)) return -1;
  }
  const v = Number(id);
  return Number.isSafeInteger(v) ? v : -1;
}

/** Keys up to this many characters are held as they are. */
const KEY_KEPT = 256;

/** Pads a long key's digest past KEY_KEPT: one shared string, so a held long key costs its digest. */
const LONG_KEY_MARK = "\u0000".repeat(KEY_KEPT - 43);

/**
 * The key a budget is held under: the key itself, or for a longer one (a caller may choose a
 * session id or attribute value of megabytes) a SHA-256 of all of it behind a fixed mark, 257
 * characters in all. So a budget's memory is bounded whatever its key (nothing of the long key is
 * kept: a slice of it would keep all of it alive), and keys stay apart: a held long key is longer
 * than any key held as it is, and two long keys share one only if their digests collide. The
 * digest reads UTF-16 code units, so lone surrogates stay apart too.
 */
function heldKey(key: string): string {
  if (key.length <= KEY_KEPT) return key;
  return LONG_KEY_MARK + createHash("sha256").update(key, "utf16le").digest("base64");
}

function repeated(i: number, j: number): RangeError {
  return new RangeError(`${OWNER}: budgets[${i}].key repeats budgets[${j}].key`);
}

function checkNow(now: unknown): asserts now is number {
  if (typeof now !== "number" || !Number.isFinite(now)) {
    throw new TypeError(`${OWNER}: now must be a finite number, got ${describeValue(now)}`);
  }
}

function readRequest(request: ConsumeRequest): ConsumeRequest {
  if (request === null || typeof request !== "object") {
    throw new TypeError(`${OWNER}: request must be an object, got ${describeValue(request)}`);
  }
  const budgets = request.budgets;
  if (!Array.isArray(budgets) || budgets.length === 0)
    throw new TypeError(`${OWNER}: budgets must be a non-empty array`);
  checkNow(request.now);
  return request;
}

/** Checks one budget of a request against the store contract. */
function readBudget(r: unknown, i: number): BudgetRequest {
  if (r === null || typeof r !== "object")
    throw new TypeError(`${OWNER}: budgets[${i}] must be an object, got ${describeValue(r)}`);
  const b = r as BudgetRequest;
  if (typeof b.key !== "string")
    throw new TypeError(`${OWNER}: budgets[${i}].key must be a string, got ${describeValue(b.key)}`);
  const { max, windowMs, cost } = b;
  if (!Number.isSafeInteger(max) || max < 1)
    throw new TypeError(`${OWNER}: budgets[${i}].max must be a positive safe integer, got ${describeValue(max)}`);
  if (!Number.isSafeInteger(windowMs) || windowMs < 1) {
    throw new TypeError(
      `${OWNER}: budgets[${i}].windowMs must be a positive safe integer, got ${describeValue(windowMs)}`,
    );
  }
  if (!Number.isSafeInteger(cost) || cost < 0)
    throw new TypeError(`${OWNER}: budgets[${i}].cost must be a safe integer >= 0, got ${describeValue(cost)}`);
  if (cost > max)
    throw new RangeError(
      `${OWNER}: budgets[${i}].cost (${cost}) is greater than its max (${max}): the call can never fit`,
    );
  return b;
}
