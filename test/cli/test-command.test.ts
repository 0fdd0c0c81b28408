import { describe, expect, it } from "vitest";
import { lines, tempDir, toolgate } from "./run.js";

const POLICY = {
  version: "1",
  default: { action: "deny", reason: "Not on the list" },
  tools: {
    "get_*": {},
    create_run: { rate_limit: { max: 2, window: "10s" } },
    "delete_*": { action: "require_approval", reason: "Deletes data" },
  },
};

/** A cases file for POLICY next to it, with these cases. */
function project(cases: unknown[], extra: Record<string, unknown> = {}): string {
  return tempDir({ "policy.json": POLICY, "cases.json": { policy: "./policy.json", cases }, ...extra });
}

const call = (tool: string, more: Record<string, unknown> = {}) => ({ tool, session: { id: "s1" }, ...more });

describe("toolgate test", () => {
  it("passes when every case holds and closes with N passed, N failed", () => {
    const dir = project([
      { name: "read", call: call("get_run"), expect: "allow" },
      {
        name: "delete",
        call: call("delete_run"),
        expect: { outcome: "needs_approval", reason: "Deletes data", rule: "/tools/delete_*" },
      },
    ]);
    const r = toolgate(["test", "cases.json"], dir);
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toEqual(["2 passed, 0 failed"]);
  });

  it("prints each failure with the expected and the actual decision, and exits 1", () => {
    const dir = project([
      { name: "read", call: call("get_run"), expect: "allow" },
      { name: "delete is allowed?", call: call("delete_run"), expect: { outcome: "allow", rule: "/tools/delete_*" } },
      { name: "unknown tool", call: call("drop_db"), expect: "allow" },
    ]);
    const r = toolgate(["test", "cases.json"], dir);
    expect(r.status).toBe(1);
    expect(lines(r.stdout)).toEqual([
      'FAIL cases.json /cases/1 "delete is allowed?" (at 0 ms)',
      "  expected: allow rule=/tools/delete_*",
      '  actual:   needs_approval rule=/tools/delete_* reason="Deletes data"',
      'FAIL cases.json /cases/2 "unknown tool" (at 0 ms)',
      "  expected: allow",
      '  actual:   deny rule=/default cause=policy reason="Not on the list"',
      "1 passed, 2 failed",
    ]);
  });

  it("drives a virtual clock with at, and repeat checks the last of N calls", () => {
    const dir = project([
      {
        name: "two runs fill the window",
        call: call("create_run"),
        at: 1000,
        repeat: 2,
        expect: { outcome: "allow", remaining: 0 },
      },
      {
        name: "a third waits for the first to leave",
        call: call("create_run"),
        at: 10999,
        expect: { outcome: "rate_limited", retryAfterMs: 1, rule: "/tools/create_run/rate_limit" },
      },
      {
        name: "then both have left the window",
        call: call("create_run"),
        at: 11000,
        expect: { outcome: "allow", remaining: 1 },
      },
      { name: "time stays where it was", call: call("create_run"), expect: { outcome: "allow", remaining: 0 } },
      {
        name: "so the next waits a whole window",
        call: call("create_run"),
        expect: { outcome: "rate_limited", retryAfterMs: 10000 },
      },
    ]);
    const r = toolgate(["test", "cases.json"], dir);
    expect(lines(r.stdout)).toEqual(["5 passed, 0 failed"]);
    expect(r.status).toBe(0);
  });

  it("checks every given expect field exactly", () => {
    const dir = project([
      {
        name: "wrong wait",
        call: call("create_run"),
        repeat: 3,
        expect: { outcome: "rate_limited", retryAfterMs: 9999 },
      },
    ]);
    const r = toolgate(["test", "cases.json"], dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('FAIL cases.json /cases/0 "wrong wait" (at 0 ms, last of 3 calls)');
    expect(r.stdout).toContain("  actual:   rate_limited rule=/tools/create_run/rate_limit retryAfterMs=10000 reason=");
  });

  it("lists the rules and limits no case reached with --coverage", () => {
    const dir = project([
      { name: "read", call: call("get_run"), expect: "allow" },
      { name: "create", call: call("create_run"), expect: "allow" },
    ]);
    const r = toolgate(["test", "--coverage", "cases.json"], dir);
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toEqual([
      "coverage of policy.json: 3/5 rules and limits reached (60%)",
      "  not reached: /tools/delete_*",
      "  not reached: /default",
      "2 passed, 0 failed",
    ]);
  });

  it("fails below --min-coverage, never rounding coverage up", () => {
    // 2 of 3 units: 66.666…%, shown as 66.6%.
    const dir = tempDir({
      "policy.json": { version: "1", default: "deny", tools: { a: {}, b: {} } },
      "cases.json": {
        policy: "policy.json",
        cases: [
          { name: "a", call: call("a"), expect: "allow" },
          { name: "c", call: call("c"), expect: "deny" },
        ],
      },
    });
    const met = toolgate(["test", "--min-coverage", "66.6", "cases.json"], dir);
    expect(met.status).toBe(0);
    expect(lines(met.stdout)).toEqual([
      "coverage of policy.json: 2/3 rules and limits reached (66.6%)",
      "2 passed, 0 failed",
    ]);
    const missed = toolgate(["test", "--min-coverage", "66.7", "cases.json"], dir);
    expect(missed.status).toBe(1);
    expect(lines(missed.stdout)).toEqual([
      "coverage of policy.json: 2/3 rules and limits reached (66.6%)",
      "  below the minimum of 66.7%",
      "2 passed, 0 failed",
    ]);
  });

  it("counts coverage across cases files of one policy", () => {
    const dir = tempDir({
      "policy.json": { version: "1", default: "deny", tools: { a: {}, b: {} } },
      "a.json": { policy: "policy.json", cases: [{ name: "a", call: call("a"), expect: "allow" }] },
      "b.json": {
        policy: "policy.json",
        cases: [
          { name: "b", call: call("b"), expect: "allow" },
          { name: "x", call: call("x"), expect: "deny" },
        ],
      },
    });
    const r = toolgate(["test", "--min-coverage", "100", "a.json", "b.json"], dir);
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toEqual([
      "coverage of policy.json: 3/3 rules and limits reached (100%)",
      "3 passed, 0 failed",
    ]);
  });

  it("rejects a --min-coverage that is not a percentage", () => {
    const dir = project([{ name: "read", call: call("get_run"), expect: "allow" }]);
    for (const bad of ["abc", "101", "-5", "50%"]) {
      const r = toolgate(["test", `--min-coverage=${bad}`, "cases.json"], dir);
      expect(r.status).toBe(2);
      expect(lines(r.stderr)).toEqual([
        `toolgate test: --min-coverage must be a percentage from 0 to 100, got ${JSON.stringify(bad)}`,
      ]);
    }
  });

  it("prints structured results with --json", () => {
    const dir = project([
      { name: "read", call: call("get_run"), expect: "allow" },
      { name: "bad", call: call("drop"), expect: "allow" },
    ]);
    const r = toolgate(["test", "--json", "cases.json"], dir);
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout) as {
      passed: number;
      failed: number;
      files: { file: string; results: { path: string; passed: boolean; actual: { outcome: string } }[] }[];
      coverage: { policy: string; total: number; unreached: string[] }[];
    };
    expect(report.passed).toBe(1);
    expect(report.failed).toBe(1);
    expect(report.files[0]!.results[1]).toMatchObject({ path: "/cases/1", passed: false, actual: { outcome: "deny" } });
    expect(report.coverage[0]).toMatchObject({ policy: "policy.json", total: 5 });
    expect(report.files[0]!.results[1]!.actual).toMatchObject({
      outcome: "deny",
      cause: "policy",
      reason: "Not on the list",
    });
  });

  it("rejects an at earlier than the clock, naming the case", () => {
    const dir = project([
      { name: "late", call: call("get_run"), at: 5000, expect: "allow" },
      { name: "early", call: call("get_run"), at: 4000, expect: "allow" },
    ]);
    const r = toolgate(["test", "cases.json"], dir);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(lines(r.stderr)).toEqual([
      "toolgate test: cases.json: /cases/1/at: 4000 is earlier than the clock (5000, set by an earlier case): " +
        "time only moves forward",
    ]);
  });

  it.each([
    [
      { policy: "./policy.json", cases: [{ name: "x", call: call("a"), expect: "allowed" }] },
      '/cases/0/expect: unknown outcome "allowed" (expected one of "allow", "deny", "needs_approval", "rate_limited")',
    ],
    [
      { policy: "./policy.json", cases: [{ name: "x", call: call("a"), expect: { outcome: "allow", rules: "/x" } }] },
      "/cases/0/expect/rules: unknown field " +
        '(expected "outcome", "reason", "rule", "cause", "retryAfterMs" or "remaining")',
    ],
    [
      {
        policy: "./policy.json",
        cases: [{ name: "x", call: call("a"), expect: { outcome: "deny", cause: "denied" } }],
      },
      '/cases/0/expect/cause: must be one of "policy", "malformed_call", ' +
        '"missing_attribute", "invalid_cost", "cost_exceeds_max", "tool_changed", ' +
        '"not_approved", "host_failure", "store_failure", got "denied"',
    ],
    [
      {
        policy: "./policy.json",
        cases: [{ name: "x", call: call("a"), expect: { outcome: "allow", cause: "policy" } }],
      },
      '/cases/0/expect/cause: only a deny has a cause, but the expected outcome is "allow"',
    ],
    [
      '{ "policy": "./policy.json", "cases": [{ "name": "x", "call": { "tool": "a", "session": { "id": "s" } }, ' +
        '"expect": "allow", "__proto__": 1 }] }',
      '/cases/0/__proto__: unknown field (expected "name", "call", "at", "repeat" or "expect")',
    ],
    [
      { policy: "./policy.json", cases: [{ name: "x", call: call("a"), expect: "allow", repeat: 0 }] },
      "/cases/0/repeat: must be a whole number from 1 to 100000, got 0",
    ],
    [
      { policy: "./policy.json", cases: [{ name: "x", call: call("a"), expect: "allow", at: 1.5 }] },
      "/cases/0/at: must be a time in whole milliseconds, at least 0, got 1.5",
    ],
    [
      { policy: "./policy.json", cases: [{ call: call("a"), expect: "allow" }] },
      "/cases/0/name: must be a non-empty string, got nothing",
    ],
    [
      { policy: "./policy.json", cases: [{ name: "x", call: "get_run", expect: "allow" }] },
      '/cases/0/call: must be an object { tool, args?, session, annotations?, approved? }, got "get_run"',
    ],
    [
      { policy: "./policy.json", cases: [{ name: "x", call: call("a"), expect: "allow", when: 1 }] },
      '/cases/0/when: unknown field (expected "name", "call", "at", "repeat" or "expect")',
    ],
    [
      { policy: "./policy.json", cases: [], case: [] },
      '/case: unknown field (expected "policy", "cases", "description" or "$schema")',
    ],
    [{ policy: "./policy.json" }, "/cases: must be an array of cases, got nothing"],
    [{ policy: 7, cases: [] }, "/policy: must be the path of the policy file or the policy itself, got 7"],
    [[], 'must be a JSON object with "policy" and "cases", got an array'],
  ])("rejects a malformed cases file with the path of the problem (%#)", (cases, message) => {
    const dir = tempDir({ "policy.json": POLICY, "cases.json": cases });
    const r = toolgate(["test", "cases.json"], dir);
    expect(r.status).toBe(2);
    expect(lines(r.stderr)).toEqual([`toolgate test: cases.json: ${message}`]);
  });

  it("reports every problem of a malformed cases file, each with its path, not just the first", () => {
    const dir = project([
      { name: "", call: call("get_run"), expect: "allow" },
      { name: "ok", call: call("get_run"), expect: "allow" },
      { name: "x", call: "get_run", expect: "allowed", repeat: 0 },
      { name: "y", call: call("get_run"), at: 1.5, expect: { outcome: "deny", rules: "/x" } },
    ]);
    const r = toolgate(["test", "cases.json"], dir);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(lines(r.stderr)).toEqual([
      "toolgate test: cases.json: /cases/0/name: must be a non-empty string, got an empty string",
      "toolgate test: cases.json: /cases/2/call: must be an object " +
        '{ tool, args?, session, annotations?, approved? }, got "get_run"',
      "toolgate test: cases.json: /cases/2/repeat: must be a whole number from 1 to 100000, got 0",
      'toolgate test: cases.json: /cases/2/expect: unknown outcome "allowed" ' +
        '(expected one of "allow", "deny", "needs_approval", "rate_limited")',
      "toolgate test: cases.json: /cases/3/at: must be a time in whole milliseconds, at least 0, got 1.5",
      "toolgate test: cases.json: /cases/3/expect/rules: unknown field " +
        '(expected "outcome", "reason", "rule", "cause", "retryAfterMs" or "remaining")',
    ]);
  });

  it("bounds the problems it reports, counting the rest", () => {
    const dir = project(Array.from({ length: 500 }, () => ({ name: "x", call: 1, expect: "allow" })));
    const r = toolgate(["test", "cases.json"], dir);
    expect(r.status).toBe(2);
    const out = lines(r.stderr);
    expect(out).toHaveLength(201);
    expect(out.at(-1)).toBe("toolgate test: cases.json: and 300 more problems");
  });

  it("rejects a duplicate key anywhere in a cases file, inline policy included, with line and column", () => {
    const text = `{ "policy": { "version": "1", "default": "deny",
    "tools": { "a": { "action": "deny" }, "a": {} } },
  "cases": [ { "name": "a", "name": "b", "call": { "tool": "a", "session": { "id": "s" } }, "expect": "allow" } ] }
`;
    const dir = tempDir({ "cases.json": text });
    const r = toolgate(["test", "cases.json"], dir);
    expect(r.status).toBe(2);
    expect(lines(r.stderr)).toEqual([
      "toolgate test: cases.json:2:43: /policy/tools/a: " +
        'not valid JSON: duplicate key "a" (JSON.parse would silently keep the last one)',
      "toolgate test: cases.json:3:29: /cases/0/name: " +
        'not valid JSON: duplicate key "name" (JSON.parse would silently keep the last one)',
    ]);
  });

  it("fails a cases file with no cases: a CI job must not pass with no tests", () => {
    const dir = tempDir({
      "policy.json": POLICY,
      "empty.json": { policy: "./policy.json", cases: [] },
      "one.json": { policy: "./policy.json", cases: [{ name: "read", call: call("get_run"), expect: "allow" }] },
    });
    const r = toolgate(["test", "empty.json"], dir);
    expect(r.status).toBe(1);
    expect(lines(r.stdout)).toEqual(["0 passed, 0 failed"]);
    expect(lines(r.stderr)).toEqual([
      "toolgate test: empty.json: has no cases, so it tests nothing (add cases, or do not run it)",
    ]);
    const mixed = toolgate(["test", "one.json", "empty.json"], dir);
    expect(mixed.status).toBe(1);
    expect(lines(mixed.stdout)).toEqual(["1 passed, 0 failed"]);
    const json = toolgate(["test", "--json", "empty.json"], dir);
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ passed: 0, failed: 0, empty: ["empty.json"] });
  });

  it("checks an expected cause", () => {
    const dir = project([
      { name: "listed?", call: call("drop"), expect: { outcome: "deny", cause: "policy" } },
      {
        name: "malformed",
        call: { tool: "get_run", session: {} },
        expect: { outcome: "deny", cause: "malformed_call", rule: "" },
      },
      { name: "wrong cause", call: call("drop"), expect: { outcome: "deny", cause: "store_failure" } },
    ]);
    const r = toolgate(["test", "cases.json"], dir);
    expect(r.status).toBe(1);
    expect(lines(r.stdout)).toEqual([
      'FAIL cases.json /cases/2 "wrong cause" (at 0 ms)',
      "  expected: deny cause=store_failure",
      '  actual:   deny rule=/default cause=policy reason="Not on the list"',
      "2 passed, 1 failed",
    ]);
  });

  it("exits 2 for a missing cases file, a missing policy and text that is not JSON", () => {
    const dir = tempDir({ "cases.json": { policy: "./nowhere.json", cases: [] }, "broken.json": "{ nope" });
    const missing = toolgate(["test", "absent.json"], dir);
    expect(missing.status).toBe(2);
    expect(lines(missing.stderr)).toEqual(["toolgate test: absent.json: cannot be read: no such file"]);
    const noPolicy = toolgate(["test", "cases.json"], dir);
    expect(noPolicy.status).toBe(2);
    expect(lines(noPolicy.stderr)).toEqual([
      `toolgate test: cases.json: /policy: cannot read the policy ${dir}/nowhere.json: no such file`,
    ]);
    const broken = toolgate(["test", "broken.json"], dir);
    expect(broken.status).toBe(2);
    expect(lines(broken.stderr)).toHaveLength(1);
    expect(broken.stderr).toMatch(/^toolgate test: broken\.json: not valid JSON: /);
  });

  it("prints the issues of an invalid policy and exits 1", () => {
    const dir = tempDir({
      "policy.json": '{ "version": "1", "default": "deny",\n  "tools": { "a": { "action": "alow" } } }\n',
      "cases.json": { policy: "policy.json", cases: [] },
    });
    const r = toolgate(["test", "cases.json"], dir);
    expect(r.status).toBe(1);
    expect(lines(r.stdout)[0]).toMatch(/^policy\.json:2:31 \/tools\/a\/action: /);
    expect(lines(r.stderr)).toEqual(["toolgate test: cases.json: the policy policy.json is invalid, so no case ran"]);
  });

  it("accepts an inline policy", () => {
    const dir = tempDir({
      "cases.json": { policy: POLICY, cases: [{ name: "read", call: call("get_x"), expect: "allow" }] },
    });
    const r = toolgate(["test", "--coverage", "cases.json"], dir);
    expect(r.status).toBe(0);
    expect(lines(r.stdout)[0]).toBe("coverage of cases.json#/policy: 1/5 rules and limits reached (20%)");
  });
});
