import { describe, expect, it } from "vitest";
import { EVERYTHING_TOOLS, lines, MLFLOW_POLICY, MLFLOW_TOOLS, tempDir, toolgate } from "./run.js";

const READ_ONLY = { properties: { readOnlyHint: { const: true } }, required: ["readOnlyHint"] };

const POLICY = {
  version: "1",
  default: { rules: [{ when: { annotations: READ_ONLY } }, { action: "deny" }] },
  tools: {
    "get_*": {},
    "delete_*": {},
    set_run_tag: { rate_limit: { max: 1, window: "1m" } },
    "*_run": { rules: [{ when: { args: { required: ["force"] } } }, { action: "require_approval" }] },
    "delte_*": {},
  },
};

const TOOLS = [
  { name: "get_run", annotations: { readOnlyHint: true } },
  { name: "delete_run", annotations: { destructiveHint: true } },
  { name: "set_run_tag", annotations: { destructiveHint: true } },
  { name: "update_model_version", annotations: { destructiveHint: true } },
  { name: "health" },
  { name: "archive_run", annotations: { destructiveHint: true } },
];

describe("toolgate check", () => {
  it("finds nothing wrong with the MLflow policy against the MLflow server's tools", () => {
    const r = toolgate(["check", MLFLOW_POLICY, "--tools", MLFLOW_TOOLS, "--strict"]);
    expect(r.status).toBe(0);
    const out = lines(r.stdout);
    expect(out[0]).toMatch(/^tool +rule +bare call$/);
    expect(out).toContain("get_run                         /tools/get_*                           allow, limited");
    expect(out).toContain(
      "delete_run                      /tools/delete_*                        " +
        "needs_approval: Deletes MLflow data for good.",
    );
    expect(out).toContain("search_experiments              /tools/search_experiments              allow, limited");
    expect(out.slice(-4)).toEqual([
      "tools that fall through to /default (0): none",
      'keys of "tools" that match no tool (0): none',
      "warnings (0): none",
      "40 tools checked, 0 findings",
    ]);
  });

  it("reports each tool's rule and bare call, fall-through tools, unmatched keys, unguarded destructive tools", () => {
    const dir = tempDir({ "policy.json": POLICY, "tools.json": TOOLS });
    const r = toolgate(["check", "policy.json", "--tools", "tools.json"], dir);
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toEqual([
      "tool                  rule                bare call",
      "get_run               /tools/get_*        allow, no limit",
      "delete_run            /tools/delete_*     allow, no limit",
      "set_run_tag           /tools/set_run_tag  allow, limited",
      "update_model_version  /default            deny (policy): Denied by the policy (/default/rules/1).",
      "health                /default            deny (policy): Denied by the policy (/default/rules/1).",
      "archive_run           /tools/*_run        " +
        "needs_approval: This tool needs a person's approval (/tools/*_run/rules/1).",
      "",
      "tools that fall through to /default (2): update_model_version, health",
      'keys of "tools" that match no tool (1): /tools/delte_*',
      "warnings (2):",
      "  delete_run: destructive (destructiveHint: true), " +
        "and /tools/delete_* may allow it with neither approval nor a limit",
      // The bare call needs approval, but a call with "force" is allowed unguarded: the warning reads
      // the rules, not one call.
      "  archive_run: destructive (destructiveHint: true), " +
        "and /tools/*_run/rules/0 may allow it with neither approval nor a limit",
      "6 tools checked, 5 findings",
    ]);
  });

  it("exits 1 on findings with --strict", () => {
    const dir = tempDir({ "policy.json": POLICY, "tools.json": TOOLS });
    expect(toolgate(["check", "policy.json", "--tools", "tools.json", "--strict"], dir).status).toBe(1);
  });

  it("does not warn when the policy's own limits bound every allowed call", () => {
    const dir = tempDir({
      "policy.json": { ...POLICY, limits: [{ max: 100, window: "1m" }] },
      "tools.json": { tools: TOOLS },
    });
    const r = toolgate(["check", "policy.json", "--tools", "tools.json", "--json"], dir);
    const report = JSON.parse(r.stdout) as {
      warnings: unknown[];
      fallThrough: string[];
      unmatchedKeys: string[];
      findings: number;
    };
    expect(report.warnings).toEqual([]);
    expect(report.fallThrough).toEqual(["update_model_version", "health"]);
    expect(report.unmatchedKeys).toEqual(["/tools/delte_*"]);
    expect(report.findings).toBe(3);
  });

  it("judges annotation conditions with the engine: a default that allows read-only tools only is no warning", () => {
    const dir = tempDir({
      "policy.json": {
        version: "1",
        default: { rules: [{ when: { annotations: READ_ONLY } }, { action: "deny" }] },
        tools: {},
      },
      "tools.json": [
        { name: "drop", annotations: { destructiveHint: true, readOnlyHint: false } },
        { name: "odd", annotations: { destructiveHint: true, readOnlyHint: true } },
      ],
    });
    const r = toolgate(["check", "policy.json", "--tools", "tools.json", "--json"], dir);
    const report = JSON.parse(r.stdout) as { warnings: { tool: string; rules: string[] }[] };
    expect(report.warnings).toEqual([
      expect.objectContaining({ kind: "unguarded_destructive", tool: "odd", rules: ["/default/rules/0"] }),
    ]);
  });

  it("does not warn about rules that come after one that always holds", () => {
    const dir = tempDir({
      "policy.json": {
        version: "1",
        default: "deny",
        tools: { drop: { rules: [{ when: { args: {} }, action: "require_approval" }, {}] } },
      },
      "tools.json": [{ name: "drop", annotations: { destructiveHint: true } }],
    });
    const r = toolgate(["check", "policy.json", "--tools", "tools.json", "--strict"], dir);
    expect(r.status).toBe(0);
    expect(lines(r.stdout).at(-2)).toBe("warnings (0): none");
  });

  it("shows the reason of every refusal and the cause of a deny, in text and in JSON", () => {
    const dir = tempDir({
      "policy.json": {
        version: "1",
        default: { action: "deny", reason: "Not on the list" },
        tools: { tag: { rate_limit: { max: 1, window: "1m", per: "/userId" }, reason: "One tag a minute" } },
      },
      "tools.json": [{ name: "tag" }, { name: "drop" }],
    });
    const r = toolgate(["check", "policy.json", "--tools", "tools.json"], dir);
    // The bare call's session has no userId: the limit refuses it, and the cause says why.
    expect(lines(r.stdout).slice(1, 3)).toEqual([
      expect.stringMatching(/^tag {3}\/tools\/tag {2}deny \(missing_attribute\): .+\.$/),
      "drop  /default    deny (policy): Not on the list.",
    ]);
    const json = JSON.parse(toolgate(["check", "policy.json", "--tools", "tools.json", "--json"], dir).stdout) as {
      tools: { tool: string; bareCall: { outcome: string; cause?: string; reason?: string } }[];
    };
    expect(json.tools[1]!.bareCall).toEqual({
      outcome: "deny",
      rule: "/default",
      cause: "policy",
      reason: "Not on the list",
    });
  });

  it("decides the bare calls with --session, and judges session conditions with it", () => {
    const dir = tempDir({
      "policy.json": {
        version: "1",
        default: "deny",
        tools: {
          tag: { rate_limit: { max: 2, window: "1m", per: "/userId" } },
          drop: {
            rules: [
              { when: { session: { properties: { role: { const: "admin" } }, required: ["role"] } } },
              { action: "require_approval" },
            ],
          },
        },
      },
      "tools.json": [{ name: "tag" }, { name: "drop", annotations: { destructiveHint: true } }],
    });
    const anyone = toolgate(["check", "policy.json", "--tools", "tools.json"], dir);
    expect(lines(anyone.stdout)[1]).toMatch(/^tag +\/tools\/tag +deny \(missing_attribute\)/);
    // Without a session, any session may come: an admin's call of drop is unguarded.
    expect(anyone.stdout).toContain(
      "  drop: destructive (destructiveHint: true), and /tools/drop/rules/0 may allow it",
    );

    const ada = toolgate(
      ["check", "policy.json", "--tools", "tools.json", "--session", '{"id":"s","userId":"ada","role":"viewer"}'],
      dir,
    );
    expect(ada.status).toBe(0);
    expect(lines(ada.stdout).slice(1, 3)).toEqual([
      "tag   /tools/tag   allow, limited",
      "drop  /tools/drop  needs_approval: This tool needs a person's approval (/tools/drop/rules/1).",
    ]);
    expect(ada.stdout).toContain("warnings (0): none");

    for (const bad of ["[]", '{"userId":"ada"}', '{"id":""}', "{id:1}"]) {
      const r = toolgate(["check", "policy.json", "--tools", "tools.json", "--session", bad], dir);
      expect(r.status, bad).toBe(2);
      expect(lines(r.stderr), bad).toHaveLength(1);
      expect(r.stderr, bad).toMatch(
        /^toolgate check: --session (must be a JSON object with a non-empty string "id"|is not valid JSON: )/,
      );
    }
  });

  it("warns on constraints on values without a type, where a string passes a maximum", () => {
    const policy = {
      version: "1",
      default: "deny",
      tools: {
        search: {
          rules: [
            {
              when: {
                args: {
                  properties: {
                    max_results: { maximum: 1000 },
                    typed: { type: "integer", maximum: 10 },
                    pinned: { enum: [1, 2], minimum: 1 },
                    both: { allOf: [{ type: "string" }, { maxLength: 5 }] },
                    query: { pattern: "^[a-z]+$" },
                    nested: { type: "object", properties: { n: { anyOf: [{ minimum: 0 }, { const: "x" }] } } },
                  },
                },
              },
            },
            { action: "deny" },
          ],
        },
      },
    };
    const dir = tempDir({ "policy.json": policy, "tools.json": [{ name: "search" }] });
    const r = toolgate(["check", "policy.json", "--tools", "tools.json", "--json"], dir);
    const report = JSON.parse(r.stdout) as {
      warnings: { kind: string; rule: string; path: string; message: string }[];
    };
    const base = "/tools/search/rules/0/when/args/properties";
    expect(report.warnings.map((w) => [w.kind, w.rule, w.path])).toEqual([
      ["untyped_constraint", "/tools/search/rules/0", `${base}/max_results/maximum`],
      ["untyped_constraint", "/tools/search/rules/0", `${base}/query/pattern`],
      ["untyped_constraint", "/tools/search/rules/0", `${base}/nested/properties/n/anyOf/0/minimum`],
    ]);
    expect(report.warnings[0]!.message).toContain('the string "5000" passes "maximum": 1000');
    const text = toolgate(["check", "policy.json", "--tools", "tools.json", "--strict"], dir);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain(
      `  ${base}/max_results/maximum: "maximum" on a value without "type" holds for any value that is not a number`,
    );
  });

  it("warns on pattern for a tool's path and URL arguments, and not where pathWithin or urlHostIn is used", () => {
    const tools = [
      {
        name: "read_file",
        inputSchema: { type: "object", properties: { path: { type: "string" }, encoding: { type: "string" } } },
      },
      { name: "fetch", inputSchema: { type: "object", properties: { targetUrl: { type: "string" } } } },
      { name: "copy", inputSchema: { type: "object", properties: { source: {}, destination: { type: "string" } } } },
      { name: "count", inputSchema: { type: "object", properties: { file_count: { type: "integer" } } } },
    ];
    const policy = {
      version: "1",
      default: "deny",
      tools: {
        read_file: {
          rules: [
            {
              when: {
                args: {
                  properties: {
                    path: { type: "string", pattern: "^/workspace/" },
                    encoding: { type: "string", pattern: "^utf" },
                  },
                },
              },
            },
          ],
        },
        fetch: {
          rules: [
            {
              when: {
                args: { properties: { targetUrl: { type: "string", pattern: "^https://api\\.github\\.com/" } } },
              },
            },
          ],
        },
        copy: {
          rules: [
            {
              when: {
                args: {
                  properties: {
                    source: { type: "string", pattern: "^/w/", pathWithin: "/w" },
                    destination: { anyOf: [{ type: "string", pattern: "^/tmp/" }] },
                  },
                },
              },
            },
          ],
        },
        count: { rules: [{ when: { args: { properties: { file_count: { type: "integer", maximum: 3 } } } } }] },
      },
    };
    const dir = tempDir({ "policy.json": policy, "tools.json": { tools } });
    const report = JSON.parse(toolgate(["check", "policy.json", "--tools", "tools.json", "--json"], dir).stdout) as {
      warnings: { kind: string; tool?: string; path: string; message: string }[];
    };
    const onPaths = report.warnings.filter((w) => w.kind === "pattern_on_path");
    expect(onPaths.map((w) => [w.tool, w.path])).toEqual([
      ["read_file", "/tools/read_file/rules/0/when/args/properties/path/pattern"],
      ["fetch", "/tools/fetch/rules/0/when/args/properties/targetUrl/pattern"],
      ["copy", "/tools/copy/rules/0/when/args/properties/destination/anyOf/0/pattern"],
    ]);
    expect(onPaths[0]!.message).toContain('use "pathWithin"');
    expect(onPaths[1]!.message).toContain('use "urlHostIn"');
    expect(onPaths[2]!.message).toContain('use "pathWithin" (or "urlHostIn" for a URL)');
  });

  it("checks a starting policy from init against the reference everything server's tools", () => {
    const dir = tempDir();
    expect(toolgate(["init", "--tools", EVERYTHING_TOOLS, "--out", "policy.json"], dir).status).toBe(0);
    const r = toolgate(["check", "policy.json", "--tools", EVERYTHING_TOOLS, "--json"], dir);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as {
      tools: { tool: string; bareCall: { outcome: string; cause?: string } }[];
      findings: number;
    };
    expect(report.findings).toBe(0);
    expect(report.tools.find((t) => t.tool === "get-env")!.bareCall).toMatchObject({
      outcome: "deny",
      cause: "policy",
    });
    expect(report.tools.find((t) => t.tool === "echo")!.bareCall).toMatchObject({ outcome: "allow", remaining: 59 });
  });

  it.each([
    ['{ "tools": 3 }', 'tools.json: expected a tools/list result { "tools": [...] } or an array of tools'],
    ['[{ "name": "" }]', "tools.json: /0/name: a tool needs a non-empty string name"],
    ['{ "tools": [{ "name": "a" }, { "name": "a" }] }', 'tools.json: /tools/1/name: duplicate tool name "a"'],
    ['{ "tools": [{ "name": "a", "annotations": [] }] }', "tools.json: /tools/0/annotations: must be an object"],
    ["[1]", "tools.json: /0: a tool must be an object"],
    ['[{ "name": "a", "inputSchema": true }]', "tools.json: /0/inputSchema: must be an object"],
    ['[{ "name": "a", "description": 5 }]', "tools.json: /0/description: must be a string"],
    ['{ "__proto__": [] }', 'tools.json: expected a tools/list result { "tools": [...] } or an array of tools'],
  ])("exits 2 for a malformed tools file: %s", (text, message) => {
    const dir = tempDir({ "policy.json": POLICY, "tools.json": text });
    const r = toolgate(["check", "policy.json", "--tools", "tools.json"], dir);
    expect(r.status).toBe(2);
    expect(lines(r.stderr)).toEqual([`toolgate check: ${message}`]);
  });

  it("exits 2 without --tools or with a missing file", () => {
    const dir = tempDir({ "policy.json": POLICY });
    expect(lines(toolgate(["check", "policy.json"], dir).stderr)).toEqual([
      "toolgate check: --tools <tools.json> is required (see toolgate check --help)",
    ]);
    const r = toolgate(["check", "policy.json", "--tools", "absent.json"], dir);
    expect(r.status).toBe(2);
    expect(lines(r.stderr)).toEqual(["toolgate check: cannot read absent.json: no such file"]);
  });
});
