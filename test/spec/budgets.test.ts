/**
 * docs/spec.md §5 "Budgets: identity, spend caps, refunds" (engine side) and §3 step 4: a limit's
 * `id` (one budget across tools, keyed apart from pointers), `cost` (a constant or a pointer into
 * the arguments, exact to six decimal places), the order of the stages that refuse a call before
 * any budget is counted, and `remaining` / `retryAfterMs` / `limit.cost` in units. Written from the
 * contract through the public API only.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { call, Clock, compile, doc, issuesOf, valid } from "./helpers.js";

describe("identity: limits that share an id share one budget", () => {
  it("counts write_file and edit_file in one budget, each with its own cost", () => {
    const clock = new Clock();
    const writes = { id: "writes", max: 5, window: "1m" };
    const policy = compile(
      doc({ write_file: { rate_limit: { ...writes } }, edit_file: { rate_limit: { ...writes, window: 60, cost: 2 } } }),
      clock,
    );
    expect(policy.decideSync(call("write_file"))).toEqual({
      outcome: "allow",
      rule: "/tools/write_file",
      remaining: 4,
    });
    expect(policy.decideSync(call("edit_file"))).toEqual({ outcome: "allow", rule: "/tools/edit_file", remaining: 2 });
    expect(policy.decideSync(call("edit_file"))).toEqual({ outcome: "allow", rule: "/tools/edit_file", remaining: 0 });
    expect(policy.decideSync(call("write_file"))).toMatchObject({
      outcome: "rate_limited",
      rule: "/tools/write_file/rate_limit",
      retryAfterMs: 60_000,
      limit: { max: 5, windowMs: 60_000, per: "session" },
    });
    // Another session has its own budget of that id.
    expect(policy.decideSync(call("edit_file", {}, "s2"))).toMatchObject({ outcome: "allow", remaining: 3 });
  });

  it("shares an id between a rule's limit and one of the policy's limits of another tool", () => {
    const policy = compile(
      doc(
        { a: { rate_limit: { id: "shared", max: 2, window: 1, per: "global" } }, b: {} },
        {
          limits: [{ id: "other", max: 100, window: 1 }],
          default: { rate_limit: { id: "shared", max: 2, window: "1s", per: "global" } },
        },
      ),
    );
    expect(policy.decideSync(call("a", {}, "x")).outcome).toBe("allow");
    expect(policy.decideSync(call("zzz", {}, "y")).outcome).toBe("allow");
    expect(policy.decideSync(call("a", {}, "z"))).toMatchObject({
      outcome: "rate_limited",
      rule: "/tools/a/rate_limit",
    });
    expect(policy.decideSync(call("qqq", {}, "w"))).toMatchObject({
      outcome: "rate_limited",
      rule: "/default/rate_limit",
    });
    expect(policy.decideSync(call("b")).outcome).toBe("allow");
  });

  it("keys ids apart from pointers: an id spelled like another limit's pointer is another budget", () => {
    const policy = compile(
      doc({
        a: { rate_limit: { max: 1, window: 10 } },
        b: { rate_limit: { id: "/tools/a/rate_limit", max: 1, window: 10 } },
        c: { rate_limit: { id: "at:/tools/a/rate_limit", max: 1, window: 10 } },
      }),
    );
    for (const tool of ["a", "b", "c"]) expect(policy.decideSync(call(tool)).outcome, tool).toBe("allow");
    for (const tool of ["a", "b", "c"]) expect(policy.decideSync(call(tool)).outcome, tool).toBe("rate_limited");
  });

  it('agrees on windows by milliseconds: "1m" and 60 alike', () => {
    valid(
      doc({ a: { rate_limit: { id: "x", max: 1, window: "1m" } }, b: { rate_limit: { id: "x", max: 1, window: 60 } } }),
    );
    valid(
      doc({
        a: { rate_limit: { id: "x", max: 1, window: "1000ms" } },
        b: { rate_limit: { id: "x", max: 1, window: "1s" } },
      }),
    );
  });

  it.each([
    ["max", { max: 2, window: 60 }],
    ["window", { max: 1, window: 61 }],
    ["per", { max: 1, window: 60, per: "global" }],
    ["per pointer", { max: 1, window: 60, per: "/user" }],
  ])("reports limits sharing an id that disagree on %s, at each of their paths", (_, other) => {
    const issues = issuesOf(
      doc(
        {
          a: { rate_limit: { id: "x", max: 1, window: "1m" } },
          b: {
            rate_limit: [
              { max: 9, window: 1 },
              { id: "x", ...other },
            ],
          },
        },
        {
          limits: [{ id: "x", max: 1, window: 60 }],
        },
      ),
    );
    expect(issues.map((i) => [i.code, i.path])).toEqual(
      expect.arrayContaining([
        ["conflict", "/tools/a/rate_limit/id"],
        ["conflict", "/tools/b/rate_limit/1/id"],
        ["conflict", "/limits/0/id"],
      ]),
    );
  });

  it.each([
    [
      "a rule's own limits",
      doc({
        t: {
          rate_limit: [
            { id: "x", max: 1, window: 1 },
            { id: "x", max: 1, window: 1 },
          ],
        },
      }),
      "/tools/t/rate_limit/1/id",
    ],
    [
      "a conditional rule's limits",
      doc({
        t: {
          rules: [
            {
              rate_limit: [
                { id: "x", max: 1, window: 1 },
                { id: "x", max: 1, window: 1, cost: 1 },
              ],
            },
          ],
        },
      }),
      "/tools/t/rules/0/rate_limit/1/id",
    ],
    [
      "the policy's limits",
      doc(
        { t: {} },
        {
          limits: [
            { id: "x", max: 1, window: 1 },
            { id: "x", max: 1, window: 1 },
          ],
        },
      ),
      "/limits/1/id",
    ],
    [
      "a rule's limit and the policy's",
      doc({ t: { rate_limit: { id: "x", max: 1, window: 1 } } }, { limits: [{ id: "x", max: 1, window: 1 }] }),
      "/limits/0/id",
    ],
    [
      "the default's limit and the policy's",
      doc({}, { default: { rate_limit: { id: "x", max: 1, window: 1 } }, limits: [{ id: "x", max: 1, window: 1 }] }),
      "/limits/0/id",
    ],
  ])("reports an id named twice in one call's limits (%s) as a policy error", (_, document, path) => {
    const issues = issuesOf(document);
    expect(issues).toContainEqual(expect.objectContaining({ code: "conflict", path }));
  });

  it("accepts ids of 1 to 128 characters, and none other", () => {
    valid(doc({ t: { rate_limit: { id: "x".repeat(128), max: 1, window: 1 } } }));
    valid(
      doc({
        t: { rate_limit: { id: "__proto__", max: 1, window: 1 } },
        u: { rate_limit: { id: "constructor", max: 1, window: 1 } },
      }),
    );
    for (const id of ["", "x".repeat(129), 5, null, ["x"]]) {
      expect(issuesOf(doc({ t: { rate_limit: { id, max: 1, window: 1 } } }))).toContainEqual(
        expect.objectContaining({ path: "/tools/t/rate_limit/id" }),
      );
    }
  });

  it("keeps budgets of ids named __proto__ and constructor apart and working", () => {
    const policy = compile(
      doc({
        a: { rate_limit: { id: "__proto__", max: 1, window: 1 } },
        b: { rate_limit: { id: "constructor", max: 1, window: 1 } },
      }),
    );
    expect(policy.decideSync(call("a")).outcome).toBe("allow");
    expect(policy.decideSync(call("b")).outcome).toBe("allow");
    expect(policy.decideSync(call("a")).outcome).toBe("rate_limited");
    expect(policy.decideSync(call("b")).outcome).toBe("rate_limited");
  });
});

describe("spend caps: cost", () => {
  it("uses a constant cost per call; remaining and retryAfterMs are in units", () => {
    const clock = new Clock();
    const policy = compile(doc({ t: { rate_limit: { max: 10, window: 1, cost: 4 } } }), clock);
    expect(policy.decideSync(call("t"))).toEqual({ outcome: "allow", rule: "/tools/t", remaining: 6 });
    clock.now = 100;
    expect(policy.decideSync(call("t"))).toEqual({ outcome: "allow", rule: "/tools/t", remaining: 2 });
    clock.now = 200;
    expect(policy.decideSync(call("t"))).toEqual({
      outcome: "rate_limited",
      rule: "/tools/t/rate_limit",
      reason: expect.any(String),
      retryAfterMs: 800,
      limit: { max: 10, windowMs: 1_000, per: "session", cost: 4 },
    });
    clock.now = 1_000;
    expect(policy.decideSync(call("t"))).toMatchObject({ outcome: "allow", remaining: 2 });
  });

  it("reads a pointer cost from the arguments, and waits until enough units have left for it", () => {
    const clock = new Clock();
    const policy = compile(doc({ pay: { rate_limit: { max: 10, window: 1, cost: "/order/total" } } }), clock);
    const pay = (total: unknown) => call("pay", { args: { order: { total } } });
    expect(policy.decideSync(pay(4))).toMatchObject({ outcome: "allow", remaining: 6 });
    clock.now = 100;
    expect(policy.decideSync(pay(4))).toMatchObject({ outcome: "allow", remaining: 2 });
    clock.now = 200;
    // 2 units of room: 6 needs the entry at 0 to leave (at 1000), 10 needs both (at 1100).
    expect(policy.decideSync(pay(6))).toMatchObject({
      outcome: "rate_limited",
      retryAfterMs: 800,
      limit: { cost: "/order/total" },
    });
    expect(policy.decideSync(pay(10))).toMatchObject({ outcome: "rate_limited", retryAfterMs: 900 });
    expect(policy.decideSync(pay(2))).toMatchObject({ outcome: "allow", remaining: 0 });
  });

  it("is exact to six decimal places: 0.1 + 0.2 units fit a max of 0.3", () => {
    const policy = compile(doc({ t: { rate_limit: { max: 0.3, window: 60, cost: "/amount" } } }));
    expect(policy.decideSync(call("t", { args: { amount: 0.1 } }))).toMatchObject({ outcome: "allow", remaining: 0.2 });
    expect(policy.decideSync(call("t", { args: { amount: 0.2 } }))).toMatchObject({ outcome: "allow", remaining: 0 });
    expect(policy.decideSync(call("t", { args: { amount: 0.000001 } })).outcome).toBe("rate_limited");
    expect(policy.decideSync(call("t", { args: { amount: 0 } }))).toMatchObject({ outcome: "allow", remaining: 0 });
  });

  it("stays exact at any number of calls: n calls of 0.1 fit a max of n/10, and no more", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), fc.constantFrom(0.1, 0.2, 0.3, 0.7, 0.000001, 1.1), (n, cost) => {
        // The max written as the decimal an author would write (n × cost to six places).
        const micro = Math.round(cost * 1_000_000) * n;
        const max = Number(`${Math.floor(micro / 1_000_000)}.${String(micro % 1_000_000).padStart(6, "0")}`);
        const policy = compile(doc({ t: { rate_limit: { max, window: 60, cost } } }));
        for (let i = 0; i < n; i++) expect(policy.decideSync(call("t")).outcome).toBe("allow");
        expect(policy.decideSync(call("t")).outcome).toBe("rate_limited");
      }),
      { numRuns: 60 },
    );
  });

  it("reports remaining in units with a fraction, as the decimal it is", () => {
    const policy = compile(doc({ t: { rate_limit: { max: 1, window: 60, cost: 0.1 } } }));
    const seen: unknown[] = [];
    for (let i = 0; i < 10; i++) seen.push((policy.decideSync(call("t")) as { remaining?: number }).remaining);
    expect(seen).toEqual([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0]);
  });

  it("counts a cost of 0: it fits a full budget and counts nothing there", () => {
    const clock = new Clock();
    const policy = compile(
      doc({
        free: { rate_limit: { id: "b", max: 1, window: 1, cost: 0 } },
        paid: { rate_limit: { id: "b", max: 1, window: 1, cost: 1 } },
      }),
      clock,
    );
    expect(policy.decideSync(call("paid"))).toMatchObject({ outcome: "allow", remaining: 0 });
    for (let i = 0; i < 3; i++)
      expect(policy.decideSync(call("free"))).toEqual({ outcome: "allow", rule: "/tools/free", remaining: 0 });
    clock.now = 1_000;
    expect(policy.decideSync(call("free"))).toEqual({ outcome: "allow", rule: "/tools/free", remaining: 1 });
    expect(policy.decideSync(call("paid"))).toMatchObject({ outcome: "allow", remaining: 0 });
  });

  it("makes max fractional only with a cost, and both exact to six places", () => {
    valid(doc({ t: { rate_limit: { max: 2.5, window: 1, cost: 1 } } }));
    valid(doc({ t: { rate_limit: { max: 0.000001, window: 1, cost: "/a" } } }));
    valid(doc({ t: { rate_limit: { max: 1_000_000_000, window: 1, cost: 1_000_000_000 } } }));
    const at = (limit: Record<string, unknown>) =>
      issuesOf(doc({ t: { rate_limit: limit } })).map((i) => [i.code, i.path]);
    expect(at({ max: 2.5, window: 1 })).toEqual([["value", "/tools/t/rate_limit/max"]]);
    expect(at({ max: 0.0000001, window: 1, cost: 0 })).toEqual([["value", "/tools/t/rate_limit/max"]]);
    expect(at({ max: 1, window: 1, cost: 0.0000001 })).toEqual([["value", "/tools/t/rate_limit/cost"]]);
    expect(at({ max: 0, window: 1, cost: 0 })).toEqual([["value", "/tools/t/rate_limit/max"]]);
    expect(at({ max: 1, window: 1, cost: -1 })).toEqual([["value", "/tools/t/rate_limit/cost"]]);
    expect(at({ max: 1, window: 1, cost: "amount" })).toEqual([["value", "/tools/t/rate_limit/cost"]]);
    expect(at({ max: 1, window: 1, cost: true })).toEqual([["type", "/tools/t/rate_limit/cost"]]);
  });

  it("reports a constant cost above its limit's max as a policy error, at the cost", () => {
    for (const [max, cost] of [
      [1, 2],
      [0.5, 0.500001],
      [10, 10.000001],
    ] as const) {
      expect(issuesOf(doc({ t: { rate_limit: { max, window: 1, cost } } }))).toEqual([
        expect.objectContaining({ code: "value", path: "/tools/t/rate_limit/cost" }),
      ]);
    }
    valid(doc({ t: { rate_limit: { max: 0.5, window: 1, cost: 0.5 } } }));
  });

  it.each([
    ["absent", {}],
    ["a string", { amount: "5" }],
    ["negative", { amount: -1 }],
    ["NaN", { amount: Number.NaN }],
    ["Infinity", { amount: Number.POSITIVE_INFINITY }],
    ["finer than six places", { amount: 0.0000001 }],
    ["null", { amount: null }],
    ["a boolean", { amount: true }],
    ["an object", { amount: { value: 1 } }],
    ["an array", { amount: [1] }],
    ["a bigint", { amount: 1n }],
    ["under __proto__ only", JSON.parse('{"__proto__": {"amount": 1}}') as Record<string, unknown>],
  ])("denies a pointer cost that is %s, naming the limit and the pointer, counting nothing", (_, args) => {
    const policy = compile(
      doc({
        t: {
          rate_limit: [
            { max: 1, window: 60 },
            { max: 100, window: 60, cost: "/amount" },
          ],
        },
      }),
    );
    const d = policy.decideSync(call("t", { args }));
    expect(d).toEqual({
      outcome: "deny",
      rule: "/tools/t/rate_limit/1",
      reason: expect.any(String),
      cause: "invalid_cost",
    });
    if (d.outcome !== "deny") return;
    expect(d.reason).toContain("/tools/t/rate_limit/1");
    expect(d.reason).toContain("/amount");
    // The reason names the limit and the pointer, never the value the caller sent.
    expect(d.reason).not.toMatch(/NaN|Infinity|value|\b5\b/);
    // Nothing was counted: the first limit still has its one call.
    expect(policy.decideSync(call("t", { args: { amount: 1 } }))).toMatchObject({ outcome: "allow", remaining: 0 });
  });

  // docs/spec.md §5: an amount is usable when it is a finite number >= 0 (six places at most);
  // one larger than any max is a cost that exceeds it, however large.
  it("denies a whole amount beyond every max as cost_exceeds_max, not as an invalid cost", () => {
    const policy = compile(doc({ t: { rate_limit: { max: 1_000_000_000, window: 60, cost: "/amount" } } }));
    for (const amount of [1_000_000_001, 2 ** 53, 1e21, Number.MAX_VALUE]) {
      expect(policy.decideSync(call("t", { args: { amount } })), String(amount)).toMatchObject({
        outcome: "deny",
        cause: "cost_exceeds_max",
      });
    }
  });

  it("denies a call whose cost alone exceeds a limit's max, not rate limited, counting nothing", () => {
    const clock = new Clock();
    const policy = compile(
      doc({
        t: {
          rate_limit: [
            { max: 5, window: 60 },
            { max: 10, window: 60, cost: "/amount" },
          ],
        },
      }),
      clock,
    );
    const d = policy.decideSync(call("t", { args: { amount: 10.000001 } }));
    expect(d).toEqual({
      outcome: "deny",
      rule: "/tools/t/rate_limit/1",
      reason: expect.any(String),
      cause: "cost_exceeds_max",
    });
    expect(policy.decideSync(call("t", { args: { amount: 10 } }))).toMatchObject({ outcome: "allow", remaining: 0 });
    // A full budget with a call that could never fit: still cost_exceeds_max, not rate_limited.
    expect(policy.decideSync(call("t", { args: { amount: 11 } }))).toMatchObject({
      outcome: "deny",
      cause: "cost_exceeds_max",
    });
    expect(policy.decideSync(call("t", { args: { amount: 1 } }))).toMatchObject({ outcome: "rate_limited" });
  });

  describe("the stages of step 4, each across every limit before the next", () => {
    // L0 takes its cost from /a with max 1; L1 counts per /user; L2 takes its cost from /b.
    const policy = () =>
      compile(
        doc(
          {
            t: {
              rate_limit: [
                { max: 1, window: 60, cost: "/a" },
                { max: 5, window: 60, per: "/user" },
              ],
            },
          },
          { limits: [{ max: 3, window: 60, cost: "/b" }] },
        ),
      );
    const at = (session: Record<string, unknown>, args: Record<string, unknown>) => {
      const d = policy().decideSync({ tool: "t", session: { id: "s", ...session }, args });
      return d.outcome === "deny" ? [d.cause, d.rule] : [d.outcome, d.rule];
    };

    it("missing_attribute before invalid_cost, even when the cost's limit comes first", () => {
      expect(at({}, {})).toEqual(["missing_attribute", "/tools/t/rate_limit/1"]);
    });
    it("invalid_cost before cost_exceeds_max, even when the exceeding limit comes first", () => {
      expect(at({ user: "u" }, { a: 2 })).toEqual(["invalid_cost", "/limits/0"]);
      expect(at({ user: "u" }, { a: "x", b: 1 })).toEqual(["invalid_cost", "/tools/t/rate_limit/0"]);
    });
    it("within a stage, the limits in order", () => {
      expect(at({ user: "u" }, { a: -1, b: -1 })).toEqual(["invalid_cost", "/tools/t/rate_limit/0"]);
      expect(at({ user: "u" }, { a: 2, b: 4 })).toEqual(["cost_exceeds_max", "/tools/t/rate_limit/0"]);
      expect(at({ user: "u" }, { a: 1, b: 4 })).toEqual(["cost_exceeds_max", "/limits/0"]);
    });
    it("cost_exceeds_max before room", () => {
      const p = policy();
      const s = { id: "s", user: "u" };
      expect(p.decideSync({ tool: "t", session: s, args: { a: 1, b: 1 } }).outcome).toBe("allow");
      expect(p.decideSync({ tool: "t", session: s, args: { a: 1, b: 4 } })).toMatchObject({
        outcome: "deny",
        cause: "cost_exceeds_max",
      });
      expect(p.decideSync({ tool: "t", session: s, args: { a: 1, b: 1 } })).toMatchObject({
        outcome: "rate_limited",
        rule: "/tools/t/rate_limit/0",
      });
    });
  });

  it("reads the cost pointer through own properties only, escaping / and ~", () => {
    const policy = compile(
      doc({
        t: { rate_limit: { max: 10, window: 60, cost: "/a~1b/c~0d" } },
        u: { rate_limit: { max: 10, window: 60, cost: "/toString" } },
      }),
    );
    expect(policy.decideSync(call("t", { args: { "a/b": { "c~d": 3 } } }))).toMatchObject({
      outcome: "allow",
      remaining: 7,
    });
    expect(policy.decideSync(call("u", { args: {} }))).toMatchObject({ outcome: "deny", cause: "invalid_cost" });
    expect(policy.decideSync(call("u", { args: JSON.parse('{"__proto__": 1}') }))).toMatchObject({
      outcome: "deny",
      cause: "invalid_cost",
    });
  });
});
