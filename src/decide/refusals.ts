/**
 * Refusals built per call, and the details kept beside them. A reason is for the model and the
 * person, so it never carries text from a store, a clock, a callback or the call itself; that
 * text is kept beside the decision (a WeakMap, so nothing leaks into the decision's data) for
 * observers' `detail`.
 */

import type { DecidingRule, PlanLimit } from "../compile/plan.js";
import type { AllowDecision, Decision, DenyDecision } from "../types.js";
import { malformedReason, type MalformedCall } from "./call.js";

const details = new WeakMap<object, string>();

/** The detail kept beside a decision, if any. */
export function detailOf(d: Decision): string | undefined {
  return details.get(d);
}

function withDetail<D extends Decision>(d: D, detail: string): D {
  details.set(d, detail);
  return d;
}

/** A malformed call's deny. */
export function malformedDecision(m: MalformedCall): DenyDecision {
  return withDetail({ outcome: "deny", rule: "", reason: malformedReason(m), cause: "malformed_call" }, m.detail);
}

/** A call whose fields could not be read (a getter or trap threw). */
export function unreadableDecision(detail: string): DenyDecision {
  return withDetail(
    { outcome: "deny", rule: "", reason: "Malformed call: it could not be read.", cause: "malformed_call" },
    detail,
  );
}

/** How a store failed, for the reason: it failed, or it did not answer in time. */
export const enum StoreFault {
  Failed,
  TimedOut,
  Busy,
}

const STORE_REASONS = [
  "The rate-limit store failed, so the call is refused.",
  "The rate-limit store did not answer in time, so the call is refused.",
  "The rate-limit store is overloaded, so the call is refused.",
];

/**
 * A store failure: a deny with `cause: "store_failure"`, or under `failOpen` an allow marked
 * `failedOpen` — never for an overloaded store (`Busy`) or a store that broke its contract
 * (`open` is then `false`).
 */
export function storeFailure(rule: DecidingRule, fault: StoreFault, detail: string, open: boolean): Decision {
  if (open && fault !== StoreFault.Busy) {
    return withDetail({ outcome: "allow", rule: rule.pointer, failedOpen: true } satisfies AllowDecision, detail);
  }
  return withDetail(
    { outcome: "deny", rule: rule.pointer, reason: STORE_REASONS[fault]!, cause: "store_failure" },
    detail,
  );
}

/** The session has no usable value for a `per` limit. */
export function missingAttribute(l: PlanLimit): DenyDecision {
  return {
    outcome: "deny",
    rule: l.pointer,
    reason:
      `The limit ${l.pointer} counts per ${l.per}, and this session has no usable value there ` +
      "(a non-empty string or a finite number).",
    cause: "missing_attribute",
  };
}

/** A `cost` pointer found no usable amount in the arguments. */
export function invalidCost(l: PlanLimit, pointer: string, detail: string): DenyDecision {
  return withDetail(
    {
      outcome: "deny",
      rule: l.pointer,
      reason:
        `The limit ${l.pointer} takes its cost from the arguments at ${pointer}, and there is no usable amount ` +
        "there (a finite number >= 0 with at most six decimal places).",
      cause: "invalid_cost",
    },
    detail,
  );
}

/** The call's cost alone is more than a limit's max. */
export function costExceedsMax(l: PlanLimit): DenyDecision {
  return {
    outcome: "deny",
    rule: l.pointer,
    reason:
      `The cost of this call is more than the limit ${l.pointer} allows in a whole window (${l.describe}), ` +
      "so it can never fit.",
    cause: "cost_exceeds_max",
  };
}
