/**
 * Which rules could let a tool's calls through with neither a person's approval nor a rate
 * limit. Asked of the compiled plan (`policy.rulesFor`), the engine's one reading of rule
 * semantics, so it holds for every argument, not just the ones tried: conditions on the
 * arguments are taken as possibly holding, conditions on annotations and the session are
 * judged with what the caller knows.
 */

import type { Policy, ToolContext } from "toolgate";

/**
 * JSON Pointers of the rules that may allow calls of `tool` in this context without approval
 * and without any limit (the rule's own or the policy's), in the order the engine tries them.
 */
export function unguardedAllows(policy: Policy, tool: string, context: ToolContext): string[] {
  return policy
    .rulesFor(tool, context)
    .filter((r) => r.action === "allow" && r.limits.length === 0)
    .map((r) => r.rule);
}
