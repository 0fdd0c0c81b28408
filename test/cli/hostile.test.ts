/**
 * Hostile input to the CLI's commands: tool lists and options a server or a user could write.
 * Every answer is a report, a finding or a usage error, in bounded time: never an internal
 * error, a stack trace or an allow by accident.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lines, tempDir, toolgate } from "./run.js";

const POLICY = { version: "1", default: "deny", tools: { get_run: {} } };

function deep(levels: number): string {
  return `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;
}

describe("the CLI with hostile input", () => {
  it("checks and inits tool lists with odd, long and prototype names, huge descriptions and deep schemas", () => {
    const long = "x".repeat(10_000);
    const text = `{ "tools": [
      { "name": "__proto__", "annotations": { "readOnlyHint": true } },
      { "name": "constructor", "description": ${JSON.stringify("secret ".repeat(200_000))} },
      { "name": ${JSON.stringify(long)}, "annotations": { "readOnlyHint": true } },
      { "name": "get_run",
        "inputSchema": { "type": "object", "properties": { "__proto__": { "type": "string" }, "path": ${deep(3000)} } },
        "annotations": ${deep(3000)} },
      { "name": "\\u0000\\ud800 odd" }
    ] }`;
    const dir = tempDir({ "policy.json": POLICY, "tools.json": text });
    const check = toolgate(["check", "policy.json", "--tools", "tools.json", "--json"], dir);
    expect(check.stderr).toBe("");
    expect(check.status).toBe(0);
    const report = JSON.parse(check.stdout) as {
      tools: { tool: string; bareCall: { outcome: string; cause?: string } }[];
    };
    expect(report.tools.map((t) => t.bareCall.outcome)).toEqual(["deny", "deny", "deny", "allow", "deny"]);
    // A name longer than 128 characters is a malformed call: denied, and no cache holds it.
    expect(report.tools[2]!.bareCall.cause).toBe("malformed_call");

    const init = toolgate(["init", "--tools", "tools.json", "--out", "p.json"], dir);
    expect(init.status).toBe(0);
    expect(init.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
    const written = JSON.parse(readFileSync(join(dir, "p.json"), "utf8")) as { tools: Record<string, unknown> };
    expect(Object.keys(written.tools)).toContain("__proto__");
    // The huge description says "secret": denied, read in bounded time.
    expect(written.tools.constructor).toMatchObject({ action: "deny" });
  });

  it("refuses tool lists that are not lists of tools, in one line", () => {
    for (const [text, message] of [
      ["", "tools.json: not valid JSON: "],
      ["null", 'tools.json: expected a tools/list result { "tools": [...] } or an array of tools'],
      ['{ "tools": [{ "name": 5 }] }', "tools.json: /tools/0/name: a tool needs a non-empty string name"],
      ['[{ "name": "a", "annotations": null }]', "tools.json: /0/annotations: must be an object"],
    ] as const) {
      const dir = tempDir({ "policy.json": POLICY, "tools.json": text });
      for (const command of [
        ["check", "policy.json", "--tools", "tools.json"],
        ["init", "--tools", "tools.json"],
      ]) {
        const r = toolgate(command, dir);
        expect(r.status, `${command[0]} ${text}`).toBe(2);
        expect(lines(r.stderr), text).toHaveLength(1);
        expect(r.stderr.startsWith(`toolgate ${command[0]}: ${message}`), r.stderr).toBe(true);
      }
    }
  });

  it("takes a session with prototype-named attributes as data, and refuses one that is not a session", () => {
    const dir = tempDir({
      "policy.json": {
        version: "1",
        default: "deny",
        tools: { get_run: { rate_limit: { max: 1, window: 1, per: "/__proto__" } } },
      },
      "tools.json": [{ name: "get_run" }],
    });
    const r = toolgate(
      ["check", "policy.json", "--tools", "tools.json", "--session", '{"id":"s","__proto__":"ada"}', "--json"],
      dir,
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect((JSON.parse(r.stdout) as { tools: { bareCall: { outcome: string } }[] }).tools[0]!.bareCall.outcome).toBe(
      "allow",
    );
    const bad = toolgate(["check", "policy.json", "--tools", "tools.json", "--session", deep(10_000)], dir);
    expect(bad.status).toBe(2);
    expect(lines(bad.stderr)).toHaveLength(1);
  });

  it("runs a cases file of hostile calls: each is decided, never a crash", () => {
    const dir = tempDir({
      "policy.json": POLICY,
      "cases.json": `{ "policy": "./policy.json", "cases": [
        { "name": "proto tool", "call": { "tool": "__proto__", "session": { "id": "s" } }, "expect": "deny" },
        { "name": "unknown field", "call": { "tool": "get_run", "arguments": {}, "session": { "id": "s" } },
          "expect": { "outcome": "deny", "cause": "malformed_call" } },
        { "name": "deep args", "call": { "tool": "get_run", "args": ${deep(100)}, "session": { "id": "s" } },
          "expect": "allow" },
        { "name": "long", "call": { "tool": ${JSON.stringify("y".repeat(50_000))}, "session": { "id": "s" } },
          "expect": { "outcome": "deny", "cause": "malformed_call" } }
      ] }`,
    });
    const r = toolgate(["test", "cases.json"], dir);
    expect(r.stderr).toBe("");
    expect(lines(r.stdout)).toEqual(["4 passed, 0 failed"]);
    expect(r.status).toBe(0);
  });
});
