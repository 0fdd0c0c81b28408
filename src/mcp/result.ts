/**
 * Refusals as MCP tool results (docs/spec.md, section 8, "Refusals"). A refused call is
 * answered with a `CallToolResult` marked `isError: true` whose text is the reason — the MCP
 * convention for errors the model should read and act on — and with the decision in `_meta`,
 * for clients and hosts that act on it.
 */

import type { DenyDecision, RefusalDecision } from "toolgate";
import { formatWait } from "../shared/text.js";
import type { CallToolResult } from "./sdk.js";

/** The `_meta` key under which a refused call's decision is returned. */
export const DECISION_META_KEY = "toolgate/decision";

/**
 * What `_meta["toolgate/decision"]` carries: the outcome, the rule, the reason, the deny's
 * `cause`, and for a rate-limited call `retryAfterMs` and the limit. A call refused for want of
 * approval keeps `outcome: "needs_approval"` here, with `cause: "not_approved"`.
 */
export interface DecisionMeta {
  outcome: RefusalDecision["outcome"];
  rule: string;
  reason: string;
  cause?: DenyDecision["cause"];
  retryAfterMs?: number;
  limit?: Record<string, unknown>;
}

/**
 * The tool result for a refused call: `isError: true`, the reason as text (with when to retry,
 * for a rate-limited call), and the decision under `_meta["toolgate/decision"]`.
 */
export function refusalResult(decision: RefusalDecision): CallToolResult {
  const meta: DecisionMeta = { outcome: decision.outcome, rule: decision.rule, reason: decision.reason };
  if (decision.outcome === "deny" && typeof decision.cause === "string") meta.cause = decision.cause;
  if (decision.outcome === "rate_limited") {
    meta.retryAfterMs = decision.retryAfterMs;
    meta.limit = { ...decision.limit };
  }
  return resultOf(refusalText(decision), meta);
}

/**
 * The tool result for a call that needed approval and did not get it: the needs-approval
 * decision stays visible in `_meta`, with `cause: "not_approved"` (or `"host_failure"` when the
 * host's own approval failed), and `reason` says why no approval was given.
 */
export function notApprovedResult(
  rule: string,
  reason: string,
  cause: "not_approved" | "host_failure" = "not_approved",
): CallToolResult {
  return resultOf(reason, { outcome: "needs_approval", rule, reason, cause });
}

/** The reason, plus when to retry for a rate-limited call whose reason does not already say. */
export function refusalText(decision: RefusalDecision): string {
  if (decision.outcome !== "rate_limited" || /\bretry\b/i.test(decision.reason)) return decision.reason;
  return `${decision.reason} Retry in ${formatWait(decision.retryAfterMs)}.`;
}

function resultOf(text: string, meta: DecisionMeta): CallToolResult {
  return { content: [{ type: "text", text }], isError: true, _meta: { [DECISION_META_KEY]: meta } };
}
