/**
 * Choosing the rule (docs/spec.md, "Evaluation", step 2): the key of `tools` that governs the
 * name, then the first of its conditional rules whose `when` holds; if none holds, the default
 * (and if the default's own rules do not hold either, a deny).
 */

import type { Condition, DecidingRule, Plan, ToolRule } from "../compile/plan.js";
import { traceFailure, type Trace } from "./trace.js";

/** The arguments of a call that has none: frozen, so no condition can change what others see. */
export const EMPTY: Record<string, unknown> = Object.freeze({});

/** What conditions are checked against. */
export interface Inputs {
  readonly args: unknown;
  readonly session: Record<string, unknown>;
  readonly annotations: unknown;
}

/** The deciding rule for a call governed by `t`, a list of conditional rules. */
export function choose(plan: Plan, t: ToolRule, c: Inputs, trace: Trace | null): DecidingRule {
  const held = firstHolding(t, c, trace);
  if (held !== null) return held;
  if (t === plan.fallback) return plan.noRuleHeld;
  if (trace !== null) trace.steps.push({ path: "/default", message: "no conditional rule held: the default decides" });
  return plan.fallback.rule ?? firstHolding(plan.fallback, c, trace) ?? plan.noRuleHeld;
}

function firstHolding(t: ToolRule, c: Inputs, trace: Trace | null): DecidingRule | null {
  const rules = t.rules!;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    const w = r.when;
    if (
      w === null ||
      ((w.args === null || holds(w.args, c.args, r.rule.pointer, "args", trace)) &&
        (w.session === null || holds(w.session, c.session, r.rule.pointer, "session", trace)) &&
        (w.annotations === null || holds(w.annotations, c.annotations, r.rule.pointer, "annotations", trace)))
    ) {
      if (trace !== null)
        trace.steps.push({
          path: r.rule.pointer,
          message: w === null ? "holds (no condition)" : "holds: every condition is met",
        });
      return r.rule;
    }
  }
  return null;
}

function holds(check: Condition, value: unknown, pointer: string, part: string, trace: Trace | null): boolean {
  const ok = check(value) === true;
  if (trace !== null && !ok) traceFailure(trace, check, pointer, part);
  return ok;
}
