/**
 * The store's answer → a decision. Anything that is not an answer the contract allows is a
 * store failure. From a synchronous store it never fails open: nothing travelled between the
 * engine and that store, so an ill-formed answer is a bug in it, not an outage. An asynchronous
 * store's answer crossed a network or a process boundary, where garbling is an outage like any
 * other, and `failOpen` applies.
 */

import type { DecidingRule, PlanLimit } from "../compile/plan.js";
import { MICRO } from "../document/units.js";
import { formatWait, quoteName } from "../shared/text.js";
import type { BudgetRequest } from "../store.js";
import type { Decision, RefundTicket } from "../types.js";
import { StoreFault, storeFailure } from "./refusals.js";

/** An ill-formed answer, with what was wrong (for observers). */
function broken(rule: DecidingRule, detail: string, failOpen: boolean): Decision {
  return storeFailure(rule, StoreFault.Failed, `the store broke its contract: ${detail}`, failOpen);
}

/** Turns a store's answer into a decision. Throws only what a hostile answer's getters throw. */
export function readAnswer(
  rule: DecidingRule,
  tool: string,
  budgets: readonly BudgetRequest[],
  namespace: string,
  answer: unknown,
  failOpen: boolean,
  dryRun: boolean,
): Decision {
  const limits = rule.limits;
  const n = limits.length;
  if (answer === null || typeof answer !== "object")
    return broken(rule, "it answered something that is not an object", failOpen);
  const a = answer as { allowed?: unknown; remaining?: unknown; retryAfterMs?: unknown; entries?: unknown };
  const allowed = a.allowed;
  if (allowed === true) {
    const rem = a.remaining;
    if (!Array.isArray(rem) || rem.length !== n)
      return broken(rule, "it answered without one remaining count per budget", failOpen);
    let min = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const x: unknown = rem[i];
      if (typeof x !== "number" || !Number.isSafeInteger(x) || x < 0)
        return broken(rule, "it answered a remaining count that is not a whole number >= 0", failOpen);
      const scale = limits[i]!.scale;
      const units = scale === 1 ? x : x / MICRO;
      if (units < min) min = units;
    }
    const d: Decision = { outcome: "allow", rule: rule.pointer, remaining: min };
    // A dry run counted nothing, so it has nothing to give back.
    const ticket = dryRun ? undefined : ticketOf(rule, budgets, namespace, a.entries);
    if (typeof ticket === "string") return broken(rule, ticket, failOpen);
    if (ticket !== undefined) d.refund = ticket;
    return d;
  }
  if (allowed === false) {
    const waits = a.retryAfterMs;
    if (!Array.isArray(waits) || waits.length !== n)
      return broken(rule, "it answered without one wait per budget", failOpen);
    let worst = -1;
    let wait = 0;
    for (let i = 0; i < n; i++) {
      const x: unknown = waits[i];
      if (typeof x !== "number" || !Number.isSafeInteger(x) || x < 0)
        return broken(rule, "it answered a wait that is not a whole number of milliseconds", failOpen);
      if (x > wait) {
        wait = x;
        worst = i;
      }
    }
    if (worst < 0) return broken(rule, "it refused the call without a wait", failOpen);
    return rateLimited(rule, limits[worst]!, tool, wait);
  }
  return broken(rule, "it answered neither allowed nor refused", failOpen);
}

/** The decision of a call that limit `l` of `rule` refuses for `wait` ms (≥ 1). */
export function rateLimited(rule: DecidingRule, l: PlanLimit, tool: string, wait: number): Decision {
  return {
    outcome: "rate_limited",
    rule: l.pointer,
    reason: l.own && rule.reason !== undefined ? rule.reason : `${reasonHead(l, tool)}${formatWait(wait)}.`,
    retryAfterMs: wait,
    limit: l.info,
  };
}

/** Heads of generated rate-limit reasons, per limit and tool name: every refusal needs one. */
const heads = new WeakMap<PlanLimit, Map<string, string>>();
/** How many tool names one limit remembers (names are at most 128 characters). */
const HEADS_PER_LIMIT = 256;

/** `Rate limit reached for "tool": at most … (pointer). Retry in `, built once per limit and tool. */
function reasonHead(l: PlanLimit, tool: string): string {
  let byTool = heads.get(l);
  if (byTool === undefined) heads.set(l, (byTool = new Map<string, string>()));
  let head = byTool.get(tool);
  if (head === undefined) {
    head = `Rate limit reached for ${quoteName(tool)}: ${l.describe} (${l.pointer}). Retry in `;
    if (byTool.size >= HEADS_PER_LIMIT) byTool.clear();
    byTool.set(tool, head);
  }
  return head;
}

/**
 * The refund ticket of an allowed call: one entry per refundable budget that counted units.
 * A string says what is wrong with the store's entries.
 */
function ticketOf(
  rule: DecidingRule,
  budgets: readonly BudgetRequest[],
  namespace: string,
  entries: unknown,
): RefundTicket | undefined | string {
  let out: { key: string; entry: string }[] | undefined;
  const n = budgets.length;
  for (let i = 0; i < n; i++) {
    const b = budgets[i]!;
    // Only the limit's own refund: a budget shared with a refundable limit keeps ids for all.
    if (!rule.limits[i]!.refundable || b.cost === 0) continue;
    if (!Array.isArray(entries) || entries.length !== n)
      return "it counted in a refundable budget without one entry id per budget";
    const e: unknown = entries[i];
    if (typeof e !== "string" || e.length === 0) return "it counted in a refundable budget without an entry id";
    (out ??= []).push({ key: b.key, entry: e });
  }
  return out === undefined ? undefined : { namespace, entries: out };
}
