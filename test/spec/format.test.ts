/**
 * docs/spec.md §1: the policy document. Required fields, the version message, unknown fields
 * anywhere, duplicate keys in JSON text, windows, limits and `per`, rule objects and `rules`.
 */

import { describe, expect, it } from "vitest";
import { doc, issuesOf, pathsOf, valid } from "./helpers.js";

describe("required fields and metadata", () => {
  it("accepts the example document of docs/spec.md §1", () => {
    valid({
      $schema: "https://toolgate.dev/schemas/policy.v1.json",
      version: "1",
      name: "mlflow-readonly",
      default: "deny",
      limits: [{ max: 100, window: "1m" }],
      tools: {
        get_run_metric: {},
        "delete_*": { action: "deny", reason: "Destructive operations are blocked" },
        create_run: { rate_limit: { max: 10, window: 60 } },
        update_run: { action: "require_approval", reason: "Changes run metadata" },
        search_runs: {
          rules: [
            {
              when: { args: { properties: { max_results: { type: "integer", maximum: 1000 } } } },
              rate_limit: { max: 30, window: "1m" },
            },
            { action: "deny", reason: "max_results must be at most 1000" },
          ],
        },
      },
    });
  });

  it.each(["version", "default", "tools"])("requires %s", (field) => {
    const d = doc({});
    delete d[field];
    const issues = issuesOf(d);
    // The field is named by the path (`/version: is required`) or, at the root, by the message.
    expect(issues.some((i) => i.path === `/${field}` || (i.path === "" && i.message.includes(field)))).toBe(true);
  });

  it.each([["2"], [1], ["1.0"], [null], ["v1"]])("rejects version %j naming the supported version", (version) => {
    const issues = issuesOf(doc({}, { version }));
    expect(issues[0]!.path).toBe("/version");
    expect(issues[0]!.message).toContain('"1"');
  });

  it("accepts name, description and any $schema string as metadata", () => {
    valid(doc({}, { name: "n", description: "d", $schema: "./node_modules/toolgate/schemas/policy.v1.schema.json" }));
  });

  it.each([
    ["name", 1],
    ["description", {}],
    ["$schema", 3],
  ])("rejects a %s that is not a string", (field, value) => {
    expect(pathsOf(doc({}, { [field]: value }))).toContain(`/${field}`);
  });

  it.each([[[]], ["x"], [null], [1]])("rejects tools %j that is not an object", (tools) => {
    expect(pathsOf(doc({}, { tools }))).toContain("/tools");
  });

  it("accepts an empty tools object, and {} as allow", () => {
    valid(doc({}));
    valid(doc({ t: {} }));
  });

  it("rejects a document that is not an object", () => {
    for (const d of [null, 1, "x", [], true]) expect(pathsOf(d)).toContain("");
  });
});

describe("unknown fields anywhere are errors", () => {
  it.each([
    ["top level", doc({}, { rate_limits: [] }), "/rate_limits"],
    ["a rule", doc({ t: { rate_limits: { max: 1, window: 1 } } }), "/tools/t/rate_limits"],
    ["a limit", doc({ t: { rate_limit: { max: 1, window: 1, burst: 2 } } }), "/tools/t/rate_limit/burst"],
    [
      "a limit in an array",
      doc({
        t: {
          rate_limit: [
            { max: 1, window: 1 },
            { max: 1, window: 1, pre: "global" },
          ],
        },
      }),
      "/tools/t/rate_limit/1/pre",
    ],
    ["policy limits", doc({}, { limits: [{ max: 1, window: 1, scope: "global" }] }), "/limits/0/scope"],
    ["a conditional rule", doc({ t: { rules: [{ wen: {} }] } }), "/tools/t/rules/0/wen"],
    ["when", doc({ t: { rules: [{ when: { arguments: {} } }] } }), "/tools/t/rules/0/when/arguments"],
    ["default", doc({}, { default: { action: "deny", reasons: "x" } }), "/default/reasons"],
  ])("in %s", (_, d, path) => {
    const issues = issuesOf(d);
    expect(issues.map((i) => i.path)).toContain(path);
    const issue = issues.find((i) => i.path === path)!;
    expect(issue.message).toContain(path.split("/").pop()!);
  });
});

describe("duplicate keys in JSON text", () => {
  it("reports a duplicate key at any depth, with line and column", () => {
    const text =
      '{\n  "version": "1",\n  "default": "deny",\n  "tools": {\n    "a": {},\n    "a": { "action": "deny" }\n  }\n}';
    const issues = issuesOf(text);
    const dup = issues.find((i) => i.path === "/tools/a");
    expect(dup, JSON.stringify(issues)).toBeDefined();
    expect(dup!.message.toLowerCase()).toContain("duplicate");
    expect(dup!.line).toBe(6);
    expect(typeof dup!.column).toBe("number");
  });

  it("reports a duplicate top-level key", () => {
    expect(pathsOf('{"version":"1","default":"allow","default":"deny","tools":{}}')).toContain("/default");
  });

  it("treats keys that differ only after JSON unescaping as duplicates", () => {
    expect(pathsOf('{"version":"1","default":"deny","tools":{"a":{},"\\u0061":{}}}')).toContain("/tools/a");
  });

  it("reports invalid JSON text as an issue, never a SyntaxError", () => {
    for (const text of ["{", "", "{'version': '1'}", '{"version":"1",}', "nul", '{"a":1} x'])
      expect(issuesOf(text).length).toBeGreaterThan(0);
  });

  it("parses JSON text as the same document as the object", () => {
    valid('{"version":"1","default":"deny","tools":{"a":{"rate_limit":{"max":1,"window":"500ms"}}}}');
  });
});

describe("rule objects", () => {
  it.each(["allow", "deny", "require_approval"])("accepts action %s and default %s", (action) => {
    valid(doc({ t: { action } }, { default: action }));
  });

  it.each([["block"], ["ALLOW"], [""], [null], [true]])("rejects action %j", (action) => {
    expect(pathsOf(doc({ t: { action } }))).toContain("/tools/t/action");
  });

  it("rejects a default string that is not an action", () => {
    expect(pathsOf(doc({}, { default: "permit" }))).toContain("/default");
  });

  it("rejects a reason that is not a string", () => {
    expect(pathsOf(doc({ t: { action: "deny", reason: 3 } }))).toContain("/tools/t/reason");
  });

  it.each([
    ["action", "deny"],
    ["rate_limit", { max: 1, window: 1 }],
    ["reason", "x"],
  ])("rejects rules combined with %s", (field, value) => {
    const paths = pathsOf(doc({ t: { rules: [{}], [field]: value } }));
    expect(
      paths.some((p) => p === "/tools/t" || p === `/tools/t/${field}`),
      JSON.stringify(paths),
    ).toBe(true);
  });

  it("rejects rules inside a conditional rule", () => {
    expect(pathsOf(doc({ t: { rules: [{ rules: [] }] } })).some((p) => p.startsWith("/tools/t/rules/0"))).toBe(true);
  });

  it("rejects rules that is not an array", () => {
    expect(pathsOf(doc({ t: { rules: {} } }))).toContain("/tools/t/rules");
  });

  it("rejects a rule that is not an object", () => {
    for (const rule of ["allow", null, [], 1]) expect(pathsOf(doc({ t: rule }))).toContain("/tools/t");
  });

  it("reports every issue, not just the first", () => {
    const paths = pathsOf(doc({ a: { action: "nope" }, b: { rate_limit: { max: 0, window: 1 } } }, { extra: 1 }));
    expect(paths).toEqual(expect.arrayContaining(["/tools/a/action", "/tools/b/rate_limit/max", "/extra"]));
  });

  it("reports duplicate keys with every other issue of the shape", () => {
    const text =
      '{"version": "1", "default": "deny", "tools": {"a": {}, "a": {}, "b": {"action": "nope"}}, "extra": 1}';
    expect(pathsOf(text)).toEqual(expect.arrayContaining(["/tools/a", "/tools/b/action", "/extra"]));
  });

  // docs/spec.md §2: "All issues are reported, not just the first": the checks that only the
  // compiler can make (a fractional max without cost, a constant cost above max, ids that
  // disagree or repeat) are issues like the others, whatever else is wrong in the document.
  it("reports the compiler's issues together with shape issues and duplicate keys", () => {
    const limits = [
      { max: 1.5, window: 1 },
      { max: 1, window: 1, cost: 2 },
      { id: "x", max: 1, window: 1 },
      { id: "x", max: 2, window: 1 },
    ];
    const expected = ["/limits/0/max", "/limits/1/cost", "/limits/2/id", "/limits/3/id"];
    expect(pathsOf(doc({ t: {} }, { limits }))).toEqual(expect.arrayContaining(expected));
    expect(pathsOf(doc({ t: { action: "nope" } }, { limits }))).toEqual(
      expect.arrayContaining(["/tools/t/action", ...expected]),
    );
    const text = JSON.stringify(doc({ t: {} }, { limits })).replace('"tools":{', '"tools":{"u":{},"u":{},');
    expect(pathsOf(text)).toEqual(expect.arrayContaining(["/tools/u", ...expected]));
  });

  it("writes issues for a policy author: path, code and the value found", () => {
    const [issue] = issuesOf(doc({ create_run: { rate_limit: { max: 0, window: 60 } } }));
    expect(issue).toMatchObject({ code: "value", path: "/tools/create_run/rate_limit/max" });
    expect(issue!.message).toContain("got 0");
    const [fraction] = issuesOf(doc({ create_run: { rate_limit: { max: 2.5, window: 60 } } }));
    expect(fraction).toMatchObject({ code: "value", path: "/tools/create_run/rate_limit/max" });
    expect(fraction!.message).toMatch(/integer/);
    expect(fraction!.message).toContain("cost");
  });

  it("escapes / and ~ in issue paths (RFC 6901)", () => {
    expect(pathsOf(doc({ "a/b~c": { action: "x" } }))).toContain("/tools/a~1b~0c/action");
  });
});

describe("limits", () => {
  it.each([["500ms"], ["30s"], ["5m"], ["1h"], ["1d"], ["1ms"], [60], [0.5], [0.001], [1.5], [86400]])(
    "accepts window %j",
    (window) => {
      valid(doc({ t: { rate_limit: { max: 1, window } } }));
    },
  );

  it.each([
    [0],
    [-1],
    [0.0005],
    [1.0001],
    ["0s"],
    ["0ms"],
    ["1.5s"],
    ["0.5s"],
    ["1S"],
    ["1sec"],
    ["1 s"],
    [" 1s"],
    ["1w"],
    ["s"],
    [""],
    ["-1s"],
    ["1e3ms"],
    [null],
    [true],
    [[1]],
    [{}],
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
  ])("rejects window %j at its path", (window) => {
    expect(pathsOf(doc({ t: { rate_limit: { max: 1, window } } }))).toContain("/tools/t/rate_limit/window");
  });

  it.each([[0], [-1], [1.5], ["1"], [null], [Number.NaN]])("rejects max %j", (max) => {
    expect(pathsOf(doc({ t: { rate_limit: { max, window: 1 } } }))).toContain("/tools/t/rate_limit/max");
  });

  it("requires max and window", () => {
    expect(pathsOf(doc({ t: { rate_limit: { window: 1 } } })).some((p) => p.startsWith("/tools/t/rate_limit"))).toBe(
      true,
    );
    expect(pathsOf(doc({ t: { rate_limit: { max: 1 } } })).some((p) => p.startsWith("/tools/t/rate_limit"))).toBe(true);
  });

  it.each([["session"], ["global"], ["/userId"], ["/org/id"], ["/a~1b"], ["/"]])("accepts per %j", (per) => {
    valid(doc({ t: { rate_limit: { max: 1, window: 1, per } } }));
  });

  it.each([["user"], ["Session"], [""], ["userId"], [1], [null], ["/a~2"]])("rejects per %j", (per) => {
    expect(pathsOf(doc({ t: { rate_limit: { max: 1, window: 1, per } } }))).toContain("/tools/t/rate_limit/per");
  });

  it("accepts rate_limit as one limit or an array of limits, and policy limits as an array", () => {
    valid(
      doc(
        {
          t: {
            rate_limit: [
              { max: 1, window: 1 },
              { max: 5, window: "1m", per: "global" },
            ],
          },
        },
        { limits: [{ max: 3, window: "1h" }] },
      ),
    );
  });

  it("rejects policy limits that are not an array", () => {
    expect(pathsOf(doc({}, { limits: { max: 1, window: 1 } }))).toContain("/limits");
  });
});
