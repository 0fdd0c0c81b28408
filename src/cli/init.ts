/**
 * `toolgate init --tools <tools.json>`: a starting policy from a server's tool list.
 */

import { writeFileSync } from "node:fs";
import { validatePolicy } from "toolgate";
import { parseCommand } from "./args.js";
import { EXIT_OK, UsageError } from "./errors.js";
import { fileProblem, readTools, type ToolInfo } from "./files.js";
import { err, out } from "./output.js";

/** Where the generated policy's `$schema` points: the schema shipped in the installed package. */
export const SCHEMA_REF = "./node_modules/toolgate/schemas/policy.v1.schema.json";

/** The help text of `toolgate init`. */
export const INIT_HELP = `usage: toolgate init --tools <tools.json> [--out <file>] [--force]

Writes a starting policy from a server's tools/list result ({ "tools": [...] } or a bare array):
tools annotated readOnlyHint: true are allowed, every other tool requires approval, and
anything else is denied by default. "$schema" points at the schema in node_modules, so editors
check the file as you edit it. A tool whose name contains "*" is left to the default (a key
with "*" would be a pattern matching other names too), with a note on standard error.

options:
  --tools <file>  the tools/list result (required)
  --out <file>    write the policy there instead of standard output
  --force         overwrite --out if it exists
  -h, --help      show this help

exit status: 0 written; 2 bad usage, a file cannot be read, or --out exists without --force.`;

/** Runs `toolgate init`; returns the exit status. */
export function initCommand(argv: readonly string[]): number {
  const { values, help } = parseCommand("init", argv, { tools: { type: "string" }, out: { type: "string" }, force: { type: "boolean" } }, false);
  if (help) {
    out(INIT_HELP);
    return EXIT_OK;
  }
  if (typeof values.tools !== "string") throw new UsageError("--tools <tools.json> is required (see toolgate init --help)");
  const tools = readTools(values.tools);
  const { policy, skipped } = startingPolicy(tools);
  // The generated policy must compile; if it did not, writing it would hand the user a broken file.
  const check = validatePolicy(policy);
  if (!check.valid) throw new Error(`init generated an invalid policy: ${check.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`);
  for (const name of skipped) err(`toolgate init: left ${JSON.stringify(name)} to the default: a name containing "*" cannot be written as an exact key`);
  const text = `${JSON.stringify(policy, null, 2)}\n`;
  if (typeof values.out !== "string") {
    process.stdout.write(text);
    return EXIT_OK;
  }
  try {
    writeFileSync(values.out, text, { flag: values.force === true ? "w" : "wx" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new UsageError(`${values.out} already exists (use --force to overwrite it)`);
    throw new UsageError(`cannot write ${values.out}: ${fileProblem(e)}`);
  }
  const keys = Object.values(policy.tools);
  const allowed = keys.filter((r) => r.action === undefined).length;
  err(`toolgate init: wrote ${values.out}: ${allowed} read-only tool${allowed === 1 ? "" : "s"} allowed, ${keys.length - allowed} requiring approval, default deny`);
  return EXIT_OK;
}

/** The policy `init` writes, and the tools it had to leave to the default. */
export function startingPolicy(tools: readonly ToolInfo[]): {
  policy: { $schema: string; version: "1"; default: "deny"; tools: Record<string, { action?: "require_approval" }> };
  skipped: string[];
} {
  const entries: [string, { action?: "require_approval" }][] = [];
  const skipped: string[] = [];
  for (const t of tools) {
    if (t.name.includes("*")) skipped.push(t.name);
    else entries.push([t.name, t.annotations?.readOnlyHint === true ? {} : { action: "require_approval" }]);
  }
  return { policy: { $schema: SCHEMA_REF, version: "1", default: "deny", tools: Object.fromEntries(entries) }, skipped };
}
