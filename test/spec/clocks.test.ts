/**
 * docs/spec.md §3 "Clocks": within one budget a call counts at max(now, the budget's latest
 * counted time) and `retryAfterMs` is measured from the real now; a clock may return fractional
 * milliseconds, and waits are still whole milliseconds, rounded up.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { call, Clock, compile, doc } from "./helpers.js";

describe("clocks", () => {
  it("the example: {max: 1, window: 1}, a call at 1000, the clock stepped back to 500", () => {
    const clock = new Clock();
    const policy = compile(doc({ t: { rate_limit: { max: 1, window: 1 } } }), clock);
    clock.now = 1_000;
    expect(policy.decideSync(call("t")).outcome).toBe("allow");
    clock.now = 500;
    expect(policy.decideSync(call("t"))).toMatchObject({ outcome: "rate_limited", retryAfterMs: 1_500 });
    clock.now = 1_999;
    expect(policy.decideSync(call("t"))).toMatchObject({ outcome: "rate_limited", retryAfterMs: 1 });
    clock.now = 2_000;
    expect(policy.decideSync(call("t")).outcome).toBe("allow");
  });

  it("counts a call at a stepped-back time at the budget's latest counted time", () => {
    const clock = new Clock();
    const policy = compile(doc({ t: { rate_limit: { max: 2, window: 1 } } }), clock);
    clock.now = 1_000;
    policy.decideSync(call("t"));
    clock.now = 200;
    expect(policy.decideSync(call("t"))).toMatchObject({ outcome: "allow", remaining: 0 });
    // Both calls count at 1000: at 1999 neither has left.
    clock.now = 1_999;
    expect(policy.decideSync(call("t"))).toMatchObject({ outcome: "rate_limited", retryAfterMs: 1 });
    clock.now = 2_000;
    expect(policy.decideSync(call("t"))).toMatchObject({ outcome: "allow", remaining: 1 });
  });

  it("keeps each budget's time apart: stepping back in one budget says nothing of another", () => {
    const clock = new Clock();
    const policy = compile(
      doc({ a: { rate_limit: { max: 1, window: 1 } }, b: { rate_limit: { max: 1, window: 1 } } }),
      clock,
    );
    clock.now = 5_000;
    policy.decideSync(call("a"));
    clock.now = 0;
    expect(policy.decideSync(call("b")).outcome).toBe("allow");
    clock.now = 1_000;
    expect(policy.decideSync(call("b")).outcome).toBe("allow");
    expect(policy.decideSync(call("a"))).toMatchObject({ outcome: "rate_limited", retryAfterMs: 5_000 });
  });

  it("rounds fractional waits up to whole milliseconds", () => {
    const clock = new Clock();
    const policy = compile(doc({ t: { rate_limit: { max: 1, window: 1 } } }), clock);
    clock.now = 0.5;
    policy.decideSync(call("t"));
    for (const [now, wait] of [
      [1_000.2, 1],
      [999.7, 1],
      [100.25, 901],
      [1_000.4999, 1],
      [0.75, 1_000],
    ] as const) {
      clock.now = now;
      expect(policy.decideSync(call("t")), `at ${now}`).toMatchObject({ outcome: "rate_limited", retryAfterMs: wait });
    }
    clock.now = 1_000.5;
    expect(policy.decideSync(call("t")).outcome).toBe("allow");
  });

  it("gives a whole wait >= 1 that lets the call in, for any fractional times", () => {
    fc.assert(
      fc.property(
        // Times in 1/1024 ms, as a performance.now() clock gives them: sums of them stay exact.
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 0, max: 5_000 * 1_024 }),
        fc.integer({ min: 1, max: 5_000 }),
        (firstTicks, gapTicks, windowMs) => {
          const first = firstTicks / 1_024;
          const gap = gapTicks / 1_024;
          const clock = new Clock();
          const policy = compile(doc({ t: { rate_limit: { max: 1, window: windowMs / 1_000 } } }), clock);
          clock.now = first;
          expect(policy.decideSync(call("t")).outcome).toBe("allow");
          clock.now = first + gap;
          const d = policy.decideSync(call("t"));
          if (d.outcome === "allow") return;
          expect(d.outcome).toBe("rate_limited");
          if (d.outcome !== "rate_limited") return;
          expect(Number.isInteger(d.retryAfterMs) && d.retryAfterMs >= 1).toBe(true);
          // The exact wait, rounded up: a millisecond less is not enough, and the wait is.
          expect(d.retryAfterMs).toBe(Math.ceil(first + windowMs - (first + gap)));
          clock.now = first + gap + d.retryAfterMs - 1;
          if (d.retryAfterMs > 1) expect(policy.decideSync(call("t")).outcome).toBe("rate_limited");
          clock.now = first + gap + d.retryAfterMs;
          expect(policy.decideSync(call("t")).outcome).toBe("allow");
        },
      ),
      { numRuns: 300 },
    );
  });
});
