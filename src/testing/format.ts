/**
 * Decisions and case results in words, one line each, for test reports and the CLI.
 */

import type { Decision } from "toolgate";
import type { CaseResult, ExpectedDecision } from "./types.js";

/**
 * One line for a decision or an expectation, its fields as `name=value`:
 * `deny rule=/default cause=policy reason="Not listed."`,
 * `rate_limited rule=/limits/0 retryAfterMs=1000 reason="…"`. The reason is quoted as JSON, so
 * whatever it holds (quotes, new lines) stays on the line and reads back exactly.
 */
export function formatDecision(d: ExpectedDecision | Decision): string {
  // The fields any outcome may carry, read alike whichever outcome this is.
  const r: {
    outcome: string;
    rule?: string;
    cause?: string;
    retryAfterMs?: number;
    remaining?: number;
    reason?: string;
  } = d;
  let out = String(r.outcome);
  if (r.rule !== undefined) out += ` rule=${r.rule === "" ? '""' : String(r.rule)}`;
  if (r.cause !== undefined) out += ` cause=${String(r.cause)}`;
  if (r.retryAfterMs !== undefined) out += ` retryAfterMs=${String(r.retryAfterMs)}`;
  if (r.remaining !== undefined) out += ` remaining=${String(r.remaining)}`;
  if (r.reason !== undefined) out += ` reason=${JSON.stringify(r.reason)}`;
  return out;
}

/**
 * Why a case failed, in one line: `name (/cases/1, at 0 ms): expected allow rule=/tools/x,
 * got deny rule=/default cause=policy reason="Not listed"`.
 */
export function formatFailure(r: CaseResult): string {
  const calls = r.calls > 1 ? `, last of ${r.calls} calls` : "";
  const expected = formatDecision(r.expected);
  return `${r.name} (${r.path}, at ${r.at} ms${calls}): expected ${expected}, got ${formatDecision(r.actual)}`;
}
