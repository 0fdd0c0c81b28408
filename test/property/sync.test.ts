/**
 * Property (c): `decide` and `decideSync` give the same decisions for the same policy, calls and
 * clock (each on its own MemoryStore), including malformed calls and a clock that steps back.
 */

import fc from "fast-check";
import { compilePolicy, MemoryStore } from "toolgate";
import { describe, expect, it } from "vitest";
import { params, policy, sequence } from "./arbitraries.js";

describe("decide and decideSync", () => {
  it("agree on every generated sequence", async () => {
    await fc.assert(
      fc.asyncProperty(policy, sequence, async (doc, steps) => {
        let now = 1_000;
        const a = compilePolicy(doc, { clock: () => now, store: new MemoryStore({ maxKeys: 1_000 }) });
        const b = compilePolicy(doc, { clock: () => now, store: new MemoryStore({ maxKeys: 1_000 }) });
        for (const { call, dt } of steps) {
          now += dt;
          const sync = a.decideSync(call as never);
          const async = await b.decide(call as never);
          expect(async).toEqual(sync);
        }
      }),
      params(1_000),
    );
  }, 300_000);
});
