/**
 * `Policy.mayAllow(tool, context)` is documented as `false` only when every call of `tool` with
 * that context is denied whatever its arguments. So whenever a generated call is not denied,
 * `mayAllow` for its tool, session and annotations must be `true` (the other direction is not
 * promised: `mayAllow` may be conservative).
 */

import fc from "fast-check";
import { compilePolicy, MemoryStore } from "toolgate";
import { describe, expect, it } from "vitest";
import { call, params, policy } from "./arbitraries.js";

describe("mayAllow", () => {
  it("is never false for a call that is allowed, rate-limited or needs approval", () => {
    fc.assert(
      fc.property(policy, fc.array(call, { minLength: 1, maxLength: 10 }), (doc, calls) => {
        const engine = compilePolicy(doc, { clock: () => 0, store: new MemoryStore({ maxKeys: 1_000 }) });
        for (const c of calls) {
          const d = engine.decideSync(c);
          if (d.outcome === "deny") continue;
          const context =
            c.annotations === undefined ? { session: c.session } : { session: c.session, annotations: c.annotations };
          expect(engine.mayAllow(c.tool, context), `${JSON.stringify(c)} got ${JSON.stringify(d)}`).toBe(true);
        }
      }),
      params(1_000),
    );
  }, 300_000);
});
