/**
 * Issue 7 item 1: hostile policy documents. Whatever a document holds — wrong types, unknown
 * fields, NaN and Infinity as JS values, prototype names as tool names and field names, nesting
 * 10,000 deep, invalid JSON text, duplicate keys, cycles, throwing proxies — `validatePolicy`
 * answers invalid with useful paths and never throws, `compilePolicy` throws a `PolicyError` and
 * nothing else, nothing hangs, and no built-in prototype changes.
 */

import fc from "fast-check";
import { compilePolicy, PolicyError, validatePolicy, type PolicyIssue } from "toolgate";
import { describe, expect, it } from "vitest";
import { params, policy } from "../property/arbitraries.js";
import { expectPrototypesUntouched, isJsonPointer, snapshotPrototypes } from "./guards.js";

/** The outcome of both entry points, asserting they never throw anything but a PolicyError. */
function judge(document: unknown): { valid: boolean; issues: readonly PolicyIssue[] } {
  const result = validatePolicy(document);
  let compiled = true;
  try {
    compilePolicy(document);
  } catch (e) {
    if (!(e instanceof PolicyError))
      throw new Error(`compilePolicy threw ${String(e)} (not a PolicyError)`, { cause: e });
    compiled = false;
  }
  expect(compiled).toBe(result.valid);
  if (result.valid) return { valid: true, issues: [] };
  expect(result.issues.length).toBeGreaterThan(0);
  for (const issue of result.issues) {
    expect(isJsonPointer(issue.path), issue.path).toBe(true);
    expect(typeof issue.message === "string" && issue.message.length > 0).toBe(true);
    expect(issue.message.length).toBeLessThan(2_000);
  }
  return { valid: false, issues: result.issues };
}

function deep(depth: number, leaf: unknown = 1, wrap: (inner: unknown) => unknown = (x) => ({ a: x })): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = wrap(v);
  return v;
}

class Thing {
  max = 1;
  window = 1;
}

/** Values that are never valid anywhere in a policy (not JSON, or not data). */
const neverValid: fc.Arbitrary<unknown> = fc.constantFrom(
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  Symbol("s"),
  () => 1,
  10n,
  new Date(0),
  new Thing(),
  new Map([["max", 1]]),
  /re/,
);

const protoNames = fc.constantFrom("__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf");

/** Every container in `doc` with its JSON Pointer and whether its keys are names (tools, properties). */
function containers(doc: unknown): { path: string[]; node: Record<string, unknown> | unknown[]; nameMap: boolean }[] {
  const out: { path: string[]; node: Record<string, unknown> | unknown[]; nameMap: boolean }[] = [];
  const walk = (node: unknown, path: string[], parentKey: string | undefined) => {
    if (typeof node !== "object" || node === null) return;
    const nameMap =
      parentKey === "tools" || parentKey === "properties" || parentKey === "$defs" || parentKey === "patternProperties";
    out.push({ path, node: node as Record<string, unknown>, nameMap: nameMap && path.length > 0 });
    for (const [k, v] of Object.entries(node)) walk(v, [...path, k], Array.isArray(node) ? undefined : k);
  };
  walk(doc, [], undefined);
  return out;
}

const pointer = (path: string[]) => path.map((t) => `/${t.replace(/~/g, "~0").replace(/\//g, "~1")}`).join("");

/** A valid document made invalid at one place, and the JSON Pointer of that place. */
const broken = fc
  .tuple(policy, fc.nat(), fc.nat(), neverValid, protoNames, fc.constantFrom("replace", "add"))
  .map(([doc, i, j, bad, name, how]) => {
    // Through JSON, so that no object is shared (fast-check reuses constant objects) and one
    // place is broken, not every place that shares it.
    const copy = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
    const spots = containers(copy);
    const spot = spots[i % spots.length]!;
    if (how === "replace" && Object.keys(spot.node).length > 0) {
      const keys = Object.keys(spot.node);
      const key = keys[j % keys.length]!;
      (spot.node as Record<string, unknown>)[key] = bad;
      return { doc: copy, at: pointer([...spot.path, key]) };
    }
    if (Array.isArray(spot.node)) {
      spot.node.push(bad);
      return { doc: copy, at: pointer([...spot.path, String(spot.node.length - 1)]) };
    }
    // An own property named like a prototype member; in a name map its value must be bad too.
    Object.defineProperty(spot.node, name, {
      value: spot.nameMap ? bad : 1,
      enumerable: true,
      configurable: true,
      writable: true,
    });
    return { doc: copy, at: pointer([...spot.path, name]) };
  });

describe("generated malformed documents", () => {
  it("are invalid with an issue at or around the broken place, and never throw anything else", () => {
    const before = snapshotPrototypes();
    fc.assert(
      fc.property(broken, ({ doc, at }) => {
        const { valid, issues } = judge(doc);
        expect(valid, `${at} should make the document invalid`).toBe(false);
        // The issue is at the broken place, inside it, or at its parent (e.g. "unknown field x" at the parent).
        const parent = at.slice(0, at.lastIndexOf("/"));
        const near = issues.some(
          (i) => i.path === at || i.path.startsWith(`${at}/`) || i.path === parent || at.startsWith(`${i.path}/`),
        );
        expect(near, `broken at ${at}; issues at ${issues.map((i) => i.path).join(", ")}`).toBe(true);
        expectPrototypesUntouched(before);
      }),
      params(1_000),
    );
  }, 300_000);

  it("are judged the same from JSON text, including a broken document's text", () => {
    fc.assert(
      fc.property(policy, fc.nat(), fc.string({ minLength: 1, maxLength: 3 }), (doc, at, junk) => {
        const text = JSON.stringify(doc);
        const cut = at % (text.length + 1);
        const mangled = text.slice(0, cut) + junk + text.slice(cut);
        judge(mangled);
        judge(text.slice(0, cut));
      }),
      params(500),
    );
  }, 300_000);
});

describe("prototype names", () => {
  it("are ordinary tool names, in an object and in JSON text", () => {
    const before = snapshotPrototypes();
    const text =
      '{"version":"1","default":"allow","tools":{"__proto__":{"action":"deny"},' +
      '"constructor":{"action":"deny"},"prototype":{"action":"deny"}}}';
    for (const doc of [text, JSON.parse(text)]) {
      const p = compilePolicy(doc);
      for (const tool of ["__proto__", "constructor", "prototype"])
        expect(p.decideSync({ tool, session: { id: "s" } }).outcome).toBe("deny");
      expect(p.decideSync({ tool: "toString", session: { id: "s" } }).outcome).toBe("allow");
    }
    expectPrototypesUntouched(before);
  });

  it("are unknown fields everywhere else", () => {
    for (const name of ["__proto__", "constructor", "prototype"]) {
      const top = JSON.parse(`{"version":"1","default":"deny","tools":{},"${name}":{"polluted":true}}`);
      expect(judge(top).issues.map((i) => i.path)).toContain(`/${name}`);
      const rule = JSON.parse(`{"version":"1","default":"deny","tools":{"t":{"${name}":{"action":"allow"}}}}`);
      expect(judge(rule).issues.map((i) => i.path)).toContain(`/tools/t/${name}`);
      const limit = JSON.parse(
        `{"version":"1","default":"deny","tools":{"t":{"rate_limit":{"max":1,"window":1,"${name}":{}}}}}`,
      );
      expect(judge(limit).issues.map((i) => i.path)).toContain(`/tools/t/rate_limit/${name}`);
      const when = JSON.parse(`{"version":"1","default":"deny","tools":{"t":{"rules":[{"when":{"${name}":{}}}]}}}`);
      expect(judge(when).valid).toBe(false);
      const keyword = JSON.parse(
        `{"version":"1","default":"deny","tools":{"t":{"rules":[{"when":{"args":{"${name}":{}}}}]}}}`,
      );
      expect(judge(keyword).issues.some((i) => i.path.startsWith("/tools/t/rules/0/when/args"))).toBe(true);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("are property names a when schema may describe", () => {
    const p = compilePolicy(
      JSON.parse(
        '{"version":"1","default":"deny","tools":{"t":{"rules":[{"when":{"args":{"properties":' +
          '{"__proto__":{"const":1},"constructor":{"const":2}},"required":["__proto__"]}}}]}}}',
      ),
    );
    expect(
      p.decideSync({ tool: "t", session: { id: "s" }, args: JSON.parse('{"__proto__":1,"constructor":2}') }).outcome,
    ).toBe("allow");
    expect(p.decideSync({ tool: "t", session: { id: "s" }, args: JSON.parse('{"__proto__":3}') }).outcome).toBe("deny");
    expect(p.decideSync({ tool: "t", session: { id: "s" }, args: {} }).outcome).toBe("deny");
  });
});

describe("deep, cyclic and trapped documents", () => {
  it("reports nesting 10,000 deep as an issue, from an object and from JSON text", () => {
    const before = snapshotPrototypes();
    const deepObject = { version: "1", default: "deny", tools: { t: deep(10_000) } };
    expect(judge(deepObject).valid).toBe(false);
    const deepArray = { version: "1", default: "deny", tools: {}, limits: deep(10_000, 1, (x) => [x]) };
    expect(judge(deepArray).valid).toBe(false);
    const text = `{"version":"1","default":"deny","tools":{"t":${"[".repeat(10_000)}${"]".repeat(10_000)}}}`;
    expect(judge(text).valid).toBe(false);
    const nested = `${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}`;
    const deeperText = `{"version":"1","default":"deny","tools":{"t":${nested}}}`;
    expect(judge(deeperText).valid).toBe(false);
    expectPrototypesUntouched(before);
  });

  it("compiles or rejects, never crashes on, a when schema nested 10,000 deep", () => {
    const schemas = [
      deep(10_000, {}, (x) => ({ not: x })),
      deep(10_000, true, (x) => ({ properties: { a: x } })),
      deep(10_000, {}, (x) => ({ allOf: [x] })),
    ];
    for (const schema of schemas) {
      const doc = { version: "1", default: "deny", tools: { t: { rules: [{ when: { args: schema } }] } } };
      const { valid } = judge(doc);
      if (valid) {
        const p = compilePolicy(doc);
        expect(["allow", "deny"]).toContain(
          p.decideSync({ tool: "t", session: { id: "s" }, args: deep(10_000) as Record<string, unknown> }).outcome,
        );
      }
    }
    const deepConst = {
      version: "1",
      default: "deny",
      tools: { t: { rules: [{ when: { args: { const: deep(10_000) } } }] } },
    };
    judge(deepConst);
  });

  it("reports a cyclic document as an issue", () => {
    const tools: Record<string, unknown> = {};
    tools.t = { rules: [{ when: { args: tools } }] };
    const cyclic: Record<string, unknown> = { version: "1", default: "deny", tools };
    expect(judge(cyclic).valid).toBe(false);
    const self: Record<string, unknown> = { version: "1", default: "deny", tools: {} };
    self.self = self;
    expect(judge(self).valid).toBe(false);
  });

  it("reports a document whose getters throw, or a throwing Proxy, as an issue", () => {
    const trap = new Proxy(
      {},
      {
        get() {
          throw new Error("get");
        },
        ownKeys() {
          throw new Error("ownKeys");
        },
        getPrototypeOf() {
          throw new Error("proto");
        },
      },
    );
    expect(judge(trap).valid).toBe(false);
    expect(judge({ version: "1", default: "deny", tools: trap }).valid).toBe(false);
    const getter = {
      version: "1",
      default: "deny",
      get tools(): never {
        throw new Error("boom");
      },
    };
    expect(judge(getter).valid).toBe(false);
  });

  it("keeps what it read: a getter that changes its answer cannot change the compiled policy", () => {
    let reads = 0;
    const doc = {
      version: "1",
      default: "deny",
      tools: {
        get t() {
          reads++;
          return reads === 1 ? { action: "deny" } : {};
        },
      },
    };
    const result = validatePolicy(doc);
    if (!result.valid) return; // rejecting accessors outright is also a safe answer
    const p = compilePolicy(doc);
    const decision = p.decideSync({ tool: "t", session: { id: "s" } });
    // Whatever was read, the compiled document must say what the policy decides.
    const rule = p.document.tools.t as { action?: string };
    expect(decision.outcome).toBe(rule.action === "deny" ? "deny" : "allow");
  });
});

describe("numbers", () => {
  it.each([
    ["max", Number.NaN],
    ["max", Number.POSITIVE_INFINITY],
    ["max", 1e21],
    ["max", 2 ** 53],
    ["max", -0],
    ["max", 1e-300],
    ["window", Number.NaN],
    ["window", Number.POSITIVE_INFINITY],
    ["window", 1e300],
    ["window", Number.MIN_VALUE],
    ["window", -0],
  ])("rejects %s = %s", (field, value) => {
    const limit: Record<string, unknown> = { max: 1, window: 1, [field]: value };
    expect(
      judge({ version: "1", default: "deny", tools: { t: { rate_limit: limit } } }).issues.map((i) => i.path),
    ).toContain(`/tools/t/rate_limit/${field}`);
  });

  // docs/spec.md §5: amounts are exact to six places and at most a billion; a constant cost is
  // never above its max.
  it.each([
    ["cost", Number.NaN],
    ["cost", Number.POSITIVE_INFINITY],
    ["cost", 1e21],
    ["cost", 2 ** 53],
    ["cost", 1e-300],
    ["cost", -1e-300],
    ["cost", 0.1 + 0.2],
    ["cost", ""],
    ["cost", "~"],
    ["cost", "/a~2"],
    ["cost", {}],
    ["cost", []],
    ["max", 1e-7],
    ["max", 1e21],
    ["max", 0.1 + 0.2],
  ])("rejects %s = %s in a limit with cost", (field, value) => {
    const limit: Record<string, unknown> = { max: 1_000, window: 1, cost: 1, [field]: value };
    expect(
      judge({ version: "1", default: "deny", tools: { t: { rate_limit: limit } } }).issues.map((i) => i.path),
    ).toContain(`/tools/t/rate_limit/${field}`);
  });

  it.each([
    ["id", ""],
    ["id", "x".repeat(129)],
    ["id", "x".repeat(1_000_000)],
    ["id", 1],
    ["id", null],
    ["id", { toString: "x" }],
    ["refund", "always"],
    ["refund", true],
    ["refund", "ON_ERROR"],
    ["refund", ["on_error"]],
  ])("rejects %s = %j in a limit", (field, value) => {
    const limit: Record<string, unknown> = { max: 1, window: 1, [field]: value };
    const { issues } = judge({ version: "1", default: "deny", tools: { t: { rate_limit: limit } } });
    expect(issues.map((i) => i.path)).toContain(`/tools/t/rate_limit/${field}`);
    for (const i of issues) expect(i.message.length).toBeLessThan(2_000);
  });

  it("compiles 10,000 limits sharing one id", () => {
    const same = Object.fromEntries(
      Array.from({ length: 10_000 }, (_, i) => [`t${i}`, { rate_limit: { id: "all", max: 5, window: 1 } }]),
    );
    expect(judge({ version: "1", default: "deny", tools: same }).valid).toBe(true);
  });

  // Each issue about disagreeing ids must stay short: a message that lists every member makes the
  // issues quadratic in the document (10,000 such limits take gigabytes and crash the process), so
  // this case stays at 300 members, enough to break the 2,000-character bound that judge() keeps.
  it("reports limits sharing an id that disagree with issues of bounded length", () => {
    const differ = Object.fromEntries(
      Array.from({ length: 300 }, (_, i) => [`t${i}`, { rate_limit: { id: "all", max: i + 1, window: 1 } }]),
    );
    const { issues } = judge({ version: "1", default: "deny", tools: differ });
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.every((i) => i.code === "conflict")).toBe(true);
  });

  it("rejects NaN and Infinity inside a when schema, where JSON could not hold them", () => {
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(
        judge({ version: "1", default: "deny", tools: { t: { rules: [{ when: { args: { const: v } } }] } } }).valid,
      ).toBe(false);
      expect(
        judge({ version: "1", default: "deny", tools: { t: { rules: [{ when: { args: { maximum: v } } }] } } }).valid,
      ).toBe(false);
    }
  });
});

describe("duplicate keys in generated JSON text", () => {
  /** JSON text of `value` with the key at `target` written twice (the second copy first). */
  function withDuplicate(value: unknown, target: string[]): string {
    const write = (v: unknown, path: string[]): string => {
      if (Array.isArray(v)) return `[${v.map((x, i) => write(x, [...path, String(i)])).join(",")}]`;
      if (typeof v === "object" && v !== null) {
        const parts = Object.entries(v).map(([k, x]) => {
          const here = [...path, k];
          const member = `${JSON.stringify(k)}:${write(x, here)}`;
          return pointer(here) === pointer(target) ? `${JSON.stringify(k)}:{},${member}` : member;
        });
        return `{${parts.join(",")}}`;
      }
      return JSON.stringify(v);
    };
    return write(value, []);
  }

  it("reports the duplicated key at its path", () => {
    fc.assert(
      fc.property(policy, fc.nat(), (doc, i) => {
        const keyed = containers(doc).flatMap(({ path, node }) =>
          Array.isArray(node) ? [] : Object.keys(node).map((k) => [...path, k]),
        );
        const target = keyed[i % keyed.length]!;
        const { valid, issues } = judge(withDuplicate(doc, target));
        expect(valid).toBe(false);
        const issue = issues.find((x) => x.path === pointer(target));
        expect(issue, `duplicate at ${pointer(target)}; issues: ${JSON.stringify(issues)}`).toBeDefined();
        expect(issue!.line).toBe(1);
        expect(typeof issue!.column).toBe("number");
      }),
      params(500),
    );
  }, 300_000);
});
