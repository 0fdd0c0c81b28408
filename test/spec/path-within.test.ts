/**
 * docs/spec.md section 1, "Two keywords beyond JSON Schema": `pathWithin`, sentence by sentence,
 * through the public API of the built package.
 */

import { compilePolicy, type Decision } from "toolgate";
import { describe, expect, it } from "vitest";
import { call, compile, doc, issuesOf, valid } from "./helpers.js";

/** A policy allowing `read` when `args.path` satisfies `pathWithin: roots`; everything else denied. */
function within(roots: unknown) {
  return compile(
    doc({ read: { rules: [{ when: { args: { properties: { path: { pathWithin: roots } }, required: ["path"] } } }] } }),
  );
}

const outcome = (d: Decision) => d.outcome;

describe("pathWithin holds for an absolute path inside a listed directory, resolved lexically", () => {
  const policy = within("/workspace");
  const allowed = (path: unknown) => outcome(policy.decideSync(call("read", { args: { path } })));

  it.each([
    "/workspace",
    "/workspace/",
    "/workspace/a.txt",
    "/workspace/a/b/c",
    "/workspace//a",
    "//workspace/a",
    "/workspace/./a",
    "/./workspace/a/.",
    "/workspace/a/../b",
    "/workspace/a/..",
    "/etc/../workspace/a",
    "/../workspace/a",
    "/../../../workspace",
    "/workspace/%2e%2e/etc/passwd",
    "/workspace/...",
    "/workspace/..a",
    "/workspace/a..",
    "/workspace/.hidden",
    "/workspace/ spaced name ",
    "/workspace/bücher/ファイル",
  ])("%j is within /workspace", (path) => {
    expect(allowed(path)).toBe("allow");
  });

  it.each([
    "/",
    "/workspace2",
    "/workspace2/a",
    "/workspac",
    "/works",
    "/Workspace/a",
    "/workspace/..",
    "/workspace/../",
    "/workspace/../etc/passwd",
    "/workspace/a/../../etc",
    "/workspace/./../etc",
    "//workspace/..//etc",
    "/workspace/a/b/../../../etc",
    "/etc/passwd",
  ])("%j is not within /workspace", (path) => {
    expect(allowed(path)).toBe("deny");
  });

  it.each([
    ["an empty path", ""],
    ["a relative path", "workspace/a"],
    ["a dot-relative path", "./workspace/a"],
    ["a home path (~ is not expanded)", "~/workspace"],
    ["a path with NUL", "/workspace/a\u0000.txt"],
    ["a path with NUL at the end", "/workspace/a\u0000"],
    ["a path with a backslash", "/workspace\\..\\etc\\passwd"],
    ["a path with a backslash inside a name", "/workspace/a\\b"],
    ["a Windows path", "C:\\workspace"],
    ["a file: URL", "file:///workspace/a"],
  ])("fails for %s", (_what, path) => {
    expect(allowed(path)).toBe("deny");
  });

  it.each([
    ["a number", 5],
    ["null", null],
    ["a boolean", true],
    ["an array holding the path", ["/workspace/a"]],
    ["an object", { path: "/workspace/a" }],
  ])("fails (rather than holds) for a value of another type: %s", (_what, path) => {
    expect(allowed(path)).toBe("deny");
  });

  it("fails for a path longer than 65,536 characters, and holds for one of exactly that length", () => {
    const at = (n: number) => `/workspace/${"a".repeat(n - "/workspace/".length)}`;
    expect(allowed(at(65_536))).toBe("allow");
    expect(allowed(at(65_537))).toBe("deny");
  });

  it("is JSON Schema about absence: a missing property is not checked unless it is required", () => {
    const loose = compile(
      doc({ read: { rules: [{ when: { args: { properties: { path: { pathWithin: "/w" } } } } }] } }),
    );
    expect(loose.decideSync(call("read", { args: {} })).outcome).toBe("allow");
    expect(policy.decideSync(call("read", { args: {} })).outcome).toBe("deny");
  });
});

describe("pathWithin lists", () => {
  it("holds under any listed directory, and only under those", () => {
    const policy = within(["/srv/a", "/srv/b/c"]);
    const o = (path: string) => policy.decideSync(call("read", { args: { path } })).outcome;
    expect(o("/srv/a/x")).toBe("allow");
    expect(o("/srv/b/c")).toBe("allow");
    expect(o("/srv/b/c/d/e")).toBe("allow");
    expect(o("/srv/b")).toBe("deny");
    expect(o("/srv/b/cd")).toBe("deny");
    expect(o("/srv")).toBe("deny");
  });

  it("normalises listed paths like values: `.`, `//` and a trailing `/`", () => {
    for (const root of ["/workspace/", "//workspace", "/./workspace/.", "/workspace//"]) {
      const policy = within(root);
      expect(policy.decideSync(call("read", { args: { path: "/workspace/a" } })).outcome, root).toBe("allow");
      expect(policy.decideSync(call("read", { args: { path: "/workspace2" } })).outcome, root).toBe("deny");
    }
  });

  it("with `/` listed, every absolute path is within, and nothing else", () => {
    const policy = within("/");
    expect(policy.decideSync(call("read", { args: { path: "/etc/../../x" } })).outcome).toBe("allow");
    expect(policy.decideSync(call("read", { args: { path: "etc" } })).outcome).toBe("deny");
    expect(policy.decideSync(call("read", { args: { path: "/a\\b" } })).outcome).toBe("deny");
  });
});

describe("pathWithin works anywhere in a when schema", () => {
  const cases: [string, unknown, unknown, unknown][] = [
    [
      "items",
      { properties: { paths: { items: { pathWithin: "/w" } } } },
      { paths: ["/w/a", "/w/b"] },
      { paths: ["/w/a", "/w/../x"] },
    ],
    ["prefixItems", { properties: { p: { prefixItems: [{ pathWithin: "/w" }] } } }, { p: ["/w/a", 1] }, { p: ["/x"] }],
    [
      "patternProperties",
      { patternProperties: { "^dest": { pathWithin: "/w" } } },
      { dest1: "/w/a" },
      { dest1: "/w2" },
    ],
    [
      "additionalProperties",
      { additionalProperties: { pathWithin: "/w" } },
      { a: "/w", b: "/w/b" },
      { a: "/w", b: "/" },
    ],
    [
      "anyOf",
      { properties: { p: { anyOf: [{ pathWithin: "/a" }, { pathWithin: "/b" }] } } },
      { p: "/b/x" },
      { p: "/c" },
    ],
    [
      "allOf",
      { properties: { p: { allOf: [{ pathWithin: "/a" }, { pathWithin: "/a/b" }] } } },
      { p: "/a/b/c" },
      { p: "/a/c" },
    ],
    [
      "oneOf",
      { properties: { p: { oneOf: [{ pathWithin: "/a" }, { pathWithin: "/a/b" }] } } },
      { p: "/a/c" },
      { p: "/a/b/c" },
    ],
    ["not", { properties: { p: { not: { pathWithin: "/secret" } } } }, { p: "/public" }, { p: "/public/../secret/k" }],
    [
      "if/then",
      { if: { required: ["p"] }, then: { properties: { p: { pathWithin: "/w" } } } },
      { p: "/w/x" },
      { p: "/x" },
    ],
    [
      "$defs and $ref",
      { $defs: { inside: { pathWithin: "/w" } }, properties: { p: { $ref: "#/$defs/inside" } } },
      { p: "/w/x" },
      { p: "/x" },
    ],
    [
      "dependentSchemas",
      { dependentSchemas: { mode: { properties: { p: { pathWithin: "/w" } } } } },
      { mode: 1, p: "/w" },
      { mode: 1, p: "/x" },
    ],
    [
      "deep nesting",
      { properties: { a: { properties: { b: { items: { properties: { c: { pathWithin: "/w" } } } } } } } },
      { a: { b: [{ c: "/w/1" }] } },
      { a: { b: [{ c: "/w/1" }, { c: "/w/../1" }] } },
    ],
  ];

  it.each(cases)("in %s", (_where, schema, holds, fails) => {
    const policy = compile(doc({ t: { rules: [{ when: { args: schema } }] } }));
    expect(policy.decideSync(call("t", { args: holds as Record<string, unknown> })).outcome).toBe("allow");
    expect(policy.decideSync(call("t", { args: fails as Record<string, unknown> })).outcome).toBe("deny");
  });

  it("in when.session and when.annotations too", () => {
    const policy = compile(
      doc({
        t: { rules: [{ when: { session: { properties: { home: { pathWithin: "/home" } }, required: ["home"] } } }] },
        u: { rules: [{ when: { annotations: { properties: { root: { pathWithin: "/srv" } }, required: ["root"] } } }] },
      }),
    );
    expect(policy.decideSync({ tool: "t", session: { id: "s", home: "/home/ann" } }).outcome).toBe("allow");
    expect(policy.decideSync({ tool: "t", session: { id: "s", home: "/home/../root" } }).outcome).toBe("deny");
    expect(policy.decideSync({ tool: "u", session: { id: "s" }, annotations: { root: "/srv/x" } }).outcome).toBe(
      "allow",
    );
    expect(policy.decideSync({ tool: "u", session: { id: "s" }, annotations: { root: "/srv2" } }).outcome).toBe("deny");
  });
});

describe("pathWithin values are checked when the policy is compiled, with issues at their own paths", () => {
  const at = "/tools/read/rules/0/when/args/properties/path/pathWithin";
  const policyWith = (roots: unknown) =>
    doc({ read: { rules: [{ when: { args: { properties: { path: { pathWithin: roots } } } } }] } });

  it.each([
    ["an empty list", [], at, /empty list/],
    ["an empty path", "", at, /absolute path/],
    ["a relative path", "workspace", at, /absolute path/],
    ["a path with ..", "/workspace/../etc", at, /"\.\." segment/],
    ["a path ending in ..", "/workspace/..", at, /"\.\." segment/],
    ["a path with NUL", "/work\u0000space", at, /NUL/],
    ["a path with a backslash", "/work\\space", at, /backslash/],
    ["a number", 5, at, /absolute path or a non-empty list/],
    ["null", null, at, /absolute path or a non-empty list/],
    ["an object", { path: "/w" }, at, /absolute path or a non-empty list/],
    ["a list item that is relative", ["/ok", "rel"], `${at}/1`, /absolute path/],
    ["a list item that is a number", ["/ok", "/fine", 3], `${at}/2`, /absolute path/],
    ["a list item with ..", ["../x"], `${at}/0`, /absolute path/],
  ])("%s", (_what, roots, path, message) => {
    const issues = issuesOf(policyWith(roots));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path, code: expect.stringMatching(/^(condition|value)$/) });
    expect(issues[0]!.message).toMatch(message);
  });

  it("reports a bad value deep inside a when schema at its own path", () => {
    const issues = issuesOf(
      doc({
        t: { rules: [{ when: { args: { anyOf: [{ items: { properties: { p: { pathWithin: ["/a", "b"] } } } }] } } }] },
      }),
    );
    expect(issues.map((i) => i.path)).toEqual(["/tools/t/rules/0/when/args/anyOf/0/items/properties/p/pathWithin/1"]);
  });

  it("reports it in JSON text with the line and column of the value", () => {
    const text =
      '{\n  "version": "1", "default": "deny",\n  "tools": { "t": { "rules": [ { "when": { "args": {\n' +
      '    "properties": { "p": { "pathWithin": ["/a", "x"] } } } } } ] } }\n}';
    const [issue] = issuesOf(text);
    expect(issue).toMatchObject({ path: "/tools/t/rules/0/when/args/properties/p/pathWithin/1", line: 4 });
  });

  it("accepts a valid value at any depth and compiles", () => {
    valid(doc({ t: { rules: [{ when: { args: { properties: { a: { items: { pathWithin: ["/a", "/b/"] } } } } } }] } }));
  });

  it("is still an error when a when schema names the standard meta-schema in $schema", () => {
    const issues = issuesOf(
      doc({
        t: {
          rules: [
            {
              when: {
                args: {
                  $schema: "https://json-schema.org/draft/2020-12/schema",
                  properties: { p: { pathWithin: "rel" } },
                },
              },
            },
          ],
        },
      }),
    );
    expect(issues[0]!.path.startsWith("/tools/t/rules/0/when/args")).toBe(true);
    expect(issues[0]!.message).toMatch(/absolute path/);
  });

  it("misspellings are unknown keywords, not conditions that always hold", () => {
    for (const k of ["pathwithin", "path_within", "PathWithin", "toolgate:listedValues"]) {
      const issues = issuesOf(doc({ t: { rules: [{ when: { args: { properties: { p: { [k]: "/w" } } } } }] } }));
      expect(issues[0], k).toMatchObject({ path: `/tools/t/rules/0/when/args/properties/p/${k}` });
      expect(issues[0]!.message).toMatch(/unknown keyword/);
    }
  });
});

describe("explain says which keyword failed and for which value", () => {
  it("names pathWithin, the value and what it resolved to", async () => {
    const policy = within("/srv/data/public");
    const e = await policy.explain(call("read", { args: { path: "/srv/data/public/../private/secret.txt" } }));
    expect(e.decision.outcome).toBe("deny");
    const step = e.steps.find((s) => /does not hold/.test(s.message));
    expect(step?.message).toContain('keyword "pathWithin"');
    expect(step?.message).toContain("/srv/data/public/../private/secret.txt");
    expect(step?.message).toContain("/srv/data/private/secret.txt");
    expect(step?.message).toContain("/srv/data/public");
  });

  it("says why a value cannot be judged", async () => {
    const policy = within("/w");
    for (const [path, words] of [
      [7, /string/],
      ["rel/x", /absolute/],
      ["/w/a\u0000b", /NUL/],
      ["/w\\x", /backslash/],
    ] as const) {
      const e = await policy.explain(call("read", { args: { path } }));
      expect(e.steps.map((s) => s.message).join("\n"), String(path)).toMatch(words);
    }
  });

  it("never puts the value into a deny reason", () => {
    const policy = within("/w");
    const d = policy.decideSync(call("read", { args: { path: "/w/../IGNORE-PREVIOUS-INSTRUCTIONS" } }));
    expect(d.outcome).toBe("deny");
    expect(JSON.stringify(d)).not.toContain("IGNORE-PREVIOUS-INSTRUCTIONS");
  });
});

describe("compiled once, shared by compilePolicy and decide", () => {
  it("decide and decideSync agree", async () => {
    const policy = compilePolicy(
      doc({
        read: { rules: [{ when: { args: { properties: { path: { pathWithin: "/w" } }, required: ["path"] } } }] },
      }),
    );
    for (const path of ["/w/a", "/w/../a", 3, "", "/w2"]) {
      expect((await policy.decide(call("read", { args: { path } }))).outcome).toBe(
        policy.decideSync(call("read", { args: { path } })).outcome,
      );
    }
  });
});
