import { describe, expect, it } from "vitest";
import { compilePolicy, MemoryStore, type ConsumeRequest } from "toolgate";

const req = (key: string, now: number, o: Partial<{ max: number; windowMs: number; cost: number; dryRun: boolean }> = {}): ConsumeRequest => ({
  namespace: "ns",
  now,
  dryRun: o.dryRun ?? false,
  budgets: [{ key, max: o.max ?? 2, windowMs: o.windowMs ?? 1000, cost: o.cost ?? 1 }],
});

describe("MemoryStore", () => {
  it("rejects bad options at construction with exact messages", () => {
    expect(() => new MemoryStore({ maxKeys: 0 })).toThrow(new TypeError("MemoryStore: maxKeys must be a positive integer, got 0"));
    expect(() => new MemoryStore({ maxKeys: 1.5 })).toThrow(new TypeError("MemoryStore: maxKeys must be a positive integer, got 1.5"));
    expect(() => new MemoryStore({ maxKeys: "10" as never })).toThrow(new TypeError('MemoryStore: maxKeys must be a positive integer, got "10"'));
    expect(() => new MemoryStore({ max: 10 } as never)).toThrow(new TypeError('MemoryStore: unknown option "max"'));
    expect(() => new MemoryStore(null as never)).toThrow(new TypeError("MemoryStore: options must be an object, got null"));
    expect(new MemoryStore().maxKeys).toBe(100_000);
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

  it("counts all budgets of a request or none", () => {
    const s = new MemoryStore();
    const both = (now: number): ConsumeRequest => ({
      namespace: "ns",
      now,
      dryRun: false,
      budgets: [
        { key: "a", max: 3, windowMs: 1000, cost: 1 },
        { key: "b", max: 1, windowMs: 5000, cost: 1 },
      ],
    });
    expect(s.consume(both(0))).toEqual({ allowed: true, remaining: [2, 0] });
    expect(s.consume(both(10))).toEqual({ allowed: false, retryAfterMs: [0, 4990] });
    // "a" was not counted by the refused request: two units are still free.
    expect(s.consume(req("a", 20, { max: 3 }))).toEqual({ allowed: true, remaining: [1] });
  });

  it("counts nothing on a dry run", () => {
    const s = new MemoryStore();
    expect(s.consume(req("k", 0, { dryRun: true }))).toEqual({ allowed: true, remaining: [1] });
    expect(s.size).toBe(0);
    s.consume(req("k", 0));
    s.consume(req("k", 0));
    expect(s.consume(req("k", 5, { dryRun: true }))).toEqual({ allowed: false, retryAfterMs: [995] });
  });

  it("weighs calls by cost", () => {
    const s = new MemoryStore();
    expect(s.consume(req("k", 0, { max: 10, cost: 4 }))).toEqual({ allowed: true, remaining: [6] });
    expect(s.consume(req("k", 100, { max: 10, cost: 1 }))).toEqual({ allowed: true, remaining: [5] });
    expect(s.consume(req("k", 200, { max: 10, cost: 6 }))).toEqual({ allowed: false, retryAfterMs: [800] });
    expect(s.consume(req("k", 1000, { max: 10, cost: 6 }))).toEqual({ allowed: true, remaining: [3] });
    expect(() => s.consume(req("k", 0, { cost: 0 }))).toThrow(RangeError);
  });

  it("never lets time run backwards within a budget", () => {
    const s = new MemoryStore();
    s.consume(req("k", 5000));
    s.consume(req("k", 1000)); // counted as 5000
    expect(s.consume(req("k", 5500))).toEqual({ allowed: false, retryAfterMs: [500] });
    expect(s.consume(req("k", 6000))).toEqual({ allowed: true, remaining: [1] });
  });

  it("keeps memory proportional to the calls inside the window", () => {
    const s = new MemoryStore();
    let now = 0;
    for (let i = 0; i < 100_000; i++) {
      now += 10;
      expect(s.consume(req("k", now, { max: 1000, windowMs: 1000 })).allowed).toBe(true);
    }
    // 100 calls fit in any 1 s window at one call per 10 ms.
    expect(s.consume(req("k", now, { max: 101, windowMs: 1000, dryRun: true }))).toEqual({ allowed: true, remaining: [0] });
  });

  it("drops empty budgets before live ones, then the least recently used", () => {
    const s = new MemoryStore({ maxKeys: 3 });
    s.consume(req("short", 0, { windowMs: 100, max: 1 }));
    s.consume(req("live1", 0, { windowMs: 10_000, max: 1 }));
    s.consume(req("live2", 50, { windowMs: 10_000, max: 1 }));
    // "short" is empty at 200 though it is not the least recently used: it goes first.
    s.consume(req("new", 200, { windowMs: 10_000, max: 1 }));
    expect(s.size).toBe(3);
    expect(s.consume(req("live1", 300, { windowMs: 10_000, max: 1 })).allowed).toBe(false);
    expect(s.consume(req("live2", 300, { windowMs: 10_000, max: 1 })).allowed).toBe(false);
    // All live now: the least recently used ("new") is dropped and starts again empty.
    s.consume(req("another", 400, { windowMs: 10_000, max: 1 }));
    expect(s.size).toBe(3);
    expect(s.consume(req("new", 500, { windowMs: 10_000, max: 1 })).allowed).toBe(true);
  });

  it("stays within maxKeys whatever the number of sessions", () => {
    const store = new MemoryStore({ maxKeys: 500 });
    let now = 0;
    const policy = compilePolicy({ version: "1", default: { rate_limit: { max: 1, window: 60 } }, tools: {} }, { store, clock: () => now });
    for (let i = 0; i < 5000; i++) {
      now++;
      expect(policy.decideSync({ tool: "t", session: { id: `s${i}` } }).outcome).toBe("allow");
    }
    expect(store.size).toBeLessThanOrEqual(500);
    store.clear();
    expect(store.size).toBe(0);
  });
});
