// MemoryStore on its own: options, exact windows in integer units, eviction (empty budgets first,
// also after the clock stepped back; shared budgets kept over per-session ones), fractional
// clocks, and memory that follows the calls inside the window (measured in a child process with
// --expose-gc, on the built package).

import { spawnSync } from "node:child_process";
import { compilePolicy, MemoryStore, type BudgetRequest, type ConsumeRequest } from "toolgate";
import { describe, expect, it } from "vitest";

const budget = (key: string, o: Partial<BudgetRequest> = {}): BudgetRequest => ({
  key,
  max: o.max ?? 2,
  windowMs: o.windowMs ?? 1000,
  cost: o.cost ?? 1,
  refundable: o.refundable ?? false,
  shared: o.shared ?? false,
});
const req = (key: string, now: number, o: Partial<BudgetRequest> & { dryRun?: boolean } = {}): ConsumeRequest => ({
  namespace: "ns",
  now,
  dryRun: o.dryRun ?? false,
  budgets: [budget(key, o)],
});

describe("MemoryStore", () => {
  it("rejects bad options at construction with exact messages", () => {
    expect(() => new MemoryStore({ maxKeys: 0 })).toThrow(
      new TypeError("MemoryStore: maxKeys must be an integer >= 1, got 0"),
    );
    expect(() => new MemoryStore({ maxKeys: 1.5 })).toThrow(
      new TypeError("MemoryStore: maxKeys must be an integer >= 1, got 1.5"),
    );
    expect(() => new MemoryStore({ maxKeys: "10" as never })).toThrow(
      new TypeError('MemoryStore: maxKeys must be an integer >= 1, got "10"'),
    );
    expect(() => new MemoryStore({ maxKeys: 2 ** 53 })).toThrow(TypeError);
    expect(() => new MemoryStore({ max: 10 } as never)).toThrow(new TypeError('MemoryStore: unknown option "max"'));
    expect(() => new MemoryStore({ maxKey: 10 } as never)).toThrow(
      new TypeError('MemoryStore: unknown option "maxKey" (did you mean "maxKeys"?)'),
    );
    expect(() => new MemoryStore(null as never)).toThrow(
      new TypeError("MemoryStore: options must be a plain object, got null"),
    );
    expect(() => new MemoryStore([] as never)).toThrow(
      new TypeError("MemoryStore: options must be a plain object, got an array"),
    );
    expect(new MemoryStore().maxKeys).toBe(100_000);
    expect(new MemoryStore(undefined).maxKeys).toBe(100_000);
    expect(new MemoryStore().synchronous).toBe(true);
  });

  it("is an exact sliding window with exact waits", () => {
    const s = new MemoryStore();
    expect(s.consume(req("k", 0))).toEqual({ allowed: true, remaining: [1] });
    expect(s.consume(req("k", 400))).toEqual({ allowed: true, remaining: [0] });
    expect(s.consume(req("k", 999))).toEqual({ allowed: false, retryAfterMs: [1] });
    expect(s.consume(req("k", 1000))).toEqual({ allowed: true, remaining: [0] });
    expect(s.consume(req("k", 1001))).toEqual({ allowed: false, retryAfterMs: [399] });
  });

  it("answers whole-millisecond waits for a fractional clock, and the engine reads them (issue 12 item 5)", () => {
    const s = new MemoryStore();
    expect(s.consume(req("k", 0.5, { max: 1 }))).toEqual({ allowed: true, remaining: [0] });
    expect(s.consume(req("k", 999.5, { max: 1 }))).toEqual({ allowed: false, retryAfterMs: [1] });
    let now = 0.5;
    const policy = compilePolicy(
      { version: "1", default: "deny", tools: { t: { rate_limit: { max: 1, window: 1 } } } },
      { store: new MemoryStore(), clock: () => now },
    );
    expect(policy.decideSync({ tool: "t", session: { id: "s" } })).toMatchObject({ outcome: "allow" });
    now = 999.5;
    expect(policy.decideSync({ tool: "t", session: { id: "s" } })).toMatchObject({
      outcome: "rate_limited",
      retryAfterMs: 1,
    });
    now = 1000.5;
    expect(policy.decideSync({ tool: "t", session: { id: "s" } })).toMatchObject({ outcome: "allow" });
  });

  it("counts all budgets of a request or none, and refuses a request that names a budget twice", () => {
    const s = new MemoryStore();
    const both = (now: number): ConsumeRequest => ({
      namespace: "ns",
      now,
      dryRun: false,
      budgets: [budget("a", { max: 3 }), budget("b", { max: 1, windowMs: 5000 })],
    });
    expect(s.consume(both(0))).toEqual({ allowed: true, remaining: [2, 0] });
    expect(s.consume(both(10))).toEqual({ allowed: false, retryAfterMs: [0, 4990] });
    // "a" was not counted by the refused request: two units are still free.
    expect(s.consume(req("a", 20, { max: 3 }))).toEqual({ allowed: true, remaining: [1] });
    expect(() => s.consume({ namespace: "ns", now: 0, dryRun: false, budgets: [budget("x"), budget("x")] })).toThrow(
      new RangeError("MemoryStore: budgets[1].key repeats budgets[0].key"),
    );
    expect(s.consume(req("x", 30))).toEqual({ allowed: true, remaining: [1] });
  });

  it("counts nothing on a dry run or for a cost of 0, and keeps no budget for them", () => {
    const s = new MemoryStore();
    expect(s.consume(req("k", 0, { dryRun: true }))).toEqual({ allowed: true, remaining: [1] });
    expect(s.consume(req("k", 0, { cost: 0 }))).toEqual({ allowed: true, remaining: [2] });
    expect(s.consume(req("k", 0, { cost: 0, refundable: true }))).toEqual({
      allowed: true,
      remaining: [2],
      entries: [null],
    });
    expect(s.size).toBe(0);
    s.consume(req("k", 0));
    s.consume(req("k", 0));
    expect(s.consume(req("k", 5, { dryRun: true }))).toEqual({ allowed: false, retryAfterMs: [995] });
    expect(s.consume(req("k", 5, { cost: 0 }))).toEqual({ allowed: true, remaining: [0] });
  });

  it("weighs calls by cost, up to max and no further", () => {
    const s = new MemoryStore();
    expect(s.consume(req("k", 0, { max: 10, cost: 4 }))).toEqual({ allowed: true, remaining: [6] });
    expect(s.consume(req("k", 100, { max: 10, cost: 1 }))).toEqual({ allowed: true, remaining: [5] });
    expect(s.consume(req("k", 200, { max: 10, cost: 6 }))).toEqual({ allowed: false, retryAfterMs: [800] });
    expect(s.consume(req("k", 1000, { max: 10, cost: 6 }))).toEqual({ allowed: true, remaining: [3] });
    expect(() => s.consume(req("k", 0, { max: 2, cost: 3 }))).toThrow(
      new RangeError("MemoryStore: budgets[0].cost (3) is greater than its max (2): the call can never fit"),
    );
  });

  it("never lets time run backwards within a budget", () => {
    const s = new MemoryStore();
    s.consume(req("k", 5000));
    s.consume(req("k", 1000)); // counted as 5000
    expect(s.consume(req("k", 5500))).toEqual({ allowed: false, retryAfterMs: [500] });
    expect(s.consume(req("k", 6000))).toEqual({ allowed: true, remaining: [1] });
  });

  it("drops an empty budget first, then the least recently used per-session budget", () => {
    const s = new MemoryStore({ maxKeys: 3 });
    s.consume(req("short", 0, { windowMs: 100, max: 1 }));
    s.consume(req("live1", 0, { windowMs: 10_000, max: 1 }));
    s.consume(req("live2", 50, { windowMs: 10_000, max: 1 }));
    // "short" is empty at 200 though it is not the oldest: it goes first.
    s.consume(req("new", 200, { windowMs: 10_000, max: 1 }));
    expect(s.size).toBe(3);
    expect(s.consume(req("live1", 300, { windowMs: 10_000, max: 1 })).allowed).toBe(false);
    expect(s.consume(req("live2", 300, { windowMs: 10_000, max: 1 })).allowed).toBe(false);
    // All live now, and "live1" and "live2" were used (refused) since "new" was: the least
    // recently used ("new") is dropped and starts again empty.
    s.consume(req("another", 400, { windowMs: 10_000, max: 1 }));
    expect(s.size).toBe(3);
    expect(s.consume(req("new", 500, { windowMs: 10_000, max: 1 })).allowed).toBe(true);
    expect(s.consume(req("live2", 600, { windowMs: 10_000, max: 1 })).allowed).toBe(false);
  });

  it("makes room for a call's new budgets before counting any: all of the call, or none of it", () => {
    // maxKeys 2, "a" held. A call on a, b and c cannot keep its three budgets: it is refused as
    // a store failure (it throws) with nothing counted; before, a and b were counted, then b was
    // dropped to make room for c.
    const s = new MemoryStore({ maxKeys: 2 });
    s.consume(req("a", 0, { max: 2 }));
    const three = {
      namespace: "n",
      budgets: ["a", "b", "c"].map((k) => budget(k, { max: 2 })),
      now: 10,
      dryRun: false,
    };
    expect(() => s.consume(three)).toThrow("budgets (maxKeys) are in use by shared budgets or by this call");
    expect(s.consume(req("a", 20, { max: 2, dryRun: true }))).toEqual({ allowed: true, remaining: [0] });
    expect(s.size).toBe(1);
    // Two new budgets fit when one empty budget can go first.
    const t = new MemoryStore({ maxKeys: 2 });
    t.consume(req("old", 0, { windowMs: 100 }));
    t.consume(req("kept", 0, { windowMs: 10_000 }));
    const two = {
      namespace: "n",
      budgets: [budget("kept", { windowMs: 10_000 }), budget("x")],
      now: 500,
      dryRun: false,
    };
    expect(t.consume(two).allowed).toBe(true);
    expect(t.size).toBe(2);
  });

  it("finds an empty budget behind one of the call's own, and keeps the call's budget findable after", () => {
    const s = new MemoryStore({ maxKeys: 2 });
    s.consume(req("c", 0, { windowMs: 1_000, max: 1 }));
    s.consume(req("a", 1_000, { windowMs: 1_000, max: 1 }));
    // "c" is empty at 1,500 and shares its group with "a", the call's own, which is not counted
    // yet when room is made: "c" still goes first.
    const call = {
      namespace: "n",
      budgets: [budget("a", { windowMs: 1_000, max: 2 }), budget("n", { windowMs: 3_600_000, max: 1 })],
      now: 1_500,
      dryRun: false,
    };
    expect(s.consume(call).allowed).toBe(true);
    // "a" used again: "n" is now the least recently used.
    s.consume(req("a", 1_600, { windowMs: 1_000, max: 2, dryRun: true }));
    // At 3,000 "a" is empty: a new budget takes its place, not the live "n"'s.
    s.consume(req("e", 3_000, { windowMs: 1_000, max: 1 }));
    expect(s.consume(req("n", 3_100, { windowMs: 3_600_000, max: 1, dryRun: true })).allowed).toBe(false);
  });

  it("drops the empty budget, not a live one, after the clock stepped back in a full store (issue 10 item 9)", () => {
    const s = new MemoryStore({ maxKeys: 2 });
    // Counted at 10,000, then the clock steps back: "late" is counted at 0, after "early" was.
    s.consume(req("early", 10_000, { windowMs: 1_000, max: 1 }));
    s.consume(req("late", 0, { windowMs: 1_000, max: 1 }));
    // At 1,500 "late" is empty and "early" is live (its call at 10,000 is still in its window).
    s.consume(req("new", 1_500, { windowMs: 1_000, max: 1 }));
    expect(s.size).toBe(2);
    expect(s.consume(req("early", 1_600, { windowMs: 1_000, max: 1 }))).toEqual({
      allowed: false,
      retryAfterMs: [9_400],
    });
    expect(s.consume(req("late", 1_700, { windowMs: 1_000, max: 1, dryRun: true }))).toEqual({
      allowed: true,
      remaining: [0],
    });
  });

  it("keeps a shared budget while 100,000 one-call sessions churn through a full store (issue 10)", () => {
    const store = new MemoryStore({ maxKeys: 1_000 });
    let now = 0;
    const policy = compilePolicy(
      {
        version: "1",
        default: "deny",
        tools: {
          t: {
            rate_limit: [
              { max: 100, window: "1d" },
              { max: 5, window: "1d", per: "global" },
            ],
          },
          free: { rate_limit: { max: 1, window: "1d" } },
        },
      },
      { store, clock: () => now },
    );
    for (let i = 0; i < 5; i++)
      expect(policy.decideSync({ tool: "t", session: { id: `a${i}` } })).toMatchObject({ outcome: "allow" });
    for (let i = 0; i < 100_000; i++) {
      now++;
      expect(policy.decideSync({ tool: "free", session: { id: `churn${i}` } }).outcome).toBe("allow");
    }
    expect(store.size).toBeLessThanOrEqual(1_000);
    // The same day: the global "5 a day" budget is still spent.
    expect(policy.decideSync({ tool: "t", session: { id: "late" } })).toMatchObject({
      outcome: "rate_limited",
      rule: "/tools/t/rate_limit/1",
    });
  });

  it("never drops a shared budget for a per-session one, and says so when nothing else can go", () => {
    const s = new MemoryStore({ maxKeys: 2 });
    s.consume(req("g1", 0, { shared: true, windowMs: 60_000 }));
    s.consume(req("g2", 0, { shared: true, windowMs: 60_000 }));
    expect(() => s.consume(req("session", 10))).toThrow(
      /^MemoryStore: all 2 budgets \(maxKeys\) are in use by shared budgets/,
    );
    // A new shared budget may take the oldest shared one's place.
    expect(s.consume(req("g3", 20, { shared: true, windowMs: 60_000 }))).toEqual({ allowed: true, remaining: [1] });
    expect(s.size).toBe(2);
    // Once a shared budget is empty, a per-session one takes its place.
    expect(s.consume(req("session", 60_020))).toEqual({ allowed: true, remaining: [1] });
  });

  it("gives refunds back only for refundable budgets, and checks the refund request", () => {
    const s = new MemoryStore();
    const counted = s.consume(req("r", 0, { refundable: true }));
    const plain = s.consume(req("p", 0));
    expect(counted).toEqual({ allowed: true, remaining: [1], entries: ["0"] });
    expect(plain).toEqual({ allowed: true, remaining: [1] });
    // An id guessed for a budget without refunds gives nothing back.
    expect(
      s.refund({
        namespace: "ns",
        entries: [
          { key: "p", entry: "1" },
          { key: "p", entry: "0" },
        ],
        now: 1,
      }),
    ).toEqual({ given: [false, false] });
    expect(s.refund({ namespace: "ns", entries: [{ key: "r", entry: "0" }], now: 1 })).toEqual({ given: [true] });
    expect(() => s.refund(null as never)).toThrow(
      new TypeError("MemoryStore: refund request must be a plain object, got null"),
    );
    expect(() => s.refund({ namespace: "ns", entries: "x" as never, now: 0 })).toThrow(
      new TypeError('MemoryStore: refund entries must be an array, got "x"'),
    );
    expect(() => s.refund({ namespace: "ns", entries: [], now: Number.NaN })).toThrow(
      new TypeError("MemoryStore: now must be a finite number, got NaN"),
    );
    expect(() => s.refund({ namespace: "ns", entries: [{ key: 1 } as never], now: 0 })).toThrow(
      new TypeError("MemoryStore: refund entries[0] must be { key: string, entry: string }"),
    );
  });

  it("stays within maxKeys whatever the number of sessions", () => {
    const store = new MemoryStore({ maxKeys: 500 });
    let now = 0;
    const policy = compilePolicy(
      { version: "1", default: { rate_limit: { max: 1, window: 60 } }, tools: {} },
      { store, clock: () => now },
    );
    for (let i = 0; i < 5000; i++) {
      now++;
      expect(policy.decideSync({ tool: "t", session: { id: `s${i}` } }).outcome).toBe("allow");
    }
    expect(store.size).toBeLessThanOrEqual(500);
    store.clear();
    expect(store.size).toBe(0);
  });

  it("keeps memory proportional to the calls inside the window (heap measured with --expose-gc)", () => {
    // A child process, so this heap holds nothing but the measurement: one budget takes 200,000
    // calls inside its window, then the window slides on until 100 calls remain in it.
    const script = `
      const { MemoryStore } = await import("toolgate");
      const heap = () => { gc(); gc(); return process.memoryUsage().heapUsed; };
      const store = new MemoryStore();
      const budgets = [{ key: "k", max: 1e9, windowMs: 1000, cost: 1, refundable: false, shared: false }];
      const base = heap();
      let now = 0;
      for (let i = 0; i < 200000; i++) store.consume({ namespace: "n", budgets, now: (now += 0.001), dryRun: false });
      const full = heap() - base;
      for (let i = 0; i < 200000; i++) store.consume({ namespace: "n", budgets, now: (now += 10), dryRun: false });
      const slid = heap() - base;
      const last = store.consume({ namespace: "n", budgets, now, dryRun: true });
      console.log(JSON.stringify({ full, slid, remaining: last.remaining[0] }));
    `;
    const child = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], {
      encoding: "utf8",
      cwd: process.cwd(),
    });
    expect(child.stderr).toBe("");
    const { full, slid, remaining } = JSON.parse(child.stdout) as { full: number; slid: number; remaining: number };
    // 100 calls fit in any 1 s window at one call per 10 ms.
    expect(remaining).toBe(1e9 - 101);
    // 200,000 times inside the window: 8 bytes each, and at most twice that with growth.
    expect(full).toBeGreaterThan(200_000 * 8);
    expect(full).toBeLessThan(200_000 * 16 + 64 * 1024);
    // 100 times inside the window: the log shrank back with the window, to a small part of it.
    expect(slid).toBeLessThan(full / 10);
  });
});
