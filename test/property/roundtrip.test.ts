/**
 * Property (d): a valid generated document keeps its meaning through JSON: compiling the object,
 * its JSON text, and `policy.document` re-parsed all give the same decisions, and
 * `policy.document` is the document as written.
 */

import fc from "fast-check";
import { compilePolicy, MemoryStore, validatePolicy } from "toolgate";
import { describe, expect, it } from "vitest";
import { params, policy, sequence } from "./arbitraries.js";

describe("JSON round trip", () => {
  it("keeps the meaning of every valid generated document", () => {
    fc.assert(
      fc.property(policy, sequence, (doc, steps) => {
        let now = 1_000;
        const text = JSON.stringify(doc);
        expect(validatePolicy(doc).valid).toBe(true);
        expect(validatePolicy(text).valid).toBe(true);
        const fromObject = compilePolicy(doc, { clock: () => now, store: new MemoryStore({ maxKeys: 1_000 }) });
        expect(fromObject.document).toEqual(doc);
        const fromText = compilePolicy(text, { clock: () => now, store: new MemoryStore({ maxKeys: 1_000 }) });
        const fromCopy = compilePolicy(JSON.parse(JSON.stringify(fromObject.document)), {
          clock: () => now,
          store: new MemoryStore({ maxKeys: 1_000 }),
        });
        expect(fromText.document).toEqual(doc);
        expect(fromText.warnings).toEqual(
          fromObject.warnings.map((w) => expect.objectContaining({ path: w.path, message: w.message })),
        );
        for (const { call, dt } of steps) {
          now += dt;
          const d = fromObject.decideSync(call as never);
          expect(fromText.decideSync(call as never)).toEqual(d);
          expect(fromCopy.decideSync(call as never)).toEqual(d);
          expect(JSON.parse(JSON.stringify(d))).toEqual(d);
        }
      }),
      params(1_000),
    );
  }, 300_000);
});
