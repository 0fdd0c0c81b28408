/**
 * docs/spec.md §7 "Reloading a policy" with §5 "Identity": compiling the next version of a policy
 * with the same store and namespace continues every budget whose identity (namespace, the limit's
 * id or else its pointer, its window, what `per` names and the value there) is in both, under the
 * new max; the others, a changed window included, start afresh.
 */

import { compilePolicy, MemoryStore, type Policy } from "toolgate";
import { describe, expect, it } from "vitest";
import { call, Clock, doc } from "./helpers.js";

function versions(...documents: Record<string, unknown>[]): { policies: Policy[]; clock: Clock } {
  const store = new MemoryStore({ maxKeys: 1_000 });
  const clock = new Clock();
  const first = compilePolicy(documents[0], { store, clock: clock.read });
  const rest = documents
    .slice(1)
    .map((d) => compilePolicy(d, { store, clock: clock.read, namespace: first.namespace }));
  return { policies: [first, ...rest], clock };
}

const limit = (extra: Record<string, unknown> = {}) => ({ max: 3, window: 60, ...extra });

describe("reloading a policy", () => {
  it("continues a budget whose identity is in both, under the new max", () => {
    const v1 = doc({ t: { rate_limit: limit() } });
    const {
      policies: [a, lower, higher],
    } = versions(v1, doc({ t: { rate_limit: limit({ max: 2 }) } }), doc({ t: { rate_limit: limit({ max: 10 }) } }));
    for (let i = 0; i < 2; i++) a!.decideSync(call("t"));
    expect(lower!.decideSync(call("t")).outcome).toBe("rate_limited");
    expect(higher!.decideSync(call("t"))).toMatchObject({ outcome: "allow", remaining: 7 });
  });

  it("shares budgets by identity between two policies on one store and namespace, both ways", () => {
    const d = doc({ t: { rate_limit: limit({ max: 2 }) }, u: {} }, { name: "p" });
    const {
      policies: [a, b],
    } = versions(d, doc({ t: { rate_limit: limit({ max: 2 }) }, v: {} }, { name: "other-name" }));
    expect(b!.namespace).toBe("p");
    expect(a!.decideSync(call("t")).outcome).toBe("allow");
    expect(b!.decideSync(call("t")).outcome).toBe("allow");
    expect(a!.decideSync(call("t")).outcome).toBe("rate_limited");
    expect(b!.decideSync(call("t")).outcome).toBe("rate_limited");
  });

  it("keeps the policy's limits across a reload that adds tools and changes the default", () => {
    const v1 = doc({ a: {} }, { limits: [limit({ max: 2 })] });
    const v2 = doc({ a: {}, b: {} }, { default: "allow", limits: [limit({ max: 2 })] });
    const {
      policies: [p1, p2],
    } = versions(v1, v2);
    p1!.decideSync(call("a"));
    expect(p2!.decideSync(call("b"))).toMatchObject({ outcome: "allow", remaining: 0 });
    expect(p2!.decideSync(call("zzz")).outcome).toBe("rate_limited");
  });

  it.each([
    ["window", { window: 61 }],
    ["per", { per: "global" }],
    ["per attribute", { per: "/user" }],
  ])("starts afresh when the %s changes", (_, change) => {
    const {
      policies: [a, b],
    } = versions(
      doc({ t: { rate_limit: limit({ max: 1 }) } }),
      doc({ t: { rate_limit: limit({ max: 1, ...change }) } }),
    );
    a!.decideSync(call("t"));
    expect(a!.decideSync(call("t")).outcome).toBe("rate_limited");
    expect(b!.decideSync({ tool: "t", session: { id: "s1", user: "u" } }).outcome).toBe("allow");
  });

  it("does not trim the old window's counts from the new version, nor the other way round", () => {
    // A rolling deploy: both versions run at once, and each keeps its own window's exactness.
    const {
      policies: [short, long],
      clock,
    } = versions(doc({ t: { rate_limit: { max: 1, window: 1 } } }), doc({ t: { rate_limit: { max: 1, window: 10 } } }));
    short!.decideSync(call("t"));
    long!.decideSync(call("t"));
    clock.now = 5_000;
    expect(short!.decideSync(call("t")).outcome).toBe("allow");
    expect(long!.decideSync(call("t"))).toMatchObject({ outcome: "rate_limited", retryAfterMs: 5_000 });
  });

  it("keeps a budget with an id across reordering and moving to another key", () => {
    const v1 = doc({ t: { rate_limit: [limit({ id: "writes" }), limit({ max: 100 })] } });
    const v2 = doc({
      "t*": { rate_limit: [limit({ max: 50 }), limit({ id: "writes", window: "1m" })] },
      other: {},
    });
    const {
      policies: [a, b],
    } = versions(v1, v2);
    for (let i = 0; i < 3; i++) a!.decideSync(call("t"));
    expect(b!.decideSync(call("t"))).toMatchObject({ outcome: "rate_limited", rule: "/tools/t*/rate_limit/1" });
    expect(b!.decideSync(call("t_other"))).toMatchObject({ outcome: "rate_limited", rule: "/tools/t*/rate_limit/1" });
  });

  it("starts afresh for a limit without id that moves, and continues the one that takes over its position", () => {
    const v1 = doc({ t: { rate_limit: [limit({ max: 1 }), limit({ max: 5 })] } });
    // The first limit moves to position 1; the limit now at position 0 continues position 0's budget.
    const v2 = doc({ t: { rate_limit: [limit({ max: 5 }), limit({ max: 1 })] } });
    const {
      policies: [a, b],
    } = versions(v1, v2);
    expect(a!.decideSync(call("t"))).toMatchObject({ outcome: "allow", remaining: 0 });
    // Position 0 (now max 5) holds one call; position 1 (max 1) held one of max 5, now full.
    expect(b!.decideSync(call("t"))).toMatchObject({ outcome: "rate_limited", rule: "/tools/t/rate_limit/1" });
    const v3 = doc({ t: { rate_limit: [limit({ max: 2 }), limit({ max: 9 }), limit({ max: 1 })] } });
    const {
      policies: [c, d],
    } = versions(v1, v3);
    c!.decideSync(call("t"));
    // Positions 0 and 1 continue (1 of 2, 1 of 9); position 2 is new.
    expect(d!.decideSync(call("t"))).toMatchObject({ outcome: "allow", remaining: 0 });
    expect(d!.decideSync(call("t"))).toMatchObject({ outcome: "rate_limited", rule: "/tools/t/rate_limit/0" });
  });

  it("starts afresh when an id is given to a limit that had none, or taken away", () => {
    const {
      policies: [a, b, c],
    } = versions(
      doc({ t: { rate_limit: limit({ max: 1 }) } }),
      doc({ t: { rate_limit: limit({ max: 1, id: "named" }) } }),
      doc({ t: { rate_limit: limit({ max: 1 }) } }),
    );
    a!.decideSync(call("t"));
    expect(b!.decideSync(call("t")).outcome).toBe("allow");
    expect(c!.decideSync(call("t")).outcome).toBe("rate_limited");
  });

  it("keeps different namespaces apart on one store", () => {
    const store = new MemoryStore();
    const d = doc({ t: { rate_limit: limit({ max: 1 }) } });
    const a = compilePolicy(d, { store, namespace: "a" });
    const b = compilePolicy(d, { store, namespace: "b" });
    a.decideSync(call("t"));
    expect(b.decideSync(call("t")).outcome).toBe("allow");
    expect(a.decideSync(call("t")).outcome).toBe("rate_limited");
  });
});
