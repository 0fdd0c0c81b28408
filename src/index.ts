/**
 * toolgate: compile a versioned JSON policy once into a function that decides which tool
 * calls an AI agent may make — allow, deny, rate-limited or needs-approval.
 *
 * @example
 * ```ts
 * import { compilePolicy } from "toolgate";
 * const policy = compilePolicy({ version: "1", default: "deny", tools: { get_run: {} } });
 * const decision = await policy.decide({ tool: "get_run", args: {}, session: { id: "s1" } });
 * ```
 *
 * @packageDocumentation
 */

export { compilePolicy, definePolicy, DEFAULT_STORE_TIMEOUT_MS, validatePolicy } from "./policy.js";
export { PolicyError } from "./errors.js";
export {
  decisionLog,
  MAX_LOGGED_ARGS,
  type DecisionLogArgs,
  type DecisionLogLine,
  type DecisionLogOptions,
} from "./observe/decision-log.js";
export {
  guard,
  ToolCallRefused,
  ToolCallRefusedError,
  type ApprovalAnswer,
  type ApprovalRequest,
  type DispatchedCall,
  type GuardedCall,
  type GuardOptions,
  type RefusalDecision,
} from "./guard.js";
export { MemoryStore, type MemoryStoreOptions } from "./stores/memory.js";
export type {
  Action,
  AllowDecision,
  CompileOptions,
  ConditionalRuleDocument,
  Decision,
  DecisionEvent,
  DenyCause,
  DenyDecision,
  Explanation,
  ExplanationStep,
  JsonSchema,
  LimitDocument,
  LimitInfo,
  LimitScope,
  NeedsApprovalDecision,
  Outcome,
  PlainRuleDocument,
  Policy,
  PolicyDocument,
  PolicyIssue,
  PolicyIssueCode,
  RateLimitedDecision,
  Refusal,
  RefundEvent,
  RefundTicket,
  RuleDocument,
  RulesDocument,
  RuleSummary,
  Session,
  ToolCall,
  ToolContext,
  ValidationResult,
  WhenDocument,
  Window,
} from "./types.js";
export type {
  BudgetRequest,
  ConsumeAllowed,
  ConsumeRefused,
  ConsumeRequest,
  ConsumeResult,
  RefundEntry,
  RefundRequest,
  RefundResult,
  Store,
  SyncStore,
} from "./store.js";
export { StoreBusyError } from "./store.js";
