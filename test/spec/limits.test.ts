/**
 * docs/spec.md §1 "Limit" and "Budgets", §2 clock and store, §3 steps 4–5 and "Sliding window":
 * the exact window, all-or-nothing counting, which limit is reported, `per`, shared budgets,
 * namespaces, and time that never runs backwards within a budget.
 */

import { compilePolicy, MemoryStore } from "toolgate";
import { describe, expect, it } from "vitest";
import { call, Clock, compile, doc } from "./helpers.js";

describe("sliding window", () => {
  it("refuses the 11th call at 59999 with retryAfterMs 1 and allows it at 60000", () => {
    const clock = new Clock();
    const policy = compile(doc({ create_run: { rate_limit: { max: 10, window: 60 } } }), clock);
    for (let i = 0; i < 10; i++)
      expect(policy.decideSync(call("create_run"))).toEqual({
        outcome: "allow",
        rule: "/tools/create_run",
        remaining: 9 - i,
      });
    clock.now = 59_999;
    expect(policy.decideSync(call("create_run"))).toMatchObject({
      outcome: "rate_limited",
      retryAfterMs: 1,
      rule: "/tools/create_run/rate_limit",
    });
    clock.now = 60_000;
    expect(policy.decideSync(call("create_run"))).toEqual({
      outcome: "allow",
      rule: "/tools/create_run",
      remaining: 9,
    });
  });

  it("slides: each old call frees room exactly one window after it was counted", () => {
    const clock = new Clock();
    const policy = compile(doc({ t: { rate_limit: { max: 2, window: "100ms" } } }), clock);
    clock.now = 0;
    policy.decideSync(call("t"));
    clock.now = 40;
    policy.decideSync(call("t"));
    clock.now = 99;
    expect(policy.decideSync(call("t"))).toMatchObject({ outcome: "rate_limited", retryAfterMs: 1 });
    clock.now = 100;
    expect(policy.decideSync(call("t"))).toMatchObject({ outcome: "allow", remaining: 0 });
    clock.now = 101;
    expect(policy.decideSync(call("t"))).toMatchObject({ outcome: "rate_limited", retryAfterMs: 39 });
    clock.now = 140;
    expect(policy.decideSync(call("t"))).toMatchObject({ outcome: "allow" });
  });

  it("does not count refused calls: hammering a full budget does not push the retry further", () => {
    const clock = new Clock();
    const policy = compile(doc({ t: { rate_limit: { max: 1, window: "10ms" } } }), clock);
    policy.decideSync(call("t"));
    for (let now = 1; now < 10; now++) {
      clock.now = now;
      expect(policy.decideSync(call("t"))).toMatchObject({ outcome: "rate_limited", retryAfterMs: 10 - now });
    }
    clock.now = 10;
    expect(policy.decideSync(call("t")).outcome).toBe("allow");
  });

  it("does not count deny or needs_approval outcomes in the policy's limits", () => {
    const policy = compile(
      doc({ d: { action: "deny" }, q: { action: "require_approval" }, ok: {} }, { limits: [{ max: 1, window: 1 }] }),
    );
    for (let i = 0; i < 5; i++) {
      policy.decideSync(call("d"));
      policy.decideSync(call("q"));
      policy.decideSync(call("nope"));
    }
    expect(policy.decideSync(call("ok"))).toMatchObject({ outcome: "allow", remaining: 0 });
  });
});

describe("several limits", () => {
  it("counts all-or-nothing: a call refused by one limit uses none of the others", () => {
    const clock = new Clock();
    const policy = compile(
      doc(
        { a: { rate_limit: { max: 1, window: 1 } }, b: { rate_limit: { max: 100, window: 1 } } },
        { limits: [{ max: 3, window: 1 }] },
      ),
      clock,
    );
    expect(policy.decideSync(call("a")).outcome).toBe("allow");
    for (let i = 0; i < 5; i++) expect(policy.decideSync(call("a")).rule).toBe("/tools/a/rate_limit");
    // /limits/0 holds one call (from the first "a"), so two more fit.
    expect(policy.decideSync(call("b"))).toMatchObject({ outcome: "allow", remaining: 1 });
    expect(policy.decideSync(call("b"))).toMatchObject({ outcome: "allow", remaining: 0 });
    expect(policy.decideSync(call("b")).rule).toBe("/limits/0");
  });

  it("reports the full limit with the longest wait", () => {
    const clock = new Clock();
    const policy = compile(
      doc(
        {
          t: {
            rate_limit: [
              { max: 1, window: "10ms" },
              { max: 1, window: "50ms" },
            ],
          },
        },
        { limits: [{ max: 1, window: "30ms" }] },
      ),
      clock,
    );
    policy.decideSync(call("t"));
    clock.now = 5;
    expect(policy.decideSync(call("t"))).toMatchObject({ rule: "/tools/t/rate_limit/1", retryAfterMs: 45 });
    clock.now = 40;
    expect(policy.decideSync(call("t"))).toMatchObject({ rule: "/tools/t/rate_limit/1", retryAfterMs: 10 });
  });

  it("reports a policy limit when its wait is the longest", () => {
    const clock = new Clock();
    const policy = compile(
      doc({ t: { rate_limit: { max: 1, window: "10ms" } } }, { limits: [{ max: 1, window: "30ms" }] }),
      clock,
    );
    policy.decideSync(call("t"));
    clock.now = 1;
    expect(policy.decideSync(call("t"))).toMatchObject({
      rule: "/limits/0",
      retryAfterMs: 29,
      limit: { max: 1, windowMs: 30, per: "session" },
    });
  });

  it("breaks a tie on the wait by order: the rule's limits first, then the policy's", () => {
    const clock = new Clock();
    const policy = compile(
      doc(
        {
          t: {
            rate_limit: [
              { max: 2, window: "10ms" },
              { max: 1, window: "10ms" },
            ],
          },
        },
        {
          limits: [
            { max: 1, window: "10ms" },
            { max: 1, window: "10ms", per: "global" },
          ],
        },
      ),
      clock,
    );
    policy.decideSync(call("t"));
    clock.now = 0;
    // rate_limit/0 has room; rate_limit/1, limits/0 and limits/1 all wait 10ms.
    expect(policy.decideSync(call("t"))).toMatchObject({ rule: "/tools/t/rate_limit/1", retryAfterMs: 10 });
    const only = compile(
      doc(
        { t: {} },
        {
          limits: [
            { max: 1, window: "10ms" },
            { max: 1, window: "10ms", per: "global" },
          ],
        },
      ),
      clock,
    );
    only.decideSync(call("t"));
    expect(only.decideSync(call("t"))).toMatchObject({ rule: "/limits/0" });
  });
});

describe("per", () => {
  it("gives each session its own budget by default and for per: session", () => {
    for (const limit of [
      { max: 1, window: 1 },
      { max: 1, window: 1, per: "session" },
    ]) {
      const policy = compile(doc({ t: { rate_limit: limit } }));
      expect(policy.decideSync(call("t", {}, "s1")).outcome).toBe("allow");
      expect(policy.decideSync(call("t", {}, "s2")).outcome).toBe("allow");
      expect(policy.decideSync(call("t", {}, "s1")).outcome).toBe("rate_limited");
    }
  });

  it("shares one budget across sessions for per: global", () => {
    const policy = compile(doc({ t: { rate_limit: { max: 2, window: 1, per: "global" } } }));
    expect(policy.decideSync(call("t", {}, "s1")).outcome).toBe("allow");
    expect(policy.decideSync(call("t", {}, "s2")).outcome).toBe("allow");
    expect(policy.decideSync(call("t", {}, "s3"))).toMatchObject({ outcome: "rate_limited", limit: { per: "global" } });
  });

  it('shares a budget among sessions with the same attribute value; 7 and "7" differ', () => {
    const policy = compile(doc({ t: { rate_limit: { max: 1, window: 1, per: "/userId" } } }));
    expect(policy.decideSync({ tool: "t", session: { id: "a", userId: 7 } }).outcome).toBe("allow");
    expect(policy.decideSync({ tool: "t", session: { id: "b", userId: 7 } })).toMatchObject({
      outcome: "rate_limited",
      limit: { per: "/userId" },
    });
    expect(policy.decideSync({ tool: "t", session: { id: "c", userId: "7" } }).outcome).toBe("allow");
    expect(policy.decideSync({ tool: "t", session: { id: "d", userId: "7" } }).outcome).toBe("rate_limited");
    expect(policy.decideSync({ tool: "t", session: { id: "e", userId: "u" } }).outcome).toBe("allow");
    expect(policy.decideSync({ tool: "t", session: { id: "f", userId: 1.5 } }).outcome).toBe("allow");
  });

  it("reads nested attributes by JSON Pointer, with ~0 and ~1 escapes", () => {
    const policy = compile(
      doc({
        t: { rate_limit: { max: 1, window: 1, per: "/org/id" } },
        u: { rate_limit: { max: 1, window: 1, per: "/a~1b~0c" } },
      }),
    );
    expect(policy.decideSync({ tool: "t", session: { id: "a", org: { id: "o1" } } }).outcome).toBe("allow");
    expect(policy.decideSync({ tool: "t", session: { id: "b", org: { id: "o1" } } }).outcome).toBe("rate_limited");
    expect(policy.decideSync({ tool: "u", session: { id: "a", "a/b~c": "v" } }).outcome).toBe("allow");
    expect(policy.decideSync({ tool: "u", session: { id: "b", "a/b~c": "v" } }).outcome).toBe("rate_limited");
  });

  it.each([
    ["missing", { id: "s" }],
    ["null", { id: "s", userId: null }],
    ["empty string", { id: "s", userId: "" }],
    ["boolean", { id: "s", userId: true }],
    ["object", { id: "s", userId: { v: 1 } }],
    ["array", { id: "s", userId: ["u"] }],
    ["NaN", { id: "s", userId: Number.NaN }],
    ["Infinity", { id: "s", userId: Number.POSITIVE_INFINITY }],
  ])("denies a session whose attribute is %s, at that limit, before any budget is checked", (_, session) => {
    const policy = compile(
      doc(
        {
          t: {
            rate_limit: [
              { max: 1, window: 1, per: "global" },
              { max: 5, window: 1, per: "/userId" },
            ],
          },
        },
        { limits: [{ max: 1, window: 1 }] },
      ),
    );
    const d = policy.decideSync({ tool: "t", session });
    expect(d).toMatchObject({ outcome: "deny", rule: "/tools/t/rate_limit/1", cause: "missing_attribute" });
    expect(d.outcome === "deny" && d.reason.length > 0).toBe(true);
    // Nothing was counted: the global budget and the session's policy budget still have room.
    expect(policy.decideSync({ tool: "t", session: { id: "s", userId: "ok" } })).toEqual({
      outcome: "allow",
      rule: "/tools/t",
      remaining: 0,
    });
  });

  // docs/spec.md §1 "Limits": the pointer is followed through own properties only, and below the
  // session itself only through plain objects: a step into an array or a class instance finds
  // nothing, so the call is denied for want of the attribute.
  it("does not step into arrays or class instances below the session", () => {
    class Org {
      id = "o1";
    }
    const policy = compile(
      doc({
        t: { rate_limit: { max: 1, window: 1, per: "/org/0" } },
        u: { rate_limit: { max: 1, window: 1, per: "/org/id" } },
      }),
    );
    expect(policy.decideSync({ tool: "t", session: { id: "s", org: ["x"] } })).toMatchObject({
      outcome: "deny",
      cause: "missing_attribute",
    });
    expect(policy.decideSync({ tool: "u", session: { id: "s", org: new Org() } })).toMatchObject({
      outcome: "deny",
      cause: "missing_attribute",
    });
    expect(
      policy.decideSync({ tool: "u", session: { id: "s", org: Object.assign(Object.create(null), { id: "o1" }) } })
        .outcome,
    ).toBe("allow");
  });

  it("does not read attributes from the prototype chain", () => {
    const policy = compile(
      doc({
        t: { rate_limit: { max: 1, window: 1, per: "/constructor/name" } },
        u: { rate_limit: { max: 1, window: 1, per: "/toString" } },
      }),
    );
    expect(policy.decideSync(call("t"))).toMatchObject({
      outcome: "deny",
      rule: "/tools/t/rate_limit",
      cause: "missing_attribute",
    });
    expect(policy.decideSync(call("u"))).toMatchObject({
      outcome: "deny",
      rule: "/tools/u/rate_limit",
      cause: "missing_attribute",
    });
  });
});

describe("budgets", () => {
  it("shares a pattern's limit across every tool it covers", () => {
    const policy = compile(doc({ "delete_*": { rate_limit: { max: 2, window: 1 } } }));
    expect(policy.decideSync(call("delete_run")).outcome).toBe("allow");
    expect(policy.decideSync(call("delete_experiment")).outcome).toBe("allow");
    expect(policy.decideSync(call("delete_model"))).toMatchObject({
      outcome: "rate_limited",
      rule: "/tools/delete_*/rate_limit",
    });
  });

  it("shares default's limit across every tool it covers", () => {
    const policy = compile(doc({}, { default: { rate_limit: { max: 1, window: 1 } } }));
    expect(policy.decideSync(call("x")).outcome).toBe("allow");
    expect(policy.decideSync(call("y"))).toMatchObject({ outcome: "rate_limited", rule: "/default/rate_limit" });
  });

  it("shares each policy limit across all tools", () => {
    const policy = compile(
      doc({ a: {}, b: { rate_limit: { max: 9, window: 1 } } }, { default: "allow", limits: [{ max: 3, window: 1 }] }),
    );
    for (const tool of ["a", "b", "zzz"]) expect(policy.decideSync(call(tool)).outcome).toBe("allow");
    expect(policy.decideSync(call("a"))).toMatchObject({ outcome: "rate_limited", rule: "/limits/0" });
  });

  it("keeps separate budgets for separate keys, and for rules entries of one key", () => {
    const policy = compile(
      doc({
        a: { rate_limit: { max: 1, window: 1 } },
        b: { rate_limit: { max: 1, window: 1 } },
        c: {
          rules: [
            { when: { args: { required: ["x"] } }, rate_limit: { max: 1, window: 1 } },
            { rate_limit: { max: 1, window: 1 } },
          ],
        },
      }),
    );
    expect(policy.decideSync(call("a")).outcome).toBe("allow");
    expect(policy.decideSync(call("b")).outcome).toBe("allow");
    expect(policy.decideSync(call("c", { args: { x: 1 } })).outcome).toBe("allow");
    expect(policy.decideSync(call("c")).outcome).toBe("allow");
    expect(policy.decideSync(call("c")).outcome).toBe("rate_limited");
  });
});

describe("namespaces on a shared store", () => {
  const limited = (rest: Record<string, unknown> = {}) => doc({ t: { rate_limit: { max: 1, window: 60 } } }, rest);

  it("keeps budgets apart for policies with different names", () => {
    const store = new MemoryStore({ maxKeys: 100 });
    const a = compilePolicy(limited({ name: "a" }), { store });
    const b = compilePolicy(limited({ name: "b" }), { store });
    expect(a.namespace).not.toBe(b.namespace);
    expect(a.decideSync(call("t")).outcome).toBe("allow");
    expect(b.decideSync(call("t")).outcome).toBe("allow");
  });

  it("shares budgets for policies with the same name", () => {
    const store = new MemoryStore({ maxKeys: 100 });
    const a = compilePolicy(limited({ name: "same" }), { store });
    const b = compilePolicy(limited({ name: "same", description: "another edition" }), { store });
    expect(a.decideSync(call("t")).outcome).toBe("allow");
    expect(b.decideSync(call("t")).outcome).toBe("rate_limited");
  });

  it("prefers the namespace option over the name", () => {
    const store = new MemoryStore({ maxKeys: 100 });
    const a = compilePolicy(limited({ name: "x" }), { store, namespace: "shared" });
    const b = compilePolicy(limited({ name: "y" }), { store, namespace: "shared" });
    const c = compilePolicy(limited({ name: "shared" }), { store, namespace: "other" });
    expect(a.namespace).toBe("shared");
    expect(a.decideSync(call("t")).outcome).toBe("allow");
    expect(b.decideSync(call("t")).outcome).toBe("rate_limited");
    expect(c.decideSync(call("t")).outcome).toBe("allow");
  });

  it("shares budgets for unnamed copies of one document (replicas), and not for different documents", () => {
    const store = new MemoryStore({ maxKeys: 100 });
    const a = compilePolicy(limited(), { store });
    const b = compilePolicy(JSON.parse(JSON.stringify(limited())), { store });
    const c = compilePolicy(doc({ t: { rate_limit: { max: 1, window: 61 } } }), { store });
    const d = compilePolicy(doc({ t: { rate_limit: { max: 1, window: 60 } }, other: {} }), { store });
    expect(a.namespace).toBe(b.namespace);
    expect(a.namespace).not.toBe(c.namespace);
    expect(a.decideSync(call("t")).outcome).toBe("allow");
    expect(b.decideSync(call("t")).outcome).toBe("rate_limited");
    expect(c.decideSync(call("t")).outcome).toBe("allow");
    expect(d.decideSync(call("t")).outcome).toBe("allow");
  });

  it("keeps two namespaces apart even when one is a prefix of the other", () => {
    const store = new MemoryStore({ maxKeys: 100 });
    const a = compilePolicy(limited(), { store, namespace: "a" });
    const b = compilePolicy(limited(), { store, namespace: "a/tools/t" });
    expect(a.decideSync(call("t")).outcome).toBe("allow");
    expect(b.decideSync(call("t")).outcome).toBe("allow");
  });
});

describe("time never runs backwards within a budget", () => {
  it("counts a call with an earlier clock at the latest counted call's time", () => {
    const clock = new Clock();
    const policy = compile(doc({ t: { rate_limit: { max: 1, window: "10ms" } } }), clock);
    clock.now = 100;
    expect(policy.decideSync(call("t")).outcome).toBe("allow");
    clock.now = 50;
    // Checked at 100: the call at 100 is in the window; it frees room at 110, 60ms from now.
    expect(policy.decideSync(call("t"))).toMatchObject({ outcome: "rate_limited", retryAfterMs: 60 });
    clock.now = 109;
    expect(policy.decideSync(call("t")).outcome).toBe("rate_limited");
    clock.now = 110;
    expect(policy.decideSync(call("t")).outcome).toBe("allow");
  });

  it("keeps the window exact in real time when the clock steps back", () => {
    const clock = new Clock();
    const policy = compile(doc({ t: { rate_limit: { max: 2, window: "10ms" } } }), clock);
    clock.now = 100;
    policy.decideSync(call("t"));
    clock.now = 0;
    // Counted at 100, so [100, 110) now holds two calls; a third at 105 is refused.
    expect(policy.decideSync(call("t")).outcome).toBe("allow");
    clock.now = 105;
    expect(policy.decideSync(call("t"))).toMatchObject({ outcome: "rate_limited", retryAfterMs: 5 });
  });

  it("takes a budget's time from counted calls only: a refused call does not move it", () => {
    // docs/spec.md: "a `now` earlier than the latest call counted in that budget counts as that
    // call's time", and refused calls are "counted in none of them". At 1001 the session limit
    // refuses; the global budget holds only the call at 1000, so a call at 1000 from another
    // session is refused by it.
    const clock = new Clock();
    const policy = compile(
      doc({
        a: {
          rate_limit: [
            { max: 1, window: "1ms", per: "global" },
            { max: 1, window: "2ms" },
          ],
        },
      }),
      clock,
    );
    clock.now = 1000;
    expect(policy.decideSync(call("a", {}, "s2")).outcome).toBe("allow");
    clock.now = 1001;
    expect(policy.decideSync(call("a", {}, "s2"))).toMatchObject({
      outcome: "rate_limited",
      rule: "/tools/a/rate_limit/1",
    });
    clock.now = 1000;
    expect(policy.decideSync(call("a", {}, "s1"))).toMatchObject({
      outcome: "rate_limited",
      rule: "/tools/a/rate_limit/0",
      retryAfterMs: 1,
    });
  });

  it("takes a budget's time from counted calls only: peek and explain do not move it", async () => {
    const clock = new Clock();
    const policy = compile(doc({ a: { rate_limit: { max: 1, window: "10ms" } } }), clock);
    expect(policy.decideSync(call("a")).outcome).toBe("allow");
    clock.now = 100;
    expect((await policy.peek(call("a"))).outcome).toBe("allow");
    expect((await policy.explain(call("a"))).decision.outcome).toBe("allow");
    clock.now = 5;
    expect(policy.decideSync(call("a"))).toMatchObject({ outcome: "rate_limited", retryAfterMs: 5 });
  });
});

describe("MemoryStore's memory bound (maxKeys)", () => {
  const limited = doc({ t: { rate_limit: { max: 1, window: "100ms" } } });

  it("drops a budget whose window is empty before a live one", () => {
    const clock = new Clock();
    const policy = compilePolicy(limited, { store: new MemoryStore({ maxKeys: 2 }), clock: clock.read });
    expect(policy.decideSync(call("t", {}, "old")).outcome).toBe("allow");
    clock.now = 150;
    expect(policy.decideSync(call("t", {}, "live")).outcome).toBe("allow");
    // "old" is empty now; a third budget replaces it, and "live" keeps its count.
    expect(policy.decideSync(call("t", {}, "new")).outcome).toBe("allow");
    expect(policy.decideSync(call("t", {}, "live")).outcome).toBe("rate_limited");
    expect(policy.decideSync(call("t", {}, "new")).outcome).toBe("rate_limited");
  });

  // Recency is the budget's latest counted call (docs/spec.md §2, "store"; a refused call counts
  // nothing, so it does not make a budget recent).
  it("drops the least recently used live budget when all are live; it starts again empty", () => {
    const clock = new Clock();
    const twice = doc({ t: { rate_limit: { max: 2, window: "100ms" } } });
    const policy = compilePolicy(twice, { store: new MemoryStore({ maxKeys: 2 }), clock: clock.read });
    expect(policy.decideSync(call("t", {}, "a")).outcome).toBe("allow");
    clock.now = 10;
    expect(policy.decideSync(call("t", {}, "b")).outcome).toBe("allow");
    clock.now = 20;
    // "a" counts again, so "b" is now the one whose latest counted call is oldest.
    expect(policy.decideSync(call("t", {}, "a"))).toMatchObject({ outcome: "allow", remaining: 0 });
    expect(policy.decideSync(call("t", {}, "c")).outcome).toBe("allow");
    expect(policy.decideSync(call("t", {}, "a")).outcome).toBe("rate_limited");
    // "b" was dropped: it starts again empty.
    expect(policy.decideSync(call("t", {}, "b"))).toMatchObject({ outcome: "allow", remaining: 1 });
  });

  it("keeps a shared budget while per-session budgets churn: sessions never refill it", () => {
    const clock = new Clock();
    const shared = doc({
      t: {
        rate_limit: [
          { max: 1, window: "100ms" },
          { max: 3, window: "100ms", per: "global" },
        ],
      },
    });
    const policy = compilePolicy(shared, { store: new MemoryStore({ maxKeys: 3 }), clock: clock.read });
    for (const id of ["a", "b", "c"]) {
      expect(policy.decideSync(call("t", {}, id)).outcome, id).toBe("allow");
      clock.now += 1;
    }
    // The global budget is full; new sessions (each a new per-session budget) must find it full.
    for (let i = 0; i < 20; i++) {
      expect(policy.decideSync(call("t", {}, `new${i}`)), `new${i}`).toMatchObject({
        outcome: "rate_limited",
        rule: "/tools/t/rate_limit/1",
      });
    }
  });

  it("holds at most maxKeys budgets", () => {
    const store = new MemoryStore({ maxKeys: 50 });
    const policy = compilePolicy(limited, { store, clock: () => 0 });
    for (let i = 0; i < 500; i++) policy.decideSync(call("t", {}, `s${i}`));
    expect(store.size).toBeLessThanOrEqual(50);
  });
});

describe("per-attribute limits among the policy's limits", () => {
  it("denies at /limits/i with a reason naming the attribute", () => {
    const policy = compile(
      doc(
        { t: {} },
        {
          limits: [
            { max: 5, window: 1 },
            { max: 5, window: 1, per: "/tenant" },
          ],
        },
      ),
    );
    const d = policy.decideSync(call("t"));
    expect(d).toMatchObject({ outcome: "deny", rule: "/limits/1", cause: "missing_attribute" });
    expect(d.outcome === "deny" && d.reason.includes("/tenant")).toBe(true);
    expect(policy.decideSync({ tool: "t", session: { id: "s", tenant: "x" } })).toMatchObject({
      outcome: "allow",
      remaining: 4,
    });
  });
});

describe("MemoryStore.consume: time comes from counted calls only", () => {
  const budget = (key: string, windowMs: number) => ({
    key,
    max: 1,
    windowMs,
    cost: 1,
    refundable: false,
    shared: false,
  });

  it("is not moved forward by a dry run", () => {
    const store = new MemoryStore({ maxKeys: 10 });
    const budgets = [budget("k", 10)];
    expect(store.consume({ namespace: "n", budgets, now: 0, dryRun: false })).toEqual({
      allowed: true,
      remaining: [0],
    });
    expect(store.consume({ namespace: "n", budgets, now: 100, dryRun: true })).toEqual({
      allowed: true,
      remaining: [0],
    });
    // The only counted call is at 0, so at 5 the budget is full until 10.
    expect(store.consume({ namespace: "n", budgets, now: 5, dryRun: false })).toEqual({
      allowed: false,
      retryAfterMs: [5],
    });
  });

  it("is not moved forward by a refused request", () => {
    const store = new MemoryStore({ maxKeys: 10 });
    const both = [budget("g", 1), budget("s", 2)];
    expect(store.consume({ namespace: "n", budgets: both, now: 1000, dryRun: false }).allowed).toBe(true);
    expect(store.consume({ namespace: "n", budgets: both, now: 1001, dryRun: false })).toEqual({
      allowed: false,
      retryAfterMs: [0, 1],
    });
    expect(store.consume({ namespace: "n", budgets: [budget("g", 1)], now: 1000, dryRun: false })).toEqual({
      allowed: false,
      retryAfterMs: [1],
    });
  });
});
