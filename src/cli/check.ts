/**
 * `toolgate check <policy.json> --tools <tools.json>`: a policy against a server's tool list.
 */

import type { Decision, Policy } from "toolgate";
import { parseCommand } from "./args.js";
import { EXIT_FINDINGS, EXIT_OK, UsageError } from "./errors.js";
import { unguardedAllows } from "./exposure.js";
import { readTools, type ToolInfo } from "./files.js";
import { issueLines } from "./issues.js";
import { out, outJson, pad } from "./output.js";
import { loadPolicy } from "./policy.js";

/** The help text of `toolgate check`. */
export const CHECK_HELP = `usage: toolgate check <policy.json> --tools <tools.json> [--strict] [--json]

Checks a policy against a server's tools/list result ({ "tools": [...] } or a bare array):
  - for each tool, the rule that governs it and the outcome of a bare call
    (no arguments, session {"id":"check"}, the tool's own annotations; nothing is counted);
  - the tools that fall through to /default;
  - the keys of "tools" that match no tool (likely typos);
  - a warning for every tool annotated destructiveHint: true that some rule may allow with
    neither approval nor a limit.

options:
  --tools <file>  the tools/list result (required)
  --strict        exit 1 when there is any finding (fall-through tools, unmatched keys, warnings)
  --json          print the report as JSON instead
  -h, --help      show this help

exit status: 0 checked (and no findings, with --strict); 1 the policy is invalid, or findings
with --strict; 2 bad usage or a file cannot be read.`;

/** What `check` found for one tool. */
interface ToolReport {
  tool: string;
  rule: string;
  bareCall: Decision;
  destructive: boolean;
  unguarded: string[];
}

/** Runs `toolgate check`; returns the exit status. */
export async function checkCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals, help } = parseCommand(
    "check",
    argv,
    { tools: { type: "string" }, strict: { type: "boolean" }, json: { type: "boolean" } },
    true,
  );
  if (help) {
    out(CHECK_HELP);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError("name exactly one policy file (see toolgate check --help)");
  if (typeof values.tools !== "string") throw new UsageError("--tools <tools.json> is required (see toolgate check --help)");
  const file = positionals[0]!;
  const tools = readTools(values.tools);
  const loaded = loadPolicy(file);
  if (!loaded.ok) {
    for (const line of issueLines(file, loaded.issues)) out(line);
    return EXIT_FINDINGS;
  }
  const policy = loaded.policy;
  const reports: ToolReport[] = [];
  const matchedKeys = new Set<string>();
  for (const t of tools) {
    const r = await report(policy, t);
    reports.push(r);
    for (const k of (await policy.explain(bareCall(t))).matched) matchedKeys.add(k);
  }
  const fallThrough = reports.filter((r) => r.rule === "/default").map((r) => r.tool);
  const unmatchedKeys = Object.keys(policy.document.tools)
    .map((k) => `/tools/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`)
    .filter((p) => !matchedKeys.has(p));
  const warnings = reports
    .filter((r) => r.destructive && r.unguarded.length > 0)
    .map((r) => ({ tool: r.tool, rules: r.unguarded, message: `destructive (destructiveHint: true), and ${r.unguarded.join(", ")} may allow it with neither approval nor a limit` }));
  const findings = fallThrough.length + unmatchedKeys.length + warnings.length;
  const status = values.strict === true && findings > 0 ? EXIT_FINDINGS : EXIT_OK;

  if (values.json === true) {
    outJson({ tools: reports.map(({ tool, rule, bareCall: d }) => ({ tool, rule, bareCall: d })), fallThrough, unmatchedKeys, warnings, findings });
    return status;
  }
  const toolWidth = Math.max(4, ...reports.map((r) => r.tool.length)) + 2;
  const ruleWidth = Math.max(4, ...reports.map((r) => r.rule.length)) + 2;
  out(`${pad("tool", toolWidth)}${pad("rule", ruleWidth)}bare call`);
  for (const r of reports) out(`${pad(r.tool, toolWidth)}${pad(r.rule, ruleWidth)}${outcomeText(r.bareCall)}`);
  out("");
  out(`tools that fall through to /default (${fallThrough.length}): ${fallThrough.length === 0 ? "none" : fallThrough.join(", ")}`);
  out(`keys of "tools" that match no tool (${unmatchedKeys.length}): ${unmatchedKeys.length === 0 ? "none" : unmatchedKeys.join(", ")}`);
  out(`warnings (${warnings.length}):${warnings.length === 0 ? " none" : ""}`);
  for (const w of warnings) out(`  ${w.tool}: ${w.message}`);
  out(`${reports.length} tools checked, ${findings} finding${findings === 1 ? "" : "s"}`);
  return status;
}

async function report(policy: Policy, t: ToolInfo): Promise<ToolReport> {
  const rule = policy.ruleFor(t.name);
  return {
    tool: t.name,
    rule,
    bareCall: await policy.peek(bareCall(t)),
    destructive: t.annotations?.destructiveHint === true,
    unguarded: unguardedAllows(policy.document, rule, t.annotations ?? {}),
  };
}

function bareCall(t: ToolInfo) {
  return { tool: t.name, args: {}, session: { id: "check" }, ...(t.annotations === undefined ? {} : { annotations: t.annotations }) };
}

function outcomeText(d: Decision): string {
  switch (d.outcome) {
    case "allow":
      return d.remaining === undefined ? "allow, no limit" : "allow, limited";
    case "rate_limited":
      return `rate_limited by ${d.rule}`;
    default:
      return d.outcome;
  }
}
