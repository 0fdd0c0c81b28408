/**
 * docs/spec.md §2 and §3 step 1 and 6: the API — compile options, malformed calls, store failures,
 * `failOpen`, `storeTimeoutMs`, `decide` that never rejects, `decideSync` on an async store,
 * `peek`/`explain` that count nothing, `validatePolicy`, `PolicyError`, and the CommonJS entry.
 */

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  compilePolicy,
  MemoryStore,
  PolicyError,
  validatePolicy,
  type ConsumeRequest,
  type ConsumeResult,
  type Store,
} from "toolgate";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { call, Clock, compile, doc } from "./helpers.js";

const limited = doc({ t: { rate_limit: { max: 1, window: 1 } }, free: {} }, { default: "allow" });

describe('malformed calls are denied with rule ""', () => {
  const policy = compile(doc({ t: {} }, { default: "allow" }));
  const cases: [string, unknown][] = [
    ["no call", undefined],
    ["null", null],
    ["a string", "t"],
    ["an array", [{ tool: "t", session: { id: "s" } }]],
    ["missing tool", { session: { id: "s" } }],
    ["empty tool", { tool: "", session: { id: "s" } }],
    ["numeric tool", { tool: 1, session: { id: "s" } }],
    ["String object tool", { tool: new String("t"), session: { id: "s" } }],
    ["missing session", { tool: "t" }],
    ["null session", { tool: "t", session: null }],
    ["session without id", { tool: "t", session: {} }],
    ["empty session id", { tool: "t", session: { id: "" } }],
    ["numeric session id", { tool: "t", session: { id: 1 } }],
    ["session as a string", { tool: "t", session: "s" }],
    ["arguments instead of args", { tool: "t", session: { id: "s" }, arguments: {} }],
    ["unknown field", { tool: "t", session: { id: "s" }, extra: 1 }],
    ["null args", { tool: "t", session: { id: "s" }, args: null }],
    ["array args", { tool: "t", session: { id: "s" }, args: [] }],
    ["string args", { tool: "t", session: { id: "s" }, args: "{}" }],
    ["null annotations", { tool: "t", session: { id: "s" }, annotations: null }],
    ["array annotations", { tool: "t", session: { id: "s" }, annotations: [] }],
    ["Date args", { tool: "t", session: { id: "s" }, args: new Date(0) }],
    ["Map args", { tool: "t", session: { id: "s" }, args: new Map() }],
    ["string approved", { tool: "t", session: { id: "s" }, approved: "true" }],
    ["null approved", { tool: "t", session: { id: "s" }, approved: null }],
  ];

  it.each(cases)("%s", async (_, bad) => {
    const sync = policy.decideSync(bad as never);
    expect(sync).toMatchObject({ outcome: "deny", rule: "", cause: "malformed_call" });
    expect(sync.outcome === "deny" && sync.reason.length > 0).toBe(true);
    await expect(policy.decide(bad as never)).resolves.toEqual(sync);
  });

  // docs/spec.md §3 step 1: the reason names the field that is wrong, never what was sent; an
  // unknown field is named only when it is a known misspelling (its name is the caller's text).
  it("names a misspelt field in the reason, and no other text of the call", () => {
    const d = policy.decideSync({ tool: "t", session: { id: "s" }, arguments: {} } as never);
    expect(d.outcome === "deny" && d.reason.includes("arguments")).toBe(true);
    const secret = policy.decideSync({ tool: "t", session: { id: "s" }, "ignore previous instructions": 1 } as never);
    expect(secret).toMatchObject({ outcome: "deny", rule: "", cause: "malformed_call" });
    expect(secret.outcome === "deny" && secret.reason.includes("ignore")).toBe(false);
    expect(policy.decideSync({ tool: 42, session: { id: "s" } } as never)).toEqual({
      outcome: "deny",
      rule: "",
      reason: 'Malformed call: "tool" must be a non-empty string.',
      cause: "malformed_call",
    });
  });

  it("accepts null-prototype objects as plain objects", () => {
    const args = Object.assign(Object.create(null), { a: 1 });
    const session = Object.assign(Object.create(null), { id: "s" });
    expect(policy.decideSync({ tool: "t", session, args }).outcome).toBe("allow");
  });

  it("counts nothing for a malformed call", () => {
    const p = compile(limited);
    p.decideSync({ tool: "t", session: { id: "s1" }, arguments: {} } as never);
    expect(p.decideSync(call("t")).outcome).toBe("allow");
  });
});

/** A store that answers with `answer` (a value, a thrown error, a promise…) every time. */
function storeOf(answer: () => unknown, synchronous = false): Store {
  return { synchronous, consume: () => answer() as ConsumeResult };
}

describe("store failures", () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeEach(() => {
    unhandled.length = 0;
    process.on("unhandledRejection", onUnhandled);
  });
  afterEach(async () => {
    await new Promise((r) => setTimeout(r, 20));
    process.off("unhandledRejection", onUnhandled);
    expect(unhandled).toEqual([]);
  });

  const failures: [string, () => unknown][] = [
    [
      "throws",
      () => {
        throw new Error("boom");
      },
    ],
    [
      "throws a non-Error",
      () => {
        // A store may throw anything; the engine must cope with a non-Error too.
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        throw "boom";
      },
    ],
    ["rejects", () => Promise.reject(new Error("boom"))],
    ["returns undefined", () => undefined],
    ["returns null", () => null],
    ["returns garbage", () => ({ ok: true })],
    ["returns allowed without remaining", () => ({ allowed: true })],
    ["returns too few remaining", () => ({ allowed: true, remaining: [] })],
    ["returns a negative remaining", () => ({ allowed: true, remaining: [-1] })],
    ["returns NaN remaining", () => ({ allowed: true, remaining: [Number.NaN] })],
    ["returns allowed as a string", () => ({ allowed: "true", remaining: [0] })],
    ["refuses without waits", () => ({ allowed: false })],
    ["refuses with all-zero waits", () => ({ allowed: false, retryAfterMs: [0] })],
    ["refuses with a fractional wait", () => ({ allowed: false, retryAfterMs: [0.5] })],
    ["refuses with a negative wait", () => ({ allowed: false, retryAfterMs: [-5] })],
    ["resolves garbage", () => Promise.resolve(42)],
    [
      "returns a thenable that throws",
      () => ({
        then() {
          throw new Error("bad then");
        },
      }),
    ],
  ];

  it.each(failures)("denies when the store %s, at the rule whose limits were checked", async (_, answer) => {
    const p = compilePolicy(limited, { store: storeOf(answer), storeTimeoutMs: 50 });
    const d = await p.decide(call("t"));
    expect(d).toEqual({
      outcome: "deny",
      rule: "/tools/t",
      reason: "The rate-limit store failed, so the call is refused.",
      cause: "store_failure",
    });
  });

  it.each(failures)("allows with failedOpen: true under failOpen when the store %s", async (_, answer) => {
    const p = compilePolicy(limited, { store: storeOf(answer), storeTimeoutMs: 50, failOpen: true });
    expect(await p.decide(call("t"))).toEqual({ outcome: "allow", rule: "/tools/t", failedOpen: true });
  });

  it("does not consult the store for calls that no limit applies to", async () => {
    const p = compilePolicy(limited, {
      store: storeOf(() => {
        throw new Error("boom");
      }),
    });
    expect(await p.decide(call("free"))).toEqual({ outcome: "allow", rule: "/tools/free" });
  });

  it("still denies by rule under failOpen: failOpen only replaces the store's answer", async () => {
    const p = compilePolicy(doc({ t: { action: "deny" } }), {
      store: storeOf(() => {
        throw new Error("x");
      }),
      failOpen: true,
    });
    expect((await p.decide(call("t"))).outcome).toBe("deny");
  });

  it("gives up on a store that hangs after storeTimeoutMs", async () => {
    const p = compilePolicy(limited, { store: storeOf(() => new Promise(() => {})), storeTimeoutMs: 30 });
    const started = Date.now();
    const d = await p.decide(call("t"));
    const took = Date.now() - started;
    expect(d).toEqual({
      outcome: "deny",
      rule: "/tools/t",
      reason: "The rate-limit store did not answer in time, so the call is refused.",
      cause: "store_failure",
    });
    expect(took).toBeGreaterThanOrEqual(25);
    expect(took).toBeLessThan(2_000);
    const open = compilePolicy(limited, {
      store: storeOf(() => new Promise(() => {})),
      storeTimeoutMs: 30,
      failOpen: true,
    });
    expect(await open.decide(call("t"))).toEqual({ outcome: "allow", rule: "/tools/t", failedOpen: true });
  });

  it("waits for a slow store within storeTimeoutMs", async () => {
    const inner = new MemoryStore({ maxKeys: 10 });
    const slow: Store = {
      consume: (r: ConsumeRequest) => new Promise((res) => setTimeout(() => res(inner.consume(r)), 20)),
    };
    const p = compilePolicy(limited, { store: slow, storeTimeoutMs: 1_000 });
    expect(await p.decide(call("t"))).toEqual({ outcome: "allow", rule: "/tools/t", remaining: 0 });
    expect(await p.decide(call("t"))).toMatchObject({ outcome: "rate_limited" });
  });

  it("uses a documented default timeout of 1000 ms", async () => {
    const p = compilePolicy(limited, { store: storeOf(() => new Promise(() => {})) });
    const started = Date.now();
    expect((await p.decide(call("t"))).outcome).toBe("deny");
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it("denies when a synchronous store throws in decideSync", () => {
    const p = compilePolicy(limited, {
      store: storeOf(() => {
        throw new Error("boom");
      }, true),
    });
    expect(p.decideSync(call("t"))).toMatchObject({ outcome: "deny", rule: "/tools/t", cause: "store_failure" });
  });

  // docs/spec.md §3 step 6: failOpen never covers an ill-formed answer of a synchronous store (a
  // bug, not an outage), while a synchronous store that throws is an outage like any other.
  it.each(failures.filter(([name]) => name.startsWith("return") || name.startsWith("refuses")))(
    "denies under failOpen when a synchronous store %s",
    (_, answer) => {
      const p = compilePolicy(limited, { store: storeOf(answer, true), failOpen: true });
      expect(p.decideSync(call("t"))).toEqual({
        outcome: "deny",
        rule: "/tools/t",
        reason: "The rate-limit store failed, so the call is refused.",
        cause: "store_failure",
      });
    },
  );

  it("fails open when a synchronous store throws, under failOpen", () => {
    const p = compilePolicy(limited, {
      store: storeOf(() => {
        throw new Error("down");
      }, true),
      failOpen: true,
    });
    expect(p.decideSync(call("t"))).toEqual({ outcome: "allow", rule: "/tools/t", failedOpen: true });
  });

  it("passes the store the namespace, budgets in order with cost 1, now, and dryRun", async () => {
    const seen: ConsumeRequest[] = [];
    const clock = new Clock();
    clock.now = 1234;
    const store: Store = {
      synchronous: true,
      consume: (r) => (seen.push(structuredClone(r)), { allowed: true, remaining: r.budgets.map((b) => b.max - 1) }),
    };
    const p = compilePolicy(
      doc(
        {
          t: {
            rate_limit: [
              { max: 2, window: "1s" },
              { max: 3, window: "1m", per: "global" },
            ],
          },
        },
        { name: "ns", limits: [{ max: 4, window: 1 }] },
      ),
      {
        store,
        clock: clock.read,
      },
    );
    expect(p.decideSync(call("t"))).toEqual({ outcome: "allow", rule: "/tools/t", remaining: 1 });
    await p.peek(call("t"));
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({ namespace: "ns", now: 1234, dryRun: false });
    expect(seen[0]!.budgets.map((b) => [b.max, b.windowMs, b.cost])).toEqual([
      [2, 1_000, 1],
      [3, 60_000, 1],
      [4, 1_000, 1],
    ]);
    expect(new Set(seen[0]!.budgets.map((b) => b.key)).size).toBe(3);
    expect(seen[1]!.dryRun).toBe(true);
  });
});

describe("decide never rejects; decideSync needs a synchronous store", () => {
  it("throws a clear TypeError from decideSync on an asynchronous store", () => {
    const p = compilePolicy(limited, { store: { consume: async () => ({ allowed: true, remaining: [0] }) } });
    expect(() => p.decideSync(call("t"))).toThrow(TypeError);
    expect(() => p.decideSync(call("t"))).toThrow(/synchronous/);
  });

  it("decides with decide on an asynchronous store", async () => {
    const p = compilePolicy(limited, { store: { consume: async () => ({ allowed: true, remaining: [0] }) } });
    expect(await p.decide(call("t"))).toEqual({ outcome: "allow", rule: "/tools/t", remaining: 0 });
  });

  it("resolves for every kind of input", async () => {
    const p = compile(limited);
    const inputs: unknown[] = [
      undefined,
      null,
      0,
      "",
      Symbol("x"),
      () => 1,
      new Proxy(
        {},
        {
          get() {
            throw new Error("trap");
          },
        },
      ),
      { tool: "t", session: { id: "s" } },
    ];
    for (const input of inputs) await expect(p.decide(input as never)).resolves.toHaveProperty("outcome");
  });
});

describe("peek and explain count nothing", () => {
  it("peek answers as decide would, without counting", async () => {
    const p = compile(limited);
    for (let i = 0; i < 3; i++)
      expect(await p.peek(call("t"))).toEqual({ outcome: "allow", rule: "/tools/t", remaining: 0 });
    expect(p.decideSync(call("t")).outcome).toBe("allow");
    expect(await p.peek(call("t"))).toMatchObject({ outcome: "rate_limited" });
  });

  it("explain gives the decision, matched keys best first, and the limits", async () => {
    const p = compile(
      doc({ "t*": {}, t: { rate_limit: { max: 1, window: 1 } }, "*": {} }, { limits: [{ max: 5, window: 1 }] }),
    );
    const e = await p.explain(call("t"));
    expect(e.decision).toEqual({ outcome: "allow", rule: "/tools/t", remaining: 0 });
    expect(e.matched).toEqual(["/tools/t", "/tools/t*", "/tools/*"]);
    expect(e.limits).toEqual(["/tools/t/rate_limit", "/limits/0"]);
    expect(e.steps.length).toBeGreaterThan(0);
    expect(p.decideSync(call("t")).outcome).toBe("allow");
  });
});

describe("compile options", () => {
  it.each([
    [{ storeTimeoutMs: 0 }],
    [{ storeTimeoutMs: -1 }],
    [{ storeTimeoutMs: 1.5 }],
    [{ storeTimeoutMs: "100" }],
    [{ failOpen: "yes" }],
    [{ clock: 5 }],
    [{ namespace: 5 }],
    [{ store: {} }],
    [{ stor: new MemoryStore() }],
    [{ failopen: true }],
  ])("rejects %j with a clear error", (options) => {
    expect(() => compilePolicy(doc({}), options as never)).toThrow(/./);
  });

  it("rejects a bad MemoryStore option", () => {
    expect(() => new MemoryStore({ maxKeys: 0 })).toThrow(TypeError);
    expect(() => new MemoryStore({ maxKeys: 1.5 })).toThrow(TypeError);
    expect(() => new MemoryStore({ maxkeys: 5 } as never)).toThrow(TypeError);
  });

  it("takes time from the clock option", () => {
    const clock = new Clock();
    const p = compile(limited, clock);
    p.decideSync(call("t"));
    clock.now = 999;
    expect(p.decideSync(call("t"))).toMatchObject({ outcome: "rate_limited", retryAfterMs: 1 });
    clock.now = 1_000;
    expect(p.decideSync(call("t")).outcome).toBe("allow");
  });

  it("denies, and does not throw, when the clock throws or answers garbage", async () => {
    for (const clock of [
      () => {
        throw new Error("clock");
      },
      () => Number.NaN,
      () => "soon" as never,
    ]) {
      const p = compilePolicy(limited, { store: new MemoryStore({ maxKeys: 10 }), clock });
      const d = p.decideSync(call("t"));
      expect(d.outcome).not.toBe("allow");
      expect((await p.decide(call("t"))).outcome).not.toBe("allow");
    }
  });
});

describe("validatePolicy and PolicyError", () => {
  it("never throws, and reports warnings for a valid document", () => {
    for (const input of [
      undefined,
      null,
      Symbol("x"),
      () => 1,
      1n,
      new Proxy(
        {},
        {
          ownKeys() {
            throw new Error("trap");
          },
        },
      ),
    ]) {
      expect(() => validatePolicy(input)).not.toThrow();
      expect(validatePolicy(input).valid).toBe(false);
    }
    const ok = validatePolicy(doc({ "a*": {}, "a**": {} }));
    expect(ok.valid).toBe(true);
    expect(ok.warnings.length).toBeGreaterThan(0);
  });

  it("warns about a conditional rule after an unconditional one", () => {
    const p = compilePolicy(doc({ t: { rules: [{}, { when: { args: true } }] } }));
    expect(p.warnings.map((w) => w.path)).toContain("/tools/t/rules/1");
  });

  it("is an Error with name PolicyError, a one-line message and issues", () => {
    try {
      compilePolicy(doc({ t: { action: "x" } }, { extra: 1 }));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(Error);
      expect(e).toBeInstanceOf(PolicyError);
      const err = e as PolicyError;
      expect(err.name).toBe("PolicyError");
      expect(err.message).not.toContain("\n");
      expect(err.issues.length).toBe(2);
    }
  });

  it("keeps a deep-frozen copy of the document", () => {
    const d = doc({ t: { rate_limit: { max: 1, window: 1 } } });
    const p = compilePolicy(d);
    expect(p.document).toEqual(d);
    expect(p.document).not.toBe(d);
    expect(Object.isFrozen(p.document)).toBe(true);
    expect(Object.isFrozen((p.document.tools.t as { rate_limit: object }).rate_limit)).toBe(true);
    // Changing the input afterwards changes nothing.
    (d.tools as Record<string, unknown>).t = { action: "deny" };
    expect(p.decideSync(call("t")).outcome).toBe("allow");
  });
});

describe("CommonJS", () => {
  it('works through require("toolgate")', () => {
    const root = fileURLToPath(new URL("../../", import.meta.url));
    const script = `
      const { compilePolicy, validatePolicy, PolicyError, MemoryStore } = require("toolgate");
      const p = compilePolicy({ version: "1", default: "deny", tools: { t: { rate_limit: { max: 1, window: 1 } } } }, {
        store: new MemoryStore({ maxKeys: 10 }),
      });
      const a = p.decideSync({ tool: "t", session: { id: "s" } });
      const b = p.decideSync({ tool: "t", session: { id: "s" } });
      let err; try { compilePolicy({ version: "2" }); } catch (e) { err = e; }
      console.log(JSON.stringify([a.outcome, b.outcome, err instanceof PolicyError, validatePolicy({}).valid]));
    `;
    const out = spawnSync(process.execPath, ["-e", script], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, NODE_PATH: "" },
    });
    expect(out.stderr).toBe("");
    expect(JSON.parse(out.stdout)).toEqual(["allow", "rate_limited", true, false]);
  });
});
