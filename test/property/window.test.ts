/**
 * Property (b): the sliding window is exact. For one budget, no half-open interval
 * [t, t + W) ever holds more than `max` allowed calls, and a refused call's `retryAfterMs` is
 * exact: the same call is refused at `now + retryAfterMs - 1` and allowed at `now + retryAfterMs`
 * (the clock only moves forward here, and nothing else happens in between).
 *
 * Property (c), the same in units (docs/spec.md §5): with a cost read from the arguments
 * (decimals to six places) and refunds interleaved, no [t, t + W) holds more than `max` units
 * counted and not given back, for one budget shared by two tools of different costs.
 */

import fc from "fast-check";
import { compilePolicy, MemoryStore, type Decision, type ToolCall } from "toolgate";
import { describe, expect, it } from "vitest";
import { amount, params } from "./arbitraries.js";

const scenario = fc.record({
  max: fc.integer({ min: 1, max: 4 }),
  windowMs: fc.integer({ min: 1, max: 30 }),
  per: fc.constantFrom("session", "global"),
  steps: fc.array(fc.record({ session: fc.constantFrom("s1", "s2"), dt: fc.integer({ min: 0, max: 12 }) }), {
    minLength: 1,
    maxLength: 40,
  }),
});

/** Whether sorted times ever put more than `max` in some [t, t + windowMs). */
function overfull(times: number[], max: number, windowMs: number): boolean {
  for (let i = 0; i + max < times.length; i++) if (times[i + max]! - times[i]! < windowMs) return true;
  return false;
}

describe("sliding window", () => {
  it("never allows more than max in any window, and retryAfterMs is exact", () => {
    fc.assert(
      fc.property(scenario, ({ max, windowMs, per, steps }) => {
        let now = 0;
        const policy = compilePolicy(
          {
            version: "1",
            default: "deny",
            tools: { t: { rate_limit: { max, window: `${windowMs}ms`, per: per as "session" } } },
          },
          { clock: () => now, store: new MemoryStore({ maxKeys: 100 }) },
        );
        const allowed = new Map<string, number[]>();
        const budgetOf = (s: string) => (per === "global" ? "global" : s);
        const run = (call: ToolCall): Decision => {
          const d = policy.decideSync(call);
          if (d.outcome === "allow") {
            const list = allowed.get(budgetOf(call.session.id)) ?? [];
            list.push(now);
            allowed.set(budgetOf(call.session.id), list);
            expect(d.remaining).toBe(max - list.filter((t) => t > now - windowMs).length);
          } else {
            expect(d.outcome).toBe("rate_limited");
          }
          return d;
        };
        for (const { session, dt } of steps) {
          now += dt;
          const call = { tool: "t", session: { id: session } };
          const d = run(call);
          if (d.outcome === "rate_limited") {
            expect(Number.isInteger(d.retryAfterMs) && d.retryAfterMs >= 1).toBe(true);
            expect(d.limit).toEqual({ max, windowMs, per });
            const at = now + d.retryAfterMs;
            now = at - 1;
            expect(run(call).outcome, `refused at ${now} (retryAfterMs ${d.retryAfterMs})`).toBe("rate_limited");
            now = at;
            expect(run(call).outcome, `allowed at ${now}`).toBe("allow");
          }
        }
        for (const times of allowed.values()) expect(overfull(times, max, windowMs)).toBe(false);
      }),
      params(2_000),
    );
  }, 300_000);
});

/** Micro-units of a decimal with at most six places (test-side; the engine has its own). */
const micro = (x: number) => Math.round(x * 1_000_000);

const unitScenario = fc.record({
  max: fc.constantFrom(0.5, 1, 1.5, 2.5, 3),
  windowMs: fc.integer({ min: 1, max: 30 }),
  steps: fc.array(
    fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constant("call" as const),
          amount,
          fixed: fc.boolean(),
          dt: fc.integer({ min: 0, max: 12 }),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant("refund" as const),
          back: fc.integer({ min: 1, max: 5 }),
          dt: fc.integer({ min: 0, max: 4 }),
        }),
      },
    ),
    { minLength: 1, maxLength: 50 },
  ),
});

describe("sliding window in units, with refunds", () => {
  it("never counts more than max units in any window, and retryAfterMs is exact in units", async () => {
    await fc.assert(
      fc.asyncProperty(unitScenario, async ({ max, windowMs, steps }) => {
        let now = 0;
        const shared = { id: "b", max, window: `${windowMs}ms`, per: "global", refund: "on_error" } as const;
        const policy = compilePolicy(
          {
            version: "1",
            default: "deny",
            tools: {
              pay: { rate_limit: { ...shared, cost: "/amount" } },
              tick: { rate_limit: { ...shared, cost: 0.5 } },
            },
          },
          { clock: () => now, store: new MemoryStore({ maxKeys: 100 }) },
        );
        /** What is counted and not given back: time and micro-units, by the decision that counted it. */
        const counted = new Map<Decision, { time: number; units: number }>();
        const decisions: Decision[] = [];
        const usedAt = (t: number) =>
          [...counted.values()].filter((e) => e.time > t - windowMs).reduce((a, e) => a + e.units, 0);
        const run = (call: ToolCall, units: number): Decision => {
          const d = policy.decideSync(call);
          if (d.outcome === "allow") {
            if (units > 0) counted.set(d, { time: now, units });
            expect(micro(d.remaining!)).toBe(micro(max) - usedAt(now));
          } else if (d.outcome === "rate_limited") {
            expect(usedAt(now) + units).toBeGreaterThan(micro(max));
          } else {
            expect(d).toMatchObject({ outcome: "deny", cause: "cost_exceeds_max" });
            expect(units).toBeGreaterThan(micro(max));
          }
          decisions.push(d);
          return d;
        };
        for (const s of steps) {
          now += s.dt;
          if (s.kind === "refund") {
            const d = decisions[decisions.length - s.back];
            if (d === undefined) continue;
            const entry = counted.get(d);
            const given = await policy.refund(d);
            expect(given).toBe(entry !== undefined && entry.time > now - windowMs);
            if (given) counted.delete(d);
            continue;
          }
          const call: ToolCall = s.fixed
            ? { tool: "tick", session: { id: "s" } }
            : { tool: "pay", session: { id: "s" }, args: { amount: s.amount } };
          const units = s.fixed ? micro(0.5) : micro(s.amount as number);
          const d = run(call, units);
          if (d.outcome === "rate_limited") {
            expect(Number.isInteger(d.retryAfterMs) && d.retryAfterMs >= 1).toBe(true);
            const at = now + d.retryAfterMs;
            now = at - 1;
            expect(run(call, units).outcome, `refused at ${now} (retryAfterMs ${d.retryAfterMs})`).toBe("rate_limited");
            now = at;
            expect(run(call, units).outcome, `allowed at ${now}`).toBe("allow");
          }
        }
        // No window [t, t + W) over any counted entry's time holds more than max units.
        const entries = [...counted.values()];
        for (const start of entries) {
          const inside = entries
            .filter((e) => e.time >= start.time && e.time < start.time + windowMs)
            .reduce((a, e) => a + e.units, 0);
          expect(inside).toBeLessThanOrEqual(micro(max));
        }
      }),
      params(1_000),
    );
  }, 300_000);
});
