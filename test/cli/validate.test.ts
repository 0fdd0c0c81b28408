import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lines, MLFLOW_POLICY, tempDir, toolgate } from "./run.js";

const BAD = `{
  "version": "1",
  "default": "deny",
  "tools": {
    "create_run": { "rate_limits": { "max": 10, "window": 60 } },
    "search": { "rate_limit": { "max": 0, "window": "1m" } }
  }
}
`;

const SHADOWED = `{ "version": "1", "default": "deny",
  "tools": { "*": {}, "**": {} } }
`;

describe("toolgate validate", () => {
  it("accepts the MLflow policy", () => {
    const r = toolgate(["validate", MLFLOW_POLICY]);
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toEqual([`${MLFLOW_POLICY}: valid`]);
  });

  it("prints every issue as file:line:col /pointer: message and exits 1", () => {
    const dir = tempDir({ "policy.json": BAD });
    const r = toolgate(["validate", "policy.json"], dir);
    expect(r.status).toBe(1);
    const out = lines(r.stdout);
    // Line and column where the value at each pointer begins, counted by hand in BAD.
    expect(out.some((l) => l.startsWith("policy.json:5:36 /tools/create_run/rate_limits: "))).toBe(true);
    expect(out.some((l) => l.startsWith("policy.json:6:40 /tools/search/rate_limit/max: "))).toBe(true);
    expect(out.at(-1)).toMatch(/^policy\.json: invalid, \d+ issues$/);
  });

  it("gives line and column for a duplicate key", () => {
    const dir = tempDir({ "dup.json": '{ "version": "1", "default": "deny",\n  "tools": {}, "tools": {} }\n' });
    const r = toolgate(["validate", "dup.json"], dir);
    expect(r.status).toBe(1);
    expect(lines(r.stdout)[0]).toMatch(/^dup\.json:2:16 \/tools: duplicate key "tools"/);
  });

  it("reports every issue of a file with a duplicate key, not just the duplicate", () => {
    // Issue 11: a duplicate key used to hide the other eight issues.
    const text = `{
  "version": "1",
  "default": "deny",
  "default": "allow",
  "tools": {
    "a": { "action": "alow" },
    "b": { "rate_limits": { "max": 1, "window": 1 } },
    "c": { "rate_limit": { "max": 0, "window": "1x" } },
    "d": { "rules": [{ "when": { "args": { "maximun": 3 } } }] },
    "e": { "reason": 5 },
    "f": { "rules": [] },
    "g": 7
  }
}
`;
    const dir = tempDir({ "dup.json": text });
    const r = toolgate(["validate", "dup.json"], dir);
    expect(r.status).toBe(1);
    const out = lines(r.stdout);
    expect(out[0]).toBe('dup.json:4:3 /default: duplicate key "default" (JSON.parse would silently keep the last one)');
    const places = out.slice(0, -1).map((l) => l.split(": ")[0]);
    expect(places.sort()).toEqual(
      [
        "dup.json:4:3 /default",
        "dup.json:6:22 /tools/a/action",
        "dup.json:7:27 /tools/b/rate_limits",
        "dup.json:8:35 /tools/c/rate_limit/max",
        "dup.json:8:48 /tools/c/rate_limit/window",
        "dup.json:9:55 /tools/d/rules/0/when/args/maximun",
        "dup.json:10:22 /tools/e/reason",
        "dup.json:11:21 /tools/f/rules",
        "dup.json:12:10 /tools/g",
      ].sort(),
    );
    expect(out.at(-1)).toBe("dup.json: invalid, 9 issues");
    const json = JSON.parse(toolgate(["validate", "--json", "dup.json"], dir).stdout) as {
      files: { issues: { code: string }[] }[];
    };
    expect(json.files[0]!.issues.map((i) => i.code)).toContain("json");
  });

  it("reports text that is not JSON at the place it breaks", () => {
    const dir = tempDir({ "broken.json": '{ "version": "1",\n  "default": deny }' });
    const r = toolgate(["validate", "broken.json"], dir);
    expect(r.status).toBe(1);
    expect(lines(r.stdout)[0]).toMatch(/^broken\.json:2:14 /);
  });

  it("prints warnings, which fail only with --strict", () => {
    const dir = tempDir({ "p.json": SHADOWED });
    const loose = toolgate(["validate", "p.json"], dir);
    expect(loose.status).toBe(0);
    expect(lines(loose.stdout)).toEqual([
      "p.json:2:29 /tools/**: warning: never chosen: every name it matches " +
        'is also matched by "*", which is as specific and written earlier',
      "p.json: valid, 1 warning",
    ]);
    expect(toolgate(["validate", "--strict", "p.json"], dir).status).toBe(1);
  });

  it("checks every file given and fails if any is invalid", () => {
    const dir = tempDir({ "good.json": { version: "1", default: "deny", tools: {} }, "bad.json": BAD });
    const r = toolgate(["validate", "good.json", "bad.json"], dir);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("good.json: valid\n");
    expect(r.stdout).toContain("bad.json: invalid");
  });

  it("prints JSON with --json", () => {
    const dir = tempDir({ "bad.json": BAD });
    const r = toolgate(["validate", "--json", "bad.json"], dir);
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout) as {
      files: { file: string; valid: boolean; issues: { path: string; line: number }[] }[];
    };
    expect(report.files[0]!.file).toBe("bad.json");
    expect(report.files[0]!.valid).toBe(false);
    expect(report.files[0]!.issues.map((i) => i.path)).toContain("/tools/create_run/rate_limits");
  });

  it("exits 2 with one line for a missing file, printing nothing else", () => {
    const dir = tempDir({ "good.json": { version: "1", default: "deny", tools: {} } });
    const r = toolgate(["validate", "good.json", "missing.json"], dir);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(lines(r.stderr)).toEqual(["toolgate validate: cannot read missing.json: no such file"]);
  });

  it("exits 2 when no file is named, and for a directory", () => {
    expect(toolgate(["validate"]).status).toBe(2);
    const dir = tempDir();
    const r = toolgate(["validate", join(dir)]);
    expect(r.status).toBe(2);
    expect(lines(r.stderr)).toEqual([`toolgate validate: cannot read ${dir}: is a directory`]);
  });
});
