/**
 * The compiled plan: everything `decide` needs, worked out once from the validated document.
 * Internal; the document form (types.ts) and this form are kept apart on purpose, so the
 * format can grow without the hot path reading documents.
 */

import type { BudgetRequest } from "../store.js";
import type { AllowDecision, DenyDecision, LimitInfo, NeedsApprovalDecision } from "../types.js";
import type { Condition } from "./when.js";
import type { NameMatcher } from "./match.js";
import type { BudgetKeys } from "./keys.js";

/** Whose budget: one per session, one for everyone, or one per value of a session attribute. */
export const enum Scope {
  Session = 0,
  Global = 1,
  Attribute = 2,
}

/** A limit, ready to turn into a budget key with one string concatenation. */
export interface PlanLimit {
  /** JSON Pointer of the limit in the document. */
  readonly pointer: string;
  readonly max: number;
  readonly windowMs: number;
  readonly scope: Scope;
  /** For `Scope.Attribute`: the pointer's tokens into the session. */
  readonly tokens: readonly string[];
  /** The `per` as written, for messages. */
  readonly per: string;
  /** Keys for a session id or a string attribute value. */
  readonly keys: BudgetKeys;
  /** Keys for a numeric attribute value (another prefix, so `7` and `"7"` are different budgets). */
  readonly keysNumber: BudgetKeys;
  /** For `Scope.Global`: the one request this limit ever makes, built once. */
  readonly globalBudget: BudgetRequest | undefined;
  /** The `limit` field of a rate-limited decision. */
  readonly info: LimitInfo;
  /** `true` for the rule's own limits, `false` for the policy's `limits`. */
  readonly own: boolean;
  /** "at most 10 calls per 1m per session", for reasons. */
  readonly describe: string;
}

/** What a rule does once chosen. */
export const enum Act {
  Allow = 0,
  Deny = 1,
  Approval = 2,
}

/** A rule that decides: action, reason and the limits (own first, then the policy's). */
export interface Terminal {
  readonly pointer: string;
  readonly action: Act;
  /** The author's reason, if written. */
  readonly reason: string | undefined;
  /** The reason a deny or needs-approval outcome of this rule carries: the author's, else generated. */
  readonly refusal: string;
  /** This rule's deny or needs-approval decision, built once (frozen). */
  readonly refused: DenyDecision | NeedsApprovalDecision;
  /** This rule's allow decision when no limit applies, built once (frozen). */
  readonly allowed: AllowDecision;
  readonly limits: readonly PlanLimit[];
}

/** The conditions of a conditional rule; `null` parts are absent (always hold). */
export interface Conditions {
  readonly args: Condition | null;
  readonly session: Condition | null;
  readonly annotations: Condition | null;
}

/** One entry of a `rules` list. */
export interface ConditionalRule {
  /** `null` when the rule has no `when`: it always holds. */
  readonly when: Conditions | null;
  readonly terminal: Terminal;
}

/** A key of `tools`, or the default: either a terminal rule or a list of conditional rules. */
export interface Entry {
  readonly pointer: string;
  readonly terminal: Terminal | null;
  readonly rules: readonly ConditionalRule[] | null;
}

/** The whole compiled policy. */
export interface Plan {
  readonly names: NameMatcher<Entry>;
  readonly fallback: Entry;
  readonly namespace: string;
  /** Decided when `default` has `rules` and none holds. */
  readonly noRuleHeld: Terminal;
}
