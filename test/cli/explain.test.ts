import { describe, expect, it } from "vitest";
import { lines, MLFLOW_POLICY, tempDir, toolgate } from "./run.js";

const PATTERNS = {
  version: "1",
  default: "deny",
  tools: {
    "get_*": {},
    "*_run": { action: "require_approval", reason: "Touches a run" },
    "get_*_run": { rate_limit: { max: 3, window: "1m", per: "/userId" } },
    get_run: {},
  },
};

describe("toolgate explain", () => {
  it("shows a failed when with its schema keyword and path, and the rule that then decided", () => {
    const r = toolgate(["explain", MLFLOW_POLICY, "--tool", "search_experiments", "--args", '{"max_results":5000}']);
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toEqual([
      'decision: deny rule=/tools/search_experiments/rules/1 cause=policy reason="max_results must be at most 1000"',
      "",
      'matching keys of "tools" for "search_experiments":',
      "  /tools/search_experiments  chosen: an exact key wins over every pattern",
      "  /tools/search_*",
      "",
      "steps:",
      "  /tools/search_experiments: governs this tool name",
      "  /tools/search_experiments/rules/0/when/args/properties/max_results/maximum: " +
        'does not hold: args/max_results must be <= 1000 (keyword "maximum")',
      "  /tools/search_experiments/rules/1: holds (no condition)",
      "  /tools/search_experiments/rules/1: decision: deny (max_results must be at most 1000)",
      "",
      "limits applied: none",
      "",
      'rules that may decide "search_experiments" with any arguments, in the order they are tried:',
      "  /tools/search_experiments/rules/0: allow when its condition holds, limits /limits/0",
      "  /tools/search_experiments/rules/1: deny",
    ]);
  });

  it("lists the rules that may decide the tool, judging the session and annotations given", () => {
    const policy = {
      version: "1",
      default: "deny",
      tools: {
        drop: {
          rules: [
            {
              when: { session: { properties: { role: { const: "admin" } }, required: ["role"] } },
              rate_limit: { max: 1, window: 1 },
            },
            { when: { annotations: { properties: { readOnlyHint: { const: true } }, required: ["readOnlyHint"] } } },
            { when: { args: { required: ["force"] } }, action: "require_approval" },
            { action: "deny" },
          ],
        },
      },
    };
    const dir = tempDir({ "p.json": policy });
    const viewer = toolgate(["explain", "p.json", "--tool", "drop", "--session", '{"id":"s","role":"viewer"}'], dir);
    expect(lines(viewer.stdout).slice(-3)).toEqual([
      'rules that may decide "drop" with any arguments, in the order they are tried:',
      "  /tools/drop/rules/2: require_approval when its condition holds, no limit",
      "  /tools/drop/rules/3: deny",
    ]);
    const admin = toolgate(
      ["explain", "p.json", "--tool", "drop", "--session", '{"id":"s","role":"admin"}', "--json"],
      dir,
    );
    const x = JSON.parse(admin.stdout) as { rules: { rule: string; action: string; limits: string[] }[] };
    // The session is known and holds the condition, so the rule is not conditional in this context.
    expect(x.rules[0]).toEqual({
      rule: "/tools/drop/rules/0",
      action: "allow",
      conditional: false,
      limits: ["/tools/drop/rules/0/rate_limit"],
    });
  });

  it("says why the most specific pattern won, and which limits applied", () => {
    const dir = tempDir({ "p.json": PATTERNS });
    const r = toolgate(["explain", "p.json", "--tool", "get_big_run", "--session", '{"id":"s","userId":"ada"}'], dir);
    expect(r.status).toBe(0);
    const out = lines(r.stdout);
    expect(out[0]).toBe("decision: allow rule=/tools/get_*_run remaining=2");
    expect(out.slice(2, 6)).toEqual([
      'matching keys of "tools" for "get_big_run":',
      '  /tools/get_*_run  chosen: the most specific pattern (8 characters besides "*", against 4 for /tools/get_*)',
      "  /tools/get_*",
      "  /tools/*_run",
    ]);
    expect(out).toContain("limits applied: /tools/get_*_run/rate_limit");
  });

  it("says an equally specific pattern lost by being written later", () => {
    const dir = tempDir({ "p.json": PATTERNS });
    const r = toolgate(["explain", "p.json", "--tool", "get_x"], dir);
    expect(lines(r.stdout)[3]).toBe("  /tools/get_*  chosen: the only key that matches");
    const tied = tempDir({ "p.json": { version: "1", default: "deny", tools: { "get_*": {}, "*_run": {} } } });
    const t = toolgate(["explain", "p.json", "--tool", "get_run"], tied);
    expect(lines(t.stdout)[3]).toBe(
      '  /tools/get_*  chosen: as specific as /tools/*_run (4 characters besides "*") and written earlier',
    );
  });

  it('uses the session {"id":"cli"} unless --session is given', () => {
    const dir = tempDir({ "p.json": PATTERNS });
    const r = toolgate(["explain", "p.json", "--tool", "get_big_run", "--json"], dir);
    const x = JSON.parse(r.stdout) as { call: { session: unknown }; decision: { outcome: string; rule: string } };
    expect(x.call.session).toEqual({ id: "cli" });
    // The limit counts per /userId, which the default session lacks.
    expect(x.decision).toMatchObject({ outcome: "deny", rule: "/tools/get_*_run/rate_limit" });
  });

  it("passes --annotations and --approved to the call", () => {
    const dir = tempDir({ "p.json": PATTERNS });
    const asked = toolgate(["explain", "p.json", "--tool", "delete_run"], dir);
    expect(lines(asked.stdout)[0]).toBe('decision: needs_approval rule=/tools/*_run reason="Touches a run"');
    const approved = toolgate(
      [
        "explain",
        "p.json",
        "--tool",
        "delete_run",
        "--approved",
        "--annotations",
        '{"destructiveHint":true}',
        "--json",
      ],
      dir,
    );
    const x = JSON.parse(approved.stdout) as { call: unknown; decision: { outcome: string } };
    expect(x.call).toEqual({
      tool: "delete_run",
      session: { id: "cli" },
      annotations: { destructiveHint: true },
      approved: true,
    });
    expect(x.decision.outcome).toBe("allow");
  });

  it("explains a malformed call as the engine denies it", () => {
    const r = toolgate(["explain", MLFLOW_POLICY, "--tool", "get_run", "--args", "[1]"]);
    expect(r.status).toBe(0);
    expect(lines(r.stdout)[0]).toMatch(/^decision: deny rule="" cause=malformed_call reason="Malformed call: /);
  });

  it("exits 2 for bad JSON in an option, a missing --tool, a missing policy", () => {
    const bad = toolgate(["explain", MLFLOW_POLICY, "--tool", "x", "--session", "{id:1}"]);
    expect(bad.status).toBe(2);
    expect(lines(bad.stderr)).toHaveLength(1);
    expect(bad.stderr).toMatch(/^toolgate explain: --session is not valid JSON: /);
    const noTool = toolgate(["explain", MLFLOW_POLICY]);
    expect(noTool.status).toBe(2);
    expect(lines(noTool.stderr)).toEqual(["toolgate explain: --tool <name> is required (see toolgate explain --help)"]);
    const noValue = toolgate(["explain", MLFLOW_POLICY, "--tool"]);
    expect(noValue.status).toBe(2);
    expect(lines(noValue.stderr)).toEqual([
      "toolgate explain: option --tool needs a value (see toolgate explain --help)",
    ]);
    const missing = toolgate(["explain", "nowhere.json", "--tool", "x"], tempDir());
    expect(missing.status).toBe(2);
    expect(lines(missing.stderr)).toEqual(["toolgate explain: cannot read nowhere.json: no such file"]);
  });

  it("prints the issues of an invalid policy and exits 1", () => {
    const dir = tempDir({ "p.json": '{ "version": "2", "default": "deny", "tools": {} }' });
    const r = toolgate(["explain", "p.json", "--tool", "x"], dir);
    expect(r.status).toBe(1);
    expect(lines(r.stdout)[0]).toMatch(/^p\.json:1:14 \/version: /);
  });
});
