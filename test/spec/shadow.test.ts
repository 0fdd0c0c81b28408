/**
 * docs/spec.md §6 "Shadow mode": with `mode: "shadow"` every well-formed call is allowed; a call
 * enforcement would refuse is answered `{ outcome: "allow", rule, shadow: <the refusal> }` and
 * counts in no budget (so budgets stay what enforcement would have made them); a malformed call
 * is still denied; observers see the real decision with `shadow: true`; `peek` is shadowed and
 * `explain` shows what enforcement decides.
 */

import { compilePolicy, MemoryStore, type Decision, type DecisionEvent, type Refusal, type Store } from "toolgate";
import { describe, expect, it } from "vitest";
import { call, Clock, doc } from "./helpers.js";

const document = doc(
  {
    limited: { rate_limit: { max: 1, window: 1 } },
    blocked: { action: "deny", reason: "no" },
    gated: { action: "require_approval", reason: "ask" },
    per_user: { rate_limit: { max: 1, window: 1, per: "/user" } },
    paid: { rate_limit: { max: 1, window: 1, cost: "/n" } },
    open: {},
  },
  { name: "shadowed" },
);

function both(store?: Store) {
  const clock = new Clock();
  const events: DecisionEvent[] = [];
  const shadow = compilePolicy(document, {
    store: store ?? new MemoryStore(),
    clock: clock.read,
    mode: "shadow",
    onDecision: (e) => events.push(e),
  });
  const enforce = compilePolicy(document, { store: store ?? new MemoryStore(), clock: clock.read });
  return { shadow, enforce, events, clock };
}

const shadowOf = (refusal: Refusal): Decision => ({ outcome: "allow", rule: refusal.rule, shadow: refusal });

describe("shadow mode", () => {
  it("reports its mode", () => {
    expect(both().shadow.mode).toBe("shadow");
    expect(both().enforce.mode).toBe("enforce");
  });

  it("answers every refusal as an allow carrying it, with the refusal's rule", () => {
    const { shadow, enforce } = both();
    const calls = [
      call("blocked"),
      call("gated"),
      call("nothing"),
      call("per_user"),
      call("paid", { args: { n: "x" } }),
      call("paid", { args: { n: 2 } }),
      call("limited"),
      call("limited"),
    ];
    for (const c of calls) {
      const real = enforce.decideSync(c);
      const d = shadow.decideSync(c);
      expect(d, JSON.stringify(c)).toEqual(real.outcome === "allow" ? real : shadowOf(real));
    }
  });

  it("counts nothing for a shadowed refusal: the budget stays what enforcement makes it", () => {
    const { shadow, enforce, clock } = both();
    for (let t = 0; t < 3_000; t += 250) {
      clock.now = t;
      const real = enforce.decideSync(call("limited"));
      const d = shadow.decideSync(call("limited"));
      expect(d, `at ${t}`).toEqual(real.outcome === "allow" ? real : shadowOf(real));
    }
  });

  it("still denies a malformed call", () => {
    const { shadow } = both();
    for (const bad of [
      null,
      { tool: "", session: { id: "s" } },
      { tool: "open", session: { id: "s" }, arguments: {} },
    ]) {
      expect(shadow.decideSync(bad as never)).toMatchObject({ outcome: "deny", rule: "", cause: "malformed_call" });
    }
  });

  it("shadows a store failure", async () => {
    const { shadow } = both({ consume: () => Promise.reject(new Error("down")) });
    const d = await shadow.decide(call("limited"));
    expect(d).toEqual({
      outcome: "allow",
      rule: "/tools/limited",
      shadow: { outcome: "deny", rule: "/tools/limited", reason: expect.any(String), cause: "store_failure" },
    });
  });

  it("shows observers the real decision, with shadow: true", async () => {
    const { shadow, events } = both();
    shadow.decideSync(call("limited"));
    shadow.decideSync(call("limited"));
    await shadow.decide(call("blocked"));
    shadow.decideSync(null as never);
    expect(events.map((e) => [e.shadow, e.decision.outcome])).toEqual([
      [true, "allow"],
      [true, "rate_limited"],
      [true, "deny"],
      [true, "deny"],
    ]);
    expect(events[2]!.decision).toEqual({ outcome: "deny", rule: "/tools/blocked", reason: "no", cause: "policy" });
  });

  it("shadows peek, and explain shows what enforcement decides", async () => {
    const { shadow } = both();
    shadow.decideSync(call("limited"));
    const refusal = {
      outcome: "rate_limited",
      rule: "/tools/limited/rate_limit",
      reason: expect.any(String),
      retryAfterMs: 1_000,
      limit: expect.any(Object),
    };
    expect(await shadow.peek(call("limited"))).toEqual({
      outcome: "allow",
      rule: "/tools/limited/rate_limit",
      shadow: refusal,
    });
    expect((await shadow.explain(call("limited"))).decision).toEqual(refusal);
    expect((await shadow.explain(call("blocked"))).decision).toMatchObject({ outcome: "deny", cause: "policy" });
  });

  it("gives shadowed decisions as plain JSON data", () => {
    const { shadow } = both();
    const d = shadow.decideSync(call("gated"));
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });
});
