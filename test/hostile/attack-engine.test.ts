/**
 * Adversarial review of 0.2 (issue 11), the engine's own surface through the public entry:
 * costs read through pointer tricks, ids shared across tools with different costs and refund
 * flags, observers that throw, re-enter or mutate what they are given, shadow mode's accounting,
 * option validation, rulesFor / mayAllow with hostile contexts, definePolicy and decisionLog with
 * hostile arguments. A test whose name starts with "BUG:" is an attack that succeeds today.
 */

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { compilePolicy, decisionLog, definePolicy, MemoryStore, type Decision, type PolicyDocument } from "toolgate";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const S = { id: "s" };

const costDoc: PolicyDocument = {
  version: "1",
  name: "attack-cost",
  default: "deny",
  tools: {
    p: { rate_limit: { max: 10, window: "1m", cost: "/__proto__" } },
    c: { rate_limit: { max: 10, window: "1m", cost: "/constructor" } },
    a: { rate_limit: { max: 10, window: "1m", cost: "/0" } },
    n: { rate_limit: { max: 1, window: "1m", cost: "/amount" } },
    deep: { rate_limit: { max: 10, window: "1m", cost: "/order/total" } },
    sum: { rate_limit: { max: 1000, window: "1h", cost: "/x" } },
  },
};

describe("attack: cost pointers", () => {
  it("/__proto__ and /constructor never read inherited members", async () => {
    const p = compilePolicy(costDoc);
    expect(await p.decide({ tool: "p", args: {}, session: S })).toMatchObject({
      outcome: "deny",
      cause: "invalid_cost",
    });
    expect(await p.decide({ tool: "c", args: {}, session: S })).toMatchObject({
      outcome: "deny",
      cause: "invalid_cost",
    });
    // An own member of that name is the amount.
    const own = JSON.parse('{"__proto__": 3}') as Record<string, unknown>;
    expect(await p.decide({ tool: "p", args: own, session: S })).toMatchObject({ outcome: "allow", remaining: 7 });
    expect(await p.decide({ tool: "c", args: { constructor: 2 }, session: S })).toMatchObject({ remaining: 8 });
  });

  it("a getter is read once: the amount decided on is the amount counted", async () => {
    const p = compilePolicy(costDoc, { store: new MemoryStore() });
    let reads = 0;
    const args = {
      get amount() {
        reads++;
        return reads === 1 ? 1 : 0;
      },
    };
    expect(await p.decide({ tool: "n", args, session: S })).toMatchObject({ outcome: "allow", remaining: 0 });
    expect(reads).toBe(1);
    expect(await p.decide({ tool: "n", args: { amount: 0.5 }, session: S })).toMatchObject({ outcome: "rate_limited" });
  });

  it("a pointer does not step through arrays or class instances as if they were plain objects", async () => {
    const p = compilePolicy(costDoc);
    class Order {
      total = 1;
    }
    const viaClass = await p.decide({ tool: "deep", args: { order: new Order() }, session: S });
    expect(viaClass).toMatchObject({ outcome: "deny", cause: "invalid_cost" });
    const viaGetterThatThrows = await p.decide({
      tool: "deep",
      args: {
        get order(): unknown {
          throw new Error("MARKER-getter");
        },
      },
      session: S,
    });
    expect(viaGetterThatThrows.outcome).toBe("deny");
    expect(JSON.stringify(viaGetterThatThrows)).not.toContain("MARKER");
  });

  it.each([
    ["-0", -0, "allow"],
    ["1e-7", 1e-7, "invalid_cost"],
    ["5e-7", 5e-7, "invalid_cost"],
    ["1.0000001", 1.0000001, "invalid_cost"],
    ["a string", "1", "invalid_cost"],
    ["NaN", Number.NaN, "invalid_cost"],
    ["Infinity", Number.POSITIVE_INFINITY, "invalid_cost"],
    ["-1", -1, "invalid_cost"],
    ["null", null, "invalid_cost"],
    ["true", true, "invalid_cost"],
    ["[1]", [1], "invalid_cost"],
    ["an object with valueOf", { valueOf: () => 0 }, "invalid_cost"],
    ["1.000001", 1.000001, "cost_exceeds_max"],
    ["1e308", 1e308, "cost_exceeds_max"],
    ["2^53", 2 ** 53, "cost_exceeds_max"],
    ["Number.MAX_VALUE", Number.MAX_VALUE, "cost_exceeds_max"],
  ])("amount %s", async (_name, amount, expected) => {
    const p = compilePolicy(costDoc);
    const d = await p.decide({ tool: "n", args: { amount }, session: S });
    if (expected === "allow") expect(d.outcome).toBe("allow");
    else expect(d).toMatchObject({ outcome: "deny", cause: expected });
    if (d.outcome !== "allow") expect(d.reason).not.toMatch(/NaN|Infinity|e\+308|valueOf/);
  });

  it("0.1 units 10,000 times: exactly 10,000 calls fit in max 1000, the next does not", () => {
    const p = compilePolicy(costDoc, { clock: () => 0 });
    let allowed = 0;
    for (let i = 0; i < 10_001; i++)
      if (p.decideSync({ tool: "sum", args: { x: 0.1 }, session: S }).outcome === "allow") allowed++;
    expect(allowed).toBe(10_000);
    // 0.1 + 0.2 on a fresh budget: 3,333 such pairs would be 999.9, never 1000.0000000001.
    const q = compilePolicy(costDoc, { clock: () => 0, store: new MemoryStore() });
    let units = 0;
    for (let i = 0; i < 3333; i++) {
      expect(q.decideSync({ tool: "sum", args: { x: 0.1 }, session: S }).outcome).toBe("allow");
      expect(q.decideSync({ tool: "sum", args: { x: 0.2 }, session: S }).outcome).toBe("allow");
      units += 3;
    }
    expect(units).toBe(9999);
    const last = q.decideSync({ tool: "sum", args: { x: 0.1 }, session: S });
    expect(last).toMatchObject({ outcome: "allow", remaining: 0 });
    expect(q.decideSync({ tool: "sum", args: { x: 0.000001 }, session: S }).outcome).toBe("rate_limited");
  });
});

describe("attack: ids shared across tools", () => {
  const doc: PolicyDocument = {
    version: "1",
    name: "attack-ids",
    default: "deny",
    tools: {
      w: { rate_limit: { id: "b", max: 4, window: "1m", refund: "on_error" } },
      e: { rate_limit: { id: "b", max: 4, window: "1m", cost: 3 } },
      z: { rate_limit: { id: "b", max: 4, window: "1m", cost: 0 } },
    },
  };

  it("a refund of the refundable tool gives back its unit only, never the other tool's units", async () => {
    const p = compilePolicy(doc, { clock: () => 0 });
    const a = await p.decide({ tool: "w", session: S });
    expect(a).toMatchObject({ outcome: "allow", remaining: 3 });
    expect(await p.decide({ tool: "e", session: S })).toMatchObject({ outcome: "allow", remaining: 0 });
    expect(await p.decide({ tool: "w", session: S })).toMatchObject({ outcome: "rate_limited" });
    expect(await p.refund(a)).toBe(true);
    expect(await p.refund(a)).toBe(false);
    // Exactly one unit came back: w fits, e (3 units) does not.
    expect(await p.peek({ tool: "e", session: S })).toMatchObject({ outcome: "rate_limited" });
    expect(await p.decide({ tool: "w", session: S })).toMatchObject({ outcome: "allow", remaining: 0 });
    // A cost-0 tool in a full budget fits and carries no ticket.
    const z = await p.decide({ tool: "z", session: S });
    expect(z.outcome).toBe("allow");
    expect(z).not.toHaveProperty("refund");
  });

  it("ids that disagree, or one call naming an id twice, are policy errors", () => {
    const bad = {
      version: "1",
      default: "deny",
      limits: [{ id: "b", max: 4, window: "1m" }],
      tools: {
        w: { rate_limit: [{ id: "b", max: 4, window: 60 }] },
        e: { rate_limit: { id: "b", max: 5, window: "1m" } },
      },
    };
    expect(() => compilePolicy(bad)).toThrow();
    for (const id of ["", "x".repeat(129), 5, null, "__proto__"]) {
      const d = { version: "1", default: "deny", tools: { w: { rate_limit: { id, max: 1, window: 1 } } } };
      if (id === "__proto__") expect(() => compilePolicy(d)).not.toThrow();
      else expect(() => compilePolicy(d)).toThrow();
    }
  });
});

describe("attack: observers", () => {
  const doc: PolicyDocument = {
    version: "1",
    name: "attack-observers",
    default: "deny",
    tools: { w: { rate_limit: { max: 3, window: "1m" } }, d: { action: "deny", reason: "no" } },
  };

  it("an observer that throws changes no decision and is called for the next one", async () => {
    let calls = 0;
    const p = compilePolicy(doc, {
      onDecision: () => {
        calls++;
        throw new Error("MARKER");
      },
    });
    expect(await p.decide({ tool: "w", session: S })).toMatchObject({ outcome: "allow", remaining: 2 });
    expect(p.decideSync({ tool: "d", session: S })).toMatchObject({ outcome: "deny", cause: "policy" });
    expect(calls).toBe(2);
  });

  it("an observer that re-enters decide sees consistent counts (each nested call counted once)", async () => {
    let depth = 0;
    const outcomes: string[] = [];
    const p = compilePolicy(doc, {
      onDecision: (e) => {
        outcomes.push(e.decision.outcome);
        if (depth++ < 3) p.decideSync({ tool: "w", session: S });
      },
    });
    const d = await p.decide({ tool: "w", session: S });
    expect(d).toMatchObject({ outcome: "allow", remaining: 2 });
    expect(outcomes).toEqual(["allow", "allow", "allow", "rate_limited"]);
  });

  it("a getter of the call that calls decide from inside the read does not corrupt the outer decision", () => {
    const p = compilePolicy(doc);
    const inner: Decision[] = [];
    const call = {
      tool: "w",
      get args() {
        inner.push(p.decideSync({ tool: "w", session: S }));
        return {};
      },
      session: S,
    };
    expect(p.decideSync(call)).toMatchObject({ outcome: "allow", remaining: 1 });
    expect(inner).toHaveLength(1);
    expect(inner[0]).toMatchObject({ outcome: "allow", remaining: 2 });
  });

  it("observer mutating event.decision leaves the returned decision (was a BUG; fixed, 53a8463)", async () => {
    // docs/spec.md section 3: a reason never carries text from a host callback; section 6: an
    // observer sees the decision, it does not make it.
    const p = compilePolicy(doc, {
      onDecision: (e) => {
        const d = e.decision as unknown as Record<string, unknown>;
        d.outcome = "deny";
        d.reason = "MARKER from the observer";
      },
    });
    const d = await p.decide({ tool: "w", session: S });
    expect(d).toMatchObject({ outcome: "allow", rule: "/tools/w" });
    expect(JSON.stringify(d)).not.toContain("MARKER");
  });

  it("observer mutating a rate_limited event keeps retryAfterMs (was a BUG; fixed, 53a8463)", () => {
    const p = compilePolicy(doc, {
      clock: () => 0,
      onDecision: (e) => {
        (e.decision as unknown as Record<string, unknown>).retryAfterMs = 0;
      },
    });
    for (let i = 0; i < 3; i++) p.decideSync({ tool: "w", session: S });
    expect(p.decideSync({ tool: "w", session: S })).toMatchObject({ outcome: "rate_limited", retryAfterMs: 60_000 });
  });

  it("an observer that mutates a deny decision does not turn it into an allow", async () => {
    const p = compilePolicy(doc, {
      onDecision: (e) => {
        (e.decision as unknown as Record<string, unknown>).outcome = "allow";
      },
    });
    expect(await p.decide({ tool: "d", session: S })).toMatchObject({ outcome: "deny", cause: "policy" });
  });

  it("an async observer that rejects does not crash the host process (was a BUG, fixed in 53a8463)", () => {
    // docs/spec.md section 6: "An observer that throws changes no decision, and is called again for
    // the next one." An async function is a valid `(event) => void`; its rejection must not kill
    // the host.
    const code = `
      const { compilePolicy } = await import("toolgate");
      const p = compilePolicy({ version: "1", default: "allow", tools: {} },
        { onDecision: async () => { throw new Error("observer failed"); } });
      const d = await p.decide({ tool: "a", session: { id: "s" } });
      await new Promise((r) => setTimeout(r, 50));
      console.log(JSON.stringify(d));`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(r.stderr).not.toContain("observer failed");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: "allow" });
  });

  it("an event's call is what was decided on, even when the observer mutates it", async () => {
    const tools: unknown[] = [];
    const p = compilePolicy(doc, {
      onDecision: (e) => {
        tools.push(e.call.tool);
        (e.call as Record<string, unknown>).tool = "d";
      },
    });
    expect(await p.decide({ tool: "w", session: S })).toMatchObject({ outcome: "allow" });
    expect(await p.decide({ tool: "w", session: S })).toMatchObject({ outcome: "allow", remaining: 1 });
    expect(tools).toEqual(["w", "w"]);
  });
});

describe("attack: shadow mode accounting", () => {
  const doc: PolicyDocument = {
    version: "1",
    name: "attack-shadow",
    default: "deny",
    tools: { w: { rate_limit: { max: 2, window: "1m" } } },
  };

  it("shadowed refusals count nothing; the budget is what enforcement would have made it", async () => {
    const store = new MemoryStore();
    const sh = compilePolicy(doc, { mode: "shadow", store, clock: () => 0, namespace: "n" });
    const en = compilePolicy(doc, { store, clock: () => 0, namespace: "n" });
    const out: Decision[] = [];
    for (let i = 0; i < 50; i++) out.push(await sh.decide({ tool: "w", session: S }));
    expect(out.every((d) => d.outcome === "allow")).toBe(true);
    expect(out.filter((d) => d.outcome === "allow" && d.shadow !== undefined)).toHaveLength(48);
    expect(await en.peek({ tool: "w", session: S })).toMatchObject({ outcome: "rate_limited", retryAfterMs: 60_000 });
    expect(await sh.decide({ tool: "nope", session: S })).toMatchObject({
      outcome: "allow",
      shadow: { cause: "policy" },
    });
    expect(await sh.decide({ tool: "", session: S })).toMatchObject({ outcome: "deny", cause: "malformed_call" });
    expect(await sh.decide({ tool: "w", session: S, bogus: 1 } as never)).toMatchObject({ outcome: "deny" });
  });

  it("a store failure in shadow mode is an allow with the store refusal in shadow, never failedOpen", async () => {
    const store = {
      consume(): never {
        throw new Error("MARKER password=hunter2");
      },
    };
    const p = compilePolicy(doc, { mode: "shadow", store });
    const d = await p.decide({ tool: "w", session: S });
    expect(d).toMatchObject({ outcome: "allow", shadow: { outcome: "deny", cause: "store_failure" } });
    expect(JSON.stringify(d)).not.toContain("MARKER");
  });
});

describe("attack: options, contexts, definePolicy", () => {
  const doc: PolicyDocument = {
    version: "1",
    default: "deny",
    tools: {
      r: {
        rules: [
          { when: { session: { properties: { role: { const: "admin" } }, required: ["role"] } } },
          { action: "deny" },
        ],
      },
    },
  };

  it.each<[string, unknown]>([
    ["null", null],
    ["a number", 1],
    ["an array", []],
    ["mode Shadow", { mode: "Shadow" }],
    ["mode null", { mode: null }],
    ["failOpen a string", { failOpen: "yes" }],
    ["storeTimeoutMs -1", { storeTimeoutMs: -1 }],
    ["storeTimeoutMs NaN", { storeTimeoutMs: Number.NaN }],
    ["storeTimeoutMs beyond a timer", { storeTimeoutMs: 1e12 }],
    ["storeTimeoutMs 0.5", { storeTimeoutMs: 0.5 }],
    ["clock a number", { clock: 5 }],
    ["onDecision a number", { onDecision: 1 }],
    ["empty namespace", { namespace: "" }],
    ["an unknown option", { bogus: 1 }],
    ["an own __proto__ option", JSON.parse('{"__proto__": {"failOpen": true}}')],
    ["inherited options", Object.create({ failOpen: true })],
    ["a store without consume", { store: {} }],
  ])("compilePolicy rejects options: %s", (_name, options) => {
    expect(() => compilePolicy(doc, options as never)).toThrow(TypeError);
  });

  it("mayAllow / rulesFor answer or throw a TypeError for hostile contexts, never read inherited roles", () => {
    const p = compilePolicy(doc);
    for (const ctx of [null, 1, "x"]) expect(() => p.mayAllow("r", ctx as never)).toThrow(TypeError);
    for (const tool of [5, null, undefined, {}]) expect(() => p.rulesFor(tool as never)).toThrow(TypeError);
    const inherited = { session: Object.assign(Object.create({ role: "admin" }), { id: "s" }) };
    expect(p.mayAllow("r", inherited)).toBe(false);
    expect(p.mayAllow("r", { session: { id: "s", role: "admin" } })).toBe(true);
    expect(p.mayAllow("r", { session: { id: "s", role: "user" } })).toBe(false);
    const long = "x".repeat(1_000_000);
    expect(p.mayAllow(long)).toBe(false);
    expect(p.rulesFor(long).map((r) => r.rule)).toEqual(["/default"]);
  });

  it("definePolicy checks nothing at run time, and compilePolicy then rejects what it passed", () => {
    const bad = definePolicy({ version: "1", default: "allow", tools: {}, rate_limits: [] } as never);
    expect(() => compilePolicy(bad)).toThrow();
  });
});

describe("attack: decisionLog", () => {
  const doc: PolicyDocument = { version: "1", name: "attack-log", default: "deny", tools: { w: {} } };

  it.each<[string, unknown]>([
    ["nothing", undefined],
    ["null", null],
    ["write a number", { write: 1 }],
    ["args bogus", { write() {}, args: "bogus" }],
    ["hmac without a key", { write() {}, args: "hmac" }],
    ["an empty key", { write() {}, args: "hmac", key: "" }],
    ["an empty byte key", { write() {}, args: "hmac", key: new Uint8Array(0) }],
    ["an unknown option", { write() {}, extra: 1 }],
  ])("rejects options: %s", (_name, options) => {
    expect(() => decisionLog(options as never)).toThrow();
  });

  it("cyclic, BigInt, throwing toJSON and 100,000-deep arguments: the decision stands, one line each", async () => {
    for (const mode of ["clear", "hmac"] as const) {
      const lines: string[] = [];
      const p = compilePolicy(doc, { onDecision: decisionLog({ write: (l) => lines.push(l), args: mode, key: "k" }) });
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      let deep: Record<string, unknown> = {};
      for (let i = 0; i < 100_000; i++) deep = { c: deep };
      const hostile = [
        cyclic,
        { n: 1n },
        {
          toJSON() {
            throw new Error("MARKER");
          },
        },
        deep,
        { big: "x".repeat(5_000_000) },
      ];
      for (const args of hostile) expect((await p.decide({ tool: "w", args, session: S })).outcome).toBe("allow");
      expect(lines).toHaveLength(hostile.length);
      for (const line of lines) {
        expect(line.endsWith("\n")).toBe(true);
        expect(() => JSON.parse(line) as unknown).not.toThrow();
        expect(line.length).toBeLessThan(2_000_000);
      }
    }
  });

  it("a write that throws changes no decision", async () => {
    const p = compilePolicy(doc, {
      onDecision: decisionLog({
        write: () => {
          throw new Error("disk full MARKER");
        },
      }),
    });
    expect(await p.decide({ tool: "w", session: S })).toMatchObject({ outcome: "allow" });
  });

  it("a session id or tool name with a newline cannot forge a second log line", async () => {
    const lines: string[] = [];
    const p = compilePolicy(
      { version: "1", default: "allow", tools: {} },
      { onDecision: decisionLog({ write: (l) => lines.push(l), args: "clear" }) },
    );
    await p.decide({ tool: 'a\n{"outcome":"allow"}', session: { id: 's\n{"x":1}\u2028' } });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.split("\n")).toHaveLength(2);
  });
});
