/**
 * Which rules may decide a tool's calls, worked out from the plan: the one answer behind
 * `rulesFor`, `rules`, `mayAllow`, the CLI's `check` and the test coverage, so no second
 * interpreter of rule semantics exists beside the engine.
 */

import { Effect, type Condition, type DecidingRule, type Plan, type ToolRule } from "../compile/plan.js";
import type { Action, RuleSummary, ToolContext } from "../types.js";
import { hasAttributes } from "./budgets.js";

const ACTIONS: readonly Action[] = ["allow", "deny", "require_approval"];

/** The public summary of a deciding rule. */
export function summarise(rule: DecidingRule, conditional: boolean): RuleSummary {
  return { rule: rule.pointer, action: ACTIONS[rule.effect]!, conditional, limits: rule.limits.map((l) => l.pointer) };
}

/**
 * Every rule of the plan that can decide some call: each key of `tools` in order, then the
 * default. A conditional rule after one that always holds can never decide (the compiler warns
 * of it), and neither can the "no rule held" deny when one of the default's rules always holds.
 */
export function allRules(plan: Plan): RuleSummary[] {
  const out: RuleSummary[] = [];
  let defaultAlwaysHolds = true;
  for (const t of plan.toolRules) {
    if (t.rule !== null) {
      out.push(summarise(t.rule, false));
      continue;
    }
    let always = false;
    for (const r of t.rules!) {
      out.push(summarise(r.rule, !r.unconditional));
      if (r.unconditional) {
        always = true;
        break;
      }
    }
    if (t === plan.fallback) defaultAlwaysHolds = always;
  }
  if (!defaultAlwaysHolds) out.push(summarise(plan.noRuleHeld, false));
  return out;
}

interface Reached {
  rules: { rule: DecidingRule; conditional: boolean }[];
  /** Whether no rule may hold, so the call falls through to the default (or is denied). */
  fallsThrough: boolean;
}

function reach(t: ToolRule, ctx: ToolContext, out: Reached["rules"]): boolean {
  if (t.rule !== null) {
    out.push({ rule: t.rule, conditional: false });
    return false;
  }
  for (const r of t.rules!) {
    const w = r.when;
    if (w !== null) {
      if (w.session !== null && ctx.session !== undefined && !safeHolds(w.session, ctx.session)) continue;
      if (w.annotations !== null && ctx.annotations !== undefined && !safeHolds(w.annotations, ctx.annotations))
        continue;
    }
    const certain =
      r.unconditional ||
      w === null ||
      (w.args === null &&
        (w.session === null || ctx.session !== undefined) &&
        (w.annotations === null || ctx.annotations !== undefined));
    out.push({ rule: r.rule, conditional: !certain });
    if (certain) return false;
  }
  return true;
}

/** The rules that may decide a call of the tool that `t` governs, in the order they are tried. */
export function reachable(plan: Plan, t: ToolRule, ctx: ToolContext): Reached["rules"] {
  const out: Reached["rules"] = [];
  if (!reach(t, ctx, out)) return out;
  if (t !== plan.fallback && !reach(plan.fallback, ctx, out)) return out;
  out.push({ rule: plan.noRuleHeld, conditional: false });
  return out;
}

/**
 * `false` when every call of the tool with this context is denied whatever its arguments. An
 * approval rule's unapproved call is answered needs_approval, never deny; an allow whose
 * `per` attribute the known session lacks is denied.
 */
export function mayAllow(rules: Reached["rules"], ctx: ToolContext): boolean {
  return rules.some(({ rule }) => {
    if (rule.effect === Effect.Deny) return false;
    if (rule.effect === Effect.Approval || ctx.session === undefined) return true;
    return hasAttributes(rule, ctx.session);
  });
}

function safeHolds(check: Condition, value: unknown): boolean {
  try {
    return check(value) === true;
  } catch {
    return false;
  }
}
