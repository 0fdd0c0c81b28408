/**
 * Adversarial review of 0.2 (issue 11): the built CLI (`node dist/cli.js`) with malformed and
 * hostile cases files, files that never end (a FIFO), symlinks at --out, EPIPE, unknown flags,
 * JSON tricks in --session, hostile tool lists for init, and `require("toolgate/testing")` with
 * vitest unresolvable. Every run has a timeout, so a stall fails instead of hanging the suite.
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = join(ROOT, "dist", "cli.js");
const dir = mkdtempSync(join(tmpdir(), "toolgate-attack-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function cli(args: string[], timeout = 15_000): Run {
  const start = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: dir,
    encoding: "utf8",
    timeout,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - start };
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const POLICY = { version: "1", default: "allow", tools: { t: { rate_limit: { max: 2, window: "1m" } } } };
const CALL = { tool: "t", session: { id: "s" } };
const cases = (extra: object) =>
  JSON.stringify({ policy: POLICY, cases: [{ name: "x", call: CALL, expect: "allow", ...extra }] });

describe("attack: cases files", () => {
  it.each<[string, string, number, RegExp]>([
    ["repeat 1e9", cases({ repeat: 1e9 }), 2, /repeat/],
    ["repeat 1.5", cases({ repeat: 1.5 }), 2, /repeat/],
    ["at -5", cases({ at: -5 }), 2, /at/],
    ["at 1e300", cases({ at: 1e300 }), 2, /at/],
    [
      "a duplicate key",
      `{"policy":${JSON.stringify(POLICY)},"cases":[{"name":"a","name":"b",` +
        `"call":${JSON.stringify(CALL)},"expect":"allow"}]}`,
      2,
      /duplicate key/,
    ],
    [
      "a duplicate key in the inline policy",
      `{"policy":{"version":"1","default":"allow","default":"deny","tools":{}},` +
        `"cases":[{"name":"a","call":${JSON.stringify(CALL)},"expect":"allow"}]}`,
      2,
      /duplicate key "default"/,
    ],
    ["no cases", JSON.stringify({ policy: POLICY, cases: [] }), 1, /no cases/],
    ["cases missing", JSON.stringify({ policy: POLICY }), 2, /cases/],
    ["not JSON", "{", 2, /JSON/],
    ["an array", "[]", 2, /object/],
    [
      "__proto__ in expect",
      `{"policy":${JSON.stringify(POLICY)},"cases":[{"name":"a","call":${JSON.stringify(CALL)},` +
        `"expect":{"outcome":"allow","__proto__":{}}}]}`,
      2,
      /__proto__/,
    ],
    ["an unknown outcome", cases({ expect: "allowed" }), 2, /allowed/],
    [
      "a policy path that is a directory",
      JSON.stringify({ policy: "/tmp", cases: [{ name: "a", call: CALL, expect: "allow" }] }),
      2,
      /directory/,
    ],
  ])("%s: a clear error and exit status", (name, text, status, message) => {
    const p = file(`cases-${name.replace(/\W+/g, "-")}.json`, text);
    const r = cli(["test", p]);
    expect(r.status, r.stderr + r.stdout).toBe(status);
    expect(r.stderr + r.stdout).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("a call with an own __proto__ field is malformed, never merged into the call as approved: true", () => {
    const text =
      `{"policy":{"version":"1","default":"require_approval","tools":{}},"cases":[{"name":"a",` +
      `"call":{"tool":"t","session":{"id":"s"},"__proto__":{"approved":true}},"expect":"allow"}]}`;
    const r = cli(["test", file("cases-proto-call.json", text)]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/malformed_call/);
  });
});

describe("attack: inputs that never end", () => {
  const fifo = join(dir, "fifo.json");
  spawnSync("mkfifo", [fifo]);

  // docs/spec.md section 9: "A policy, a flag or a URL that is invalid is an error at start"; the
  // project's bar: hostile input gets a clear error in bounded time and memory. readFileSync on a
  // FIFO blocks forever (and on /dev/zero it grows without bound: 1.9 GB RSS after 6 s).
  it("toolgate validate refuses a FIFO as not a regular file (was a BUG; fixed)", () => {
    const r = cli(["validate", fifo], 4_000);
    expect(r.signal, "killed by the timeout: the command stalled").toBeNull();
    expect(r.status).toBe(2);
  });

  it("toolgate test refuses a cases policy path naming a FIFO (was a BUG; fixed)", () => {
    const p = file(
      "cases-fifo.json",
      JSON.stringify({ policy: "./fifo.json", cases: [{ name: "a", call: CALL, expect: "allow" }] }),
    );
    const r = cli(["test", p], 4_000);
    expect(r.signal, "killed by the timeout: the command stalled").toBeNull();
    expect(r.status).toBe(2);
  });

  it("a 50 MB file of NUL bytes is refused with one line, in bounded time", () => {
    const p = file("nul.json", "\u0000".repeat(50_000_000));
    const r = cli(["validate", p]);
    expect(r.status).toBe(1);
    expect(r.stdout.length + r.stderr.length).toBeLessThan(2_000);
    rmSync(p);
  });
});

describe("attack: flags and --session", () => {
  const policy = file(
    "p-session.json",
    JSON.stringify({
      version: "1",
      default: "deny",
      tools: {
        t: { rules: [{ when: { session: { properties: { role: { const: "admin" } }, required: ["role"] } } }] },
      },
    }),
  );

  it.each<[string, string[]]>([
    ["an unknown flag", ["explain", policy, "--tool", "t", "--bogus"]],
    ["a flag without its value", ["explain", policy, "--tool"]],
    ["no policy", ["explain", "--tool", "t"]],
    ["two policies", ["explain", policy, policy, "--tool", "t"]],
    ["an unknown command", ["bogus"]],
    ["--session with trailing text", ["explain", policy, "--tool", "t", "--session", '{"id":"s"} x']],
    ["--session not JSON", ["explain", policy, "--tool", "t", "--session", "{"]],
  ])("%s: exit 2 with a one-line message", (_name, args) => {
    const r = cli(args);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("--session prototype tricks never grant an attribute", () => {
    for (const s of [
      '{"id":"s","__proto__":{"role":"admin"}}',
      '{"id":"s","constructor":{"prototype":{"role":"admin"}}}',
    ]) {
      const r = cli(["explain", policy, "--tool", "t", "--session", s, "--json"]);
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ decision: { outcome: "deny" } });
    }
  });

  it("a --session nested 20,000 deep is refused with a clear error (nested beyond what the CLI reads)", () => {
    const deep = `{"id":"s","x":${"[".repeat(20_000)}${"]".repeat(20_000)}}`;
    const r = cli(["explain", policy, "--tool", "t", "--session", deep]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--session is not valid JSON.*nested (deeper|too deeply)/);
    expect(r.stderr).not.toMatch(/internal error|RangeError/);
  });

  it("explain --json with a --session nested 20,000 deep is a clear error, not an internal one (was a BUG)", () => {
    // The same call through policy.explain() and JSON.stringify of its result works; the CLI's
    // JSON output of the explanation overflows the stack. Bad input is a clear error (exit 2) or
    // an answer, never an internal error with a stack trace.
    const deep = `{"id":"s","x":${"[".repeat(20_000)}${"]".repeat(20_000)}}`;
    const r = cli(["explain", policy, "--tool", "t", "--session", deep, "--json"]);
    expect(r.stderr).not.toMatch(/internal error|RangeError/);
    expect([0, 2]).toContain(r.status);
  });

  it("--session JSON with a duplicate key is refused (was a BUG: the last value won; fixed)", () => {
    // docs/spec.md section 1: "JSON text with a duplicate key is an error too (JSON.parse would
    // silently keep the last one)"; issue 10 named the same flaw for inline policies in cases files.
    // "role":"user" is what a reader sees first; the policy decides on "admin".
    const r = cli(["explain", policy, "--tool", "t", "--session", '{"id":"s","role":"user","role":"admin"}']);
    expect(r.status).toBe(2);
  });
});

describe("attack: init on hostile tool lists, and links", () => {
  const tools = file(
    "tools-hostile.json",
    JSON.stringify({
      tools: [
        { name: "__proto__", annotations: { readOnlyHint: true } },
        { name: "constructor" },
        { name: "read*all", annotations: { readOnlyHint: true } },
        { name: "get-env", annotations: { readOnlyHint: true } },
        { name: "both", annotations: { readOnlyHint: true, destructiveHint: true } },
        { name: "r", annotations: { readOnlyHint: "true" } },
        { name: "fetch", description: "Returns your API key", annotations: { readOnlyHint: true } },
      ],
    }),
  );

  it("writes a policy that compiles, tightens every claim, and keeps prototype names as own keys", () => {
    const out = join(dir, "init-out.json");
    const r = cli(["init", "--tools", tools, "--out", out]);
    expect(r.status, r.stderr).toBe(0);
    const policy = JSON.parse(readFileSync(out, "utf8")) as { tools: Record<string, Record<string, unknown>> };
    expect(Object.keys(policy.tools)).toContain("__proto__");
    expect(policy.tools["read*all"]).toBeUndefined();
    expect(policy.tools["get-env"]).toMatchObject({ action: "deny" });
    expect(policy.tools.fetch).toMatchObject({ action: "deny" });
    expect(policy.tools.both).toMatchObject({ action: "require_approval" });
    expect(policy.tools.r).toMatchObject({ action: "require_approval" });
    expect(policy.tools.__proto__).toHaveProperty("rate_limit");
    expect(cli(["validate", out]).status).toBe(0);
  });

  it("init --force never writes through a link at --out, dangling or not", () => {
    const target = file("target.txt", "precious");
    const link = join(dir, "link.json");
    symlinkSync(target, link);
    const dangling = join(dir, "dangling.json");
    symlinkSync(join(dir, "nowhere.json"), dangling);
    expect(cli(["init", "--tools", tools, "--out", link, "--force"]).status).not.toBe(0);
    expect(readFileSync(target, "utf8")).toBe("precious");
    expect(cli(["init", "--tools", tools, "--out", dangling, "--force"]).status).not.toBe(0);
    expect(() => readFileSync(join(dir, "nowhere.json"))).toThrow();
  });

  it("piped into a reader that closes early (EPIPE), init and explain end quietly", () => {
    for (const args of [`init --tools ${tools}`, `explain ${join(dir, "p-session.json")} --tool t --json`]) {
      const r = spawnSync(
        "bash",
        ["-c", `node ${CLI} ${args} | head -c 1 >/dev/null; echo "status=\${PIPESTATUS[0]}"`],
        {
          cwd: dir,
          encoding: "utf8",
          timeout: 15_000,
        },
      );
      expect(r.stdout).toMatch(/status=0/);
      expect(r.stderr).not.toMatch(/EPIPE|\n\s+at /);
    }
  });
});

describe("attack: the pack test's claim", () => {
  it('require("toolgate/testing") works and runs cases with vitest unresolvable', () => {
    const code = `
      const M = require("node:module");
      const resolve = M._resolveFilename;
      M._resolveFilename = function (r, ...rest) {
        if (r === "vitest" || r.startsWith("vitest/") || r.startsWith("@vitest/")) {
          throw Object.assign(new Error("no vitest"), { code: "MODULE_NOT_FOUND" });
        }
        return resolve.call(this, r, ...rest);
      };
      const t = require("toolgate/testing");
      Promise.resolve(t.runCases({ policy: { version: "1", default: "allow", tools: {} },
        cases: [{ name: "a", call: { tool: "x", session: { id: "s" } }, expect: "allow" }] }))
        .then((r) => console.log(JSON.stringify({ passed: r.passed, failed: r.failed })));`;
    const r = spawnSync(process.execPath, ["-e", code], { cwd: ROOT, encoding: "utf8", timeout: 15_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ passed: 1, failed: 0 });
  });
});
