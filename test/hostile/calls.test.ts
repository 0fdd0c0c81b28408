/**
 * Issue 7 item 2: hostile calls. Whatever the host passes — non-string tools, missing sessions,
 * arrays, null, class instances, Proxies whose traps throw, getters with side effects, cyclic
 * objects, nesting 100,000 deep, 10 MB strings, `__proto__` keys — `decide` resolves to a
 * decision (a deny with a reason for every malformed call) in bounded time, the arguments are
 * never changed, and no built-in prototype changes.
 */

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { compilePolicy, MemoryStore, type Decision, type Policy, type Store } from "toolgate";
import { describe, expect, it } from "vitest";
import { expectPrototypesUntouched, snapshotPrototypes, timed } from "./guards.js";

/** A policy that reads args, session and annotations, with recursive, pattern and size checks. */
function hostilePolicy(): Policy {
  return compilePolicy(
    {
      version: "1",
      default: "allow",
      limits: [{ max: 1_000_000, window: "1m", per: "/org/id" }],
      tools: {
        "t*": {
          rules: [
            {
              when: {
                args: {
                  $defs: { node: { type: "object", properties: { child: { $ref: "#/$defs/node" } } } },
                  properties: {
                    tree: { $ref: "#/$defs/node" },
                    q: { type: "string", pattern: "^[a-z]+$", maxLength: 20_000_000 },
                  },
                },
                session: { properties: { role: { enum: ["admin", "user"] } } },
                annotations: {
                  not: { properties: { destructiveHint: { const: true } }, required: ["destructiveHint"] },
                },
              },
              rate_limit: { max: 1_000_000, window: "1m" },
            },
            { action: "deny", reason: "conditions failed" },
          ],
        },
        ok: {},
      },
    },
    { store: new MemoryStore({ maxKeys: 1_000 }) },
  );
}

class Weird {
  tool = "t";
  session = { id: "s" };
}

function deep(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let i = 0; i < depth; i++) v = { child: v };
  return v;
}

function cyclic(): Record<string, unknown> {
  const a: Record<string, unknown> = { name: "a" };
  a.child = a;
  return a;
}

const throwingProxy = () =>
  new Proxy(
    {},
    {
      get() {
        throw new Error("get trap");
      },
      has() {
        throw new Error("has trap");
      },
      ownKeys() {
        throw new Error("ownKeys trap");
      },
      getOwnPropertyDescriptor() {
        throw new Error("descriptor trap");
      },
      getPrototypeOf() {
        throw new Error("prototype trap");
      },
    },
  );

const session = { id: "s", org: { id: "o" } };

/** Malformed calls: each must be denied with rule "". */
const malformed: [string, () => unknown][] = [
  ["undefined", () => undefined],
  ["null", () => null],
  ["a number", () => 42],
  ["a symbol", () => Symbol("call")],
  ["a function", () => () => ({ tool: "t" })],
  ["an array", () => [{ tool: "t", session }]],
  ["a throwing Proxy as the call", throwingProxy],
  ["a number tool", () => ({ tool: 1, session })],
  ["an array tool", () => ({ tool: ["t"], session })],
  ["an object tool with toString", () => ({ tool: { toString: () => "t" }, session })],
  ["a symbol tool", () => ({ tool: Symbol("t"), session })],
  ["no session", () => ({ tool: "t" })],
  ["a session array", () => ({ tool: "t", session: [session] })],
  ["a session with a number id", () => ({ tool: "t", session: { id: 5 } })],
  ["a throwing Proxy session", () => ({ tool: "t", session: throwingProxy() })],
  ["args as an array", () => ({ tool: "t", session, args: ["a"] })],
  ["args as a class instance", () => ({ tool: "t", session, args: new Weird() })],
  ["args as a throwing Proxy", () => ({ tool: "t", session, args: throwingProxy() })],
  ["annotations as a throwing Proxy", () => ({ tool: "t", session, annotations: throwingProxy() })],
  [
    "a getter on tool that throws",
    () => ({
      get tool(): string {
        throw new Error("tool getter");
      },
      session,
    }),
  ],
  [
    "a getter on session that throws",
    () => ({
      tool: "t",
      get session(): unknown {
        throw new Error("session getter");
      },
    }),
  ],
  ["an own __proto__ field", () => JSON.parse('{"tool":"t","session":{"id":"s"},"__proto__":{"tool":"ok"}}')],
  ["a call inheriting its fields", () => Object.create({ tool: "ok", session })],
  // docs/spec.md §3 step 1: the call itself is a plain object, and a tool name has at most 128
  // characters (so no cache ever holds a longer one).
  ["a call that is a class instance", () => new Weird()],
  ["a 10 MB tool name", () => ({ tool: `t${"x".repeat(10_000_000)}`, session })],
];

/** Well-formed calls with hostile contents: any outcome, but bounded time and no harm. */
const wellFormed: [string, () => Record<string, unknown>][] = [
  ["args 100,000 deep against a recursive schema", () => ({ tool: "t", session, args: { tree: deep(100_000) } })],
  ["args 100,000 deep with no schema", () => ({ tool: "ok", session, args: deep(100_000) })],
  ["cyclic args against a recursive schema", () => ({ tool: "t", session, args: { tree: cyclic() } })],
  ["cyclic args with no schema", () => ({ tool: "ok", session, args: cyclic() })],
  ["cyclic session", () => ({ tool: "t", session: Object.assign(cyclic(), { id: "s", org: { id: "o" } }) })],
  ["a 10 MB string argument", () => ({ tool: "t", session, args: { q: "a".repeat(10_000_000) } })],
  [
    "a 10 MB string argument that fails the pattern at the end",
    () => ({ tool: "t", session, args: { q: `${"a".repeat(10_000_000)}!` } }),
  ],
  ["a 10 MB session id", () => ({ tool: "t", session: { id: "s".repeat(10_000_000), org: { id: "o" } } })],
  ["a 10 MB per attribute", () => ({ tool: "t", session: { id: "s", org: { id: "o".repeat(10_000_000) } } })],
  [
    "args with an own __proto__ key",
    () => ({ tool: "t", session, args: JSON.parse('{"__proto__":{"polluted":true},"q":"abc"}') }),
  ],
  [
    "args with constructor and prototype keys",
    () => ({ tool: "t", session, args: { constructor: { prototype: { polluted: true } }, q: "abc" } }),
  ],
  [
    "annotations with an own __proto__ key",
    () => ({ tool: "t", session, annotations: JSON.parse('{"__proto__":{"destructiveHint":true}}') }),
  ],
  [
    "a session with an own __proto__ key",
    () => ({ tool: "t", session: JSON.parse('{"id":"s","org":{"id":"o"},"__proto__":{"role":"admin"}}') }),
  ],
  // docs/spec.md §3 step 1 asks plain objects of the call, args and annotations; a session that is
  // a class instance with the right fields is read by its fields.
  [
    "a session that is a class instance",
    () => ({
      tool: "t",
      session: new (class S {
        id = "s";
        org = { id: "o" };
      })(),
    }),
  ],
  [
    "a frozen call",
    () => Object.freeze({ tool: "t", session: Object.freeze({ ...session }), args: Object.freeze({ q: "abc" }) }),
  ],
  [
    "args with 100,000 keys",
    () => ({ tool: "t", session, args: Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i])) }),
  ],
  ["a sparse array argument of length 2^32-1", () => ({ tool: "t", session, args: { list: new Array(2 ** 32 - 1) } })],
  ["a tool name with NUL, RTL marks and lone surrogates", () => ({ tool: "t\u0000\u202e\ud800", session })],
];

const LIMIT_MS = 5_000;

async function decideHostile(policy: Policy, input: unknown): Promise<{ sync: Decision; async: Decision; ms: number }> {
  const { value: async, ms } = await timed(() => policy.decide(input as never));
  const sync = policy.decideSync(input as never);
  return { sync, async, ms };
}

describe("malformed hostile calls", () => {
  const policy = hostilePolicy();

  it.each(malformed)('%s: denied with rule "" and a reason', async (_, make) => {
    const before = snapshotPrototypes();
    const { sync, async, ms } = await decideHostile(policy, make());
    for (const d of [sync, async]) {
      expect(d).toMatchObject({ outcome: "deny", rule: "", cause: "malformed_call" });
      expect(d.outcome === "deny" && d.reason.length > 0 && d.reason.length < 1_000).toBe(true);
    }
    expect(ms).toBeLessThan(LIMIT_MS);
    expectPrototypesUntouched(before);
  });
});

describe("well-formed hostile calls", () => {
  const policy = hostilePolicy();

  it.each(wellFormed)("%s: a decision in bounded time, args unchanged", async (_, make) => {
    const before = snapshotPrototypes();
    const input = make();
    const args = input.args;
    const shallow = args === undefined ? undefined : Reflect.ownKeys(args as object).length;
    const { sync, async, ms } = await decideHostile(policy, input);
    expect(["allow", "deny", "rate_limited", "needs_approval"]).toContain(async.outcome);
    expect(sync.outcome).toBe(async.outcome);
    expect(ms).toBeLessThan(LIMIT_MS);
    if (args !== undefined) {
      expect(input.args).toBe(args);
      expect(Reflect.ownKeys(args as object).length).toBe(shallow);
    }
    expect(JSON.parse(JSON.stringify(async))).toEqual(async);
    expect((async as { reason?: string }).reason?.length ?? 0).toBeLessThan(10_000);
    expectPrototypesUntouched(before);
  });

  it("checks a 10 MB argument against its pattern: one bad character at the end fails the rule", async () => {
    expect((await policy.decide({ tool: "t", session, args: { q: "a".repeat(10_000_000) } })).outcome).toBe("allow");
    expect((await policy.decide({ tool: "t", session, args: { q: `${"a".repeat(10_000_000)}!` } })).outcome).toBe(
      "deny",
    );
  });

  it("sees a destructive annotation given as an own key from JSON", async () => {
    expect(
      (await policy.decide({ tool: "t", session, annotations: JSON.parse('{"destructiveHint":true}') })).outcome,
    ).toBe("deny");
  });

  it("gives a 10 MB per attribute a budget without echoing it in the decision", async () => {
    const big = await policy.decide({ tool: "t", session: { id: "s", org: { id: "o".repeat(10_000_000) } } });
    expect(big.outcome).toBe("allow");
    expect(JSON.stringify(big).length).toBeLessThan(10_000);
  });
});

describe("getters with side effects", () => {
  it("never lets a getter on args throw out of decide, and never writes to the args", async () => {
    const policy = hostilePolicy();
    const before = snapshotPrototypes();
    let reads = 0;
    const args = {
      get q() {
        reads++;
        if (reads > 3) throw new Error("read too often");
        return "abc";
      },
    };
    const d1 = await policy.decide({ tool: "t", session, args });
    const d2 = policy.decideSync({ tool: "t", session, args });
    for (const d of [d1, d2]) expect(["allow", "deny"]).toContain(d.outcome);
    expect(Object.getOwnPropertyDescriptor(args, "q")?.get).toBeTypeOf("function");
    expectPrototypesUntouched(before);
  });

  it("denies when a getter on args throws", async () => {
    const policy = hostilePolicy();
    const args = {
      get q(): string {
        throw new Error("getter");
      },
    };
    expect((await policy.decide({ tool: "t", session, args })).outcome).toBe("deny");
    expect(policy.decideSync({ tool: "t", session, args }).outcome).toBe("deny");
  });
});

describe("hostile calls against every part of the call at once, repeatedly", () => {
  it("leaves the engine working for the next, ordinary call", async () => {
    const policy = hostilePolicy();
    for (const [, make] of [...malformed, ...wellFormed.slice(0, 5)]) await policy.decide(make() as never);
    expect(await policy.decide({ tool: "ok", session })).toEqual({
      outcome: "allow",
      rule: "/tools/ok",
      remaining: expect.any(Number),
    });
    expect(await policy.decide({ tool: "t", session, args: { q: "abc" } })).toMatchObject({
      outcome: "allow",
      rule: "/tools/t*/rules/0",
    });
  });
});

describe("calls read as own properties by name, once each", () => {
  const policy = compilePolicy(
    {
      version: "1",
      default: "deny",
      tools: {
        t: { rules: [{ when: { args: { required: ["danger"] } }, action: "deny", reason: "danger" }, {}] },
        open: {},
      },
    },
    { store: new MemoryStore({ maxKeys: 100 }) },
  );

  it("decides on non-enumerable fields made with defineProperty, as the host will pass them on", () => {
    const args = Object.defineProperty({}, "danger", { value: true, enumerable: false });
    const c = Object.defineProperty({ tool: "t", session }, "args", { value: args, enumerable: false });
    expect(policy.decideSync(c)).toMatchObject({ outcome: "deny", rule: "/tools/t/rules/0", cause: "policy" });
    const hiddenTool = Object.defineProperty({ session }, "tool", { value: "open", enumerable: false });
    expect(policy.decideSync(hiddenTool as never)).toEqual({ outcome: "allow", rule: "/tools/open" });
    const hiddenExtra = Object.defineProperty({ tool: "open", session }, "extra", { value: 1, enumerable: false });
    // A non-enumerable unknown field is never read, and nothing the engine reads changes because of it.
    expect(policy.decideSync(hiddenExtra as never).outcome).toMatch(/allow|deny/);
  });

  it("asks each getter at most once per decision, so a getter cannot answer one thing then another", async () => {
    const reads: Record<string, number> = {};
    let first = true;
    const c = {
      get tool() {
        reads.tool = (reads.tool ?? 0) + 1;
        return "t";
      },
      get session() {
        reads.session = (reads.session ?? 0) + 1;
        return session;
      },
      get args() {
        reads.args = (reads.args ?? 0) + 1;
        // The first read is what the engine decides on; a second read would see something else.
        const danger = first;
        first = false;
        return danger ? { danger: true } : {};
      },
    };
    expect(policy.decideSync(c)).toMatchObject({ outcome: "deny", cause: "policy" });
    expect(reads).toEqual({ tool: 1, session: 1, args: 1 });
    first = true;
    expect(await policy.decide(c)).toMatchObject({ outcome: "deny", cause: "policy" });
    expect(reads).toEqual({ tool: 2, session: 2, args: 2 });
  });

  it("reads a proxy of a plain object by its traps, each field once; denies one lying about its prototype", () => {
    const gets: string[] = [];
    const target = { tool: "t", session, args: { danger: 1 } };
    const proxy = new Proxy(target, {
      get(t, key, receiver) {
        gets.push(String(key));
        return Reflect.get(t, key, receiver);
      },
    });
    expect(policy.decideSync(proxy)).toMatchObject({ outcome: "deny", rule: "/tools/t/rules/0" });
    for (const field of ["tool", "session", "args"]) expect(gets.filter((k) => k === field)).toHaveLength(1);
    const pretender = new Proxy(new Map(), { getPrototypeOf: () => Object.prototype, get: () => "open" });
    expect(["allow", "deny"]).toContain(policy.decideSync(pretender as never).outcome);
    const classy = new Proxy({ tool: "open", session }, { getPrototypeOf: () => Map.prototype });
    expect(policy.decideSync(classy)).toMatchObject({ outcome: "deny", rule: "", cause: "malformed_call" });
  });

  it.each([
    ["128 characters", "o".repeat(128), "allow-or-default"],
    ["129 characters", "o".repeat(129), "malformed"],
    ["64 KB", "o".repeat(64 * 1024), "malformed"],
    ["129 astral characters", "\u{1f600}".repeat(65), "malformed"],
  ])("treats a tool name of %s as the contract says", (_, tool, expected) => {
    const d = policy.decideSync({ tool, session });
    if (expected === "malformed") {
      expect(d).toEqual({
        outcome: "deny",
        rule: "",
        reason: 'Malformed call: "tool" must be at most 128 characters.',
        cause: "malformed_call",
      });
    } else {
      expect(d).toMatchObject({ outcome: "deny", rule: "/default", cause: "policy" });
    }
  });

  it.each([
    ["an own constructor field", { tool: "open", session, constructor: Object }],
    ["an own __proto__ field from JSON", JSON.parse('{"tool":"open","session":{"id":"s"},"__proto__":null}')],
    ["an own toString field", { tool: "open", session, toString: () => "x" }],
    ["an own hasOwnProperty field", { tool: "open", session, hasOwnProperty: () => true }],
  ])("denies a call with %s as malformed, without naming it", (_, c) => {
    const d = policy.decideSync(c as never);
    expect(d).toMatchObject({ outcome: "deny", rule: "", cause: "malformed_call" });
  });

  it("reads session fields named __proto__ and constructor as data, never from a prototype", () => {
    const p = compilePolicy({
      version: "1",
      default: "deny",
      tools: {
        t: { rules: [{ when: { session: { required: ["constructor"] } } }] },
        u: { rate_limit: { max: 1, window: 1, per: "/constructor" } },
      },
    });
    expect(p.decideSync({ tool: "t", session: { id: "s" } }).rule).toBe("/default");
    expect(p.decideSync({ tool: "t", session: { id: "s", constructor: "c" } }).rule).toBe("/tools/t/rules/0");
    expect(p.decideSync({ tool: "u", session: { id: "s" } })).toMatchObject({
      outcome: "deny",
      cause: "missing_attribute",
    });
    expect(p.decideSync({ tool: "u", session: { id: "s", constructor: "c" } })).toMatchObject({ outcome: "allow" });
  });
});

/**
 * Memory: the engine keeps nothing per caller-chosen string beyond its bounded caches (names and
 * keys, bounded in characters). The store here keeps nothing, so what grows is the engine's;
 * MemoryStore's own bound (maxKeys) is checked with a small maxKeys below.
 */
describe("memory stays bounded under caller-chosen strings", () => {
  const gc = (() => {
    setFlagsFromString("--expose-gc");
    return runInNewContext("gc") as () => void;
  })();
  const heap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const forgetful: Store = {
    synchronous: true,
    consume: (r) => ({ allowed: true, remaining: r.budgets.map((b) => b.max - b.cost) }),
  };
  const document = {
    version: "1",
    default: "deny",
    tools: { "refused_*": { action: "deny" }, "limited_*": { rate_limit: { max: 5, window: "1m" } } },
  } as const;
  const MB = 1024 * 1024;

  it("10,000 refused calls with distinct 128-character names, and 10,000 distinct 100 KB session ids", () => {
    const policy = compilePolicy(document, { store: forgetful });
    const pad = "n".repeat(128);
    const big = "s".repeat(100 * 1024);
    policy.decideSync({ tool: "refused_warmup", session });
    policy.decideSync({ tool: "limited_warmup", session: { id: `warm${big}` } });
    const before = heap();
    for (let i = 0; i < 10_000; i++) {
      const tool = `refused_${i}_${pad}`.slice(0, 128);
      expect(policy.decideSync({ tool, session }).outcome).toBe("deny");
    }
    for (let i = 0; i < 10_000; i++) {
      expect(policy.decideSync({ tool: "limited_x", session: { id: `${i}${big}` } }).outcome).toBe("allow");
    }
    const grown = heap() - before;
    // 10,000 × 100 KB is a gigabyte: anything kept per session id would show at once. The caches
    // are bounded at about a million characters per table; 32 MB leaves room for V8's own slack.
    expect(grown).toBeLessThan(32 * MB);
  }, 30_000);

  it("a MemoryStore keeps at most maxKeys budgets of long session ids", () => {
    const store = new MemoryStore({ maxKeys: 64 });
    const policy = compilePolicy(document, { store, clock: () => 0 });
    const big = "s".repeat(100 * 1024);
    const before = heap();
    for (let i = 0; i < 5_000; i++) policy.decideSync({ tool: "limited_x", session: { id: `${i}${big}` } });
    expect(store.size).toBeLessThanOrEqual(64);
    // 64 budgets keyed by 100 KB ids (two bytes a character at worst), plus slack.
    expect(heap() - before).toBeLessThan(64 * 200 * 1024 + 32 * MB);
  }, 30_000);
});
