/**
 * docs/spec.md §3: the decision of each outcome and every field — `rule`, `reason`, `remaining`,
 * `retryAfterMs`, `limit` — and approval.
 */

import { describe, expect, it } from "vitest";
import { call, Clock, compile, doc } from "./helpers.js";

describe("outcomes and reasons", () => {
  const policy = compile(
    doc(
      {
        open: {},
        blocked: { action: "deny", reason: "Destructive operations are blocked" },
        silent: { action: "deny" },
        gated: { action: "require_approval", reason: "Changes run metadata" },
        quiet: { action: "require_approval" },
        explicit: { action: "allow", reason: "unused for allow" },
      },
      { default: "deny" },
    ),
  );

  it("allows {} with no remaining when no limit applies", () => {
    expect(policy.decideSync(call("open"))).toEqual({ outcome: "allow", rule: "/tools/open" });
    expect(policy.decideSync(call("explicit"))).toEqual({ outcome: "allow", rule: "/tools/explicit" });
  });

  it("denies with the rule's own reason, or a generated one", () => {
    expect(policy.decideSync(call("blocked"))).toEqual({
      outcome: "deny",
      rule: "/tools/blocked",
      reason: "Destructive operations are blocked",
      cause: "policy",
    });
    const d = policy.decideSync(call("silent"));
    expect(d).toMatchObject({ outcome: "deny", rule: "/tools/silent", cause: "policy" });
    expect(d.outcome === "deny" && d.reason.trim().length > 0).toBe(true);
  });

  it("asks for approval with the rule's reason, or a generated one", () => {
    expect(policy.decideSync(call("gated"))).toEqual({
      outcome: "needs_approval",
      rule: "/tools/gated",
      reason: "Changes run metadata",
    });
    const d = policy.decideSync(call("quiet"));
    expect(d.outcome === "needs_approval" && d.reason.trim().length > 0).toBe(true);
  });

  it("goes on as allow for approved: true, and still asks for approved: false", () => {
    expect(policy.decideSync(call("gated", { approved: true }))).toEqual({ outcome: "allow", rule: "/tools/gated" });
    expect(policy.decideSync(call("gated", { approved: false })).outcome).toBe("needs_approval");
  });

  it("does not let approved: true override a deny", () => {
    expect(policy.decideSync(call("blocked", { approved: true })).outcome).toBe("deny");
    expect(policy.decideSync(call("unknown_tool", { approved: true }))).toMatchObject({
      outcome: "deny",
      rule: "/default",
      cause: "policy",
    });
  });

  it("gives a generated reason for default deny and default require_approval", () => {
    const d = policy.decideSync(call("nothing_matches"));
    expect(d.outcome === "deny" && d.rule === "/default" && d.cause === "policy" && d.reason.length > 0).toBe(true);
    const r = compile(doc({}, { default: "require_approval" })).decideSync(call("x"));
    expect(r.outcome === "needs_approval" && r.rule === "/default" && r.reason.length > 0).toBe(true);
  });

  it("makes decisions plain, JSON-serialisable data", () => {
    for (const tool of ["open", "blocked", "gated", "none"]) {
      const d = policy.decideSync(call(tool));
      expect(JSON.parse(JSON.stringify(d))).toEqual(d);
      expect(Object.getPrototypeOf(d)).toBe(Object.prototype);
    }
  });
});

describe("limits on an approved call", () => {
  it("checks and counts the rule's limits once approval is given", () => {
    const clock = new Clock();
    const policy = compile(
      doc({ t: { action: "require_approval", reason: "ask", rate_limit: { max: 1, window: 10 } } }),
      clock,
    );
    expect(policy.decideSync(call("t")).outcome).toBe("needs_approval");
    expect(policy.decideSync(call("t", { approved: true }))).toEqual({
      outcome: "allow",
      rule: "/tools/t",
      remaining: 0,
    });
    // needs_approval does not count, and is not rate-limited: the rule asks first.
    expect(policy.decideSync(call("t")).outcome).toBe("needs_approval");
    expect(policy.decideSync(call("t", { approved: true }))).toMatchObject({
      outcome: "rate_limited",
      rule: "/tools/t/rate_limit",
      reason: "ask",
    });
  });
});

describe("rate_limited decisions", () => {
  it("reports the rule's own reason, the limit as written and per as written", () => {
    const clock = new Clock();
    const policy = compile(
      doc({
        one: { reason: "slow down", rate_limit: { max: 1, window: "2s" } },
        many: {
          rate_limit: [
            { max: 5, window: 0.5, per: "global" },
            { max: 1, window: "1m", per: "/user/id" },
          ],
        },
      }),
      clock,
    );
    expect(policy.decideSync(call("one"))).toEqual({ outcome: "allow", rule: "/tools/one", remaining: 0 });
    expect(policy.decideSync(call("one"))).toEqual({
      outcome: "rate_limited",
      rule: "/tools/one/rate_limit",
      reason: "slow down",
      retryAfterMs: 2_000,
      limit: { max: 1, windowMs: 2_000, per: "session" },
    });
    const s = { id: "a", user: { id: "u1" } };
    expect(policy.decideSync({ tool: "many", session: s })).toEqual({
      outcome: "allow",
      rule: "/tools/many",
      remaining: 0,
    });
    clock.now = 100;
    const d = policy.decideSync({ tool: "many", session: s });
    expect(d).toMatchObject({
      outcome: "rate_limited",
      rule: "/tools/many/rate_limit/1",
      retryAfterMs: 59_900,
      limit: { max: 1, windowMs: 60_000, per: "/user/id" },
    });
    expect(d.outcome === "rate_limited" && d.reason.length > 0).toBe(true);
  });

  it("reports windows in every written form in milliseconds", () => {
    const cases: [unknown, number][] = [
      ["500ms", 500],
      ["30s", 30_000],
      ["5m", 300_000],
      ["1h", 3_600_000],
      ["1d", 86_400_000],
      [60, 60_000],
      [0.5, 500],
      [0.001, 1],
      [1.25, 1_250],
    ];
    for (const [window, windowMs] of cases) {
      const policy = compile(doc({ t: { rate_limit: { max: 1, window } } }));
      policy.decideSync(call("t"));
      expect(policy.decideSync(call("t")), JSON.stringify(window)).toMatchObject({
        outcome: "rate_limited",
        retryAfterMs: windowMs,
        limit: { windowMs },
      });
    }
  });

  it("gives a generated reason for refusals by the policy's limits, even when the rule has a reason", () => {
    const policy = compile(
      doc({ t: { reason: "tool reason", rate_limit: { max: 5, window: 1 } } }, { limits: [{ max: 1, window: 1 }] }),
    );
    policy.decideSync(call("t"));
    const d = policy.decideSync(call("t"));
    expect(d).toMatchObject({
      outcome: "rate_limited",
      rule: "/limits/0",
      limit: { max: 1, windowMs: 1_000, per: "session" },
    });
    expect(d.outcome === "rate_limited" && d.reason.length > 0 && d.reason !== "tool reason").toBe(true);
  });

  it("points at /rate_limit/0 for a one-element array", () => {
    const policy = compile(doc({ t: { rate_limit: [{ max: 1, window: 1 }] } }));
    policy.decideSync(call("t"));
    expect(policy.decideSync(call("t")).rule).toBe("/tools/t/rate_limit/0");
  });

  it("points at the conditional rule's limit and at default's limit", () => {
    const policy = compile(
      doc(
        {
          t: {
            rules: [{ when: { args: { required: ["x"] } }, action: "deny" }, { rate_limit: { max: 1, window: 1 } }],
          },
        },
        { default: { rate_limit: { max: 1, window: 1 } } },
      ),
    );
    expect(policy.decideSync(call("t"))).toEqual({ outcome: "allow", rule: "/tools/t/rules/1", remaining: 0 });
    expect(policy.decideSync(call("t")).rule).toBe("/tools/t/rules/1/rate_limit");
    expect(policy.decideSync(call("zzz"))).toEqual({ outcome: "allow", rule: "/default", remaining: 0 });
    expect(policy.decideSync(call("zzz")).rule).toBe("/default/rate_limit");
  });

  it("escapes / and ~ in limit pointers", () => {
    const policy = compile(doc({ "fs/rm~x": { rate_limit: { max: 1, window: 1 } } }));
    expect(policy.decideSync(call("fs/rm~x")).rule).toBe("/tools/fs~1rm~0x");
    expect(policy.decideSync(call("fs/rm~x")).rule).toBe("/tools/fs~1rm~0x/rate_limit");
  });
});

describe("remaining", () => {
  it("is the smallest room left across the limits that applied, after this call", () => {
    const policy = compile(
      doc(
        {
          t: {
            rate_limit: [
              { max: 5, window: 1 },
              { max: 3, window: 1, per: "global" },
            ],
          },
        },
        { limits: [{ max: 10, window: 1 }] },
      ),
    );
    expect(policy.decideSync(call("t"))).toMatchObject({ remaining: 2 });
    expect(policy.decideSync(call("t", {}, "s2"))).toMatchObject({ remaining: 1 });
    expect(policy.decideSync(call("t"))).toMatchObject({ remaining: 0 });
  });

  it("counts the policy's limits even for a rule without its own", () => {
    const policy = compile(doc({ t: {} }, { limits: [{ max: 2, window: 1 }] }));
    expect(policy.decideSync(call("t"))).toEqual({ outcome: "allow", rule: "/tools/t", remaining: 1 });
  });

  it("applies the policy's limits to default allow", () => {
    const policy = compile(doc({}, { default: "allow", limits: [{ max: 1, window: 1 }] }));
    expect(policy.decideSync(call("x"))).toEqual({ outcome: "allow", rule: "/default", remaining: 0 });
    expect(policy.decideSync(call("y")).rule).toBe("/limits/0");
  });
});
