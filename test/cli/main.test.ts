import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, lines, MLFLOW_POLICY, tempDir, toolgate } from "./run.js";

/** Runs `toolgate <args> | head -n 1` in bash, giving toolgate's own exit status and standard error. */
function intoHead(args: string[], cwd: string): { status: number; first: string; stderr: string } {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const r = spawnSync("bash", ["-c", `${quoted} 2>stderr.txt | head -n 1; echo "status=\${PIPESTATUS[0]}"`], {
    cwd,
    encoding: "utf8",
    timeout: 30_000,
  });
  const out = lines(r.stdout);
  return {
    status: Number(out.at(-1)!.replace("status=", "")),
    first: out[0]!,
    stderr: readFileSync(join(cwd, "stderr.txt"), "utf8"),
  };
}

const COMMANDS = ["validate", "test", "explain", "check", "init"];

describe("toolgate", () => {
  it("prints its help and lists every command", () => {
    const r = toolgate(["--help"]);
    expect(r.status).toBe(0);
    for (const c of [...COMMANDS, "proxy"]) expect(r.stdout).toContain(`  ${c} `);
  });

  it.each(COMMANDS)("%s --help prints the command's usage and exits 0", (command) => {
    const r = toolgate([command, "--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith(`usage: toolgate ${command} `)).toBe(true);
    expect(r.stderr).toBe("");
  });

  it.each(COMMANDS)("%s rejects an unknown flag with one line and exit 2", (command) => {
    const r = toolgate([command, "--no-such-flag", "x.json"]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(lines(r.stderr)).toEqual([
      `toolgate ${command}: unknown option --no-such-flag (see toolgate ${command} --help)`,
    ]);
  });

  it("rejects an unknown command and a missing one with exit 2", () => {
    const unknown = toolgate(["vaildate", "p.json"]);
    expect(unknown.status).toBe(2);
    expect(lines(unknown.stderr)).toEqual(['toolgate: unknown command "vaildate" (see toolgate --help)']);
    const none = toolgate([]);
    expect(none.status).toBe(2);
    expect(lines(none.stderr)).toEqual(["toolgate: name a command (see toolgate --help)"]);
  });

  it("rejects a value given to a flag that takes none", () => {
    const r = toolgate(["validate", "--strict=yes", "p.json"]);
    expect(r.status).toBe(2);
    expect(lines(r.stderr)).toEqual([
      "toolgate validate: option --strict takes no value (see toolgate validate --help)",
    ]);
  });

  it("ends quietly when the reader of its output goes away (| head), keeping its exit status", () => {
    const tools = Array.from({ length: 20_000 }, (_, i) => ({
      name: `tool_${i}`,
      annotations: { readOnlyHint: i % 2 === 0 },
    }));
    const dir = tempDir({ "tools.json": { tools } });
    const init = intoHead(["init", "--tools", "tools.json"], dir);
    expect(init).toEqual({ status: 0, first: "{", stderr: "" });
    const check = intoHead(["check", MLFLOW_POLICY, "--tools", "tools.json", "--strict"], dir);
    // 20,000 tools fall through to /default: findings, so --strict exits 1, quietly.
    expect(check).toEqual({ status: 1, first: expect.stringMatching(/^tool +rule +bare call$/), stderr: "" });
  });

  it("prints its version", () => {
    const r = toolgate(["--version"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+/);
  });
});
