/**
 * The store half of issue 12's refund property: MemoryStore answers every generated sequence of
 * calls and refunds (weighted, micro-unit, cost 0, dry runs, clocks that step back or read
 * fractional milliseconds, refunds of real, repeated, stale and bogus entries, interleaved with
 * the calls) exactly as the reference model of the store contract does, and the model's
 * sliding-window guarantee holds in units throughout. test/redis/refunds.property.test.ts runs
 * the same sequences against RedisStore.
 */

import fc from "fast-check";
import { MemoryStore } from "toolgate";
import { expect, it } from "vitest";
import { params } from "../property/arbitraries.js";
import { budgetSpecs, opsArb, runBoth } from "./model.js";

const WINDOWS = [50, 100, 1_000] as const;

it("MemoryStore answers as the reference model, with refunds interleaved with calls", async () => {
  await fc.assert(
    fc.asyncProperty(
      budgetSpecs(WINDOWS).chain((specs) => fc.tuple(fc.constant(specs), opsArb(WINDOWS, specs.length, 40))),
      async ([specs, ops]) => {
        const { got, want, ok } = await runBoth(new MemoryStore(), "ns", specs, ops, 1_000_000);
        expect(got).toEqual(want);
        expect(ok).toBe(true);
      },
    ),
    params(500),
  );
}, 120_000);

it("MemoryStore stays the model's equal on long runs of one hot refundable budget", async () => {
  await fc.assert(
    fc.asyncProperty(opsArb([100], 1, 300), async (ops) => {
      const specs = [{ key: "hot", max: 7, windowMs: 100, refundable: true, shared: true }];
      const { got, want, ok } = await runBoth(new MemoryStore(), "ns", specs, ops, 5_000);
      expect(got).toEqual(want);
      expect(ok).toBe(true);
    }),
    params(100),
  );
}, 120_000);

it("MemoryStore stays the model's equal on one-unit budgets without refunds (the constant-time path)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 6 }),
      opsArb(WINDOWS, 2, 80, fc.constant(1), false),
      async (max, ops) => {
        const specs = [
          { key: "a", max, windowMs: 100, refundable: false, shared: false },
          { key: "b", max: max + 1, windowMs: 1_000, refundable: false, shared: true },
        ];
        const { got, want, ok } = await runBoth(new MemoryStore(), "ns", specs, ops, 5_000);
        expect(got).toEqual(want);
        expect(ok).toBe(true);
      },
    ),
    params(300),
  );
}, 120_000);
