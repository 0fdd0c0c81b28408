/**
 * Issue 10, items 2, 6 and 8, for `when` conditions, through the public API:
 *
 * - Every keyword takes time linear in the arguments (ajv's `uniqueItems` compared every pair:
 *   20,000 small objects took ~10 s). Each is timed at 20 KB and at 1 MB of adversarial JSON
 *   data and must scale like a linear pass over the same data, and its reads of the data are
 *   counted at 20 KB and 200 KB and must grow linearly (test/hostile/scaling.ts); the figures are
 *   printed as tables.
 * - Objects are read by their own properties only: `required: ["constructor"]` held on `{}`,
 *   and `properties: { "__proto__": … }` was skipped.
 * - A keyword named like an `Object.prototype` member is an unknown keyword wherever it sits,
 *   `dependencies` included (it was accepted there and ignored: a condition that always held).
 * - The schema cannot multiply the checks of one value past a bound (anyOf of two $refs, chained
 *   22 times, took seconds per call on `{ v: 1 }`); recursion through members stays allowed.
 */

import { compilePolicy, MemoryStore, validatePolicy, type Decision } from "toolgate";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_CHECKS_PER_VALUE } from "../../src/compile/conditions/fanout.js";
import { KEYWORDS } from "../../src/compile/conditions/keywords.js";
import { expectPrototypesUntouched, snapshotPrototypes } from "./guards.js";
import { COUNTED, linearity, operationRatio, SMALL, table, type Scaling } from "./scaling.js";

function policyOf(args: unknown, action: "allow" | "deny" = "allow") {
  return compilePolicy(
    {
      version: "1",
      default: action === "allow" ? "deny" : "allow",
      tools: { t: { rules: [{ when: { args }, action, ...(action === "deny" ? { reason: "no" } : {}) }] } },
    },
    { store: new MemoryStore({ maxKeys: 10 }) },
  );
}

function decide(policy: ReturnType<typeof policyOf>, args: unknown): Decision {
  return policy.decideSync({ tool: "t", session: { id: "s" }, args: args as Record<string, unknown> });
}

const holds = (schema: unknown, args: unknown) => decide(policyOf(schema), args).outcome === "allow";

/** An object with about `bytes` of JSON: keys k0, k1, … with small numbers. */
const manyKeys = (bytes: number): Record<string, unknown> =>
  Object.fromEntries(Array.from({ length: Math.floor(bytes / 12) }, (_, i) => [`k${i}`, i]));
/** `{ v: [...] }` with about `bytes` of JSON items made by `item`. */
const list = (bytes: number, itemBytes: number, item: (i: number) => unknown) => ({
  v: Array.from({ length: Math.floor(bytes / itemBytes) }, (_, i) => item(i)),
});
/** A chain `{ next: { next: … } }` of about `bytes` of JSON. */
function chain(bytes: number): Record<string, unknown> {
  let v: Record<string, unknown> = { end: true };
  for (let i = 0; i < bytes / 10; i++) v = { next: v };
  return v;
}

/** [name, keywords covered, schema, data of about n bytes]. */
const CASES: [string, string[], unknown, (n: number) => unknown][] = [
  ["type on a big array", ["type"], { properties: { v: { type: "array" } } }, (n) => list(n, 2, (i) => i % 10)],
  [
    "enum of deep objects on every item, the last one matching",
    ["enum"],
    { properties: { v: { items: { enum: [1, "x", { a: [1, 2, { b: "y" }] }, { a: [1, 2, { b: "x" }] }] } } } },
    (n) => list(n, 22, () => ({ a: [1, 2, { b: "x" }] })),
  ],
  [
    "const of a deep object on every item",
    ["const"],
    { properties: { v: { items: { const: { a: [1, 2, { b: "x" }] } } } } },
    (n) => list(n, 22, () => ({ a: [1, 2, { b: "x" }] })),
  ],
  [
    "maxLength on astral characters",
    ["maxLength", "minLength"],
    { properties: { v: { maxLength: 10_000_000, minLength: 1 } } },
    (n) => ({ v: "😀".repeat(n / 4) }),
  ],
  [
    "pattern, evil, on a long string",
    ["pattern"],
    { properties: { v: { pattern: "^(a+)+$" } } },
    (n) => ({ v: `${"a".repeat(n)}!` }),
  ],
  [
    "pattern \\s unanchored, no match",
    ["pattern"],
    { properties: { v: { pattern: "\\s" } } },
    (n) => ({ v: "a".repeat(n) }),
  ],
  [
    "uniqueItems on small distinct objects",
    ["uniqueItems"],
    { properties: { v: { uniqueItems: true } } },
    (n) => list(n, 20, (i) => ({ a: i, b: [i % 7] })),
  ],
  [
    "uniqueItems, duplicate at the end",
    ["uniqueItems"],
    { properties: { v: { uniqueItems: true } } },
    (n) => {
      const l = list(n, 10, (i) => [i]);
      l.v.push([0]);
      return l;
    },
  ],
  [
    "uniqueItems on key-reordered objects",
    ["uniqueItems"],
    { properties: { v: { uniqueItems: true } } },
    (n) => list(n, 24, (i) => (i % 2 ? { x: i, y: 1 } : { y: 1, x: i })),
  ],
  [
    "contains with minContains and maxContains",
    ["contains", "minContains", "maxContains"],
    { properties: { v: { contains: { const: "needle" }, minContains: 2, maxContains: 5 } } },
    (n) => list(n, 5, () => "aa"),
  ],
  [
    "maxProperties and minProperties",
    ["maxProperties", "minProperties"],
    { maxProperties: 10_000_000, minProperties: 1 },
    manyKeys,
  ],
  ["required, many names", ["required"], { required: Array.from({ length: 200 }, (_, i) => `k${i}`) }, manyKeys],
  [
    "dependentRequired",
    ["dependentRequired"],
    { dependentRequired: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, [`k${i + 1}`]])) },
    manyKeys,
  ],
  [
    "dependentSchemas",
    ["dependentSchemas"],
    { dependentSchemas: { k1: { propertyNames: { pattern: "^k" } } } },
    manyKeys,
  ],
  [
    "dependencies, both forms",
    ["dependencies"],
    { dependencies: { k1: ["k2"], k3: { propertyNames: { maxLength: 20 } } } },
    manyKeys,
  ],
  [
    "properties, many",
    ["properties"],
    { properties: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, { type: "number" }])) },
    manyKeys,
  ],
  [
    "patternProperties × many keys",
    ["patternProperties"],
    { patternProperties: { "^k": { type: "number" }, "9$": { minimum: 0 }, "\\d{3}": {}, "^(k|j)+\\d+$": {} } },
    manyKeys,
  ],
  [
    "additionalProperties",
    ["additionalProperties"],
    { properties: { a: {} }, additionalProperties: { type: "number" } },
    manyKeys,
  ],
  [
    "propertyNames with a pattern",
    ["propertyNames"],
    { propertyNames: { pattern: "^[a-z0-9]+$", maxLength: 64 } },
    manyKeys,
  ],
  [
    "propertyNames on one long name",
    ["propertyNames"],
    { propertyNames: { pattern: "^(a|aa)+$" } },
    (n) => ({ [`${"a".repeat(n)}!`]: 1 }),
  ],
  [
    "unevaluatedProperties through anyOf",
    ["unevaluatedProperties", "anyOf"],
    { anyOf: [{ properties: { a: {} } }, { patternProperties: { "^k": {} } }], unevaluatedProperties: false },
    manyKeys,
  ],
  [
    "unevaluatedItems with prefixItems and contains",
    ["unevaluatedItems", "prefixItems"],
    { properties: { v: { prefixItems: [{}], contains: { type: "number" }, unevaluatedItems: { type: "number" } } } },
    (n) => list(n, 2, (i) => i % 10),
  ],
  [
    "items",
    ["items"],
    { properties: { v: { items: { type: "number", minimum: 0 } } } },
    (n) => list(n, 2, (i) => i % 10),
  ],
  [
    "allOf, oneOf, not",
    ["allOf", "oneOf", "not"],
    {
      properties: {
        v: {
          allOf: [{ type: "array" }, { items: { type: "number" } }],
          oneOf: [{ maxItems: 1 }, { minItems: 2 }],
          not: { items: { type: "string" } },
        },
      },
    },
    (n) => list(n, 2, (i) => i % 10),
  ],
  [
    "if, then, else",
    ["if", "then", "else"],
    { properties: { v: { if: { items: { type: "number" } }, then: { uniqueItems: false }, else: { maxItems: 0 } } } },
    (n) => list(n, 2, (i) => i % 10),
  ],
  [
    "$ref and $defs over a wide tree",
    ["$ref", "$defs"],
    { $defs: { n: { type: "object", additionalProperties: { $ref: "#/$defs/n" } } }, $ref: "#/$defs/n" },
    (n) => Object.fromEntries(Array.from({ length: Math.floor(n / 20) }, (_, i) => [`k${i}`, { a: {} }])),
  ],
  [
    "$dynamicRef over a wide tree",
    ["$dynamicRef", "$dynamicAnchor"],
    { $dynamicAnchor: "node", type: "object", additionalProperties: { $dynamicRef: "#node" } },
    (n) => Object.fromEntries(Array.from({ length: Math.floor(n / 20) }, (_, i) => [`k${i}`, { a: {} }])),
  ],
  [
    "definitions",
    ["definitions"],
    { definitions: { n: { type: "number" } }, additionalProperties: { $ref: "#/definitions/n" } },
    manyKeys,
  ],
  [
    "format and formatMaximum on a long date-time",
    ["format", "formatMaximum", "formatMinimum", "formatExclusiveMaximum", "formatExclusiveMinimum"],
    {
      properties: {
        v: {
          format: "date-time",
          formatMaximum: "2030-01-01T00:00:00Z",
          formatExclusiveMinimum: "2000-01-01T00:00:00Z",
        },
      },
    },
    (n) => ({ v: `2020-01-01T00:00:00.${"1".repeat(n)}Z` }),
  ],
  [
    "pathWithin on a long path",
    ["pathWithin"],
    { properties: { v: { pathWithin: "/workspace" } } },
    (n) => ({ v: `/workspace/${"a/../".repeat(n / 5)}x` }),
  ],
  [
    "urlHostIn on a long URL",
    ["urlHostIn"],
    { properties: { v: { urlHostIn: ["api.example.com", "*.example.org"] } } },
    (n) => ({ v: `https://api.example.com/${"p/".repeat(n / 2)}` }),
  ],
];

/** Keywords whose cost does not depend on the data's size (a number, a count, a type check). */
const CONSTANT_TIME = [
  "multipleOf",
  "maximum",
  "exclusiveMaximum",
  "minimum",
  "exclusiveMinimum",
  "maxItems",
  "minItems",
  "nullable",
];
/** Keywords that check nothing (annotations, identifiers), so take no time at all. */
const NOTHING_TO_TIME = [
  "$schema",
  "$id",
  "$anchor",
  "$vocabulary",
  "$comment",
  "title",
  "description",
  "default",
  "deprecated",
  "readOnly",
  "writeOnly",
  "examples",
  "contentMediaType",
  "contentEncoding",
  "contentSchema",
];

describe("every keyword is linear in the size of the arguments", () => {
  const rows: Scaling[] = [];
  const opRows: string[] = [];

  it("times every keyword a when schema may use", () => {
    const covered = new Set([...CASES.flatMap(([, keywords]) => keywords), ...CONSTANT_TIME, ...NOTHING_TO_TIME]);
    for (const keyword of KEYWORDS.keys()) expect(covered, keyword).toContain(keyword);
  });

  it.each(CASES.map(([name, , schema, make]) => [name, schema, make] as const))(
    "%s: 1 MB takes at most 8× the time per byte of 20 KB",
    (name, schema, make) => {
      const policy = policyOf(schema);
      const m = linearity(name, make, (args) => decide(policy, args));
      rows.push(m);
      expect(m.ratio, `${m.smallMs.toFixed(3)} ms at 20 KB, ${m.largeMs.toFixed(2)} ms at 1 MB`).toBeLessThanOrEqual(
        m.allowed,
      );
    },
  );

  // Time at 1 MB of objects is blurred by V8 (a big object's keys are a dictionary, listed several
  // times slower per key) and by the caches; the reads a check makes of the data are not.
  it.each(CASES.map(([name, , schema, make]) => [name, schema, make] as const))(
    "%s: reads of the data grow linearly",
    (name, schema, make) => {
      const policy = policyOf(schema);
      const ops = operationRatio(make, (args) => decide(policy, args));
      expect(ops.ratio, `${name}: ${ops.small} reads at 20 KB, ${ops.large} at 200 KB`).toBeLessThanOrEqual(
        (2 * COUNTED) / SMALL,
      );
      opRows.push(`| ${name} | ${ops.small} | ${ops.large} | ${ops.ratio.toFixed(1)} |`);
    },
  );

  it("takes constant time for numeric keywords on extreme numbers, tiny divisors included", () => {
    const policy = policyOf({
      properties: { v: { multipleOf: 1e-300, maximum: 1e308, exclusiveMinimum: -1e308 } },
      maxProperties: 1,
    });
    for (const v of [1e308, -1e308, 5e-324, 0.1, 2 ** 53 + 2, 1.7976931348623157e308]) {
      const start = performance.now();
      expect(["allow", "deny"]).toContain(decide(policy, { v }).outcome);
      expect(performance.now() - start).toBeLessThan(1_000);
    }
  });

  it("prints the figures", () => {
    console.log(`keyword timings (through decideSync):\n${table(rows)}`);
    console.log(
      `keyword reads of the data:\n| case | 20 KB | 200 KB | ratio |\n|---|---:|---:|---:|\n${opRows.join("\n")}`,
    );
    expect(rows.length).toBe(CASES.length);
    expect(opRows.length).toBe(CASES.length);
  });
});

describe("uniqueItems means JSON Schema equality", () => {
  it.each([
    [[1, 1.0], false],
    [[0, -0], false],
    [
      [
        { a: 1, b: 2 },
        { b: 2, a: 1 },
      ],
      false,
    ],
    [
      [
        [1, [2]],
        [1, [2]],
      ],
      false,
    ],
    [["1", 1], true],
    [[null, "null"], true],
    [
      [
        [1, 2],
        [2, 1],
      ],
      true,
    ],
    [[{ a: "x" }, { a: "x\u0000" }], true],
    [[true, "true", 1], true],
    [[], true],
  ])("%j: unique is %s", (items, unique) => {
    expect(holds({ properties: { v: { uniqueItems: true } } }, { v: items })).toBe(unique);
    expect(holds({ properties: { v: { uniqueItems: false } } }, { v: items })).toBe(true);
  });

  it("denies, rather than guesses, on items it cannot compare: cycles, depth, functions", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    let deep: unknown = 1;
    for (let i = 0; i < 5_000; i++) deep = [deep];
    for (const v of [[cyclic, 1], [deep, 2], [() => 1, 2], [Symbol("x")], [10n], [{ a: 1 }, { a: 1, b: undefined }]]) {
      expect(decide(policyOf({ properties: { v: { uniqueItems: true } } }), { v }).outcome).toBe("deny");
      // A deny rule whose condition cannot be checked still denies: never an allow by accident.
      expect(decide(policyOf({ properties: { v: { not: { uniqueItems: true } } } }, "deny"), { v }).outcome).toBe(
        "deny",
      );
    }
  });

  it("handles 20,000 small objects at once (ajv's pairwise check took ~10 s)", () => {
    const v = Array.from({ length: 20_000 }, (_, i) => ({ id: i, tags: ["a", "b"] }));
    const start = performance.now();
    expect(holds({ properties: { v: { uniqueItems: true } } }, { v })).toBe(true);
    v.push({ tags: ["a", "b"], id: 19_999 });
    expect(holds({ properties: { v: { uniqueItems: true } } }, { v })).toBe(false);
    expect(performance.now() - start).toBeLessThan(5_000);
  });
});

describe("contains keeps its meaning without keeping an error per item", () => {
  it.each([
    [{ contains: { const: "n" } }, [], false],
    [{ contains: { const: "n" } }, ["a", "n"], true],
    [{ contains: { const: "n" }, minContains: 2 }, ["n", "a", "n"], true],
    [{ contains: { const: "n" }, minContains: 2 }, ["n", "a"], false],
    [{ contains: { const: "n" }, maxContains: 2 }, ["n", "n", "n"], false],
    [{ contains: { const: "n" }, minContains: 0, maxContains: 1 }, [], true],
    [{ contains: { const: "n" }, minContains: 0, maxContains: 1 }, ["a"], true],
    [{ contains: false }, ["a"], false],
    [{ contains: true, minContains: 2 }, ["a"], false],
    [{ contains: { type: "number" }, items: { type: ["number", "string"] } }, ["a", 1], true],
    [{ not: { contains: { const: "n" } } }, ["a", "b"], true],
    [{ anyOf: [{ contains: { const: "n" } }, { maxItems: 0 }] }, [], true],
  ])("%j on %j holds: %s", (schema, v, expected) => {
    expect(holds({ properties: { v: schema } }, { v })).toBe(expected);
  });

  it("explains a failing contains and uniqueItems with their own keyword", async () => {
    const policy = policyOf({
      properties: { a: { contains: { const: "n" }, minContains: 2 }, b: { uniqueItems: true } },
    });
    const one = await policy.explain({
      tool: "t",
      session: { id: "s" },
      args: { a: ["n", ...Array<string>(1000).fill("x")] },
    });
    expect(one.steps.map((s) => s.message).join("\n")).toContain('keyword "contains"');
    const two = await policy.explain({
      tool: "t",
      session: { id: "s" },
      args: {
        b: [
          { x: 1, y: 2 },
          { y: 2, x: 1 },
        ],
      },
    });
    expect(two.steps.map((s) => s.message).join("\n")).toContain('keyword "uniqueItems"');
  });
});

describe("recursion on deep arguments", () => {
  it("a recursive $ref on 100,000-deep arguments is a deny in bounded time, for allow and deny rules", () => {
    const schema = { $defs: { n: { properties: { next: { $ref: "#/$defs/n" } } } }, $ref: "#/$defs/n" };
    const deep = chain(1_000_000);
    const start = performance.now();
    expect(decide(policyOf(schema), deep).outcome).toBe("deny");
    expect(decide(policyOf({ $defs: schema.$defs, not: { $ref: "#/$defs/n" } }, "deny"), deep).outcome).toBe("deny");
    expect(performance.now() - start).toBeLessThan(10_000);
    expect(decide(policyOf(schema), chain(1_000)).outcome).toBe("allow");
  });
});

const PROTO_NAMES = Object.getOwnPropertyNames(Object.prototype);

describe("own properties only", () => {
  const before = snapshotPrototypes();
  afterEach(() => expectPrototypesUntouched(before));

  it.each(PROTO_NAMES)("required: [%j] does not hold on {} and holds when the member is there", (name) => {
    expect(holds({ required: [name] }, {})).toBe(false);
    expect(
      holds(
        { required: ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", name] },
        Object.fromEntries("abcdefghijklmno".split("").map((c) => [c, 1])),
      ),
    ).toBe(false);
    expect(holds({ required: [name] }, JSON.parse(`{${JSON.stringify(name)}: 1}`))).toBe(true);
  });

  it.each(PROTO_NAMES)("properties: { %j: … } checks the member when present, and only then", (name) => {
    // A computed key defines an own member, "__proto__" included.
    const p = policyOf({ properties: { [name]: { const: 1 } } });
    expect(decide(p, {}).outcome).toBe("allow");
    expect(decide(p, JSON.parse(`{${JSON.stringify(name)}: 1}`)).outcome).toBe("allow");
    expect(decide(p, JSON.parse(`{${JSON.stringify(name)}: 2}`)).outcome).toBe("deny");
  });

  it("checks a __proto__ member under properties, patternProperties and the keywords that count them", () => {
    const fromText = (args: string) =>
      compilePolicy(`{"version":"1","default":"deny","tools":{"t":{"rules":[{"when":{"args":${args}}}]}}}`, {
        store: new MemoryStore({ maxKeys: 10 }),
      });
    const member = (v: number) => JSON.parse(`{"__proto__": ${v}}`);
    const cases: [string, unknown, boolean][] = [
      ['{"properties":{"__proto__":{"type":"string"}}}', member(1), false],
      ['{"properties":{"__proto__":{"type":"number"}},"additionalProperties":false}', member(1), true],
      ['{"properties":{"a":{}},"additionalProperties":false}', member(1), false],
      ['{"properties":{"__proto__":true},"unevaluatedProperties":false}', member(1), true],
      ['{"unevaluatedProperties":false}', member(1), false],
      ['{"patternProperties":{"__proto__":false}}', member(1), false],
      ['{"patternProperties":{"__proto__":false}}', {}, true],
      [
        '{"patternProperties":{"^__proto__$":{"const":2}},"properties":{"__proto__":{"type":"number"}}}',
        member(2),
        true,
      ],
      [
        '{"patternProperties":{"^__proto__$":{"const":2}},"properties":{"__proto__":{"type":"number"}}}',
        member(1),
        false,
      ],
      ['{"dependentRequired":{"__proto__":["x"]}}', member(1), false],
      ['{"dependentSchemas":{"__proto__":false}}', member(1), false],
      ['{"dependentSchemas":{"__proto__":false}}', {}, true],
      ['{"propertyNames":{"not":{"const":"__proto__"}}}', member(1), false],
      ['{"maxProperties":0}', member(1), false],
      ['{"properties":{"x":{"properties":{"__proto__":{"const":1}}}}}', { x: member(2) }, false],
    ];
    for (const [schema, args, expected] of cases)
      expect(decide(fromText(schema), args).outcome === "allow", `${schema} on ${JSON.stringify(args)}`).toBe(expected);
  });

  it("explains a failing __proto__ member at the place the policy wrote it", async () => {
    const text = '{"properties":{"x":{"properties":{"__proto__":{"type":"string"}}}}}';
    const policy = compilePolicy(
      `{"version":"1","default":"deny","tools":{"t":{"rules":[{"when":{"args":${text}}}]}}}`,
      {
        store: new MemoryStore({ maxKeys: 10 }),
      },
    );
    const e = await policy.explain({ tool: "t", session: { id: "s" }, args: { x: JSON.parse('{"__proto__": 1}') } });
    expect(e.steps.map((s) => s.path)).toContain("/tools/t/rules/0/when/args/properties/x/properties/__proto__/type");
    expect(decide(policy, { x: JSON.parse('{"__proto__": "s"}') }).outcome).toBe("allow");
  });

  it("ignores members a polluted Object.prototype would add", () => {
    // Non-enumerable, so the engine's own check of the call (which refuses any call while
    // Object.prototype has enumerable additions) lets the call through to the conditions.
    const proto = Object.prototype as Record<string, unknown>;
    const policies = [
      policyOf({ required: ["isAdmin"] }),
      policyOf({ properties: { isAdmin: { const: true } }, required: ["isAdmin"] }),
      policyOf({ minProperties: 1 }),
      policyOf({ dependentRequired: { isAdmin: ["x"] } }),
      policyOf({ not: { additionalProperties: false } }),
      policyOf({ not: { propertyNames: { const: "a" } } }),
    ];
    const expected = policies.map((p) => decide(p, { a: 1 }).outcome);
    Object.defineProperty(proto, "isAdmin", { value: true, enumerable: false, configurable: true, writable: true });
    try {
      expect(policies.map((p) => decide(p, { a: 1 }).outcome)).toEqual(expected);
      expect(expected.slice(0, 2)).toEqual(["deny", "deny"]);
    } finally {
      delete proto.isAdmin;
    }
  });

  it("holds dependentRequired and dependentSchemas on names of Object.prototype only when the member is there", () => {
    expect(holds({ dependentRequired: { toString: ["x"] } }, {})).toBe(true);
    expect(holds({ dependentRequired: { toString: ["x"] } }, { toString: 1 })).toBe(false);
    expect(holds({ dependentSchemas: { constructor: false } }, {})).toBe(true);
    expect(holds({ dependentSchemas: { constructor: false } }, JSON.parse('{"constructor":1}'))).toBe(false);
    expect(holds({ dependencies: { valueOf: ["x"] } }, {})).toBe(true);
    expect(holds({ dependencies: { valueOf: false } }, { valueOf: 1 })).toBe(false);
  });

  it("rejects dependencies on __proto__, which ajv skips, with what to write instead", () => {
    const args = '{"dependencies":{"__proto__":["x"]}}';
    const r = validatePolicy(
      JSON.parse(`{"version":"1","default":"deny","tools":{"t":{"rules":[{"when":{"args":${args}}}]}}}`),
    );
    expect(r.valid).toBe(false);
    if (!r.valid) {
      expect(r.issues).toContainEqual(
        expect.objectContaining({ code: "condition", path: "/tools/t/rules/0/when/args/dependencies/__proto__" }),
      );
      expect(r.issues.map((i) => i.message).join(" ")).toContain("dependentRequired");
    }
  });
});

/** Places in a schema where a subschema sits, with the pointer of a keyword written at each. */
const PLACES: [string, (s: Record<string, unknown>) => unknown, string][] = [
  ["the root", (s) => s, ""],
  ["properties", (s) => ({ properties: { x: s } }), "/properties/x"],
  ["patternProperties", (s) => ({ patternProperties: { "^x": s } }), "/patternProperties/^x"],
  ["additionalProperties", (s) => ({ additionalProperties: s }), "/additionalProperties"],
  ["propertyNames", (s) => ({ propertyNames: s }), "/propertyNames"],
  ["unevaluatedProperties", (s) => ({ unevaluatedProperties: s }), "/unevaluatedProperties"],
  ["dependencies", (s) => ({ dependencies: { x: s } }), "/dependencies/x"],
  ["dependentSchemas", (s) => ({ dependentSchemas: { x: s } }), "/dependentSchemas/x"],
  ["$defs", (s) => ({ $defs: { x: s } }), "/$defs/x"],
  ["definitions", (s) => ({ definitions: { x: s } }), "/definitions/x"],
  ["items", (s) => ({ items: s }), "/items"],
  ["prefixItems", (s) => ({ prefixItems: [{}, s] }), "/prefixItems/1"],
  ["contains", (s) => ({ contains: s }), "/contains"],
  ["unevaluatedItems", (s) => ({ unevaluatedItems: s }), "/unevaluatedItems"],
  ["allOf", (s) => ({ allOf: [s] }), "/allOf/0"],
  ["anyOf", (s) => ({ anyOf: [{}, s] }), "/anyOf/1"],
  ["oneOf", (s) => ({ oneOf: [s] }), "/oneOf/0"],
  ["not", (s) => ({ not: s }), "/not"],
  ["if", (s) => ({ if: s }), "/if"],
  ["then", (s) => ({ then: s }), "/then"],
  ["else", (s) => ({ else: s }), "/else"],
  ["contentSchema", (s) => ({ contentMediaType: "application/json", contentSchema: s }), "/contentSchema"],
  [
    "deep inside",
    (s) => ({ properties: { a: { items: { anyOf: [{ dependencies: { b: { not: s } } }] } } } }),
    "/properties/a/items/anyOf/0/dependencies/b/not",
  ],
];

describe("keywords named like Object.prototype members are unknown keywords, wherever they are", () => {
  const cases = PLACES.flatMap(([place, wrap, at]) => PROTO_NAMES.map((name) => [name, place, wrap, at] as const));
  it.each(cases)("%s in %s", (name, _place, wrap, at) => {
    // Through JSON text, so that "__proto__" is an own member as a policy file writes it.
    const args = JSON.stringify(wrap({ PROTO: 1 })).replace('"PROTO"', JSON.stringify(name));
    const text = `{"version":"1","default":"deny","tools":{"t":{"rules":[{"when":{"args":${args}}}]}}}`;
    const r = validatePolicy(text);
    expect(r.valid).toBe(false);
    if (!r.valid) {
      expect(r.issues, JSON.stringify(r.issues)).toContainEqual(
        expect.objectContaining({
          code: "condition",
          path: `/tools/t/rules/0/when/args${at}/${name}`,
          message: expect.stringContaining("unknown keyword"),
        }),
      );
    }
  });

  it("rejects $async, which would make a condition that never holds synchronously", () => {
    const r = validatePolicy({
      version: "1",
      default: "deny",
      tools: { t: { rules: [{ when: { args: { $async: true, required: ["x"] } }, action: "deny", reason: "no" }] } },
    });
    expect(r.valid).toBe(false);
    if (!r.valid)
      expect(r.issues).toContainEqual(
        expect.objectContaining({ code: "condition", path: "/tools/t/rules/0/when/args/$async" }),
      );
  });

  it("reports each unknown keyword at its path and nothing when all are known", () => {
    expect(
      validatePolicy({
        version: "1",
        default: "deny",
        tools: {
          t: {
            rules: [{ when: { args: { dependencies: { a: { maximum: 1 } }, contentSchema: { type: "string" } } } }],
          },
        },
      }).valid,
    ).toBe(true);
    const r = validatePolicy({
      version: "1",
      default: "deny",
      tools: {
        t: { rules: [{ when: { args: { dependencies: { a: { maximun: 1 } }, contentSchema: { tpye: "x" } } } }] },
      },
    });
    expect(r.valid).toBe(false);
    if (!r.valid) {
      expect(r.issues.map((i) => i.path)).toEqual(
        expect.arrayContaining([
          "/tools/t/rules/0/when/args/dependencies/a/maximun",
          "/tools/t/rules/0/when/args/contentSchema/tpye",
        ]),
      );
    }
  });
});

/** The issues of a policy whose one rule has `when: { args }`; `[]` when it is valid. */
function issuesOf(args: unknown): { code: string; path: string; message: string }[] {
  const r = validatePolicy({ version: "1", default: "deny", tools: { t: { rules: [{ when: { args } }] } } });
  return r.valid ? [] : r.issues;
}

const AT = "/tools/t/rules/0/when/args";

/** `$defs` d0 … d{depth}: each an `op` of `width` `$ref`s to the next, the last `{ type: "string" }`. */
function doubling(depth: number, op = "anyOf", width = 2): Record<string, unknown> {
  const defs: Record<string, unknown> = { [`d${depth}`]: { type: "string" } };
  for (let i = 0; i < depth; i++) {
    defs[`d${i}`] = { [op]: Array.from({ length: width }, () => ({ $ref: `#/$defs/d${i + 1}` })) };
  }
  return defs;
}

/**
 * A schema whose `properties/v` costs exactly `checks` checks of one value. Each `{ $ref }` is a
 * check of its own, so `doubling(k)`'s d0 costs 4 × 2^k - 3 (d11: 8,189); behind one `$ref`
 * (8,190) in an anyOf (1), leaves make up the rest.
 */
function costing(checks: number): Record<string, unknown> {
  const leaves = Array.from({ length: checks - 8_191 }, () => ({ type: "string" }));
  return { $defs: doubling(11), properties: { v: { anyOf: [{ $ref: "#/$defs/d0" }, ...leaves] } } };
}

describe("the checks one value can cost are bounded in the schema (fanout.ts)", () => {
  it(`a schema of exactly ${MAX_CHECKS_PER_VALUE} checks compiles and decides; one more is an issue there`, () => {
    expect(MAX_CHECKS_PER_VALUE).toBe(10_000);
    expect(issuesOf(costing(MAX_CHECKS_PER_VALUE))).toEqual([]);
    const policy = policyOf(costing(MAX_CHECKS_PER_VALUE));
    const start = performance.now();
    // Every branch fails on a number: all 10,000 checks run, and the call is decided.
    expect(decide(policy, { v: 1 }).outcome).toBe("deny");
    expect(decide(policy, { v: "x" }).outcome).toBe("allow");
    expect(performance.now() - start).toBeLessThan(2_000);
    expect(issuesOf(costing(MAX_CHECKS_PER_VALUE + 1))).toEqual([
      {
        code: "condition",
        path: `${AT}/properties/v`,
        message: "this when schema can cost more than 10,000 checks of one value (anyOf/oneOf through $ref multiply)",
      },
    ]);
    expect(() => policyOf(costing(MAX_CHECKS_PER_VALUE + 1))).toThrow(/10,000 checks of one value/);
  });

  it.each(["anyOf", "oneOf", "allOf"])("%s of $refs multiplies, counted once per definition", (op) => {
    // 16,382 checks from a schema of 13 definitions (8,190 from 12): counted in time linear in the schema.
    expect(issuesOf({ $defs: doubling(12, op), $ref: "#/$defs/d0" })).toEqual([
      expect.objectContaining({ code: "condition", path: AT }),
    ]);
    expect(issuesOf({ $defs: doubling(11, op), $ref: "#/$defs/d0" })).toEqual([]);
  });

  it("not, if/then/else, dependentSchemas and dependencies apply in place and are counted", () => {
    const defs: Record<string, unknown> = { d14: true };
    for (let i = 0; i < 14; i++) {
      const next = { $ref: `#/$defs/d${i + 1}` };
      const kinds = [
        { not: { not: next }, if: next },
        { if: next, then: next },
        { dependentSchemas: { a: next, b: next } },
        { dependencies: { a: next, b: ["c"] }, else: next },
      ];
      defs[`d${i}`] = kinds[i % kinds.length];
    }
    expect(issuesOf({ $defs: defs, properties: { v: { $ref: "#/$defs/d0" } } })).toEqual([
      expect.objectContaining({ path: `${AT}/properties/v` }),
    ]);
  });

  it("$refs through $id, $anchor and $dynamicRef resolve and are counted", () => {
    const viaAnchor: Record<string, unknown> = { d14: { $anchor: "a14", type: "string" } };
    for (let i = 0; i < 14; i++) {
      viaAnchor[`d${i}`] = { $anchor: `a${i}`, anyOf: [{ $ref: `#a${i + 1}` }, { $ref: `x.json#a${i + 1}` }] };
    }
    // The second $ref reaches the same definitions through the resource's $id.
    expect(issuesOf({ $id: "https://example.com/x.json", $defs: viaAnchor, $ref: "#a0" })).toEqual([
      expect.objectContaining({ path: AT, message: expect.stringContaining("10,000 checks of one value") }),
    ]);
    const dynamic = { $dynamicAnchor: "m", anyOf: [{ $dynamicRef: "#m" }] };
    expect(issuesOf(dynamic)).toEqual([
      expect.objectContaining({ path: AT, message: expect.stringContaining("never ends on one value") }),
    ]);
  });

  it("a $ref cycle in place never ends: an issue, not a stack overflow at decision time", () => {
    const schema = {
      $defs: { a: { anyOf: [{ type: "number" }, { $ref: "#/$defs/b" }] }, b: { allOf: [{ $ref: "#/$defs/a" }] } },
    };
    expect(issuesOf({ ...schema, properties: { v: { $ref: "#/$defs/a" } } })).toEqual([
      expect.objectContaining({ code: "condition", path: `${AT}/properties/v` }),
    ]);
    expect(issuesOf({ $ref: "#" })).toEqual([expect.objectContaining({ path: AT })]);
  });

  it("a chain of 100,000 $refs is an issue in bounded time, not a crash", () => {
    const defs: Record<string, unknown> = { d100000: true };
    for (let i = 0; i < 100_000; i++) defs[`d${i}`] = { $ref: `#/$defs/d${i + 1}` };
    const start = performance.now();
    expect(issuesOf({ $defs: defs, $ref: "#/$defs/d0" })).toEqual([expect.objectContaining({ path: AT })]);
    expect(performance.now() - start).toBeLessThan(10_000);
  });

  it("recursion through members and items (a tree of children) still compiles, one check per node", () => {
    const tree = {
      $defs: {
        node: {
          type: "object",
          required: ["name"],
          properties: {
            name: { type: "string" },
            left: { $ref: "#/$defs/node" },
            right: { $ref: "#/$defs/node" },
            children: { type: "array", items: { $ref: "#/$defs/node" } },
          },
          additionalProperties: { anyOf: [{ $ref: "#/$defs/node" }, { type: "number" }] },
        },
      },
      $ref: "#/$defs/node",
    };
    expect(issuesOf(tree)).toEqual([]);
    const make = (depth: number): Record<string, unknown> =>
      depth === 0
        ? { name: "leaf" }
        : { name: `n${depth}`, left: make(depth - 1), right: make(depth - 1), children: [{ name: "c" }], n: 1 };
    const policy = policyOf(tree);
    expect(decide(policy, make(12)).outcome).toBe("allow");
    const bad = make(12);
    (bad.left as { right: Record<string, unknown> }).right = { name: 1 };
    expect(decide(policy, bad).outcome).toBe("deny");
  });
});
