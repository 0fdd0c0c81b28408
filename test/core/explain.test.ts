import { describe, expect, it } from "vitest";
import { compilePolicy, MemoryStore, type Store } from "toolgate";

const doc = {
  version: "1",
  default: "deny",
  limits: [{ max: 5, window: "1m" }],
  tools: {
    "get_*": {},
    "get_secret*": { action: "deny" },
    search: {
      rules: [
        {
          when: { args: { properties: { n: { type: "integer", maximum: 10 } } } },
          rate_limit: { max: 2, window: "1m" },
        },
        { when: { session: { required: ["admin"] } } },
        { action: "deny", reason: "n too large" },
      ],
    },
    admin_only: { rules: [{ when: { session: { properties: { role: { const: "admin" } }, required: ["role"] } } }] },
    readonly_tools: {
      rules: [{ when: { annotations: { properties: { readOnlyHint: { const: true } }, required: ["readOnlyHint"] } } }],
    },
    per_user: { rate_limit: { max: 1, window: 60, per: "/user" } },
  },
} as const;

describe("explain", () => {
  it("shows the matched keys, the failed condition with its keyword, the limits and the decision", async () => {
    const policy = compilePolicy(doc);
    const e = await policy.explain({ tool: "search", args: { n: 50 }, session: { id: "s" } });
    expect(e.decision).toEqual({
      outcome: "deny",
      rule: "/tools/search/rules/2",
      reason: "n too large",
      cause: "policy",
    });
    expect(e.matched).toEqual(["/tools/search"]);
    expect(e.steps).toEqual(
      expect.arrayContaining([
        {
          path: "/tools/search/rules/0/when/args/properties/n/maximum",
          message: expect.stringContaining('keyword "maximum"'),
        },
        { path: "/tools/search/rules/1/when/session/required", message: expect.stringContaining("admin") },
      ]),
    );
    expect(e.limits).toEqual([]);
    const ok = await policy.explain({ tool: "search", args: { n: 5 }, session: { id: "s" } });
    expect(ok.limits).toEqual(["/tools/search/rules/0/rate_limit", "/limits/0"]);
    expect(ok.decision).toEqual({ outcome: "allow", rule: "/tools/search/rules/0", remaining: 1 });
    const m = await policy.explain({ tool: "get_secret_key", session: { id: "s" } });
    expect(m.matched).toEqual(["/tools/get_secret*", "/tools/get_*"]);
  });

  it("counts nothing, like peek", async () => {
    const policy = compilePolicy(doc);
    const call = { tool: "per_user", session: { id: "s", user: "u1" } };
    for (let i = 0; i < 3; i++) expect((await policy.explain(call)).decision.outcome).toBe("allow");
    expect((await policy.peek(call)).outcome).toBe("allow");
    expect((await policy.decide(call)).outcome).toBe("allow");
    expect((await policy.peek(call)).outcome).toBe("rate_limited");
    expect((await policy.explain(call)).decision.outcome).toBe("rate_limited");
  });

  it("lists the limits that applied even when a per-attribute limit refuses the session", async () => {
    const policy = compilePolicy(doc);
    const e = await policy.explain({ tool: "per_user", session: { id: "s" } });
    expect(e.decision).toMatchObject({
      outcome: "deny",
      rule: "/tools/per_user/rate_limit",
      cause: "missing_attribute",
    });
    expect(e.limits).toEqual(["/tools/per_user/rate_limit", "/limits/0"]);
  });

  it("explains malformed calls without throwing", async () => {
    const policy = compilePolicy(doc);
    const e = await policy.explain({ tool: 5 } as never);
    expect(e.decision).toMatchObject({ outcome: "deny", rule: "", cause: "malformed_call" });
  });
});

describe("mayAllow", () => {
  const policy = compilePolicy(doc);
  it("is false only when every call of the tool is denied whatever its arguments", () => {
    expect(policy.mayAllow("get_run")).toBe(true);
    expect(policy.mayAllow("get_secret_x")).toBe(false);
    expect(policy.mayAllow("unknown")).toBe(false);
    expect(policy.mayAllow("search")).toBe(true);
    expect(policy.mayAllow("admin_only", { session: { id: "s", role: "admin" } })).toBe(true);
    expect(policy.mayAllow("admin_only", { session: { id: "s" } })).toBe(false);
    expect(policy.mayAllow("admin_only")).toBe(true);
    expect(policy.mayAllow("readonly_tools", { annotations: { readOnlyHint: false } })).toBe(false);
    expect(policy.mayAllow("readonly_tools", { annotations: { readOnlyHint: true } })).toBe(true);
    expect(policy.mayAllow("per_user", { session: { id: "s" } })).toBe(false);
    expect(policy.mayAllow("per_user", { session: { id: "s", user: 7 } })).toBe(true);
  });
  it("rejects a non-string tool", () => {
    expect(() => policy.mayAllow(5 as never)).toThrow(TypeError);
    expect(() => policy.ruleFor(null as never)).toThrow(TypeError);
  });
});

describe("decideSync and stores", () => {
  const asyncStore: Store = { consume: async (r) => ({ allowed: true, remaining: r.budgets.map(() => 1) }) };
  it("throws a clear TypeError with an asynchronous store", () => {
    const policy = compilePolicy(doc, { store: asyncStore });
    expect(() => policy.decideSync({ tool: "get_x", session: { id: "s" } })).toThrow(
      /decideSync needs a synchronous store/,
    );
  });
  it("denies when a store marked synchronous returns a promise, without an unhandled rejection", () => {
    const liar: Store = { synchronous: true, consume: () => Promise.reject(new Error("late")) };
    const policy = compilePolicy(doc, { store: liar });
    expect(policy.decideSync({ tool: "get_x", session: { id: "s" } })).toMatchObject({
      outcome: "deny",
      rule: "/tools/get_*",
      cause: "store_failure",
    });
  });
  // docs/spec.md, "Clocks": a clock that throws or returns a non-finite number is a store failure;
  // the clock is the host's own code, so it is a bug to report, never an outage to fail open on,
  // and its text stays out of the reason.
  it("treats a clock that throws or returns garbage as a store failure that never fails open", () => {
    const storeFailed = {
      outcome: "deny",
      rule: "/tools/get_*",
      reason: "The rate-limit store failed, so the call is refused.",
      cause: "store_failure",
    };
    for (const reading of [Number.NaN, Number.POSITIVE_INFINITY, "5", undefined, null, 5n]) {
      for (const failOpen of [false, true]) {
        const bad = compilePolicy(doc, { clock: () => reading as number, store: new MemoryStore(), failOpen });
        expect(bad.decideSync({ tool: "get_x", session: { id: "s" } })).toEqual(storeFailed);
      }
    }
    for (const failOpen of [false, true]) {
      const open = compilePolicy(doc, {
        clock: () => {
          throw new Error("no time at 10.0.0.7");
        },
        failOpen,
      });
      expect(open.decideSync({ tool: "get_x", session: { id: "s" } })).toEqual(storeFailed);
    }
  });
});
