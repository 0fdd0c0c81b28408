/**
 * docs/spec.md §3 "Causes" and "Reasons": every deny carries a machine-readable `cause`, and a
 * reason never carries text that came from the store, the clock, a callback or the call. One
 * table of calls, one per cause the engine itself gives (tool_changed, not_approved and
 * host_failure belong to hosts), each checked through decide, decideSync and an observer.
 */

import { compilePolicy, MemoryStore, StoreBusyError, type DecisionEvent, type DenyCause, type Store } from "toolgate";
import { describe, expect, it } from "vitest";
import { call, doc } from "./helpers.js";

/** Text that must never reach a reason: what a store, clock or caller might hold. */
const SECRET = "hunter2@10.0.0.7";

const document = doc(
  {
    blocked: { action: "deny" },
    conditional: { rules: [{ when: { args: { required: ["x"] } } }] },
    per_user: { rate_limit: { max: 1, window: 1, per: "/user" } },
    paid: { rate_limit: { max: 5, window: 1, cost: "/amount" } },
    limited: { rate_limit: { max: 1, window: 1 } },
  },
  { default: { rules: [{ when: { args: { required: ["y"] } } }] } },
);

const cases: [DenyCause, string, unknown, string][] = [
  ["policy", "a deny rule", call("blocked"), "/tools/blocked"],
  ["policy", "no conditional rule of the default held", call("conditional"), "/default"],
  ["policy", "the default's rules, none held", call("other"), "/default"],
  ["malformed_call", "a non-string tool", { tool: SECRET.length, session: { id: "s" } }, ""],
  [
    "malformed_call",
    "an unknown field named by the caller",
    { tool: "blocked", session: { id: "s" }, [SECRET]: 1 },
    "",
  ],
  ["malformed_call", "a session id that is not a string", { tool: "blocked", session: { id: [SECRET] } }, ""],
  [
    "malformed_call",
    "a tool name of 129 characters",
    { tool: `${SECRET}${"x".repeat(129 - SECRET.length)}`, session: { id: "s" } },
    "",
  ],
  [
    "malformed_call",
    "a getter that throws",
    {
      tool: "blocked",
      get session(): never {
        throw new Error(SECRET);
      },
    },
    "",
  ],
  [
    "missing_attribute",
    "no value for a per limit",
    { tool: "per_user", session: { id: "s", user: { name: SECRET } } },
    "/tools/per_user/rate_limit",
  ],
  [
    "invalid_cost",
    "a cost that is a string",
    { tool: "paid", session: { id: "s" }, args: { amount: SECRET } },
    "/tools/paid/rate_limit",
  ],
  [
    "cost_exceeds_max",
    "a cost above max",
    { tool: "paid", session: { id: "s" }, args: { amount: 5.5 } },
    "/tools/paid/rate_limit",
  ],
];

describe("every deny has a cause, and no reason carries foreign text", () => {
  const events: DecisionEvent[] = [];
  const policy = compilePolicy(document, { store: new MemoryStore(), onDecision: (e) => events.push(e) });

  it.each(cases)("%s: %s", async (cause, _, input, rule) => {
    events.length = 0;
    const sync = policy.decideSync(input as never);
    const async = await policy.decide(input as never);
    for (const d of [sync, async]) {
      expect(d).toEqual({ outcome: "deny", rule, reason: expect.any(String), cause });
      expect(JSON.stringify(d)).not.toContain(SECRET);
      expect(d.outcome === "deny" && d.reason.trim().length > 0).toBe(true);
    }
    expect(events.map((e) => e.decision)).toEqual([sync, async]);
  });
});

describe("store failures: cause store_failure, a reason that says only what kind", () => {
  const failed = "The rate-limit store failed, so the call is refused.";
  const late = "The rate-limit store did not answer in time, so the call is refused.";
  const busy = "The rate-limit store is overloaded, so the call is refused.";
  const stores: [string, () => Store, string, boolean][] = [
    [
      "throws",
      () => ({
        consume: () => {
          throw new Error(SECRET);
        },
      }),
      failed,
      true,
    ],
    ["rejects", () => ({ consume: () => Promise.reject(new Error(SECRET)) }), failed, true],
    // A store may reject with anything; the engine must cope with a non-Error too.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    ["rejects with a non-Error", () => ({ consume: () => Promise.reject(SECRET) }), failed, true],
    ["hangs", () => ({ consume: () => new Promise(() => {}) }), late, true],
    [
      "throws StoreBusyError",
      () => ({
        consume: () => {
          throw new StoreBusyError(SECRET);
        },
      }),
      busy,
      false,
    ],
    ["rejects with StoreBusyError", () => ({ consume: () => Promise.reject(new StoreBusyError(SECRET)) }), busy, false],
    [
      "rejects with a StoreBusyError of another copy of toolgate",
      () => ({ consume: () => Promise.reject(Object.assign(new Error(SECRET), { name: "StoreBusyError" })) }),
      busy,
      false,
    ],
    [
      "is synchronous and answers garbage",
      () => ({ synchronous: true, consume: () => ({ allowed: SECRET }) as never }),
      failed,
      false,
    ],
  ];

  it.each(stores)("a store that %s", async (_, make, reason, opens) => {
    for (const failOpen of [false, true]) {
      const p = compilePolicy(document, { store: make(), storeTimeoutMs: 20, failOpen });
      const d = await p.decide(call("limited"));
      if (failOpen && opens) expect(d).toEqual({ outcome: "allow", rule: "/tools/limited", failedOpen: true });
      else expect(d).toEqual({ outcome: "deny", rule: "/tools/limited", reason, cause: "store_failure" });
    }
  });

  it("a synchronous store that answers a promise to decideSync, under failOpen too", () => {
    for (const failOpen of [false, true]) {
      const store: Store = {
        synchronous: true,
        consume: () => Promise.resolve({ allowed: true, remaining: [0] }) as never,
      };
      const p = compilePolicy(document, { store, failOpen });
      expect(p.decideSync(call("limited"))).toEqual({
        outcome: "deny",
        rule: "/tools/limited",
        reason: failed,
        cause: "store_failure",
      });
    }
  });

  it("a clock that throws, under failOpen too", async () => {
    for (const failOpen of [false, true]) {
      const p = compilePolicy(document, {
        clock: () => {
          throw new Error(SECRET);
        },
        failOpen,
      });
      expect(await p.decide(call("limited"))).toEqual({
        outcome: "deny",
        rule: "/tools/limited",
        reason: failed,
        cause: "store_failure",
      });
    }
  });
});
