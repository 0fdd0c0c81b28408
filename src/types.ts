/**
 * The public types of toolgate. They are the documentation of the contract in SPEC.md:
 * the policy document (what authors write), the call (what hosts pass), the decision
 * (what comes back) and the compiled policy (what `compilePolicy` returns).
 *
 * @packageDocumentation
 */

import type { Store } from "./store.js";

// ---------------------------------------------------------------------------------------------
// The policy document, version "1"
// ---------------------------------------------------------------------------------------------

/** What a rule does with a call it decides. `"allow"` is the default when a rule has no action. */
export type Action = "allow" | "deny" | "require_approval";

/**
 * A window length: a number of seconds (> 0, a whole number of milliseconds) or a whole number
 * of units: `"500ms"`, `"30s"`, `"5m"`, `"1h"`, `"1d"`. At most 365 days.
 */
export type Window = number | `${number}${"ms" | "s" | "m" | "h" | "d"}`;

/**
 * Whose budget a limit counts: `"session"` (each session its own, the default), `"global"`
 * (one budget for all sessions), or a JSON Pointer into the session such as `"/userId"` (one
 * budget per distinct value of that attribute).
 */
export type LimitScope = "session" | "global" | `/${string}`;

/**
 * A rate limit: at most `max` calls (with `cost`: units) in any sliding window of `window`.
 * docs/spec.md, "Limit" and "Budgets: identity, spend caps, refunds".
 */
export interface LimitDocument {
  /**
   * The most calls allowed in any window: an integer from 1 to 1,000,000,000. With `cost`, the
   * most units: a number > 0 with at most six decimal places.
   */
  max: number;
  /** The window length. */
  window: Window;
  /**
   * Whose budget it is.
   * @default "session"
   */
  per?: LimitScope;
  /**
   * The budget's name (1–128 characters). Limits with the same `id` share one budget (and must
   * agree on `max`, `window` and `per`), and a budget keeps its count across edits that move
   * the limit. Without it the budget is named by the limit's JSON Pointer.
   */
  id?: string;
  /**
   * Units one call uses: a number ≥ 0 (at most six decimal places), or a JSON Pointer into the
   * call's arguments (`"/amount"`) whose value is the call's units.
   * @default 1
   */
  cost?: number | `/${string}`;
  /**
   * `"on_error"` gives a call's units back when the tool then fails (see {@link Policy.refund}).
   * @default "never"
   */
  refund?: "never" | "on_error";
}

/** A JSON Schema (draft 2020-12) as a `when` condition: an object or a boolean schema. */
export type JsonSchema = boolean | { readonly [keyword: string]: unknown };

/** The conditions of a conditional rule; every one present must hold. */
export interface WhenDocument {
  /** Validated against the call's arguments (`{}` when the call has none). */
  args?: JsonSchema;
  /** Validated against the session. */
  session?: JsonSchema;
  /** Validated against the tool's MCP annotations as the host passes them (`{}` when absent). */
  annotations?: JsonSchema;
}

/** A rule that decides by itself: an action, a reason, and limits for the calls it allows. */
export interface PlainRuleDocument {
  /**
   * What the rule does.
   * @default "allow"
   */
  action?: Action;
  /** Text returned with deny, needs-approval and rate-limited outcomes of this rule. */
  reason?: string;
  /** One limit or several; all of them must have room for the call to be allowed. */
  rate_limit?: LimitDocument | LimitDocument[];
}

/** A rule that hands the decision to an ordered list of conditional rules. */
export interface RulesDocument {
  /** The first rule whose `when` holds decides; if none holds, the policy `default` decides. */
  rules: ConditionalRuleDocument[];
}

/** One entry of `rules`: a plain rule with an optional condition. */
export interface ConditionalRuleDocument extends PlainRuleDocument {
  /** When absent the rule always holds. */
  when?: WhenDocument;
}

/** A rule object: either a plain rule or a list of conditional rules, never both. */
export type RuleDocument = PlainRuleDocument | RulesDocument;

/** A policy document, version "1" (SPEC.md section 1). */
export interface PolicyDocument {
  /** Accepted and ignored, so editors can validate the file. */
  $schema?: string;
  /** The format version; only `"1"` exists. */
  version: "1";
  /** A name for the policy; also its budget namespace unless `namespace` is given at compile time. */
  name?: string;
  /** Free text for people. */
  description?: string;
  /** The rule for a tool that no key of `tools` matches. */
  default: Action | RuleDocument;
  /** Tool-name pattern → rule. `*` matches any run of characters. */
  tools: { [pattern: string]: RuleDocument };
  /** Limits applied to every call the policy would allow, on top of the tool's own. */
  limits?: LimitDocument[];
}

// ---------------------------------------------------------------------------------------------
// Calls and decisions
// ---------------------------------------------------------------------------------------------

/** The agent's session: an `id` and any attributes a policy may read (`when.session`, `per`). */
export interface Session {
  /** A non-empty string naming the session; per-session budgets are keyed by it. */
  id: string;
  /** Any other attributes, e.g. `userId`, `org`. */
  [attribute: string]: unknown;
}

/** One tool call to decide. Unknown fields make the call malformed (and so denied). */
export interface ToolCall {
  /** The tool's name, matched as given: case-sensitive, no normalisation. */
  tool: string;
  /** The call's arguments; a plain object. Absent means `{}`. */
  args?: Record<string, unknown>;
  /** The agent's session. */
  session: Session;
  /** The tool's MCP annotations as the host knows them (hints from the server). */
  annotations?: Record<string, unknown>;
  /** `true` when a human approved this call: a `require_approval` rule then allows it. */
  approved?: boolean;
}

/** The limit that refused a call, as written in the policy (window in milliseconds). */
export interface LimitInfo {
  /** The most calls (or, with `cost`, units) in a window. */
  max: number;
  /** The window length in milliseconds. */
  windowMs: number;
  /** Whose budget: `"session"`, `"global"` or a JSON Pointer into the session, as written. */
  per: string;
  /** The limit's `cost` as written (a number, or a JSON Pointer into the arguments), when it has one. */
  cost?: number | string;
}

/** The call may go ahead. */
export interface AllowDecision {
  outcome: "allow";
  /** JSON Pointer of the rule that allowed it, e.g. `/tools/get_run`, `/default`. */
  rule: string;
  /** The smallest room left across the limits that applied, after this call; absent when none applied. */
  remaining?: number;
  /** Present (and `true`) only when the store failed and the policy was compiled with `failOpen`. */
  failedOpen?: true;
  /**
   * Present when the call counted units in a limit with `refund: "on_error"`: hand it to
   * {@link Policy.refund} if the tool then fails. Plain JSON data.
   */
  refund?: RefundTicket;
  /** In shadow mode, the refusal that enforcement would have answered (the call was allowed). */
  shadow?: Refusal;
}

/**
 * What {@link Policy.refund} needs to give back a call's units: the namespace and, per
 * refundable budget that counted units, the budget's key and the store's entry id. Plain JSON
 * data: it survives `JSON.parse(JSON.stringify(decision))`.
 */
export interface RefundTicket {
  /** The namespace of the policy that counted the call. */
  namespace: string;
  /** One per refundable budget in which the call counted units. */
  entries: { key: string; entry: string }[];
}

/**
 * Why a call was denied, for programs (logs, dashboards, retries); `reason` is for people.
 *
 * - `policy`: a deny rule, the default, or no conditional rule held
 * - `malformed_call`: the call is not a well-formed call (docs/spec.md, "Evaluation", step 1)
 * - `missing_attribute`: the session lacks a usable value for a `per` limit
 * - `invalid_cost`: a `cost` pointer found no usable amount in the arguments
 * - `cost_exceeds_max`: the call's cost alone is more than a limit's `max`
 * - `tool_changed`: the tool's definition changed after it was first listed (MCP proxy)
 * - `not_approved`: the call needed approval and no person gave it (declined, cancelled, timed
 *   out, or the client cannot be asked)
 * - `host_failure`: a host callback threw (a `session` callback, an approval function)
 * - `store_failure`: the store (or the clock) failed, timed out, or was overloaded
 */
export type DenyCause =
  | "policy"
  | "malformed_call"
  | "missing_attribute"
  | "invalid_cost"
  | "cost_exceeds_max"
  | "tool_changed"
  | "not_approved"
  | "host_failure"
  | "store_failure";

/** The call is refused. */
export interface DenyDecision {
  outcome: "deny";
  /** JSON Pointer of what decided; `""` for a malformed call. */
  rule: string;
  /** Why, written for the agent and its user. Never carries text from a store, clock or callback. */
  reason: string;
  /** Why, for programs. */
  cause: DenyCause;
}

/** The call needs a human's approval; call again with `approved: true` once given. */
export interface NeedsApprovalDecision {
  outcome: "needs_approval";
  /** JSON Pointer of the rule that asks for approval. */
  rule: string;
  /** Why, written for the person asked. */
  reason: string;
}

/** A limit is full: the call was not counted and may succeed after `retryAfterMs`. */
export interface RateLimitedDecision {
  outcome: "rate_limited";
  /** JSON Pointer of the limit that refused it, e.g. `/tools/create_run/rate_limit`, `/limits/0`. */
  rule: string;
  /** Why, written for the agent. */
  reason: string;
  /** Whole milliseconds (≥ 1) until the call would be allowed, given the calls already counted. */
  retryAfterMs: number;
  /** The limit that refused the call. */
  limit: LimitInfo;
}

/** The answer for one call: plain, JSON-serialisable data. */
export type Decision = AllowDecision | DenyDecision | NeedsApprovalDecision | RateLimitedDecision;

/** A decision that refuses the call. */
export type Refusal = DenyDecision | NeedsApprovalDecision | RateLimitedDecision;

/** The four outcomes. */
export type Outcome = Decision["outcome"];

// ---------------------------------------------------------------------------------------------
// Compiling
// ---------------------------------------------------------------------------------------------

/**
 * The kind of a {@link PolicyIssue}, stable across releases, for programs that act on issues
 * (editors, CI annotations):
 *
 * - `json`: the text is not JSON (a syntax error, a duplicate key, a non-JSON value)
 * - `too_large`: the document is deeper or larger than the documented limits
 * - `version`: `version` is missing or not a supported version
 * - `unknown_field`: a field the format does not have (often a typo)
 * - `missing_field`: a required field is absent
 * - `type`: a value of the wrong type
 * - `value`: a value outside what the field allows (a range, an enumeration, a format)
 * - `conflict`: parts of the document that contradict each other (a rule with `rules` and
 *   `action`; limits sharing an `id` that disagree)
 * - `condition`: a `when` schema that is not a valid condition (an unknown keyword or format, a
 *   bad keyword value, a pattern the linear engine cannot run)
 * - `warning`: legal but suspicious (only in `warnings`): a pattern never chosen, a rule never reached
 * - `internal`: the document could not be checked at all (a bug: please report it)
 */
export type PolicyIssueCode =
  | "json"
  | "too_large"
  | "version"
  | "unknown_field"
  | "missing_field"
  | "type"
  | "value"
  | "conflict"
  | "condition"
  | "warning"
  | "internal";

/** A problem found in a policy document, at a JSON Pointer into it. */
export interface PolicyIssue {
  /** The kind of problem, stable across releases. */
  code: PolicyIssueCode;
  /** JSON Pointer into the document (RFC 6901), `""` for the document itself. */
  path: string;
  /** Written for a policy author. */
  message: string;
  /** 1-based line where `path` lands, when the policy was given as JSON text. */
  line?: number;
  /** 1-based column where `path` lands, when the policy was given as JSON text. */
  column?: number;
}

/** The result of {@link validatePolicy}. */
export type ValidationResult =
  { valid: true; warnings: PolicyIssue[] } | { valid: false; issues: PolicyIssue[]; warnings: PolicyIssue[] };

/** Options of {@link compilePolicy}. Unknown options are rejected. */
export interface CompileOptions {
  /**
   * Where budgets live.
   * @default a new `MemoryStore()` for this policy
   */
  store?: Store;
  /**
   * The engine's clock, in milliseconds. Tests drive time with it.
   * @default Date.now
   */
  clock?: () => number;
  /**
   * The budget namespace: policies that share a store and a namespace share budgets.
   * @default the policy's `name`, else a hash of the document
   */
  namespace?: string;
  /**
   * How long a decision waits for an asynchronous store before it gives up (a synchronous
   * store cannot be interrupted and is not timed). A positive whole number of milliseconds.
   * @default 1000
   */
  storeTimeoutMs?: number;
  /**
   * When the store fails or times out: `false` denies the call, `true` allows it marked
   * `failedOpen: true`. Never for an ill-formed answer of a synchronous store, nor for a store
   * refusing at once because it is overloaded (`StoreBusyError`).
   * @default false
   */
  failOpen?: boolean;
  /**
   * Called once for every `decide` and `decideSync` (never for `peek` or `explain`), after the
   * decision is made and before it is returned. An observer that throws changes no decision.
   */
  onDecision?: (event: DecisionEvent) => void;
  /** Called once for every {@link Policy.refund} that reached the store. */
  onRefund?: (event: RefundEvent) => void;
  /**
   * `"shadow"` allows every well-formed call, carrying what enforcement would have refused in
   * `shadow` and counting nothing; observers see the real decision.
   * @default "enforce"
   */
  mode?: "enforce" | "shadow";
}

/** What an `onDecision` observer sees (docs/spec.md, "Observing decisions"). */
export interface DecisionEvent {
  /** The engine's clock at the decision, in milliseconds. */
  time: number;
  /** The policy's budget namespace. */
  namespace: string;
  /** The call's fields as they were read (nothing is copied or checked for observers). */
  call: { tool: unknown; args?: unknown; session?: unknown; annotations?: unknown; approved?: unknown };
  /** What enforcement decided (also in shadow mode, where the caller got an allow). */
  decision: Decision;
  /** `true` when the policy runs in shadow mode. */
  shadow: boolean;
  /** What failed, for store failures and malformed calls: text that never goes into a reason. */
  detail?: string;
}

/** What an `onRefund` observer sees. */
export interface RefundEvent {
  /** The engine's clock at the refund, in milliseconds. */
  time: number;
  /** The policy's budget namespace. */
  namespace: string;
  /** The ticket that was handed in. */
  refund: RefundTicket;
  /** `true` when some units were given back. */
  given: boolean;
}

/** Context for {@link Policy.mayAllow}: what is known of the caller without the arguments. */
export interface ToolContext {
  /** The session, if known; `when.session` conditions and `per` attributes are read from it. */
  session?: Session;
  /** The tool's MCP annotations, if known. */
  annotations?: Record<string, unknown>;
}

/** A rule that can decide calls, as the compiled plan sees it. */
export interface RuleSummary {
  /** JSON Pointer of the rule: `/tools/x`, `/tools/x/rules/0`, `/default`. */
  rule: string;
  /** What the rule does with a call it decides. */
  action: Action;
  /** `true` when the rule has a `when` condition that may not hold. */
  conditional: boolean;
  /** JSON Pointers of the limits that apply to the calls it allows: its own, then the policy's. */
  limits: string[];
}

/** One step of how a decision was reached, for people reading {@link Explanation}. */
export interface ExplanationStep {
  /** JSON Pointer of the part of the policy this step is about. */
  path: string;
  /** What happened there, in words. */
  message: string;
}

/** A decision and how it was reached. Computing it counts nothing. */
export interface Explanation {
  /** The decision the call would get now (no budget is used). */
  decision: Decision;
  /** The keys of `tools` that match the tool name, best first, as JSON Pointers. */
  matched: string[];
  /** The steps, in the order the engine took them. */
  steps: ExplanationStep[];
  /** JSON Pointers of the limits that applied to the call. */
  limits: string[];
}

/** A compiled policy: the decision function and what it was compiled from. */
export interface Policy {
  /**
   * Decides a call, counting it against its limits when allowed. Works with any store.
   * Never throws and never rejects: a malformed call, a failing store or a timeout is a deny
   * (or an allow marked `failedOpen` under `failOpen`).
   */
  decide(call: ToolCall): Promise<Decision>;
  /**
   * The synchronous form of {@link Policy.decide}, for synchronous stores such as `MemoryStore`.
   * Throws a `TypeError` if the policy's store is not synchronous; never throws for any call.
   */
  decideSync(call: ToolCall): Decision;
  /**
   * The decision this call would get now, counting nothing (a look at the budgets).
   * Used, for example, to avoid asking a human to approve a call that a limit would refuse anyway.
   */
  peek(call: ToolCall): Promise<Decision>;
  /** The decision this call would get now (counting nothing) and how it was reached. */
  explain(call: ToolCall): Promise<Explanation>;
  /**
   * `false` when every call of `tool` with this context is denied whatever its arguments;
   * `true` when some call may be allowed, rate-limited or need approval. Used to hide tools
   * an agent can never call.
   */
  mayAllow(tool: string, context?: ToolContext): boolean;
  /** JSON Pointer of the key of `tools` that governs `tool`, or `"/default"`. */
  ruleFor(tool: string): string;
  /**
   * The rules that may decide a call of `tool`, in the order the engine tries them, worked out
   * from the compiled plan (the one interpreter of rule semantics): conditions on the session
   * and annotations are judged when `context` gives them, conditions on arguments are assumed
   * to hold or not. `mayAllow`, the CLI's `check` and `explain` and the test coverage use it.
   */
  rulesFor(tool: string, context?: ToolContext): RuleSummary[];
  /** Every rule of the policy that can decide a call, in document order (for coverage). */
  readonly rules: readonly RuleSummary[];
  /** The budget namespace of this policy. */
  readonly namespace: string;
  /** Legal but suspicious parts of the document: patterns never chosen, rules never reached. */
  readonly warnings: readonly PolicyIssue[];
  /** The validated document, a deep-frozen copy of what was compiled. */
  readonly document: PolicyDocument;
  /**
   * Gives back the units an allow decision counted in its refundable limits (`refund:
   * "on_error"`), when the tool then failed. Resolves `true` when units were given back,
   * `false` when there is nothing to give back (no ticket, already refunded, left the window, a
   * ticket of another namespace, or not a decision at all); rejects only when the store fails.
   * At most once per counted call, even for copies of the decision.
   */
  refund(decision: unknown): Promise<boolean>;
  /** `"enforce"` or `"shadow"`, as compiled. */
  readonly mode: "enforce" | "shadow";
}
