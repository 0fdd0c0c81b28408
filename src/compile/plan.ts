/**
 * The compiled plan: everything `decide` needs, worked out once from the validated document.
 * Internal. The document form (types.ts) and this form are kept apart on purpose, so the
 * format can grow without the per-call path ever reading a document.
 *
 * This module holds types and constants only: the per-call path imports it, and nothing here
 * may pull compile-time code (ajv, the builder) onto that path.
 */

import type { BudgetRequest } from "../store.js";
import type { AllowDecision, DenyDecision, LimitInfo, NeedsApprovalDecision } from "../types.js";

/**
 * A compiled `when` schema. ajv's validate functions have this shape; after a failed check,
 * `errors` holds why (read only by `explain`).
 */
export interface Condition {
  (value: unknown): boolean;
  errors?: readonly ConditionError[] | null;
}

/** One reason a condition failed, as ajv reports it. */
export interface ConditionError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly schemaPath: string;
  readonly message?: string;
}

/** Whose budget: one per session, one for everyone, or one per value of a session attribute. */
export const enum Scope {
  Session = 0,
  Global = 1,
  Attribute = 2,
}

/** How a limit's cost is found: the same for every call, or read from the arguments. */
export type PlanCost =
  | { readonly kind: "fixed"; readonly units: number }
  | { readonly kind: "pointer"; readonly pointer: string; readonly tokens: readonly string[] };

/** Budget keys of one limit: a fixed prefix and a bounded table of the keys made from it. */
export interface KeyMaker {
  /** The key of the budget for `value` (a session id, or an attribute value as text). */
  keyFor(value: string): string;
}

/** A limit, ready to turn into a budget request with one lookup. */
export interface PlanLimit {
  /** JSON Pointer of the limit in the document. */
  readonly pointer: string;
  /** The limit's `id`, when it has one. */
  readonly id: string | undefined;
  /** `max` in the store's units (micro-units when `scale` is `MICRO`). */
  readonly max: number;
  readonly windowMs: number;
  /**
   * 1 for a limit counting calls; `MICRO` (document/units.ts) for one counting units: a limit
   * with `cost`, or sharing an `id` with one that has it.
   */
  readonly scale: number;
  readonly cost: PlanCost;
  /** The limit's own `refund: "on_error"`: its calls' units go into refund tickets. */
  readonly refundable: boolean;
  /**
   * What the store is told: `true` when any limit sharing this budget (its `id`) is refundable,
   * so every request for one budget key agrees, and the store keeps entry ids for all of them.
   */
  readonly budgetRefundable: boolean;
  readonly scope: Scope;
  /** `scope` is not `Scope.Session`: the budget is shared across sessions (what the store is told). */
  readonly shared: boolean;
  /** For `Scope.Attribute`: the pointer's tokens into the session. */
  readonly tokens: readonly string[];
  /** The `per` as written, for messages. */
  readonly per: string;
  /** Keys for a session id or a string attribute value. */
  readonly keys: KeyMaker;
  /** Keys for a numeric attribute value (another prefix, so `7` and `"7"` are different budgets). */
  readonly keysNumber: KeyMaker;
  /** For a global limit of fixed cost: the one request it ever makes, built once. */
  readonly globalBudget: BudgetRequest | undefined;
  /** The `limit` field of a rate-limited decision. */
  readonly info: LimitInfo;
  /** `true` for the rule's own limits, `false` for the policy's `limits`. */
  readonly own: boolean;
  /** "at most 10 calls per 1m per session", for reasons. */
  readonly describe: string;
}

/** A limit of fixed cost: the same units for every call. */
export type FixedCostLimit = PlanLimit & { readonly cost: { readonly kind: "fixed"; readonly units: number } };

/** What a rule does once chosen (the document's `action`). */
export const enum Effect {
  Allow = 0,
  Deny = 1,
  Approval = 2,
}

/** A rule that decides: effect, reason and the limits (own first, then the policy's). */
export interface DecidingRule {
  readonly pointer: string;
  readonly effect: Effect;
  /** The author's reason, if written. */
  readonly reason: string | undefined;
  /** The reason a deny or needs-approval outcome of this rule carries: the author's, else generated. */
  readonly refusal: string;
  /** This rule's deny or needs-approval decision, built once (frozen). */
  readonly refused: DenyDecision | NeedsApprovalDecision;
  /** This rule's allow decision when no limit applies, built once (frozen). */
  readonly allowed: AllowDecision;
  /**
   * The decision of a call without `approved: true`, when it depends on the rule alone
   * (`refused`, or `allowed` for a rule without limits); `null` when the store must be asked.
   * One load instead of branching on the effect: on a mix of tools that branch is unpredictable.
   */
  readonly settled: AllowDecision | DenyDecision | NeedsApprovalDecision | null;
  /** The same for a call with `approved: true` (only an approval rule's differs). */
  readonly settledApproved: AllowDecision | DenyDecision | NeedsApprovalDecision | null;
  readonly limits: readonly PlanLimit[];
  /** `true` when some limit reads its cost from the arguments. */
  readonly readsCost: boolean;
  /**
   * The rule's one limit, when it has exactly one and of fixed cost (a call then needs one budget
   * and nothing from its arguments), else `null`.
   */
  readonly lone: FixedCostLimit | null;
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
  /** `true` when the `when` holds for every call (absent, `true` or `{}` parts only). */
  readonly unconditional: boolean;
  readonly rule: DecidingRule;
}

/**
 * What a key of `tools`, or the default, compiles to: a rule that decides by itself, or a list
 * of conditional rules (exactly one of the two is set).
 */
export interface ToolRule {
  readonly pointer: string;
  readonly rule: DecidingRule | null;
  readonly rules: readonly ConditionalRule[] | null;
}

/** Resolves tool names to the rule that governs them (compile/match.ts builds it). */
export interface NameIndex {
  resolve(name: string): ToolRule;
  /** Whether `name` is an exact key. */
  hasExact(name: string): boolean;
  /** The pointers of every pattern key matching `name`, best first (for explanations). */
  matchingPointers(name: string): string[];
}

/** The whole compiled policy. */
export interface Plan {
  readonly names: NameIndex;
  readonly fallback: ToolRule;
  readonly namespace: string;
  /** Decided when `default` has `rules` and none holds. */
  readonly noRuleHeld: DecidingRule;
  /** Every key of `tools` and the default, in document order (for `rules`). */
  readonly toolRules: readonly ToolRule[];
}
