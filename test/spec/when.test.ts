/**
 * docs/spec.md §1 "rules" and "Conditional rule": `when` on args, session and annotations, JSON
 * Schema 2020-12 with unknown keywords and formats as errors and nothing stricter than JSON
 * Schema, no coercion or defaults, arguments never changed, `$ref` within the schema, and the
 * fall-back to `default` when no rule holds.
 */

import { describe, expect, it } from "vitest";
import { call, compile, doc, issuesOf, pathsOf, valid } from "./helpers.js";

const rulesOf = (rules: unknown[], rest: Record<string, unknown> = {}) => compile(doc({ t: { rules } }, rest));

describe("when: what is validated", () => {
  it("validates args, session and annotations; all present must hold", () => {
    const policy = rulesOf([
      {
        when: {
          args: { properties: { n: { maximum: 5 } } },
          session: { properties: { role: { const: "admin" } }, required: ["role"] },
          annotations: { properties: { readOnlyHint: { const: true } }, required: ["readOnlyHint"] },
        },
      },
    ]);
    const ok = { args: { n: 1 }, annotations: { readOnlyHint: true } };
    expect(policy.decideSync({ tool: "t", session: { id: "s", role: "admin" }, ...ok })).toMatchObject({
      outcome: "allow",
      rule: "/tools/t/rules/0",
    });
    expect(policy.decideSync({ tool: "t", session: { id: "s", role: "user" }, ...ok }).rule).toBe("/default");
    expect(policy.decideSync({ tool: "t", session: { id: "s", role: "admin" }, ...ok, args: { n: 6 } }).rule).toBe(
      "/default",
    );
    expect(policy.decideSync({ tool: "t", session: { id: "s", role: "admin" }, args: { n: 1 } }).rule).toBe("/default");
  });

  it("validates the session including its id", () => {
    const policy = rulesOf([{ when: { session: { properties: { id: { pattern: "^admin-" } } } } }]);
    expect(policy.decideSync(call("t", {}, "admin-1")).rule).toBe("/tools/t/rules/0");
    expect(policy.decideSync(call("t", {}, "user-1")).rule).toBe("/default");
  });

  it("validates {} when args or annotations are absent", () => {
    const empty = rulesOf([{ when: { args: { const: {} }, annotations: { const: {} } } }]);
    expect(empty.decideSync(call("t")).rule).toBe("/tools/t/rules/0");
    const needs = rulesOf([{ when: { args: { required: ["x"] } } }]);
    expect(needs.decideSync(call("t")).rule).toBe("/default");
    const typed = rulesOf([{ when: { args: { type: "object" }, annotations: { type: "object", maxProperties: 0 } } }]);
    expect(typed.decideSync(call("t")).rule).toBe("/tools/t/rules/0");
  });

  it("holds always for a rule without when, and for an empty when", () => {
    expect(rulesOf([{ when: {} }]).decideSync(call("t")).rule).toBe("/tools/t/rules/0");
    expect(rulesOf([{ action: "deny", reason: "no" }]).decideSync(call("t"))).toEqual({
      outcome: "deny",
      rule: "/tools/t/rules/0",
      reason: "no",
      cause: "policy",
    });
  });

  it("accepts boolean schemas", () => {
    expect(
      rulesOf([
        { when: { args: false } },
        { when: { args: true }, action: "require_approval", reason: "r" },
      ]).decideSync(call("t")),
    ).toEqual({
      outcome: "needs_approval",
      rule: "/tools/t/rules/1",
      reason: "r",
    });
  });

  it("lets the first rule that holds decide", () => {
    const policy = rulesOf([
      { when: { args: { properties: { n: { minimum: 10 } } } }, action: "deny", reason: "big" },
      { when: { args: { properties: { n: { minimum: 5 } } } }, action: "require_approval", reason: "medium" },
      {},
    ]);
    expect(policy.decideSync(call("t", { args: { n: 11 } }))).toMatchObject({
      outcome: "deny",
      rule: "/tools/t/rules/0",
      reason: "big",
    });
    expect(policy.decideSync(call("t", { args: { n: 6 } }))).toMatchObject({
      outcome: "needs_approval",
      rule: "/tools/t/rules/1",
    });
    expect(policy.decideSync(call("t", { args: { n: 1 } }))).toMatchObject({
      outcome: "allow",
      rule: "/tools/t/rules/2",
    });
  });
});

describe("when: JSON Schema as written, nothing stricter", () => {
  it("needs no type: a numeric keyword ignores non-numbers", () => {
    const policy = rulesOf([{ when: { args: { properties: { n: { maximum: 5 } } } } }]);
    expect(policy.decideSync(call("t", { args: { n: "100" } })).rule).toBe("/tools/t/rules/0");
    expect(policy.decideSync(call("t", { args: {} })).rule).toBe("/tools/t/rules/0");
  });

  it("allows required to name properties that properties does not describe", () => {
    valid(doc({ t: { rules: [{ when: { args: { required: ["a", "b"] } } }] } }));
    const policy = rulesOf([{ when: { args: { properties: { a: { type: "string" } }, required: ["b"] } } }]);
    expect(policy.decideSync(call("t", { args: { b: 1 } })).rule).toBe("/tools/t/rules/0");
    expect(policy.decideSync(call("t", { args: { a: "x" } })).rule).toBe("/default");
  });

  it("allows additional properties unless the schema forbids them", () => {
    const open = rulesOf([{ when: { args: { properties: { a: {} } } } }]);
    expect(open.decideSync(call("t", { args: { a: 1, z: 2 } })).rule).toBe("/tools/t/rules/0");
    const closed = rulesOf([{ when: { args: { properties: { a: {} }, additionalProperties: false } } }]);
    expect(closed.decideSync(call("t", { args: { a: 1, z: 2 } })).rule).toBe("/default");
  });

  it("does not coerce types", () => {
    const policy = rulesOf([
      { when: { args: { properties: { n: { type: "integer" }, b: { type: "boolean" }, s: { type: "string" } } } } },
    ]);
    expect(policy.decideSync(call("t", { args: { n: "5" } })).rule).toBe("/default");
    expect(policy.decideSync(call("t", { args: { b: "true" } })).rule).toBe("/default");
    expect(policy.decideSync(call("t", { args: { s: 5 } })).rule).toBe("/default");
    expect(policy.decideSync(call("t", { args: { n: [5] } })).rule).toBe("/default");
    expect(policy.decideSync(call("t", { args: { n: 5.0, b: false, s: "" } })).rule).toBe("/tools/t/rules/0");
  });

  it("fills in no defaults, removes nothing and never changes the arguments", () => {
    const schema = {
      properties: { a: { default: 1 }, nested: { properties: { d: { default: "x" } }, additionalProperties: false } },
      additionalProperties: true,
    };
    const policy = rulesOf([{ when: { args: schema } }, { when: { args: { required: ["a"] } }, action: "deny" }]);
    const args = { nested: { e: 1 }, other: [1, 2] };
    const before = JSON.stringify(args);
    const frozen = Object.freeze({ x: Object.freeze({ y: 1 }) });
    policy.decideSync(call("t", { args }));
    expect(JSON.stringify(args)).toBe(before);
    expect(Object.keys(args)).toEqual(["nested", "other"]);
    expect(policy.decideSync(call("t", { args: frozen })).outcome).not.toBe("deny");
    const removeAdditional = rulesOf([{ when: { args: { properties: { a: {} }, additionalProperties: false } } }, {}]);
    const extra = { a: 1, b: 2 };
    expect(removeAdditional.decideSync(call("t", { args: extra })).rule).toBe("/tools/t/rules/1");
    expect(extra).toEqual({ a: 1, b: 2 });
  });

  it("checks the standard formats", () => {
    const policy = rulesOf([
      {
        when: {
          args: {
            properties: {
              e: { format: "email" },
              d: { format: "date-time" },
              u: { format: "uri" },
              i: { format: "uuid" },
            },
          },
        },
      },
    ]);
    expect(
      policy.decideSync(
        call("t", {
          args: {
            e: "a@b.example",
            d: "2026-01-01T00:00:00Z",
            u: "https://x.example/",
            i: "123e4567-e89b-12d3-a456-426614174000",
          },
        }),
      ).rule,
    ).toBe("/tools/t/rules/0");
    for (const bad of [{ e: "not an email" }, { d: "yesterday" }, { u: "no scheme" }, { i: "1234" }]) {
      expect(policy.decideSync(call("t", { args: bad })).rule, JSON.stringify(bad)).toBe("/default");
    }
  });

  it("checks pattern, patternProperties and propertyNames (ECMA-262 syntax, unanchored)", () => {
    const pattern = rulesOf([
      { when: { args: { properties: { path: { pattern: "^/tmp/" }, id: { pattern: "[0-9]+" } } } } },
    ]);
    expect(pattern.decideSync(call("t", { args: { path: "/tmp/x", id: "run-42" } })).rule).toBe("/tools/t/rules/0");
    expect(pattern.decideSync(call("t", { args: { path: "/etc/passwd" } })).rule).toBe("/default");
    expect(pattern.decideSync(call("t", { args: { id: "run" } })).rule).toBe("/default");
    const props = rulesOf([{ when: { args: { patternProperties: { "^x": { type: "integer" } } } } }]);
    expect(props.decideSync(call("t", { args: { x1: 1, y: "s" } })).rule).toBe("/tools/t/rules/0");
    expect(props.decideSync(call("t", { args: { x1: "s" } })).rule).toBe("/default");
    const names = rulesOf([{ when: { args: { propertyNames: { pattern: "^[a-z]+$" } } } }]);
    expect(names.decideSync(call("t", { args: { ok: 1 } })).rule).toBe("/tools/t/rules/0");
    expect(names.decideSync(call("t", { args: { "Not-ok": 1 } })).rule).toBe("/default");
  });

  it("resolves $ref and $defs within the one when schema", () => {
    const args = {
      $defs: { small: { type: "integer", maximum: 3 } },
      properties: { a: { $ref: "#/$defs/small" }, b: { $ref: "#/$defs/small" } },
    };
    const policy = rulesOf([{ when: { args } }]);
    expect(policy.decideSync(call("t", { args: { a: 1, b: 2 } })).rule).toBe("/tools/t/rules/0");
    expect(policy.decideSync(call("t", { args: { a: 1, b: 4 } })).rule).toBe("/default");
    const withId = {
      $id: "https://example.test/args",
      $defs: { s: { type: "string" } },
      properties: { a: { $ref: "https://example.test/args#/$defs/s" } },
    };
    expect(rulesOf([{ when: { args: withId } }]).decideSync(call("t", { args: { a: 1 } })).rule).toBe("/default");
  });

  it("lets two when schemas use the same $id without clashing", () => {
    const s = (max: number) => ({ $id: "https://example.test/same", properties: { n: { maximum: max } } });
    const policy = compile(
      doc({ a: { rules: [{ when: { args: s(1) } }] }, b: { rules: [{ when: { args: s(10) } }] } }),
    );
    expect(policy.decideSync(call("a", { args: { n: 5 } })).rule).toBe("/default");
    expect(policy.decideSync(call("b", { args: { n: 5 } })).rule).toBe("/tools/b/rules/0");
  });
});

describe("when: schema errors are policy errors at their path", () => {
  it("rejects an unknown keyword (a typo must not make a schema that always holds)", () => {
    const issues = issuesOf(doc({ t: { rules: [{ when: { args: { properties: { n: { maximun: 3 } } } } }] } }));
    expect(issues.some((i) => i.path.startsWith("/tools/t/rules/0/when/args") && i.message.includes("maximun"))).toBe(
      true,
    );
  });

  it("reports every unknown keyword of one when schema, not just the first", () => {
    const paths = pathsOf(
      doc({ t: { rules: [{ when: { args: { maximun: 3, minimun: 1, properties: { a: { tpye: "string" } } } } }] } }),
    );
    expect(paths).toEqual(
      expect.arrayContaining([
        "/tools/t/rules/0/when/args/maximun",
        "/tools/t/rules/0/when/args/minimun",
        "/tools/t/rules/0/when/args/properties/a/tpye",
      ]),
    );
  });

  it("rejects an unknown format", () => {
    const paths = pathsOf(doc({ t: { rules: [{ when: { args: { properties: { e: { format: "emial" } } } } }] } }));
    expect(paths.some((p) => p.startsWith("/tools/t/rules/0/when/args"))).toBe(true);
  });

  it("rejects a $ref that points outside the schema", () => {
    for (const ref of ["https://example.test/other.json", "other.json#/x", "#/$defs/missing"]) {
      const paths = pathsOf(doc({ t: { rules: [{ when: { session: { $ref: ref } } }] } }));
      expect(
        paths.some((p) => p.startsWith("/tools/t/rules/0/when/session")),
        `${ref}: ${JSON.stringify(paths)}`,
      ).toBe(true);
    }
  });

  it("rejects a schema that is not an object or a boolean, and an invalid keyword value", () => {
    expect(
      pathsOf(doc({ t: { rules: [{ when: { args: 1 } }] } })).some((p) => p.startsWith("/tools/t/rules/0/when/args")),
    ).toBe(true);
    expect(
      pathsOf(doc({ t: { rules: [{ when: { args: { type: "integr" } } }] } })).some((p) =>
        p.startsWith("/tools/t/rules/0/when/args"),
      ),
    ).toBe(true);
    expect(
      pathsOf(doc({ t: { rules: [{ when: { args: { minimum: "3" } } }] } })).some((p) =>
        p.startsWith("/tools/t/rules/0/when/args"),
      ),
    ).toBe(true);
  });

  it("reports a schema error in default's rules at its path", () => {
    const paths = pathsOf(doc({}, { default: { rules: [{ when: { annotations: { readOnlyHnt: true } } }] } }));
    expect(paths.some((p) => p.startsWith("/default/rules/0/when/annotations"))).toBe(true);
  });
});

describe("rules: falling back to default", () => {
  it("lets default decide when no rule holds, not another key that matches", () => {
    const policy = compile(
      doc(
        {
          "search_*": { action: "deny", reason: "other key" },
          search_runs: { rules: [{ when: { args: { required: ["q"] } } }] },
        },
        { default: { action: "require_approval", reason: "fallback" } },
      ),
    );
    expect(policy.decideSync(call("search_runs", { args: {} }))).toEqual({
      outcome: "needs_approval",
      rule: "/default",
      reason: "fallback",
    });
    expect(policy.decideSync(call("search_runs", { args: { q: "x" } })).rule).toBe("/tools/search_runs/rules/0");
  });

  it("uses default's own rules, and denies with rule /default when none holds", () => {
    const policy = compile(
      doc(
        { t: { rules: [{ when: { args: false } }] } },
        { default: { rules: [{ when: { session: { required: ["vip"] } } }] } },
      ),
    );
    expect(policy.decideSync({ tool: "t", session: { id: "s", vip: true } })).toMatchObject({
      outcome: "allow",
      rule: "/default/rules/0",
    });
    const d = policy.decideSync(call("t"));
    expect(d).toMatchObject({ outcome: "deny", rule: "/default" });
    expect(d.outcome === "deny" && d.reason.length > 0).toBe(true);
    expect(policy.decideSync(call("unmatched")).rule).toBe("/default");
  });

  it.each([
    ["allow", { outcome: "allow", rule: "/default" }],
    ["deny", { outcome: "deny", rule: "/default" }],
    ["require_approval", { outcome: "needs_approval", rule: "/default" }],
  ])("falls back to default %s", (dflt, expected) => {
    const policy = compile(doc({ t: { rules: [{ when: { args: false } }] } }, { default: dflt }));
    expect(policy.decideSync(call("t"))).toMatchObject(expected);
  });
});
