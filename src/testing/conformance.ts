/**
 * `describeStoreConformance`: the suite a store must pass to keep the engine's guarantees —
 * exact sliding windows in integer units, exact whole-millisecond waits (fractional clocks
 * included), weighted calls and micro-unit amounts, calls of cost 0, all-or-nothing across the
 * budgets of a call, time that never runs backwards within a budget, dry runs that count nothing,
 * refunds (each entry at most once, none once it has left its window), and exactness under
 * concurrent calls and refunds. It drives the store directly through `consume` and `refund` and
 * end to end through `compilePolicy(..., { store, clock })` with a fake clock.
 */

import { describe, expect, it } from "vitest";
import {
  compilePolicy,
  type BudgetRequest,
  type ConsumeAllowed,
  type ConsumeResult,
  type Decision,
  type PolicyDocument,
  type RefundEntry,
  type Store,
} from "toolgate";

/** Options of {@link describeStoreConformance}. */
export interface ConformanceOptions {
  /**
   * Concurrent calls in the concurrency tests, against a budget of a tenth of it (so 500 calls
   * on `max: 50` → exactly 50 allowed). At least 10.
   * @default 500
   */
  concurrency?: number;
  /**
   * Run the refund tests, which need `refund`. Set `false` for a store that does not support
   * refunds (policies with `refund: "on_error"` limits cannot be compiled on it).
   * @default true
   */
  refunds?: boolean;
  /** Called after each test with the store it made, e.g. to close a connection the store owns. */
  release?: (store: Store) => void | Promise<void>;
  /**
   * Timeout of each test, in milliseconds.
   * @default 30000
   */
  timeoutMs?: number;
}

/** A fake clock the tests move by hand. */
interface FakeClock {
  (): number;
  set(ms: number): void;
}

function fakeClock(start = 0): FakeClock {
  let now = start;
  const clock = (() => now) as FakeClock;
  clock.set = (ms) => {
    now = ms;
  };
  return clock;
}

let suiteRuns = 0;

/**
 * Registers a vitest suite that checks a store against the store contract (`Store` in
 * `toolgate`). `makeStore` is called once per test; every test uses namespaces of its own, so a
 * store backed by a shared server needs no cleanup between tests.
 *
 * The suite moves time by hand: it passes its times as `ConsumeRequest.now` and as the engine's
 * `clock`, and expects the store to time calls by them. A store that keeps its own clock must be
 * built to use the engine's for this suite (RedisStore: `clock: "engine"`).
 *
 * @example
 * ```ts
 * import { describeStoreConformance } from "toolgate/testing";
 * import { MyStore } from "../src/my-store.js";
 *
 * describeStoreConformance("MyStore", () => new MyStore({ useEngineClock: true }));
 * ```
 */
export function describeStoreConformance(
  name: string,
  makeStore: () => Store | Promise<Store>,
  options: ConformanceOptions = {},
): void {
  const concurrency = options.concurrency ?? 500;
  if (!Number.isSafeInteger(concurrency) || concurrency < 10) {
    throw new TypeError(`describeStoreConformance: concurrency must be an integer ≥ 10, got ${String(concurrency)}`);
  }
  const timeout = options.timeoutMs ?? 30_000;
  const run = ++suiteRuns;
  const stamp = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}-${run}`;
  let tests = 0;

  /** Runs `body` with a fresh store and a namespace no other test uses. */
  const withStore = (body: (store: Store, namespace: string) => Promise<void>) => async (): Promise<void> => {
    const store = await makeStore();
    try {
      await body(store, `conformance:${stamp}:${++tests}`);
    } finally {
      await options.release?.(store);
    }
  };

  const consume = async (
    store: Store,
    namespace: string,
    budgets: BudgetRequest[],
    now: number,
    dryRun = false,
  ): Promise<ConsumeResult> => {
    const result = await store.consume({ namespace, budgets, now, dryRun });
    // Compare plain data, whatever array types the store answers with.
    return result.allowed
      ? { allowed: true, remaining: Array.from(result.remaining) }
      : { allowed: false, retryAfterMs: Array.from(result.retryAfterMs) };
  };

  const budget = (
    key: string,
    max: number,
    windowMs: number,
    cost = 1,
    refundable = false,
    shared = false,
  ): BudgetRequest => ({
    key,
    max,
    windowMs,
    cost,
    refundable,
    shared,
  });
  /** A refundable budget. */
  const refundable = (key: string, max: number, windowMs: number, cost = 1): BudgetRequest =>
    budget(key, max, windowMs, cost, true);
  /** Micro-units: what the engine sends for a limit with `cost` (amounts × 1,000,000, exact). */
  const micro = (units: number): number => Math.round(units * 1_000_000);

  /** Consumes and returns the whole answer, entries included, as plain data. */
  const counted = async (
    store: Store,
    namespace: string,
    budgets: BudgetRequest[],
    now: number,
  ): Promise<ConsumeAllowed> => {
    const result = await store.consume({ namespace, budgets, now, dryRun: false });
    if (!result.allowed) throw new Error(`expected the call to be allowed at ${now}, got ${JSON.stringify(result)}`);
    const entries = result.entries === undefined ? budgets.map(() => null) : Array.from(result.entries);
    return { allowed: true, remaining: Array.from(result.remaining), entries };
  };

  const refund = async (store: Store, namespace: string, entries: RefundEntry[], now: number): Promise<boolean[]> => {
    if (typeof store.refund !== "function") throw new Error("the store has no refund method");
    const result = await store.refund({ namespace, entries, now });
    return Array.from(result.given);
  };

  /** The id the store answered for budget `i` of a counted call, checked to be one. */
  const entryOf = (answer: ConsumeAllowed, i = 0): string => {
    const id = answer.entries?.[i];
    if (typeof id !== "string" || id.length === 0)
      throw new Error(`expected an entry id for budget ${i}, got ${JSON.stringify(id)}`);
    return id;
  };

  describe(`store conformance: ${name}`, () => {
    describe("consume", () => {
      it(
        "counts up to max, then refuses until the window has passed, exactly at the boundary",
        withStore(async (store, ns) => {
          const b = [budget("k", 10, 60_000)];
          for (let i = 0; i < 10; i++) {
            expect(await consume(store, ns, b, 0)).toEqual({ allowed: true, remaining: [9 - i] });
          }
          expect(await consume(store, ns, b, 59_999)).toEqual({ allowed: false, retryAfterMs: [1] });
          expect(await consume(store, ns, b, 60_000)).toEqual({ allowed: true, remaining: [9] });
        }),
        timeout,
      );

      it(
        "answers the exact wait until the oldest call in the way leaves the window",
        withStore(async (store, ns) => {
          const b = [budget("k", 3, 100)];
          await consume(store, ns, b, 0);
          await consume(store, ns, b, 10);
          await consume(store, ns, b, 20);
          expect(await consume(store, ns, b, 50)).toEqual({ allowed: false, retryAfterMs: [50] });
          expect(await consume(store, ns, b, 99)).toEqual({ allowed: false, retryAfterMs: [1] });
          expect(await consume(store, ns, b, 100)).toEqual({ allowed: true, remaining: [0] });
          expect(await consume(store, ns, b, 105)).toEqual({ allowed: false, retryAfterMs: [5] });
          expect(await consume(store, ns, b, 110)).toEqual({ allowed: true, remaining: [0] });
        }),
        timeout,
      );

      it(
        "slides the window rather than resetting it at fixed times",
        withStore(async (store, ns) => {
          const b = [budget("k", 2, 1_000)];
          await consume(store, ns, b, 500);
          await consume(store, ns, b, 900);
          expect(await consume(store, ns, b, 1_100)).toEqual({ allowed: false, retryAfterMs: [400] });
          expect(await consume(store, ns, b, 1_500)).toEqual({ allowed: true, remaining: [0] });
          expect(await consume(store, ns, b, 1_600)).toEqual({ allowed: false, retryAfterMs: [300] });
          expect(await consume(store, ns, b, 1_900)).toEqual({ allowed: true, remaining: [0] });
        }),
        timeout,
      );

      it(
        "counts a call in all of its budgets or in none",
        withStore(async (store, ns) => {
          const a = budget("a", 2, 1_000);
          const b = budget("b", 1, 1_000);
          expect(await consume(store, ns, [a, b], 0)).toEqual({ allowed: true, remaining: [1, 0] });
          expect(await consume(store, ns, [a, b], 10)).toEqual({ allowed: false, retryAfterMs: [0, 990] });
          expect(await consume(store, ns, [b, a], 20)).toEqual({ allowed: false, retryAfterMs: [980, 0] });
          // The refused calls were not counted in `a`: one unit of it is still free.
          expect(await consume(store, ns, [a], 30)).toEqual({ allowed: true, remaining: [0] });
          expect(await consume(store, ns, [a], 40)).toEqual({ allowed: false, retryAfterMs: [960] });
        }),
        timeout,
      );

      it(
        "reports the wait of every full budget, in request order",
        withStore(async (store, ns) => {
          const budgets = [budget("a", 1, 100), budget("b", 1, 300), budget("c", 5, 100)];
          expect(await consume(store, ns, budgets, 0)).toEqual({ allowed: true, remaining: [0, 0, 4] });
          expect(await consume(store, ns, budgets, 50)).toEqual({ allowed: false, retryAfterMs: [50, 250, 0] });
        }),
        timeout,
      );

      it(
        "weighs calls by their cost",
        withStore(async (store, ns) => {
          const k = (cost: number) => [budget("k", 5, 100, cost)];
          expect(await consume(store, ns, k(2), 0)).toEqual({ allowed: true, remaining: [3] });
          expect(await consume(store, ns, k(2), 10)).toEqual({ allowed: true, remaining: [1] });
          expect(await consume(store, ns, k(2), 20)).toEqual({ allowed: false, retryAfterMs: [80] });
          expect(await consume(store, ns, k(1), 20)).toEqual({ allowed: true, remaining: [0] });
          expect(await consume(store, ns, k(2), 100)).toEqual({ allowed: true, remaining: [0] });
          expect(await consume(store, ns, k(1), 101)).toEqual({ allowed: false, retryAfterMs: [9] });
          expect(await consume(store, ns, k(5), 120)).toEqual({ allowed: false, retryAfterMs: [80] });
        }),
        timeout,
      );

      it(
        "keeps budgets with different keys apart, whatever characters they hold",
        withStore(async (store, ns) => {
          // Keys are injective (the engine builds them from the namespace, the limit and the
          // `per` value); a store must keep every distinct string its own budget, including
          // strings that differ only in a lone surrogate, which UTF-8 would turn into U+FFFD.
          const keys = [
            "a",
            "a:",
            ":a",
            "a:b",
            "a:b:c",
            "{a}",
            "a}",
            "{",
            "}",
            "{}",
            "",
            "a\u0000",
            "é",
            "e\u0301",
            "\u{1F600}",
            "\uD800",
            "\uDC00",
            "\uFFFD",
            "a\nb",
            "a b",
            '"a"',
            '["a"]',
          ];
          for (const key of keys) {
            expect(
              await consume(store, ns, [budget(key, 1, 1_000)], 0),
              `first call on ${JSON.stringify(key)}`,
            ).toEqual({ allowed: true, remaining: [0] });
          }
          for (const key of keys) {
            expect(
              await consume(store, ns, [budget(key, 1, 1_000)], 1),
              `second call on ${JSON.stringify(key)}`,
            ).toEqual({ allowed: false, retryAfterMs: [999] });
          }
        }),
        timeout,
      );

      it(
        "keeps long keys apart: a megabyte, and keys that differ only in their last character",
        withStore(async (store, ns) => {
          const long = "k".repeat(100_000);
          const keys = [
            long,
            `${long}a`,
            `${long}b`,
            `${long}\uD800`,
            `${long}\uDC00`,
            "x".repeat(1 << 20),
            long.slice(0, 256),
            long.slice(0, 257),
          ];
          for (const key of keys) {
            expect(
              await consume(store, ns, [budget(key, 1, 60_000)], 0),
              `first call on a key of ${key.length}`,
            ).toEqual({ allowed: true, remaining: [0] });
          }
          for (const key of keys) {
            expect(
              await consume(store, ns, [budget(key, 1, 60_000)], 1),
              `second call on a key of ${key.length}`,
            ).toEqual({ allowed: false, retryAfterMs: [59_999] });
          }
        }),
        timeout,
      );

      it(
        "forgets calls once they have left the window",
        withStore(async (store, ns) => {
          const b = [budget("k", 3, 60_000)];
          for (let i = 0; i < 3; i++) await consume(store, ns, b, 0);
          expect(await consume(store, ns, b, 60_000)).toEqual({ allowed: true, remaining: [2] });
          expect(await consume(store, ns, b, 1_000_000)).toEqual({ allowed: true, remaining: [2] });
        }),
        timeout,
      );

      it(
        "never lets time run backwards within a budget",
        withStore(async (store, ns) => {
          const b = [budget("k", 2, 100)];
          expect(await consume(store, ns, b, 1_000)).toEqual({ allowed: true, remaining: [1] });
          // Earlier than the latest counted call: it counts at 1000, so both leave at 1100.
          expect(await consume(store, ns, b, 500)).toEqual({ allowed: true, remaining: [0] });
          expect(await consume(store, ns, b, 1_099)).toEqual({ allowed: false, retryAfterMs: [1] });
          expect(await consume(store, ns, b, 1_100)).toEqual({ allowed: true, remaining: [1] });
          expect(await consume(store, ns, b, 700)).toEqual({ allowed: true, remaining: [0] });
          const late = await consume(store, ns, b, 600);
          expect(late.allowed).toBe(false);
          if (!late.allowed) expect(late.retryAfterMs[0]).toBeGreaterThanOrEqual(1);
        }),
        timeout,
      );

      it(
        "forgets nothing that an earlier time still sees when a later call was refused or a dry run",
        withStore(async (store, ns) => {
          const a = budget("a", 2, 100);
          const full = budget("full", 1, 10_000);
          await consume(store, ns, [a], 0);
          await consume(store, ns, [a], 10);
          await consume(store, ns, [full], 0);
          // At 150 both calls on `a` have left its window, but these count nothing...
          expect(await consume(store, ns, [a], 150, true)).toEqual({ allowed: true, remaining: [1] });
          expect(await consume(store, ns, [a, full], 150)).toEqual({ allowed: false, retryAfterMs: [0, 9_850] });
          // ...so a call timed at 50 (another replica's clock) still sees both of them.
          expect(await consume(store, ns, [a], 50)).toEqual({ allowed: false, retryAfterMs: [50] });
        }),
        timeout,
      );

      it(
        "counts nothing on a dry run, and answers it as it would a real call",
        withStore(async (store, ns) => {
          const b = [budget("k", 3, 1_000)];
          for (let i = 0; i < 5; i++) {
            expect(await consume(store, ns, b, i, true)).toEqual({ allowed: true, remaining: [2] });
          }
          expect(await consume(store, ns, b, 10)).toEqual({ allowed: true, remaining: [2] });
          expect(await consume(store, ns, b, 20)).toEqual({ allowed: true, remaining: [1] });
          expect(await consume(store, ns, b, 30)).toEqual({ allowed: true, remaining: [0] });
          expect(await consume(store, ns, b, 40, true)).toEqual({ allowed: false, retryAfterMs: [970] });
          expect(await consume(store, ns, b, 1_010, true)).toEqual({ allowed: true, remaining: [0] });
          expect(await consume(store, ns, b, 1_010)).toEqual({ allowed: true, remaining: [0] });
        }),
        timeout,
      );

      it(
        `allows exactly max of ${concurrency} concurrent calls on one budget`,
        withStore(async (store, ns) => {
          const max = Math.floor(concurrency / 10);
          const b = [budget("hot", max, 60_000)];
          const results = await Promise.all(Array.from({ length: concurrency }, () => consume(store, ns, b, 0)));
          expect(results.filter((r) => r.allowed)).toHaveLength(max);
          const remaining = results.flatMap((r) => (r.allowed ? r.remaining : [])).sort((x, y) => x - y);
          expect(remaining).toEqual(Array.from({ length: max }, (_, i) => i));
          expect(await consume(store, ns, b, 0)).toEqual({ allowed: false, retryAfterMs: [60_000] });
        }),
        timeout,
      );

      it(
        "stays all-or-nothing under concurrent calls that share one budget",
        withStore(async (store, ns) => {
          const max = Math.floor(concurrency / 10);
          const shared = budget("shared", max, 60_000);
          const own = (i: number) => budget(`own:${i}`, 1, 60_000);
          const results = await Promise.all(
            Array.from({ length: concurrency }, (_, i) => consume(store, ns, [own(i), shared], 0)),
          );
          expect(results.filter((r) => r.allowed)).toHaveLength(max);
          // A refused call left its own budget untouched; an allowed one filled it.
          const after = await Promise.all(
            Array.from({ length: concurrency }, (_, i) => consume(store, ns, [own(i)], 1, true)),
          );
          after.forEach((r, i) => expect(r.allowed, `own:${i}`).toBe(!results[i]!.allowed));
        }),
        timeout,
      );
    });

    describe("units and weights", () => {
      it(
        "counts micro-units exactly: 0.1 + 0.2 units fit 0.3, at any number of calls",
        withStore(async (store, ns) => {
          const k = (units: number) => [budget("k", micro(0.3), 60_000, micro(units))];
          expect(await consume(store, ns, k(0.1), 0)).toEqual({ allowed: true, remaining: [micro(0.2)] });
          expect(await consume(store, ns, k(0.2), 1)).toEqual({ allowed: true, remaining: [0] });
          expect(await consume(store, ns, k(0.000001), 2)).toEqual({ allowed: false, retryAfterMs: [59_998] });
          const many = [budget("many", micro(100), 60_000, micro(0.1))];
          for (let i = 0; i < 999; i++) await consume(store, ns, many, 10);
          expect(await consume(store, ns, many, 10)).toEqual({ allowed: true, remaining: [0] });
          expect(await consume(store, ns, many, 10)).toEqual({ allowed: false, retryAfterMs: [60_000] });
        }),
        timeout,
      );

      it(
        "takes max up to 1e15 micro-units and a single call that uses all of it",
        withStore(async (store, ns) => {
          const max = 1e15;
          expect(await consume(store, ns, [budget("k", max, 1_000, max)], 0)).toEqual({
            allowed: true,
            remaining: [0],
          });
          expect(await consume(store, ns, [budget("k", max, 1_000, 1)], 1)).toEqual({
            allowed: false,
            retryAfterMs: [999],
          });
          expect(await consume(store, ns, [budget("k", max, 1_000, max - 1)], 1_000)).toEqual({
            allowed: true,
            remaining: [1],
          });
          expect(await consume(store, ns, [budget("k", max, 1_000, 1)], 1_001)).toEqual({
            allowed: true,
            remaining: [0],
          });
        }),
        timeout,
      );

      it(
        "waits until enough weighted units have left for this call's cost",
        withStore(async (store, ns) => {
          const k = (cost: number) => [budget("k", 6, 100, cost)];
          await consume(store, ns, k(3), 0);
          await consume(store, ns, k(1), 10);
          await consume(store, ns, k(2), 20);
          // 6 used; 4 more need 4 to leave: the 3 (leaves at 100) and the 1 (leaves at 110).
          expect(await consume(store, ns, k(4), 30)).toEqual({ allowed: false, retryAfterMs: [80] });
          expect(await consume(store, ns, k(3), 30)).toEqual({ allowed: false, retryAfterMs: [70] });
          expect(await consume(store, ns, k(4), 109)).toEqual({ allowed: false, retryAfterMs: [1] });
          expect(await consume(store, ns, k(4), 110)).toEqual({ allowed: true, remaining: [0] });
        }),
        timeout,
      );

      it(
        "mixes calls of one unit and weighted calls in one budget",
        withStore(async (store, ns) => {
          const k = (cost: number) => [budget("k", 10, 1_000, cost)];
          for (let i = 0; i < 4; i++)
            expect(await consume(store, ns, k(1), i)).toEqual({ allowed: true, remaining: [9 - i] });
          expect(await consume(store, ns, k(5), 10)).toEqual({ allowed: true, remaining: [1] });
          expect(await consume(store, ns, k(1), 20)).toEqual({ allowed: true, remaining: [0] });
          expect(await consume(store, ns, k(1), 30)).toEqual({ allowed: false, retryAfterMs: [970] });
          // At 1000 the first unit call has left: one unit free.
          expect(await consume(store, ns, k(2), 1_000)).toEqual({ allowed: false, retryAfterMs: [1] });
          expect(await consume(store, ns, k(1), 1_000)).toEqual({ allowed: true, remaining: [0] });
          // At 1010 the weighted call (at 10) has left too: the calls at 20 and 1000 remain.
          expect(await consume(store, ns, k(6), 1_010)).toEqual({ allowed: true, remaining: [2] });
        }),
        timeout,
      );

      it(
        "fits a call of cost 0 into a full budget and counts nothing for it",
        withStore(async (store, ns) => {
          const full = budget("full", 1, 1_000);
          await consume(store, ns, [full], 0);
          expect(await consume(store, ns, [budget("full", 1, 1_000, 0)], 10)).toEqual({
            allowed: true,
            remaining: [0],
          });
          expect(await consume(store, ns, [budget("empty", 1, 1_000, 0)], 10)).toEqual({
            allowed: true,
            remaining: [1],
          });
          expect(await consume(store, ns, [budget("empty", 1, 1_000)], 20)).toEqual({ allowed: true, remaining: [0] });
          expect(await consume(store, ns, [full, budget("other", 5, 1_000, 0)], 30)).toEqual({
            allowed: false,
            retryAfterMs: [970, 0],
          });
          const answer = await counted(store, ns, [refundable("r", 3, 1_000, 0)], 40);
          expect(answer).toEqual({ allowed: true, remaining: [3], entries: [null] });
        }),
        timeout,
      );

      it(
        "answers whole-millisecond waits, rounded up, when the clock is fractional",
        withStore(async (store, ns) => {
          const b = [budget("k", 1, 1_000)];
          expect(await consume(store, ns, b, 0.5)).toEqual({ allowed: true, remaining: [0] });
          expect(await consume(store, ns, b, 999.5)).toEqual({ allowed: false, retryAfterMs: [1] });
          expect(await consume(store, ns, b, 999.9)).toEqual({ allowed: false, retryAfterMs: [1] });
          expect(await consume(store, ns, b, 0.75)).toEqual({ allowed: false, retryAfterMs: [1_000] });
          expect(await consume(store, ns, b, 1_000.5)).toEqual({ allowed: true, remaining: [0] });
          expect(await consume(store, ns, b, 1_500.25)).toEqual({ allowed: false, retryAfterMs: [501] });
          const w = [budget("w", 5, 100, 3)];
          await consume(store, ns, w, 10.125);
          expect(await consume(store, ns, w, 20.5)).toEqual({ allowed: false, retryAfterMs: [90] });
        }),
        timeout,
      );
    });

    describe.skipIf(options.refunds === false)("refunds", () => {
      it(
        "answers an entry id per refundable budget it counted in, null elsewhere, unique within a budget",
        withStore(async (store, ns) => {
          const ids = new Set<string>();
          for (let i = 0; i < 5; i++) {
            const answer = await counted(
              store,
              ns,
              [refundable("a", 10, 60_000), budget("b", 10, 60_000), refundable("c", 10, 60_000, 0)],
              i,
            );
            expect(answer.remaining).toEqual([9 - i, 9 - i, 10]);
            expect(answer.entries?.slice(1)).toEqual([null, null]);
            ids.add(entryOf(answer));
          }
          expect(ids.size).toBe(5);
          const dry = await store.consume({
            namespace: ns,
            budgets: [refundable("a", 10, 60_000)],
            now: 9,
            dryRun: true,
          });
          expect(dry.allowed && (dry.entries ?? [null]).every((e) => e === null)).toBe(true);
        }),
        timeout,
      );

      it(
        "gives an entry back: the budget is as if the call had never been counted",
        withStore(async (store, ns) => {
          const b = [refundable("k", 2, 1_000)];
          const first = await counted(store, ns, b, 0);
          await counted(store, ns, b, 100);
          expect(await consume(store, ns, b, 200)).toEqual({ allowed: false, retryAfterMs: [800] });
          expect(await refund(store, ns, [{ key: "k", entry: entryOf(first) }], 200)).toEqual([true]);
          expect(await consume(store, ns, b, 300)).toEqual({ allowed: true, remaining: [0] });
          // What is left: the calls at 100 and 300; the one at 100 leaves first.
          expect(await consume(store, ns, b, 400)).toEqual({ allowed: false, retryAfterMs: [700] });
        }),
        timeout,
      );

      it(
        "gives an entry from the middle of the window back, and later waits reflect what is left",
        withStore(async (store, ns) => {
          const b = [refundable("k", 3, 100)];
          await counted(store, ns, b, 0);
          const middle = await counted(store, ns, b, 10);
          await counted(store, ns, b, 20);
          expect(await refund(store, ns, [{ key: "k", entry: entryOf(middle) }], 25)).toEqual([true]);
          expect(await consume(store, ns, b, 30)).toEqual({ allowed: true, remaining: [0] });
          expect(await consume(store, ns, b, 40)).toEqual({ allowed: false, retryAfterMs: [60] });
          expect(await consume(store, ns, b, 100)).toEqual({ allowed: true, remaining: [0] });
          expect(await consume(store, ns, b, 101)).toEqual({ allowed: false, retryAfterMs: [19] });
        }),
        timeout,
      );

      it(
        "gives each entry back at most once, even when a request names it twice",
        withStore(async (store, ns) => {
          const b = [refundable("k", 5, 60_000)];
          const e = entryOf(await counted(store, ns, b, 0));
          expect(
            await refund(
              store,
              ns,
              [
                { key: "k", entry: e },
                { key: "k", entry: e },
              ],
              1,
            ),
          ).toEqual([true, false]);
          expect(await refund(store, ns, [{ key: "k", entry: e }], 2)).toEqual([false]);
          expect(await consume(store, ns, b, 3)).toEqual({ allowed: true, remaining: [4] });
        }),
        timeout,
      );

      it(
        "gives nothing back for an unknown id, another budget's id, or a key never counted",
        withStore(async (store, ns) => {
          const a = entryOf(await counted(store, ns, [refundable("a", 5, 60_000)], 0));
          await counted(store, ns, [refundable("b", 5, 60_000)], 0);
          const bogus = [
            "",
            "0",
            "1",
            "-1",
            "01",
            "1e3",
            "0x1",
            "NaN",
            ":",
            "a:b",
            "__proto__",
            "constructor",
            "x".repeat(10_000),
            `${a}x`,
            ` ${a}`,
          ];
          const entries = [
            ...bogus.filter((id) => id !== a).map((entry) => ({ key: "a", entry })),
            { key: "b", entry: a },
            { key: "never", entry: a },
          ];
          const given = await refund(store, ns, entries, 1);
          // An id that happens to name a real entry of "b" may be given back there; none of "a"'s.
          expect(given.slice(0, -2).every((g) => !g)).toBe(true);
          expect(given.at(-1)).toBe(false);
          expect(await consume(store, ns, [refundable("a", 5, 60_000)], 2)).toEqual({ allowed: true, remaining: [3] });
          expect(await refund(store, ns, [{ key: "a", entry: a }], 3)).toEqual([true]);
          expect(await refund(store, ns, [], 3)).toEqual([]);
        }),
        timeout,
      );

      it(
        "gives nothing back once the entry has left its window, judged as counting judges it",
        withStore(async (store, ns) => {
          const b = [refundable("k", 5, 100)];
          const early = entryOf(await counted(store, ns, b, 0));
          const late = entryOf(await counted(store, ns, b, 50));
          expect(await refund(store, ns, [{ key: "k", entry: early }], 100)).toEqual([false]);
          expect(await refund(store, ns, [{ key: "k", entry: late }], 149)).toEqual([true]);
          // A clock stepped back is judged at the budget's latest counted time, as counting is.
          const c = [refundable("c", 5, 100)];
          const stepped = entryOf(await counted(store, ns, c, 1_000));
          await counted(store, ns, c, 1_150);
          expect(await refund(store, ns, [{ key: "c", entry: stepped }], 0)).toEqual([false]);
        }),
        timeout,
      );

      it(
        "keeps the budget's latest counted time after a refund: time never runs backwards",
        withStore(async (store, ns) => {
          const b = [refundable("k", 1, 100)];
          const e = entryOf(await counted(store, ns, b, 1_000));
          expect(await refund(store, ns, [{ key: "k", entry: e }], 1_000)).toEqual([true]);
          // Counted at 1000, not 500: it leaves at 1100.
          expect(await counted(store, ns, b, 500)).toMatchObject({ remaining: [0] });
          expect(await consume(store, ns, b, 1_050)).toEqual({ allowed: false, retryAfterMs: [50] });
          expect(await consume(store, ns, b, 1_100)).toEqual({ allowed: true, remaining: [0] });
        }),
        timeout,
      );

      it(
        "gives weighted and micro-unit entries back exactly",
        withStore(async (store, ns) => {
          const k = (units: number) => [refundable("k", micro(1), 60_000, micro(units))];
          const big = entryOf(await counted(store, ns, k(0.7), 0));
          await counted(store, ns, k(0.3), 1);
          expect(await consume(store, ns, k(0.000001), 2)).toEqual({ allowed: false, retryAfterMs: [59_998] });
          expect(await refund(store, ns, [{ key: "k", entry: big }], 3)).toEqual([true]);
          expect(await consume(store, ns, k(0.7), 4)).toEqual({ allowed: true, remaining: [0] });
          expect(await consume(store, ns, k(0.000001), 5)).toEqual({ allowed: false, retryAfterMs: [59_996] });
        }),
        timeout,
      );

      it(
        "gives back only the budgets of the call it names, across several budgets",
        withStore(async (store, ns) => {
          const budgets = [refundable("x", 2, 60_000), refundable("y", 3, 60_000, 2), budget("z", 5, 60_000)];
          const answer = await counted(store, ns, budgets, 0);
          expect(answer.remaining).toEqual([1, 1, 4]);
          expect(await refund(store, ns, [{ key: "y", entry: entryOf(answer, 1) }], 1)).toEqual([true]);
          expect(await consume(store, ns, budgets, 2)).toEqual({ allowed: true, remaining: [0, 1, 3] });
        }),
        timeout,
      );

      it(
        `stays exact when ${concurrency} concurrent calls and refunds interleave`,
        withStore(async (store, ns) => {
          const max = Math.floor(concurrency / 10);
          const b = [refundable("hot", max, 60_000)];
          const first = await Promise.all(
            // async: a store may answer with a value or a promise; Promise.all gets promises.
            Array.from({ length: concurrency }, async () =>
              store.consume({ namespace: ns, budgets: b, now: 0, dryRun: false }),
            ),
          );
          const ids = first.flatMap((r) =>
            r.allowed ? [entryOf({ allowed: true, remaining: Array.from(r.remaining), entries: r.entries })] : [],
          );
          expect(ids).toHaveLength(max);
          const [given, second] = await Promise.all([
            Promise.all(ids.map((entry) => refund(store, ns, [{ key: "hot", entry }], 1))),
            Promise.all(Array.from({ length: concurrency }, () => consume(store, ns, b, 1))),
          ]);
          expect(given.flat().every((g) => g)).toBe(true);
          const allowed = second.filter((r) => r.allowed).length;
          expect(allowed).toBeLessThanOrEqual(max);
          // Every refund landed: what the second burst did not take is still free.
          expect(await consume(store, ns, [budget("hot", max, 60_000, 0)], 2)).toEqual({
            allowed: true,
            remaining: [max - allowed],
          });
        }),
        timeout,
      );
    });

    describe("through compilePolicy", () => {
      const policyOn = (store: Store, namespace: string, doc: PolicyDocument, clock: FakeClock) =>
        compilePolicy(doc, { store, clock, namespace });

      it(
        "refuses at 59999 ms with retryAfterMs 1 and allows at 60000 ms (max 10 per 60 s)",
        withStore(async (store, ns) => {
          const clock = fakeClock(0);
          const policy = policyOn(
            store,
            ns,
            {
              version: "1",
              default: "deny",
              tools: { create_run: { rate_limit: { max: 10, window: 60 } } },
            },
            clock,
          );
          const call = { tool: "create_run", session: { id: "s1" } };
          for (let i = 0; i < 10; i++) {
            expect(await policy.decide(call)).toEqual({
              outcome: "allow",
              rule: "/tools/create_run",
              remaining: 9 - i,
            });
          }
          clock.set(59_999);
          const refused = await policy.decide(call);
          expect(refused).toMatchObject({
            outcome: "rate_limited",
            rule: "/tools/create_run/rate_limit",
            retryAfterMs: 1,
            limit: { max: 10, windowMs: 60_000, per: "session" },
          });
          clock.set(60_000);
          expect(await policy.decide(call)).toEqual({ outcome: "allow", rule: "/tools/create_run", remaining: 9 });
        }),
        timeout,
      );

      it(
        "counts a refused call in none of its limits",
        withStore(async (store, ns) => {
          const clock = fakeClock(1_000);
          const policy = policyOn(
            store,
            ns,
            {
              version: "1",
              default: "allow",
              limits: [{ max: 10, window: "1m" }],
              tools: { a: { rate_limit: { max: 1, window: "1m" } } },
            },
            clock,
          );
          const session = { id: "s" };
          expect(await policy.decide({ tool: "a", session })).toMatchObject({ outcome: "allow", remaining: 0 });
          expect(await policy.decide({ tool: "a", session })).toMatchObject({
            outcome: "rate_limited",
            rule: "/tools/a/rate_limit",
          });
          // Only the allowed call is in the policy's limit: 10 - 2 = 8 left after this one.
          expect(await policy.decide({ tool: "b", session })).toEqual({
            outcome: "allow",
            rule: "/default",
            remaining: 8,
          });
        }),
        timeout,
      );

      it(
        "keeps sessions, attribute values and the global budget apart, whatever characters they hold",
        withStore(async (store, ns) => {
          const clock = fakeClock(0);
          const policy = policyOn(
            store,
            ns,
            {
              version: "1",
              default: "deny",
              tools: {
                s: { rate_limit: { max: 1, window: "1m" } },
                u: {
                  rate_limit: [
                    { max: 1, window: "1m", per: "/user" },
                    { max: 1_000, window: "1m", per: "global" },
                  ],
                },
              },
            },
            clock,
          );
          const ids = ["a", "a:", "{a}", "}", "{", "a:b", "\uD800", "\uFFFD", "7"];
          for (const id of ids) {
            expect(await policy.decide({ tool: "s", session: { id } }), `session ${JSON.stringify(id)}`).toMatchObject({
              outcome: "allow",
            });
          }
          for (const id of ids) {
            expect(await policy.decide({ tool: "s", session: { id } }), `session ${JSON.stringify(id)}`).toMatchObject({
              outcome: "rate_limited",
            });
          }
          const users: unknown[] = [...ids, 7];
          for (const user of users) {
            expect(
              await policy.decide({ tool: "u", session: { id: "x", user } }),
              `user ${JSON.stringify(user)}`,
            ).toMatchObject({ outcome: "allow" });
          }
          for (const user of users) {
            expect(
              await policy.decide({ tool: "u", session: { id: "y", user } }),
              `user ${JSON.stringify(user)}`,
            ).toMatchObject({
              outcome: "rate_limited",
              rule: "/tools/u/rate_limit/0",
            });
          }
        }),
        timeout,
      );

      it(
        "shares budgets between policies of one namespace and keeps namespaces apart",
        withStore(async (store, ns) => {
          const clock = fakeClock(0);
          const doc: PolicyDocument = {
            version: "1",
            default: "deny",
            tools: { t: { rate_limit: { max: 1, window: "1m" } } },
          };
          const replicaA = policyOn(store, ns, doc, clock);
          const replicaB = policyOn(store, ns, doc, clock);
          const other = policyOn(store, `${ns}:`, doc, clock);
          const braces = policyOn(store, `${ns}{x}`, doc, clock);
          const call = { tool: "t", session: { id: "s" } };
          expect(await replicaA.decide(call)).toMatchObject({ outcome: "allow" });
          expect(await replicaB.decide(call)).toMatchObject({ outcome: "rate_limited" });
          expect(await other.decide(call)).toMatchObject({ outcome: "allow" });
          expect(await braces.decide(call)).toMatchObject({ outcome: "allow" });
          expect(await other.decide(call)).toMatchObject({ outcome: "rate_limited" });
        }),
        timeout,
      );

      it(
        "counts nothing for peek and explain",
        withStore(async (store, ns) => {
          const clock = fakeClock(0);
          const policy = policyOn(
            store,
            ns,
            {
              version: "1",
              default: "deny",
              tools: { t: { rate_limit: { max: 2, window: "1m" } } },
            },
            clock,
          );
          const call = { tool: "t", session: { id: "s" } };
          for (let i = 0; i < 3; i++) {
            expect(await policy.peek(call)).toMatchObject({ outcome: "allow", remaining: 1 });
            expect((await policy.explain(call)).decision).toMatchObject({ outcome: "allow", remaining: 1 });
          }
          expect(await policy.decide(call)).toMatchObject({ outcome: "allow", remaining: 1 });
          expect(await policy.decide(call)).toMatchObject({ outcome: "allow", remaining: 0 });
          expect(await policy.peek(call)).toMatchObject({ outcome: "rate_limited", retryAfterMs: 60_000 });
        }),
        timeout,
      );

      it(
        `allows exactly max of ${concurrency} concurrent decide calls on one session`,
        withStore(async (store, ns) => {
          const max = Math.floor(concurrency / 10);
          const clock = fakeClock(5_000);
          const policy = policyOn(
            store,
            ns,
            {
              version: "1",
              default: "deny",
              tools: { t: { rate_limit: { max, window: "1h" } } },
            },
            clock,
          );
          const decisions: Decision[] = await Promise.all(
            Array.from({ length: concurrency }, () => policy.decide({ tool: "t", session: { id: "hot" } })),
          );
          const outcomes = decisions.map((d) => d.outcome);
          expect(outcomes.filter((o) => o === "allow")).toHaveLength(max);
          expect(outcomes.filter((o) => o === "rate_limited")).toHaveLength(concurrency - max);
        }),
        timeout,
      );
    });
  });
}
