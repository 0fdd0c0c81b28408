/**
 * docs/spec.md §6 "Decision log", through the public API: `decisionLog(options)` writes one JSON
 * object per line, synchronously, once per decision, before `decide` returns, with the fields
 * the contract lists; nothing of the arguments by default; `argsHmac` as an HMAC-SHA256 of the
 * canonical JSON (computed here independently, with node:crypto); `args`, `attributes` and
 * `annotations` in clear. Hostile arguments still give a line, without them.
 */

import { createHmac } from "node:crypto";
import {
  compilePolicy,
  decisionLog,
  MAX_LOGGED_ARGS,
  MemoryStore,
  type CompileOptions,
  type Decision,
  type DecisionLogOptions,
  type Store,
  type ToolCall,
} from "toolgate";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Clock, doc } from "./helpers.js";

const document = doc(
  {
    open: {},
    limited: { rate_limit: { max: 2, window: "1m" } },
    blocked: { action: "deny", reason: "Never." },
    gated: { action: "require_approval", reason: "A person decides." },
    by_org: { rate_limit: { max: 5, window: "1m", per: "/org" } },
  },
  { name: "logged" },
);

/** A policy whose decision log lines are collected as text. */
function logged(options: Omit<DecisionLogOptions, "write"> = {}, compile: CompileOptions = {}) {
  const text: string[] = [];
  const clock = new Clock();
  clock.now = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
  const policy = compilePolicy(document, {
    store: new MemoryStore({ maxKeys: 100 }),
    clock: clock.read,
    onDecision: decisionLog({ write: (line) => text.push(line), ...options }),
    ...compile,
  });
  const lines = () => text.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { policy, text, lines, clock };
}

const s1 = { id: "s1" };

/** Canonical JSON written here from the contract's words, not the library's code: keys sorted at every depth. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? "null" : canonical(x))).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

function hmac(key: string | Uint8Array, text: string): string {
  return createHmac("sha256", key).update(text, "utf8").digest("hex");
}

describe("decision log lines", () => {
  it("carries time (ISO 8601), policy, tool, session, outcome and rule, and remaining for a limited allow", () => {
    const { policy, lines, clock } = logged();
    policy.decideSync({ tool: "open", session: s1 });
    policy.decideSync({ tool: "limited", session: s1 });
    expect(lines()).toEqual([
      {
        time: new Date(clock.now).toISOString(),
        policy: "logged",
        tool: "open",
        session: "s1",
        outcome: "allow",
        rule: "/tools/open",
      },
      {
        time: "2026-01-02T03:04:05.678Z",
        policy: "logged",
        tool: "limited",
        session: "s1",
        outcome: "allow",
        rule: "/tools/limited",
        remaining: 1,
      },
    ]);
    expect(lines()[0]!.policy).toBe(policy.namespace);
  });

  it("carries cause and reason for a deny, reason for needs_approval, reason and retryAfterMs if rate limited", () => {
    const { policy, lines, clock } = logged();
    policy.decideSync({ tool: "blocked", session: s1 });
    policy.decideSync({ tool: "gated", session: s1 });
    policy.decideSync({ tool: "limited", session: s1 });
    clock.now += 1000;
    policy.decideSync({ tool: "limited", session: s1 });
    clock.now += 1000;
    const limited = policy.decideSync({ tool: "limited", session: s1 });
    expect(limited.outcome).toBe("rate_limited");
    const [deny, approval, , , rate] = lines();
    expect(deny).toMatchObject({ outcome: "deny", rule: "/tools/blocked", cause: "policy", reason: "Never." });
    expect(approval).toMatchObject({ outcome: "needs_approval", rule: "/tools/gated", reason: "A person decides." });
    expect(approval).not.toHaveProperty("cause");
    expect(rate).toEqual({
      time: new Date(clock.now).toISOString(),
      policy: "logged",
      tool: "limited",
      session: "s1",
      outcome: "rate_limited",
      rule: "/tools/limited/rate_limit",
      reason: (limited as { reason: string }).reason,
      retryAfterMs: 58_000,
    });
    for (const l of [deny, approval]) expect(l).not.toHaveProperty("remaining");
  });

  it("carries approved as the call gave it, true or false, and not when absent", () => {
    const { policy, lines } = logged();
    policy.decideSync({ tool: "gated", session: s1, approved: true });
    policy.decideSync({ tool: "gated", session: s1, approved: false });
    policy.decideSync({ tool: "gated", session: s1 });
    expect(lines().map((l) => [l.outcome, l.approved])).toEqual([
      ["allow", true],
      ["needs_approval", false],
      ["needs_approval", undefined],
    ]);
    expect(lines()[2]).not.toHaveProperty("approved");
  });

  it("carries failedOpen: true for a store failure allowed by failOpen, and the deny otherwise", async () => {
    const failing: Store = { consume: () => Promise.reject(new Error("redis://admin:hunter2@10.0.0.7")) };
    for (const failOpen of [true, false]) {
      const { policy, lines, text } = logged({}, { store: failing, failOpen });
      await policy.decide({ tool: "limited", session: s1 });
      const line = lines()[0]!;
      if (failOpen) expect(line).toMatchObject({ outcome: "allow", failedOpen: true });
      else expect(line).toMatchObject({ outcome: "deny", cause: "store_failure", rule: "/tools/limited" });
      if (!failOpen) expect(line).not.toHaveProperty("failedOpen");
      // The store's text is detail for observers, never a field of the log.
      expect(text.join("")).not.toContain("hunter2");
    }
  });

  it("a malformed call is logged as the deny it is, with null for a tool or session it did not have", () => {
    const { policy, lines } = logged();
    policy.decideSync({ tool: 42, session: s1 } as unknown as ToolCall);
    policy.decideSync({ tool: "open" } as unknown as ToolCall);
    expect(lines().map((l) => [l.tool, l.session, l.outcome, l.cause, l.rule])).toEqual([
      [null, "s1", "deny", "malformed_call", ""],
      ["open", null, "deny", "malformed_call", ""],
    ]);
  });

  it("in shadow mode every line carries shadow: true, with what enforcement decided", () => {
    const { policy, lines } = logged({}, { mode: "shadow" });
    const answers: Decision[] = [];
    for (const tool of ["open", "blocked", "gated", "limited", "limited", "limited"]) {
      answers.push(policy.decideSync({ tool, session: s1 }));
    }
    expect(answers.every((d) => d.outcome === "allow")).toBe(true);
    expect(lines().map((l) => [l.shadow, l.outcome, l.rule, l.cause])).toEqual([
      [true, "allow", "/tools/open", undefined],
      [true, "deny", "/tools/blocked", "policy"],
      [true, "needs_approval", "/tools/gated", undefined],
      [true, "allow", "/tools/limited", undefined],
      [true, "allow", "/tools/limited", undefined],
      [true, "rate_limited", "/tools/limited/rate_limit", undefined],
    ]);
    expect(lines()[1]!.reason).toBe("Never.");
    const { policy: enforced, lines: enforcedLines } = logged();
    enforced.decideSync({ tool: "open", session: s1 });
    expect(enforcedLines()[0]).not.toHaveProperty("shadow");
  });

  it("each line is one JSON object on one line, ending with a newline, even for names with newlines", () => {
    const { policy, text } = logged({ args: "clear" });
    policy.decideSync({ tool: "a\nb\u2028c", args: { "x\ny": "1\n2" }, session: { id: "s\n1", "r\ns": "v\r\n" } });
    expect(text).toHaveLength(1);
    expect(text[0]!.endsWith("\n")).toBe(true);
    expect(text[0]!.slice(0, -1)).not.toMatch(/[\n\r]/);
    expect(JSON.parse(text[0]!)).toMatchObject({ tool: "a\nb\u2028c", session: "s\n1", args: { "x\ny": "1\n2" } });
  });
});

describe("write", () => {
  it("is called synchronously, once per decision, before decide returns (a synchronous store)", () => {
    const { policy, text } = logged();
    void policy.decide({ tool: "open", session: s1 });
    expect(text).toHaveLength(1);
    policy.decideSync({ tool: "limited", session: s1 });
    expect(text).toHaveLength(2);
    void policy.peek({ tool: "limited", session: s1 });
    void policy.explain({ tool: "limited", session: s1 });
    expect(text).toHaveLength(2);
  });

  it("is called once per decision before the promise of decide resolves (an asynchronous store)", async () => {
    const memory = new MemoryStore({ maxKeys: 100 });
    const slow: Store = {
      consume: (request) => new Promise((resolve) => setTimeout(() => resolve(memory.consume(request)), 5)),
    };
    const { policy, text } = logged({}, { store: slow });
    const counts: number[] = [];
    const pending = [0, 1, 2].map((i) =>
      policy.decide({ tool: "limited", session: { id: `s${i}` } }).then(() => counts.push(text.length)),
    );
    expect(text).toHaveLength(0);
    await Promise.all(pending);
    expect(counts).toEqual([1, 2, 3]);
    expect(text).toHaveLength(3);
  });

  it("that throws changes no decision, and is called again for the next one", () => {
    let calls = 0;
    const clock = new Clock();
    const make = (onDecision?: CompileOptions["onDecision"]) =>
      compilePolicy(document, {
        store: new MemoryStore({ maxKeys: 100 }),
        clock: clock.read,
        ...(onDecision ? { onDecision } : {}),
      });
    const throwing = make(
      decisionLog({
        write: () => {
          calls++;
          throw new Error("disk full");
        },
      }),
    );
    const plain = make();
    for (const tool of ["open", "limited", "limited", "limited", "blocked", "gated", "nope"]) {
      expect(throwing.decideSync({ tool, session: s1 })).toEqual(plain.decideSync({ tool, session: s1 }));
    }
    expect(calls).toBe(7);
  });
});

describe("arguments", () => {
  const secret = "sk-live-4f1c2d9e";
  const secretCall: ToolCall = {
    tool: "by_org",
    args: { token: secret, nested: { deeper: [secret] } },
    session: { id: "s1", org: "acme", apiKey: secret },
    annotations: { title: secret },
  };

  it('"omit" is the default: no argument data at all, not even the session\'s attributes or annotations', () => {
    for (const options of [{}, { args: "omit" as const }]) {
      const { policy, text, lines } = logged(options);
      policy.decideSync(secretCall);
      expect(text.join("")).not.toContain(secret);
      expect(text.join("")).not.toContain("acme");
      for (const field of ["args", "argsHmac", "attributes", "annotations"])
        expect(lines()[0]).not.toHaveProperty(field);
    }
  });

  it('"hmac" writes argsHmac, the hex HMAC-SHA256 of the canonical JSON under the key, and nothing in clear', () => {
    const key = "a key of the host";
    const { policy, text, lines } = logged({ args: "hmac", key });
    policy.decideSync(secretCall);
    expect(lines()[0]!.argsHmac).toBe(hmac(key, canonical(secretCall.args)));
    expect(lines()[0]!.argsHmac).toMatch(/^[0-9a-f]{64}$/);
    expect(text.join("")).not.toContain(secret);
    for (const field of ["args", "attributes", "annotations"]) expect(lines()[0]).not.toHaveProperty(field);
  });

  it("the HMAC of absent arguments is that of {}; equal for keys reordered at any depth; key as text or bytes", () => {
    const key = "k";
    const bytes = new TextEncoder().encode(key);
    const asText = logged({ args: "hmac", key });
    const asBytes = logged({ args: "hmac", key: bytes });
    const other = logged({ args: "hmac", key: "another key" });
    const calls: ToolCall[] = [
      { tool: "open", session: s1 },
      { tool: "open", args: {}, session: s1 },
      { tool: "open", args: { b: { y: 1, x: [{ q: 1, p: 2 }] }, a: "é\u0000" }, session: s1 },
      { tool: "open", args: { a: "é\u0000", b: { x: [{ p: 2, q: 1 }], y: 1 } }, session: s1 },
    ];
    for (const c of calls) for (const p of [asText, asBytes, other]) p.policy.decideSync(c);
    const h = asText.lines().map((l) => l.argsHmac);
    expect(h[0]).toBe(hmac(key, "{}"));
    expect(h[1]).toBe(h[0]);
    expect(h[2]).toBe(hmac(key, '{"a":"é\\u0000","b":{"x":[{"p":2,"q":1}],"y":1}}'));
    expect(h[3]).toBe(h[2]);
    expect(asBytes.lines().map((l) => l.argsHmac)).toEqual(h);
    expect(other.lines().map((l) => l.argsHmac)).not.toContain(h[2]);
  });

  it("the HMAC equals an independent HMAC of canonical JSON for any JSON arguments (property)", () => {
    const key = new Uint8Array([1, 2, 3, 255]);
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (args) => {
        const text: string[] = [];
        const policy = compilePolicy(document, {
          onDecision: decisionLog({ write: (l) => text.push(l), args: "hmac", key }),
        });
        policy.decideSync({ tool: "open", args, session: s1 });
        const line = JSON.parse(text[0]!) as { argsHmac: string };
        expect(line.argsHmac).toBe(hmac(key, canonical(JSON.parse(JSON.stringify(args)))));
      }),
      { numRuns: 200 },
    );
  });

  it("the key's bytes are taken when the log is made: changing the array later changes nothing", () => {
    const key = new Uint8Array([7, 7, 7]);
    const { policy, lines } = logged({ args: "hmac", key });
    key[0] = 0;
    policy.decideSync({ tool: "open", session: s1 });
    expect(lines()[0]!.argsHmac).toBe(hmac(new Uint8Array([7, 7, 7]), "{}"));
  });

  it('"clear" writes args as they were ({} when none), the session\'s attributes and the annotations', () => {
    const { policy, lines } = logged({ args: "clear" });
    policy.decideSync(secretCall);
    policy.decideSync({ tool: "open", session: s1 });
    const [withAll, bare] = lines();
    expect(withAll).toMatchObject({
      args: secretCall.args,
      attributes: { org: "acme", apiKey: secret },
      annotations: { title: secret },
    });
    expect(withAll!.attributes).not.toHaveProperty("id");
    expect(bare!.args).toEqual({});
    expect(bare!.attributes).toEqual({});
    expect(bare).not.toHaveProperty("annotations");
    expect(bare).not.toHaveProperty("argsHmac");
  });

  it('"clear" keeps "__proto__" and "constructor" names as data', () => {
    const args = JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":1}}') as Record<string, unknown>;
    const session = JSON.parse('{"id":"s1","__proto__":"x"}') as ToolCall["session"];
    const { policy, text } = logged({ args: "clear" });
    policy.decideSync({ tool: "open", args, session });
    const line = JSON.parse(text[0]!) as { args: Record<string, unknown>; attributes: Record<string, unknown> };
    expect(Object.keys(line.args).sort()).toEqual(["__proto__", "constructor"]);
    expect(Object.keys(line.attributes)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("options", () => {
  const write = () => {};
  it("are checked, with exact messages", () => {
    const cases: [unknown, string][] = [
      [{ write, args: "hmac" }, 'decisionLog: args: "hmac" needs a key'],
      [{ write, args: "all" }, 'decisionLog: args must be "omit", "hmac" or "clear", got "all"'],
      [
        { write, args: "hmac", key: "" },
        "decisionLog: key must be a non-empty string or Uint8Array, got an empty string",
      ],
      [
        { write, args: "hmac", key: new Uint8Array(0) },
        "decisionLog: key must be a non-empty string or Uint8Array, got an instance of Uint8Array",
      ],
      [{ write, args: "hmac", key: 5 }, "decisionLog: key must be a non-empty string or Uint8Array, got 5"],
      [{ write: "stdout" }, 'decisionLog: write must be a function, got "stdout"'],
      [{}, "decisionLog: write must be a function, got nothing"],
      [undefined, "decisionLog: write must be a function, got nothing"],
      [{ write, arg: "clear" }, 'decisionLog: unknown option "arg" (did you mean "args"?)'],
      [{ write, __proto__: null, constructor: 1 }, 'decisionLog: unknown option "constructor"'],
      [null, "decisionLog: options must be a plain object, got null"],
      [[write], "decisionLog: options must be a plain object, got an array"],
    ];
    for (const [options, message] of cases) {
      expect(() => decisionLog(options as DecisionLogOptions), message).toThrow(new TypeError(message));
    }
  });
});

describe("hostile arguments still give a line, without the arguments", () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  let deep: unknown = {};
  for (let i = 0; i < 5000; i++) deep = { d: deep };
  const trapped = Object.defineProperty({}, "x", {
    enumerable: true,
    get() {
      throw new Error("getter at 10.0.0.7");
    },
  });
  const huge = { blob: "x".repeat(10 * 1024 * 1024) };
  const hostile: [string, unknown][] = [
    ["a cycle", cyclic],
    ["a BigInt", { n: 10n }],
    ["5000 levels deep", deep],
    ["a getter that throws", trapped],
    ["10 MB", huge],
  ];

  for (const mode of ["clear", "hmac"] as const) {
    it(`args: "${mode}"`, () => {
      const { policy, text, lines } = logged({ args: mode, key: "k" });
      for (const [name, args] of hostile) {
        const before = text.length;
        const d = policy.decideSync({ tool: "open", args: args as Record<string, unknown>, session: s1 });
        expect(text.length, name).toBe(before + 1);
        const line = lines()[before]!;
        expect(line, name).toMatchObject({ tool: "open", outcome: d.outcome, rule: d.rule });
        expect(line, name).not.toHaveProperty("args");
        // A 10 MB value has an HMAC like any other; what cannot be written as JSON has none.
        if (mode === "hmac" && name === "10 MB") expect(line.argsHmac).toBe(hmac("k", canonical(huge)));
        else expect(line, name).not.toHaveProperty("argsHmac");
        expect(text[before]!.length, name).toBeLessThan(4096);
        expect(text[before]!, name).not.toContain("10.0.0.7");
      }
    });
  }

  it("arguments, attributes and annotations just within the bound together are written, over it left out", () => {
    const { policy, lines } = logged({ args: "clear" });
    // {"s":"…"} is 8 characters more than the text, and the attributes of {id:"s1"} are {}.
    const fits = { s: "y".repeat(MAX_LOGGED_ARGS - 8 - 2) };
    policy.decideSync({ tool: "open", args: fits, session: s1 });
    policy.decideSync({ tool: "open", args: { s: `${fits.s}y` }, session: s1 });
    expect(lines()[0]!.args).toEqual(fits);
    expect(lines()[1]).not.toHaveProperty("args");
  });

  it("attributes or annotations that cannot be written leave the arguments out too (replay skips the line)", () => {
    const { policy, lines } = logged({ args: "clear" });
    const badSession = { id: "s1", org: cyclic } as unknown as ToolCall["session"];
    policy.decideSync({ tool: "open", args: { a: 1 }, session: badSession });
    policy.decideSync({
      tool: "open",
      args: { a: 1 },
      session: s1,
      annotations: { n: 1n },
    });
    policy.decideSync({ tool: "open", args: { a: 1 }, session: { id: "s1", big: "z".repeat(MAX_LOGGED_ARGS) } });
    policy.decideSync({ tool: "open", args: { a: 1 }, session: s1, annotations: { big: "z".repeat(MAX_LOGGED_ARGS) } });
    for (const line of lines()) {
      expect(line).toMatchObject({ tool: "open", session: "s1", outcome: "allow" });
      for (const field of ["args", "attributes", "annotations"]) expect(line).not.toHaveProperty(field);
    }
  });

  it("a session whose fields throw when read still gives a line", () => {
    const { policy, text, lines } = logged({ args: "clear" });
    const session = new Proxy(
      { id: "s1" },
      {
        get() {
          throw new Error("trap");
        },
        getOwnPropertyDescriptor() {
          throw new Error("trap");
        },
        ownKeys() {
          throw new Error("trap");
        },
      },
    );
    const d = policy.decideSync({ tool: "open", args: {}, session });
    expect(text).toHaveLength(1);
    expect(lines()[0]).toMatchObject({ outcome: d.outcome, rule: d.rule, session: null });
  });

  it("a tool name longer than 128 characters (a malformed call) is logged as null, not copied", () => {
    const { policy, text, lines } = logged({ args: "clear" });
    policy.decideSync({ tool: "t".repeat(1_000_000), session: s1 });
    expect(lines()[0]).toMatchObject({ tool: null, outcome: "deny", cause: "malformed_call" });
    expect(text[0]!.length).toBeLessThan(4096);
    policy.decideSync({ tool: "t".repeat(128), session: s1 });
    expect(lines()[1]!.tool).toBe("t".repeat(128));
  });
});
