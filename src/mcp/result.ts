/**
 * Refusals as MCP tool results. A refused call is answered with a `CallToolResult` marked
 * `isError: true` whose text is the reason — the MCP convention for errors the model should
 * read and act on — and with the decision itself in `_meta`, for clients that act on it.
 */

import type { RefusalDecision } from "toolgate";
import type { CallToolResult } from "./sdk.js";

/** The `_meta` key under which a refused call's decision is returned. */
export const DECISION_META_KEY = "toolgate/decision";

/**
 * The tool result for a refused call: `isError: true`, the reason as text (with when to retry,
 * for a rate-limited call), and the decision under `_meta["toolgate/decision"]`.
 */
export function refusalResult(decision: RefusalDecision): CallToolResult {
  return {
    content: [{ type: "text", text: refusalText(decision) }],
    isError: true,
    _meta: { [DECISION_META_KEY]: { ...decision } },
  };
}

/** The reason, plus when to retry for a rate-limited call whose reason does not already say. */
export function refusalText(decision: RefusalDecision): string {
  if (decision.outcome !== "rate_limited" || /\bretry\b/i.test(decision.reason)) return decision.reason;
  return `${decision.reason} Retry in ${formatWait(decision.retryAfterMs)}.`;
}

function formatWait(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.ceil(seconds / 60);
  return minutes < 120 ? `${minutes}m` : `${Math.ceil(minutes / 60)}h`;
}
