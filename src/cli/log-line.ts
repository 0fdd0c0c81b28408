/**
 * Reading one line of a decision log (docs/spec.md, "Decision log") back into the call it
 * records, for `toolgate replay`. A line is the host's file, so untrusted: every field is
 * checked, and a line that is not what `decisionLog` writes is malformed, never half-read.
 */

import type { Outcome } from "toolgate";
import { hasOwn, isPlainObject } from "../shared/objects.js";

/** What a logged call decided, as the log says. */
export interface LoggedDecision {
  /** The line's `time`, as written. */
  time: string;
  /** The logged tool name (`null` when the call had none that is a string). */
  tool: string | null;
  /** The logged session id (`null` when the call had none that is a string). */
  session: string | null;
  /** The logged outcome: what enforcement decided, also on a `shadow: true` line. */
  outcome: Outcome;
  /** The logged rule. */
  rule: string;
}

/** A line read: a call to decide again, a line without arguments in clear, or a malformed line. */
export type ReadLine =
  | { kind: "call"; at: number; call: Record<string, unknown>; logged: LoggedDecision }
  | { kind: "no_args"; hmac: boolean }
  | { kind: "malformed"; problem: string };

const OUTCOMES: ReadonlySet<string> = new Set(["allow", "deny", "needs_approval", "rate_limited"]);

// What Date#toISOString writes (years beyond 9999 in the six-digit form), and the offsets ISO 8601
// allows instead of Z. Date.parse alone accepts other spellings, differently per engine.
const ISO_TIME = /^(?:\d{4}|[+-]\d{6})-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** Reads one non-blank line of a decision log. */
export function readLogLine(text: string): ReadLine {
  // Every line is an object: anything else is told without parsing it (a failed parse costs an
  // exception, and a log of a million lines of noise would pay it a million times).
  if (text.trimStart().charCodeAt(0) !== 0x7b) return { kind: "malformed", problem: "not a JSON object" };
  let value: unknown;
  try {
    // V8's JSON.parse does not recurse on the stack, so deep nesting is data, not a crash, and
    // "__proto__" becomes an own key, never a prototype.
    value = JSON.parse(text) as unknown;
  } catch {
    // Not the parser's message: it quotes the line, and a line can hold terminal escapes.
    return { kind: "malformed", problem: "not JSON" };
  }
  if (!isPlainObject(value)) return { kind: "malformed", problem: "not a JSON object" };
  const line = value;
  const field = (name: string): unknown => (hasOwn.call(line, name) ? line[name] : undefined);

  const time = field("time");
  if (typeof time !== "string") return { kind: "malformed", problem: 'no "time" string' };
  const at = ISO_TIME.test(time) ? Date.parse(time) : Number.NaN;
  if (!Number.isFinite(at)) return { kind: "malformed", problem: '"time" is not an ISO 8601 time' };
  const tool = field("tool");
  if (typeof tool !== "string" && tool !== null)
    return { kind: "malformed", problem: '"tool" must be a string or null' };
  const session = field("session");
  if (typeof session !== "string" && session !== null) {
    return { kind: "malformed", problem: '"session" must be a string or null' };
  }
  const outcome = field("outcome");
  if (typeof outcome !== "string" || !OUTCOMES.has(outcome)) {
    return { kind: "malformed", problem: '"outcome" must be allow, deny, needs_approval or rate_limited' };
  }
  const rule = field("rule");
  if (typeof rule !== "string") return { kind: "malformed", problem: 'no "rule" string' };
  const approved = field("approved");
  if (approved !== undefined && typeof approved !== "boolean") {
    return { kind: "malformed", problem: '"approved" must be true or false' };
  }
  const attributes = field("attributes");
  if (attributes !== undefined && !isPlainObject(attributes)) {
    return { kind: "malformed", problem: '"attributes" must be an object' };
  }

  if (!hasOwn.call(line, "args")) return { kind: "no_args", hmac: hasOwn.call(line, "argsHmac") };

  const call: Record<string, unknown> = {};
  // A null tool or session was a call without a usable one: leaving it out replays it as the
  // malformed call it was.
  if (tool !== null) call.tool = tool;
  const s = sessionOf(session, attributes);
  if (s !== undefined) call.session = s;
  call.args = line.args;
  const annotations = field("annotations");
  if (annotations !== undefined) call.annotations = annotations;
  if (approved !== undefined) call.approved = approved;
  return { kind: "call", at, call, logged: { time, tool, session, outcome: outcome as Outcome, rule } };
}

/** The session as the engine saw it: the id, and the attributes the line carries (never one named "id"). */
function sessionOf(
  id: string | null,
  attributes: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  if (id === null && attributes === undefined) return undefined;
  const session: Record<string, unknown> = {};
  if (attributes !== undefined) {
    for (const k of Object.keys(attributes)) {
      if (k === "id") continue;
      // A data property even for "__proto__", so a hostile name is a name and nothing more.
      Object.defineProperty(session, k, { value: attributes[k], enumerable: true, writable: true, configurable: true });
    }
  }
  if (id !== null) session.id = id;
  return session;
}
