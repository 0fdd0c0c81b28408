/**
 * Property (b): the sliding window is exact. For one budget, no half-open interval
 * [t, t + W) ever holds more than `max` allowed calls, and a refused call's `retryAfterMs` is
 * exact: the same call is refused at `now + retryAfterMs - 1` and allowed at `now + retryAfterMs`
 * (the clock only moves forward here, and nothing else happens in between).
 */

import fc from "fast-check";
import { compilePolicy, MemoryStore, type Decision, type ToolCall } from "toolgate";
import { describe, expect, it } from "vitest";
import { params } from "./arbitraries.js";

const scenario = fc.record({
  max: fc.integer({ min: 1, max: 4 }),
  windowMs: fc.integer({ min: 1, max: 30 }),
  per: fc.constantFrom("session", "global"),
  steps: fc.array(fc.record({ session: fc.constantFrom("s1", "s2"), dt: fc.integer({ min: 0, max: 12 }) }), { minLength: 1, maxLength: 40 }),
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
          { version: "1", default: "deny", tools: { t: { rate_limit: { max, window: `${windowMs}ms`, per: per as "session" } } } },
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
