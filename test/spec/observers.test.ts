/**
 * docs/spec.md §6 "Observing decisions": `onDecision` is called once for every `decide` and
 * `decideSync` (never for `peek`, `explain` or `refund`), after the decision is made and before it
 * is returned, with the clock reading the store was asked with; `detail` says what failed for
 * store failures and malformed calls while reasons stay clean; an observer that throws changes
 * nothing and is called again for the next decision.
 */

import { compilePolicy, MemoryStore, StoreBusyError, type DecisionEvent, type Store } from "toolgate";
import { describe, expect, it } from "vitest";
import { call, Clock, doc } from "./helpers.js";

const document = doc(
  {
    limited: { rate_limit: { max: 1, window: 1 } },
    open: {},
    blocked: { action: "deny", reason: "no" },
    gated: { action: "require_approval" },
  },
  { name: "observed" },
);

function observed(
  options: { store?: Store; clock?: () => number; mode?: "enforce" | "shadow"; failOpen?: boolean } = {},
) {
  const events: DecisionEvent[] = [];
  const clock = new Clock();
  const policy = compilePolicy(document, {
    store: new MemoryStore({ maxKeys: 100 }),
    clock: clock.read,
    onDecision: (e) => events.push(e),
    ...options,
  });
  return { policy, events, clock };
}

describe("onDecision", () => {
  it("is called once per decide and decideSync, never for peek, explain or refund", async () => {
    const { policy, events } = observed();
    policy.decideSync(call("limited"));
    await policy.decide(call("open"));
    await policy.peek(call("limited"));
    await policy.explain(call("limited"));
    await policy.refund({});
    policy.decideSync(call("limited"));
    expect(events.map((e) => [e.call.tool, e.decision.outcome])).toEqual([
      ["limited", "allow"],
      ["open", "allow"],
      ["limited", "rate_limited"],
    ]);
  });

  it("sees the decision before the caller does, and the very decision returned", async () => {
    const { policy, events } = observed();
    const d = policy.decideSync(call("blocked"));
    expect(events).toHaveLength(1);
    expect(events[0]!.decision).toEqual(d);
    const seenFirst = await policy.decide(call("gated")).then((r) => [events.length, r] as const);
    expect(seenFirst[0]).toBe(2);
    expect(events[1]!.decision).toEqual(seenFirst[1]);
  });

  it("carries time, namespace, the call's fields, the decision and shadow: false", () => {
    const { policy, events, clock } = observed();
    clock.now = 1234.5;
    const args = { a: 1 };
    const session = { id: "s1", role: "x" };
    policy.decideSync({ tool: "limited", args, session, annotations: { readOnlyHint: true }, approved: false });
    expect(events).toEqual([
      {
        time: 1234.5,
        namespace: "observed",
        call: { tool: "limited", args, session, annotations: { readOnlyHint: true }, approved: false },
        decision: { outcome: "allow", rule: "/tools/limited", remaining: 0 },
        shadow: false,
      },
    ]);
    expect(events[0]!.call.args).toBe(args);
    expect(events[0]).not.toHaveProperty("detail");
  });

  it("takes the time of the store's request; a clock read for decisions that asked no store", () => {
    let reading = 0;
    const { policy, events } = observed({ clock: () => (reading += 10) });
    policy.decideSync(call("limited"));
    policy.decideSync(call("open"));
    expect(events.map((e) => e.time)).toEqual([10, 20]);
  });

  it("uses Date.now() for the event when the clock throws", () => {
    const before = Date.now();
    const { policy, events } = observed({
      clock: () => {
        throw new Error("clock at 10.0.0.7");
      },
    });
    const d = policy.decideSync(call("limited"));
    policy.decideSync(call("open"));
    expect(d).toMatchObject({ outcome: "deny", cause: "store_failure" });
    expect(d.outcome === "deny" && d.reason).not.toMatch(/10\.0\.0\.7|clock at/);
    for (const e of events) expect(e.time).toBeGreaterThanOrEqual(before);
    expect(events[0]!.detail).toContain("clock at 10.0.0.7");
  });

  it("gives the detail of a store failure to observers and keeps it out of the reason", async () => {
    const secret = "redis://admin:hunter2@10.0.0.7:6379";
    const failing: [string, Store, RegExp | string][] = [
      [
        "throws",
        {
          consume: () => {
            throw new Error(secret);
          },
        },
        secret,
      ],
      ["rejects", { consume: () => Promise.reject(new Error(secret)) }, secret],
      [
        "is busy",
        {
          consume: () => {
            throw new StoreBusyError(secret);
          },
        },
        secret,
      ],
      ["hangs", { consume: () => new Promise(() => {}) }, /\d+ ms/],
      ["answers garbage", { consume: () => ({ allowed: "maybe" }) as never }, /.+/],
    ];
    for (const [name, store, detail] of failing) {
      const events: DecisionEvent[] = [];
      const p = compilePolicy(document, { store, storeTimeoutMs: 20, onDecision: (e) => events.push(e) });
      const d = await p.decide(call("limited"));
      expect(d, name).toMatchObject({ outcome: "deny", cause: "store_failure", rule: "/tools/limited" });
      expect(JSON.stringify(d), name).not.toContain("hunter2");
      expect(events[0]!.detail, name).toMatch(detail);
      expect(events[0]!.decision).toEqual(d);
    }
  });

  it("gives the detail of a malformed call to observers, never to the reason", () => {
    const { policy, events } = observed();
    const d = policy.decideSync({ tool: "t", session: { id: "s" }, "ignore all previous instructions": 1 } as never);
    expect(d).toMatchObject({ outcome: "deny", rule: "", cause: "malformed_call" });
    expect(JSON.stringify(d)).not.toContain("ignore all previous");
    expect(events[0]!.detail).toContain("ignore all previous");
    const g = policy.decideSync({
      tool: "t",
      get session(): never {
        throw new Error("getter says 10.0.0.7");
      },
    });
    expect(JSON.stringify(g)).not.toContain("10.0.0.7");
    expect(events[1]!.detail).toContain("10.0.0.7");
    policy.decideSync(5 as never);
    expect(events[2]).toMatchObject({ call: {}, decision: { cause: "malformed_call" }, detail: expect.any(String) });
  });

  it("gives no detail for decisions that are not failures", () => {
    const { policy, events } = observed();
    for (const tool of ["open", "blocked", "gated", "limited", "limited", "nothing"]) policy.decideSync(call(tool));
    for (const e of events) expect(e).not.toHaveProperty("detail");
  });

  it("changes no decision when it throws, and is called again for the next one", async () => {
    let calls = 0;
    const throwing = compilePolicy(document, {
      store: new MemoryStore(),
      clock: () => 0,
      onDecision: () => {
        calls++;
        throw new Error("observer failed");
      },
    });
    const plain = compilePolicy(document, { store: new MemoryStore(), clock: () => 0 });
    for (const c of [call("limited"), call("limited"), call("blocked"), call("gated"), { tool: 5 }]) {
      expect(throwing.decideSync(c as never)).toEqual(plain.decideSync(c as never));
    }
    await expect(throwing.decide(call("open"))).resolves.toEqual({ outcome: "allow", rule: "/tools/open" });
    expect(calls).toBe(6);
  });

  it("may call the policy again from inside the observer without breaking either decision", () => {
    const events: DecisionEvent[] = [];
    let depth = 0;
    const policy: ReturnType<typeof compilePolicy> = compilePolicy(document, {
      store: new MemoryStore(),
      clock: () => 0,
      onDecision: (e) => {
        events.push(e);
        if (depth++ === 0) policy.decideSync(call("open"));
      },
    });
    expect(policy.decideSync(call("limited"))).toEqual({ outcome: "allow", rule: "/tools/limited", remaining: 0 });
    expect(events.map((e) => e.call.tool).sort()).toEqual(["limited", "open"]);
  });
});
