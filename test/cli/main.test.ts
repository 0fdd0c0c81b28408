import { describe, expect, it } from "vitest";
import { lines, toolgate } from "./run.js";

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
    expect(lines(r.stderr)).toEqual([`toolgate ${command}: unknown option --no-such-flag (see toolgate ${command} --help)`]);
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
    expect(lines(r.stderr)).toEqual(["toolgate validate: option --strict takes no value (see toolgate validate --help)"]);
  });

  it("prints its version", () => {
    const r = toolgate(["--version"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+/);
  });
});
