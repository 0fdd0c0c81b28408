import { describe, expect, it } from "vitest";
import { lines, MLFLOW_POLICY, MLFLOW_TOOLS, tempDir, toolgate } from "./run.js";

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
    expect(out).toContain("delete_run                      /tools/delete_*                        needs_approval");
    expect(out).toContain("search_experiments              /tools/search_experiments              allow, limited");
    expect(out.slice(-4)).toEqual([
      "tools that fall through to /default (0): none",
      'keys of "tools" that match no tool (0): none',
      "warnings (0): none",
      "40 tools checked, 0 findings",
    ]);
  });

  it("reports each tool's rule and bare call, fall-through tools, unmatched keys and unguarded destructive tools", () => {
    const dir = tempDir({ "policy.json": POLICY, "tools.json": TOOLS });
    const r = toolgate(["check", "policy.json", "--tools", "tools.json"], dir);
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toEqual([
      "tool                  rule                bare call",
      "get_run               /tools/get_*        allow, no limit",
      "delete_run            /tools/delete_*     allow, no limit",
      "set_run_tag           /tools/set_run_tag  allow, limited",
      "update_model_version  /default            deny",
      "health                /default            deny",
      "archive_run           /tools/*_run        needs_approval",
      "",
      "tools that fall through to /default (2): update_model_version, health",
      'keys of "tools" that match no tool (1): /tools/delte_*',
      "warnings (2):",
      "  delete_run: destructive (destructiveHint: true), and /tools/delete_* may allow it with neither approval nor a limit",
      // The bare call needs approval, but a call with "force" is allowed unguarded: the warning reads the rules, not one call.
      "  archive_run: destructive (destructiveHint: true), and /tools/*_run/rules/0 may allow it with neither approval nor a limit",
      "6 tools checked, 5 findings",
    ]);
  });

  it("exits 1 on findings with --strict", () => {
    const dir = tempDir({ "policy.json": POLICY, "tools.json": TOOLS });
    expect(toolgate(["check", "policy.json", "--tools", "tools.json", "--strict"], dir).status).toBe(1);
  });

  it("does not warn when the policy's own limits bound every allowed call", () => {
    const dir = tempDir({ "policy.json": { ...POLICY, limits: [{ max: 100, window: "1m" }] }, "tools.json": { tools: TOOLS } });
    const r = toolgate(["check", "policy.json", "--tools", "tools.json", "--json"], dir);
    const report = JSON.parse(r.stdout) as { warnings: unknown[]; fallThrough: string[]; unmatchedKeys: string[]; findings: number };
    expect(report.warnings).toEqual([]);
    expect(report.fallThrough).toEqual(["update_model_version", "health"]);
    expect(report.unmatchedKeys).toEqual(["/tools/delte_*"]);
    expect(report.findings).toBe(3);
  });

  it("judges annotation conditions with the engine: a default that allows read-only tools only is no warning", () => {
    const dir = tempDir({
      "policy.json": { version: "1", default: { rules: [{ when: { annotations: READ_ONLY } }, { action: "deny" }] }, tools: {} },
      "tools.json": [{ name: "drop", annotations: { destructiveHint: true, readOnlyHint: false } }, { name: "odd", annotations: { destructiveHint: true, readOnlyHint: true } }],
    });
    const r = toolgate(["check", "policy.json", "--tools", "tools.json", "--json"], dir);
    const report = JSON.parse(r.stdout) as { warnings: { tool: string; rules: string[] }[] };
    expect(report.warnings).toEqual([expect.objectContaining({ tool: "odd", rules: ["/default/rules/0"] })]);
  });

  it("does not warn about rules that come after one that always holds", () => {
    const dir = tempDir({
      "policy.json": { version: "1", default: "deny", tools: { drop: { rules: [{ when: { args: {} }, action: "require_approval" }, {}] } } },
      "tools.json": [{ name: "drop", annotations: { destructiveHint: true } }],
    });
    const r = toolgate(["check", "policy.json", "--tools", "tools.json", "--strict"], dir);
    expect(r.status).toBe(0);
    expect(lines(r.stdout).at(-2)).toBe("warnings (0): none");
  });

  it.each([
    ['{ "tools": 3 }', 'tools.json: expected a tools/list result { "tools": [...] } or an array of tools'],
    ['[{ "name": "" }]', "tools.json: /0/name: a tool needs a non-empty string name"],
    ['{ "tools": [{ "name": "a" }, { "name": "a" }] }', 'tools.json: /tools/1/name: duplicate tool name "a"'],
    ['{ "tools": [{ "name": "a", "annotations": [] }] }', "tools.json: /tools/0/annotations: must be an object"],
    ["[1]", "tools.json: /0: a tool must be an object"],
  ])("exits 2 for a malformed tools file: %s", (text, message) => {
    const dir = tempDir({ "policy.json": POLICY, "tools.json": text });
    const r = toolgate(["check", "policy.json", "--tools", "tools.json"], dir);
    expect(r.status).toBe(2);
    expect(lines(r.stderr)).toEqual([`toolgate check: ${message}`]);
  });

  it("exits 2 without --tools or with a missing file", () => {
    const dir = tempDir({ "policy.json": POLICY });
    expect(lines(toolgate(["check", "policy.json"], dir).stderr)).toEqual(["toolgate check: --tools <tools.json> is required (see toolgate check --help)"]);
    const r = toolgate(["check", "policy.json", "--tools", "absent.json"], dir);
    expect(r.status).toBe(2);
    expect(lines(r.stderr)).toEqual(["toolgate check: cannot read absent.json: no such file"]);
  });
});
