/**
 * `toolgate explain <policy.json> --tool <name> …`: one decision and how it was reached.
 */

import type { Explanation, RuleSummary, Session, ToolCall, ToolContext } from "toolgate";
import { isPlainObject } from "../shared/objects.js";
import { formatDecision } from "toolgate/testing";
import { jsonOption, parseCommand } from "./args.js";
import { EXIT_FINDINGS, EXIT_OK, UsageError } from "./errors.js";
import { issueLines } from "./issues.js";
import { out, outJson } from "./output.js";
import { loadPolicy } from "./policy.js";

/** The help text of `toolgate explain`. */
export const EXPLAIN_HELP = `usage: toolgate explain <policy.json> --tool <name> [--args <json>] [--session <json>]
                        [--annotations <json>] [--approved] [--json]

Shows the decision a call would get (counting nothing) and how it was reached: the keys of
"tools" that match the name and why the chosen one won, each "when" that held or failed (on
which schema keyword and path), and the limits that applied.

options:
  --tool <name>          the tool's name (required)
  --args <json>          the call's arguments, a JSON object
  --session <json>       the session, a JSON object (default: {"id":"cli"})
  --annotations <json>   the tool's MCP annotations, a JSON object
  --approved             the call is approved by a person
  --json                 print the explanation as JSON instead
  -h, --help             show this help

exit status: 0 explained; 1 the policy is invalid; 2 bad usage or the file cannot be read.`;

/** Runs `toolgate explain`; returns the exit status. */
export async function explainCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals, help } = parseCommand(
    "explain",
    argv,
    {
      tool: { type: "string" },
      args: { type: "string" },
      session: { type: "string" },
      annotations: { type: "string" },
      approved: { type: "boolean" },
      json: { type: "boolean" },
    },
    true,
  );
  if (help) {
    out(EXPLAIN_HELP);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError("name exactly one policy file (see toolgate explain --help)");
  if (typeof values.tool !== "string") throw new UsageError("--tool <name> is required (see toolgate explain --help)");
  const call: Record<string, unknown> = {
    tool: values.tool,
    session: values.session === undefined ? { id: "cli" } : jsonOption("session", values.session as string),
  };
  if (values.args !== undefined) call.args = jsonOption("args", values.args as string);
  if (values.annotations !== undefined) call.annotations = jsonOption("annotations", values.annotations as string);
  if (values.approved === true) call.approved = true;

  const file = positionals[0]!;
  const loaded = loadPolicy(file);
  if (!loaded.ok) {
    for (const line of issueLines(file, loaded.issues)) out(line);
    return EXIT_FINDINGS;
  }
  const x = await loaded.policy.explain(call as unknown as ToolCall);
  // What may decide this tool at all, from the plan: the context the call gives (its session
  // and annotations) is judged, its arguments are not, so this holds for any arguments.
  const context: ToolContext = {};
  if (isPlainObject(call.session)) context.session = call.session as Session;
  // Absent annotations are {} to the engine, so they are judged as {} here too.
  if (call.annotations === undefined) context.annotations = {};
  else if (isPlainObject(call.annotations)) context.annotations = call.annotations;
  const rules = loaded.policy.rulesFor(values.tool, context);
  if (values.json === true) outJson({ call, ...x, rules });
  else for (const line of describe(values.tool, x, rules)) out(line);
  return EXIT_OK;
}

/** The explanation in words, one line each. */
function describe(tool: string, x: Explanation, rules: readonly RuleSummary[]): string[] {
  const lines = [
    `decision: ${formatDecision(x.decision)}`,
    "",
    `matching keys of "tools" for ${JSON.stringify(tool)}:`,
  ];
  if (x.matched.length === 0) lines.push("  none: the default (/default) decides");
  x.matched.forEach((pointer, i) => lines.push(`  ${pointer}${i === 0 ? `  chosen: ${whyChosen(x.matched)}` : ""}`));
  lines.push("", "steps:");
  for (const s of x.steps) lines.push(`  ${s.path === "" ? '""' : s.path}: ${s.message}`);
  lines.push("", `limits applied: ${x.limits.length === 0 ? "none" : x.limits.join(", ")}`);
  lines.push("", `rules that may decide ${JSON.stringify(tool)} with any arguments, in the order they are tried:`);
  for (const r of rules) {
    const limits = r.limits.length === 0 ? "no limit" : `limits ${r.limits.join(", ")}`;
    lines.push(
      `  ${r.rule}: ${r.action}${r.conditional ? " when its condition holds" : ""}` +
        (r.action === "deny" ? "" : `, ${limits}`),
    );
  }
  return lines;
}

/** Why the best key won over the others, by the rules of docs/spec.md, section 1 ("Tool-name patterns"). */
function whyChosen(matched: readonly string[]): string {
  const key = (pointer: string) => keyOf(pointer);
  const best = key(matched[0]!);
  if (!best.includes("*")) return "an exact key wins over every pattern";
  if (matched.length === 1) return "the only key that matches";
  const specificity = (k: string) => k.length - (k.match(/\*/g)?.length ?? 0);
  const next = key(matched[1]!);
  const a = specificity(best);
  const b = specificity(next);
  if (a > b) return `the most specific pattern (${a} characters besides "*", against ${b} for ${matched[1]})`;
  // Matches come best first, so an equally specific runner-up was written later.
  return `as specific as ${matched[1]} (${a} characters besides "*") and written earlier`;
}

function keyOf(pointer: string): string {
  return pointer.slice("/tools/".length).replace(/~1/g, "/").replace(/~0/g, "~");
}
