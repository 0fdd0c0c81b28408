/**
 * A decision in words for a person reading the CLI's tables: the outcome, the cause of a deny,
 * and the reason, joined as sentences (each with its own full stop, never run together).
 */

import type { Decision } from "toolgate";
import { formatWait, sentences } from "../shared/text.js";

/**
 * `allow, no limit` · `allow, limited` · `deny (policy): Not on the list.` ·
 * `needs_approval: Deletes data.` · `rate_limited by /limits/0: At most 3 a minute. Retry in 1m.`
 */
export function decisionText(d: Decision): string {
  switch (d.outcome) {
    case "allow":
      return d.remaining === undefined ? "allow, no limit" : "allow, limited";
    case "deny":
      return `deny (${d.cause}): ${sentences(d.reason)}`;
    case "needs_approval":
      return `needs_approval: ${sentences(d.reason)}`;
    case "rate_limited":
      return `rate_limited by ${d.rule}: ${sentences(d.reason, `Retry in ${formatWait(d.retryAfterMs)}`)}`;
  }
}
