/**
 * Runs the built CLI (`node dist/cli.js`) as a user would, in a working directory of the
 * test's choosing, and gives back its exit status and output. Every temporary directory made
 * here is removed after the test file that made it.
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The built CLI. */
export const CLI = join(ROOT, "dist", "cli.js");
/** The MLflow MCP server's tools/list result. */
export const MLFLOW_TOOLS = join(ROOT, "test", "fixtures", "mlflow-mcp-tools.json");
/** The MLflow example policy. */
export const MLFLOW_POLICY = join(ROOT, "examples", "mlflow", "policy.json");

/** What a CLI run printed and how it exited. */
export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `toolgate <args>` in `cwd`. */
export function toolgate(args: readonly string[], cwd: string = ROOT): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The MCP reference "everything" server's tools/list result (see snapshot-everything.mjs). */
export const EVERYTHING_TOOLS = join(ROOT, "test", "fixtures", "everything-mcp-tools.json");

const made: string[] = [];
// Registered once per test file that imports this module: its directories go when it ends.
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary directory with these files (name → text, or a value written as JSON). */
export function tempDir(files: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "toolgate-cli-"));
  made.push(dir);
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === "string" ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

/** The lines of an output, without the final newline. */
export function lines(text: string): string[] {
  return text.replace(/\n$/, "").split("\n");
}
