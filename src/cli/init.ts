/**
 * `toolgate init --tools <tools.json>`: a starting policy from a server's tool list.
 *
 * A server's annotations are its own claims, so they only ever tighten what `init` writes: a
 * tool that claims to be read-only is allowed with a rate limit (a claim is no guarantee, and a
 * read-only tool can still leak or cost), a tool whose claims contradict each other needs
 * approval, and a tool whose name or description says it exposes secrets or the environment is
 * denied whatever it claims.
 */

import { randomBytes } from "node:crypto";
import { existsSync, lstatSync, renameSync, rmSync, writeFileSync, type Stats } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { validatePolicy, type LimitDocument } from "toolgate";
import { quoteName } from "../shared/text.js";
import { parseCommand } from "./args.js";
import { EXIT_OK, UsageError } from "./errors.js";
import { fileProblem, readTools, type ToolInfo } from "./files.js";
import { nameWords } from "./names.js";
import { err, out, outText } from "./output.js";

/** The schema's published address (its `$id`), for a policy written where no local copy is found. */
export const SCHEMA_URL = "https://toolgate.dev/schemas/policy.v1.schema.json";

/** The limit `init` gives every tool it allows: generous for an agent, a bound for a runaway loop. */
export const READ_LIMIT: LimitDocument = { max: 60, window: "1m" };

const SECRET_WORDS = new Set([
  "env",
  "envs",
  "environ",
  "environment",
  "printenv",
  "dotenv",
  "secret",
  "secrets",
  "credential",
  "credentials",
  "creds",
  "token",
  "tokens",
  "password",
  "passwords",
  "passwd",
  "apikey",
  "apikeys",
]);
const SECRET_PAIRS = new Set(["api key", "api keys", "private key", "private keys", "access key", "access keys"]);
/** Phrases of a description that say a tool hands out secrets (regular expression sources). */
const SECRET_PHRASES = [
  "environment variables?",
  "env vars?",
  "secrets?",
  "credentials?",
  "passwords?",
  "api[ _-]?keys?",
  "private keys?",
  "(?:access|auth|bearer|refresh|api) tokens?",
];
const SECRET_TEXT = new RegExp(`\\b(?:${SECRET_PHRASES.join("|")})\\b`, "i");

/** The help text of `toolgate init`. */
export const INIT_HELP = `usage: toolgate init --tools <tools.json> [--out <file>] [--force]

Writes a starting policy from a server's tools/list result ({ "tools": [...] } or a bare array).
The server's annotations are its claims, so they only tighten the policy, never loosen it:
  - a tool whose name or description suggests it exposes secrets or the environment
    (get-env, *env*, *secret*, *credential*, *token*, *password*, "API key"...) is denied,
    whatever it claims; allow it yourself if it must be called;
  - a tool that claims both readOnlyHint and destructiveHint needs approval;
  - a tool that claims readOnlyHint: true is allowed, with a limit of ${READ_LIMIT.max} calls a minute per
    session;
  - every other tool needs approval, and anything else is denied by default.
A tool whose name contains "*" is left to the default (a key with "*" would be a pattern
matching other names too). Notes go to standard error.

"$schema" points at the schema of the toolgate installed nearest to the output file
(node_modules/toolgate/..., relative to the file's directory), so editors check the policy as
you edit it; with no local install, at the schema's published URL.

options:
  --tools <file>  the tools/list result (required)
  --out <file>    write the policy there instead of standard output (never through a symbolic link)
  --force         replace --out if it exists
  -h, --help      show this help

exit status: 0 written; 2 bad usage, a file cannot be read, or --out exists without --force.`;

/** The rule `init` writes for one tool. */
type StartingRule = { rate_limit: LimitDocument } | { action: "require_approval" | "deny"; reason?: string };

/** The policy `init` writes, with the notes it makes about tools. */
export interface StartingPolicy {
  policy: { $schema: string; version: "1"; default: "deny"; tools: Record<string, StartingRule> };
  /** Tools left to the default: names containing `*`. */
  skipped: string[];
  /** Tools denied because they may expose secrets. */
  secret: string[];
  /** Tools that need approval because their annotations contradict each other. */
  contradictory: string[];
}

/** Runs `toolgate init`; returns the exit status. */
export function initCommand(argv: readonly string[]): number {
  const { values, help } = parseCommand(
    "init",
    argv,
    { tools: { type: "string" }, out: { type: "string" }, force: { type: "boolean" } },
    false,
  );
  if (help) {
    out(INIT_HELP);
    return EXIT_OK;
  }
  if (typeof values.tools !== "string")
    throw new UsageError("--tools <tools.json> is required (see toolgate init --help)");
  if (values.out === "") throw new UsageError("--out needs a file name (see toolgate init --help)");
  const tools = readTools(values.tools);
  const target = typeof values.out === "string" ? resolve(values.out) : undefined;
  const start = startingPolicy(tools, schemaRef(target === undefined ? process.cwd() : dirname(target)));
  // The generated policy must compile; if it did not, writing it would hand the user a broken file.
  const check = validatePolicy(start.policy);
  if (!check.valid)
    throw new Error(
      `init generated an invalid policy: ${check.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
    );
  for (const name of start.skipped) {
    err(
      `toolgate init: left ${quoteName(name)} to the default: a name containing "*" cannot be written as an exact key`,
    );
  }
  for (const name of start.secret) {
    err(
      `toolgate init: denied ${quoteName(name)}: ` +
        "its name or description suggests it exposes secrets or the environment",
    );
  }
  for (const name of start.contradictory) {
    err(`toolgate init: ${quoteName(name)} needs approval: it claims to be both read-only and destructive`);
  }
  const text = `${JSON.stringify(start.policy, null, 2)}\n`;
  if (target === undefined) {
    outText(text);
    return EXIT_OK;
  }
  writePolicy(values.out as string, target, text, values.force === true);
  const rules = Object.values(start.policy.tools);
  const allowed = rules.filter((r) => !("action" in r)).length;
  const approval = rules.filter((r) => "action" in r && r.action === "require_approval").length;
  const denied = rules.length - allowed - approval;
  err(
    `toolgate init: wrote ${values.out as string}: ` +
      `${allowed} read-only tool${allowed === 1 ? "" : "s"} allowed with a limit, ` +
      `${approval} requiring approval, ${denied} denied, default deny`,
  );
  return EXIT_OK;
}

/** The policy `init` writes for these tools, with `$schema` set to `schema`. */
export function startingPolicy(tools: readonly ToolInfo[], schema: string): StartingPolicy {
  const entries: [string, StartingRule][] = [];
  const skipped: string[] = [];
  const secret: string[] = [];
  const contradictory: string[] = [];
  for (const t of tools) {
    if (t.name.includes("*")) {
      skipped.push(t.name);
      continue;
    }
    const readOnly = t.annotations?.readOnlyHint === true;
    const destructive = t.annotations?.destructiveHint === true;
    if (exposesSecrets(t)) {
      secret.push(t.name);
      entries.push([
        t.name,
        { action: "deny", reason: "This tool may expose secrets or environment variables, so it is not allowed" },
      ]);
    } else if (readOnly && destructive) {
      contradictory.push(t.name);
      entries.push([
        t.name,
        { action: "require_approval", reason: "This tool claims to be both read-only and destructive" },
      ]);
    } else if (readOnly) {
      entries.push([t.name, { rate_limit: { ...READ_LIMIT } }]);
    } else {
      entries.push([t.name, { action: "require_approval" }]);
    }
  }
  const policy = {
    $schema: schema,
    version: "1" as const,
    default: "deny" as const,
    tools: Object.fromEntries(entries),
  };
  return { policy, skipped, secret, contradictory };
}

/** Whether a tool's name or description says it hands out secrets or the environment. */
export function exposesSecrets(t: Pick<ToolInfo, "name" | "description">): boolean {
  const words = nameWords(t.name);
  if (words.some((w) => SECRET_WORDS.has(w))) return true;
  for (let i = 0; i + 1 < words.length; i++) if (SECRET_PAIRS.has(`${words[i]} ${words[i + 1]}`)) return true;
  // Descriptions are free text of any length: look at a bounded prefix.
  return t.description !== undefined && SECRET_TEXT.test(t.description.slice(0, 4096));
}

/**
 * Where `$schema` points for a policy written in `dir`: the schema of the toolgate installed
 * nearest to it (`node_modules/toolgate`, relative to `dir`, so the reference holds wherever the
 * project is checked out), else the published URL.
 */
export function schemaRef(dir: string): string {
  for (let d = resolve(dir); ; d = dirname(d)) {
    const candidate = join(d, "node_modules", "toolgate", "schemas", "policy.v1.schema.json");
    if (existsSync(candidate)) {
      const rel = relative(dir, candidate).split(sep).join("/");
      return rel.startsWith(".") ? rel : `./${rel}`;
    }
    if (dirname(d) === d) return SCHEMA_URL;
  }
}

/**
 * Writes the policy to `target`, never through a symbolic link: a link at `--out` is refused
 * (lstat), a new file is created exclusively (`wx`, which fails on anything that appeared
 * there since), and `--force` writes a new file beside the target and renames it over the
 * target, which replaces a directory entry and never follows one.
 */
function writePolicy(shown: string, target: string, text: string, force: boolean): void {
  let stat: Stats | undefined;
  try {
    stat = lstatSync(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT")
      throw new UsageError(`cannot write ${shown}: ${fileProblem(e)}`);
  }
  if (stat?.isSymbolicLink()) {
    throw new UsageError(
      `${shown} is a symbolic link: init never writes through a link (remove it, or name the file it points to)`,
    );
  }
  if (stat?.isDirectory()) throw new UsageError(`cannot write ${shown}: is a directory`);
  if (stat !== undefined && !force) throw new UsageError(`${shown} already exists (use --force to overwrite it)`);
  if (!force) {
    try {
      writeFileSync(target, text, { flag: "wx" });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST")
        throw new UsageError(`${shown} already exists (use --force to overwrite it)`);
      throw new UsageError(`cannot write ${shown}: ${fileProblem(e)}`);
    }
    return;
  }
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    writeFileSync(temp, text, { flag: "wx" });
    renameSync(temp, target);
  } catch (e) {
    rmSync(temp, { force: true });
    throw new UsageError(`cannot write ${shown}: ${fileProblem(e)}`);
  }
}
