/**
 * The budgets one allowed call asks the store about (docs/spec.md, "Evaluation", step 4): for
 * every limit, in order, whose budget (the `per` value), then what the call costs there. The
 * stages run across all limits before the next: every `per` value, then every cost's validity,
 * then every cost against its limit's max; the first refusal decides.
 */

import { Scope, type DecidingRule, type PlanLimit } from "../compile/plan.js";
import { readPlainPointer } from "../shared/pointer.js";
import { toMicro } from "../document/units.js";
import { describeValue } from "../shared/text.js";
import type { BudgetRequest } from "../store.js";
import type { DenyDecision } from "../types.js";
import { costExceedsMax, invalidCost, missingAttribute } from "./refusals.js";

/** The largest `max` a limit can have, in units: any amount above it exceeds every limit. */
const MAX_AMOUNT = 1_000_000_000;

const EMPTY_ARGS: Record<string, unknown> = Object.freeze({});

/** The budgets of a call that a rule allows, in the rule's limit order, or why there are none. */
export function budgetsFor(
  rule: DecidingRule,
  session: Record<string, unknown>,
  id: string,
  args: Record<string, unknown> | undefined,
): BudgetRequest[] | DenyDecision {
  const limits = rule.limits;
  const n = limits.length;
  const keys: string[] = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const l = limits[i]!;
    const key = keyFor(l, session, id);
    if (key === undefined) return missingAttribute(l);
    keys[i] = key;
  }
  const budgets: BudgetRequest[] = new Array<BudgetRequest>(n);
  if (!rule.readsCost) {
    for (let i = 0; i < n; i++) {
      const l = limits[i]!;
      budgets[i] = l.globalBudget ?? request(l, keys[i]!, (l.cost as { units: number }).units);
    }
    return budgets;
  }
  const costs: number[] = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const l = limits[i]!;
    const c = l.cost;
    if (c.kind === "fixed") costs[i] = c.units;
    else {
      const raw = readPlainPointer(args ?? EMPTY_ARGS, c.tokens);
      const micro = toMicro(raw);
      if (micro !== undefined) costs[i] = micro;
      // Beyond every max (a billion units), where micro-units are no longer exact: a usable
      // amount, too large for any budget.
      else if (typeof raw === "number" && raw > MAX_AMOUNT && Number.isFinite(raw)) costs[i] = Number.POSITIVE_INFINITY;
      else return invalidCost(l, c.pointer, `the arguments hold ${describeValue(raw)} at ${c.pointer}`);
    }
  }
  for (let i = 0; i < n; i++) if (costs[i]! > limits[i]!.max) return costExceedsMax(limits[i]!);
  for (let i = 0; i < n; i++) budgets[i] = request(limits[i]!, keys[i]!, costs[i]!);
  return budgets;
}

function request(l: PlanLimit, key: string, cost: number): BudgetRequest {
  return {
    key,
    max: l.max,
    windowMs: l.windowMs,
    cost,
    refundable: l.budgetRefundable,
    shared: l.shared,
  };
}

/** The budget key of a limit for this session, or `undefined` when the session lacks the attribute. */
export function keyFor(l: PlanLimit, session: Record<string, unknown>, id: string): string | undefined {
  switch (l.scope) {
    case Scope.Session:
      return l.keys.keyFor(id);
    case Scope.Global:
      return l.keys.keyFor("");
    default: {
      const v = readPlainPointer(session, l.tokens);
      if (typeof v === "string" && v.length > 0) return l.keys.keyFor(v);
      if (typeof v === "number" && Number.isFinite(v)) return l.keysNumber.keyFor(String(v));
      return undefined;
    }
  }
}

/** Whether `session` has a usable value for every attribute-scoped limit of `rule`. */
export function hasAttributes(rule: DecidingRule, session: Record<string, unknown>): boolean {
  for (const l of rule.limits) {
    if (l.scope !== Scope.Attribute) continue;
    const v = readPlainPointer(session, l.tokens);
    if (!((typeof v === "string" && v.length > 0) || (typeof v === "number" && Number.isFinite(v)))) return false;
  }
  return true;
}
