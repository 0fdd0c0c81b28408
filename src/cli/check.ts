/**
 * `toolgate check <policy.json> --tools <tools.json>`: a policy against a server's tool list.
 */

import type { Decision, Session, ToolCall } from "toolgate";
import { parseCommand, sessionOption } from "./args.js";
import { decisionText } from "./decision-text.js";
import { EXIT_FINDINGS, EXIT_OK, UsageError } from "./errors.js";
import { unguardedAllows } from "./exposure.js";
import { readTools, type ToolInfo } from "./files.js";
import { issueLines } from "./issues.js";
import { patternsOnPaths, untypedConstraints, type ConditionWarning } from "./lint.js";
import { out, outJson, pad } from "./output.js";
import { loadPolicy } from "./policy.js";

/** The help text of `toolgate check`. */
export const CHECK_HELP = `usage: toolgate check <policy.json> --tools <tools.json> [--session <json>] [--strict]
                      [--json]

Checks a policy against a server's tools/list result ({ "tools": [...] } or a bare array):
  - for each tool, the rule that governs it and the decision of a bare call (no arguments,
    the session, the tool's own annotations; nothing is counted), with the reason and, for a
    deny, its cause;
  - the tools that fall through to /default;
  - the keys of "tools" that match no tool (likely typos);
  - warnings:
    - a tool annotated destructiveHint: true that some rule may allow with neither approval
      nor a limit;
    - a constraint ("maximum", "minimum", "pattern", "maxLength", "format"...) on a value
      without "type": JSON Schema applies it to its own type only, so "maximum": 1000 holds
      for the string "5000";
    - "pattern" on a tool's string argument named like a path or a URL (path, file, dir,
      source, destination, url, uri, endpoint, href...): use "pathWithin" or "urlHostIn",
      which resolve "..", case and IDNA as a pattern cannot.

options:
  --tools <file>     the tools/list result (required)
  --session <json>   the session of the bare calls, a JSON object with an "id" (default:
                     {"id":"check"}); with it, conditions on the session are judged for the
                     warnings too (without it, any session may come)
  --strict           exit 1 when there is any finding (fall-through tools, unmatched keys, warnings)
  --json             print the report as JSON instead
  -h, --help         show this help

exit status: 0 checked (and no findings, with --strict); 1 the policy is invalid, or findings
with --strict; 2 bad usage or a file cannot be read.`;

/** What `check` found for one tool. */
interface ToolReport {
  tool: string;
  rule: string;
  bareCall: Decision;
}

/** A warning of `check`, as printed in its JSON report. */
type Warning = { kind: "unguarded_destructive"; tool: string; rules: string[]; message: string } | ConditionWarning;

/** Runs `toolgate check`; returns the exit status. */
export async function checkCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals, help } = parseCommand(
    "check",
    argv,
    { tools: { type: "string" }, session: { type: "string" }, strict: { type: "boolean" }, json: { type: "boolean" } },
    true,
  );
  if (help) {
    out(CHECK_HELP);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError("name exactly one policy file (see toolgate check --help)");
  if (typeof values.tools !== "string")
    throw new UsageError("--tools <tools.json> is required (see toolgate check --help)");
  const session = typeof values.session === "string" ? sessionOption(values.session) : undefined;
  const file = positionals[0]!;
  const tools = readTools(values.tools);
  const loaded = loadPolicy(file);
  if (!loaded.ok) {
    for (const line of issueLines(file, loaded.issues)) out(line);
    return EXIT_FINDINGS;
  }
  const policy = loaded.policy;
  const reports: ToolReport[] = [];
  const warnings: Warning[] = [];
  const matchedKeys = new Set<string>();
  for (const t of tools) {
    const call = bareCall(t, session ?? { id: "check" });
    reports.push({ tool: t.name, rule: policy.ruleFor(t.name), bareCall: await policy.peek(call) });
    for (const k of (await policy.explain(call)).matched) matchedKeys.add(k);
    const context = { annotations: t.annotations ?? {}, ...(session === undefined ? {} : { session }) };
    if (t.annotations?.destructiveHint === true) {
      const rules = unguardedAllows(policy, t.name, context);
      if (rules.length > 0) {
        const message =
          `destructive (destructiveHint: true), and ${rules.join(", ")} ` +
          "may allow it with neither approval nor a limit";
        warnings.push({ kind: "unguarded_destructive", tool: t.name, rules, message });
      }
    }
    warnings.push(...patternsOnPaths(policy, t, context));
  }
  warnings.push(...untypedConstraints(policy));
  const fallThrough = reports.filter((r) => r.rule === "/default").map((r) => r.tool);
  const unmatchedKeys = Object.keys(policy.document.tools)
    .map((k) => `/tools/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`)
    .filter((p) => !matchedKeys.has(p));
  const findings = fallThrough.length + unmatchedKeys.length + warnings.length;
  const status = values.strict === true && findings > 0 ? EXIT_FINDINGS : EXIT_OK;

  if (values.json === true) {
    outJson({ tools: reports, fallThrough, unmatchedKeys, warnings, findings });
    return status;
  }
  const toolWidth = Math.max(4, ...reports.map((r) => r.tool.length)) + 2;
  const ruleWidth = Math.max(4, ...reports.map((r) => r.rule.length)) + 2;
  out(`${pad("tool", toolWidth)}${pad("rule", ruleWidth)}bare call`);
  for (const r of reports) out(`${pad(r.tool, toolWidth)}${pad(r.rule, ruleWidth)}${decisionText(r.bareCall)}`);
  out("");
  out(`tools that fall through to /default (${fallThrough.length}): ${listOrNone(fallThrough)}`);
  out(`keys of "tools" that match no tool (${unmatchedKeys.length}): ${listOrNone(unmatchedKeys)}`);
  out(`warnings (${warnings.length}):${warnings.length === 0 ? " none" : ""}`);
  for (const w of warnings) out(`  ${warningLine(w)}`);
  out(`${reports.length} tools checked, ${findings} finding${findings === 1 ? "" : "s"}`);
  return status;
}

function listOrNone(items: readonly string[]): string {
  return items.length === 0 ? "none" : items.join(", ");
}

function warningLine(w: Warning): string {
  switch (w.kind) {
    case "unguarded_destructive":
      return `${w.tool}: ${w.message}`;
    case "pattern_on_path":
      return `${w.tool ?? ""}: ${w.path}: ${w.message}`;
    case "untyped_constraint":
      return `${w.path}: ${w.message}`;
  }
}

function bareCall(t: ToolInfo, session: Session): ToolCall {
  return { tool: t.name, args: {}, session, ...(t.annotations === undefined ? {} : { annotations: t.annotations }) };
}
