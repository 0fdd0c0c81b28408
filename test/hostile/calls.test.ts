/**
 * Issue 7 item 2: hostile calls. Whatever the host passes — non-string tools, missing sessions,
 * arrays, null, class instances, Proxies whose traps throw, getters with side effects, cyclic
 * objects, nesting 100,000 deep, 10 MB strings, `__proto__` keys — `decide` resolves to a
 * decision (a deny with a reason for every malformed call) in bounded time, the arguments are
 * never changed, and no built-in prototype changes.
 */

import { compilePolicy, MemoryStore, type Decision, type Policy } from "toolgate";
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
                  properties: { tree: { $ref: "#/$defs/node" }, q: { type: "string", pattern: "^[a-z]+$", maxLength: 20_000_000 } },
                },
                session: { properties: { role: { enum: ["admin", "user"] } } },
                annotations: { not: { properties: { destructiveHint: { const: true } }, required: ["destructiveHint"] } },
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
      get() { throw new Error("get trap"); },
      has() { throw new Error("has trap"); },
      ownKeys() { throw new Error("ownKeys trap"); },
      getOwnPropertyDescriptor() { throw new Error("descriptor trap"); },
      getPrototypeOf() { throw new Error("prototype trap"); },
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
  ["a getter on tool that throws", () => ({ get tool(): string { throw new Error("tool getter"); }, session })],
  ["a getter on session that throws", () => ({ tool: "t", get session(): unknown { throw new Error("session getter"); } })],
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
  ["a 10 MB string argument that fails the pattern at the end", () => ({ tool: "t", session, args: { q: `${"a".repeat(10_000_000)}!` } })],
  ["a 10 MB session id", () => ({ tool: "t", session: { id: "s".repeat(10_000_000), org: { id: "o" } } })],
  ["a 10 MB per attribute", () => ({ tool: "t", session: { id: "s", org: { id: "o".repeat(10_000_000) } } })],
  ["args with an own __proto__ key", () => ({ tool: "t", session, args: JSON.parse('{"__proto__":{"polluted":true},"q":"abc"}') })],
  ["args with constructor and prototype keys", () => ({ tool: "t", session, args: { constructor: { prototype: { polluted: true } }, q: "abc" } })],
  ["annotations with an own __proto__ key", () => ({ tool: "t", session, annotations: JSON.parse('{"__proto__":{"destructiveHint":true}}') })],
  ["a session with an own __proto__ key", () => ({ tool: "t", session: JSON.parse('{"id":"s","org":{"id":"o"},"__proto__":{"role":"admin"}}') })],
  // docs/spec.md §3 step 1 asks plain objects of the call, args and annotations; a session that is
  // a class instance with the right fields is read by its fields.
  ["a session that is a class instance", () => ({ tool: "t", session: new (class S { id = "s"; org = { id: "o" }; })() })],
  ["a frozen call", () => Object.freeze({ tool: "t", session: Object.freeze({ ...session }), args: Object.freeze({ q: "abc" }) })],
  ["args with 100,000 keys", () => ({ tool: "t", session, args: Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i])) })],
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

  it.each(malformed)("%s: denied with rule \"\" and a reason", async (_, make) => {
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
    expect((await policy.decide({ tool: "t", session, args: { q: `${"a".repeat(10_000_000)}!` } })).outcome).toBe("deny");
  });

  it("sees a destructive annotation given as an own key from JSON", async () => {
    expect((await policy.decide({ tool: "t", session, annotations: JSON.parse('{"destructiveHint":true}') })).outcome).toBe("deny");
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
    expect(await policy.decide({ tool: "ok", session })).toEqual({ outcome: "allow", rule: "/tools/ok", remaining: expect.any(Number) });
    expect(await policy.decide({ tool: "t", session, args: { q: "abc" } })).toMatchObject({ outcome: "allow", rule: "/tools/t*/rules/0" });
  });
});
