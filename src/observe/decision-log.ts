/**
 * `decisionLog`: an observer that writes one JSON object per line for every decision
 * (docs/spec.md, "Decision log"). Nothing secret by default: the arguments are left out unless
 * the host asks for them, keyed (`hmac`) or in clear (`clear`, which replay needs).
 */

import { createHmac } from "node:crypto";
import { canonicalJson } from "../shared/canonical.js";
import { hasOwn, isPlainObject } from "../shared/objects.js";
import { checkOptionKeys } from "../shared/options.js";
import { describeValue } from "../shared/text.js";
import type { DecisionEvent } from "../types.js";

/** How a log line carries a call's arguments. */
export type DecisionLogArgs = "omit" | "hmac" | "clear";

/** Options of {@link decisionLog}. Unknown options are rejected. */
export interface DecisionLogOptions {
  /**
   * Receives each line (a JSON object and `\n`), synchronously, once per decision, before
   * `decide` returns. A sink that can block should buffer on its own side (a stream does).
   * A `write` that throws changes no decision.
   */
  write: (line: string) => void;
  /**
   * `"omit"`: no arguments. `"hmac"`: `argsHmac`, the hex HMAC-SHA256 of the arguments'
   * canonical JSON (keys sorted, no whitespace; `{}` when the call had none) under `key`, so equal
   * arguments can be matched without being readable. `"clear"`: `args` as they were (`{}` when
   * the call had none), with the session's `attributes` and the call's `annotations`, so that
   * `toolgate replay` can decide the call again.
   * @default "omit"
   */
  args?: DecisionLogArgs;
  /** The HMAC key for `args: "hmac"`: a non-empty string (its UTF-8 bytes) or bytes. Required then. */
  key?: string | Uint8Array;
}

/** One line of the decision log, as written (absent fields are left out). */
export interface DecisionLogLine {
  /** The decision's time, ISO 8601. */
  time: string;
  /** The policy's namespace. */
  policy: string;
  /** The tool's name, `null` when the call had none that is a string of at most 128 characters. */
  tool: string | null;
  /** The session's id, `null` when the call had none that is a string. */
  session: string | null;
  outcome: string;
  rule: string;
  cause?: string;
  reason?: string;
  retryAfterMs?: number;
  remaining?: number;
  approved?: boolean;
  failedOpen?: true;
  /** Present (and `true`) on every line of a policy in shadow mode. */
  shadow?: true;
  argsHmac?: string;
  args?: unknown;
  attributes?: Record<string, unknown>;
  annotations?: unknown;
}

/**
 * The most characters of canonical JSON a clear line carries for a call's arguments, session
 * attributes and annotations together; a call with more has none of them logged (a log line is
 * not a dump), and replay counts its line as skipped.
 */
export const MAX_LOGGED_ARGS = 1024 * 1024;

/** The longest tool name logged: a longer one makes a malformed call, and is logged as `null`. */
const MAX_TOOL_NAME = 128;

/**
 * An observer (for `compilePolicy(doc, { onDecision })`) that writes the decision log.
 *
 * @example
 * ```ts
 * import { createWriteStream } from "node:fs";
 * const out = createWriteStream("decisions.jsonl", { flags: "a" }); // buffers on its own side
 * const policy = compilePolicy(doc, { onDecision: decisionLog({ write: (line) => out.write(line) }) });
 * ```
 * @throws TypeError for bad options (a missing `write`, an unknown `args`, no `key` for `"hmac"`).
 */
export function decisionLog(options: DecisionLogOptions): (event: DecisionEvent) => void {
  const o = checkOptionKeys("decisionLog", options, ["write", "args", "key"]);
  const { write } = o;
  const mode = o.args ?? "omit";
  if (typeof write !== "function")
    throw new TypeError(`decisionLog: write must be a function, got ${describeValue(write)}`);
  if (mode !== "omit" && mode !== "hmac" && mode !== "clear") {
    throw new TypeError(`decisionLog: args must be "omit", "hmac" or "clear", got ${describeValue(mode)}`);
  }
  let key: Uint8Array | undefined;
  if (o.key !== undefined) {
    if (typeof o.key === "string" && o.key.length > 0) key = new TextEncoder().encode(o.key);
    // A copy: the host may reuse its array, and the log's key must stay the one it was given.
    else if (o.key instanceof Uint8Array && o.key.length > 0) key = Uint8Array.from(o.key);
    else throw new TypeError(`decisionLog: key must be a non-empty string or Uint8Array, got ${describeValue(o.key)}`);
  }
  if (mode === "hmac" && key === undefined) throw new TypeError('decisionLog: args: "hmac" needs a key');
  const hmacKey = key;

  return (event: DecisionEvent): void => {
    const line = lineOf(event, mode, hmacKey);
    write(`${JSON.stringify(line)}\n`);
  };
}

function lineOf(event: DecisionEvent, mode: DecisionLogArgs, key: Uint8Array | undefined): DecisionLogLine {
  const { call, decision: d } = event;
  // The session is the host's object as the call carried it: reading it may throw (a proxy, a
  // getter), and a log line is still written then, without what could not be read.
  const session = readSession(call.session);
  const line: DecisionLogLine = {
    time: isoTime(event.time),
    policy: event.namespace,
    // A longer name is a malformed call (docs/spec.md, "Evaluation", step 1), and the caller chose
    // it: the line names no tool rather than copying megabytes.
    tool: typeof call.tool === "string" && call.tool.length <= MAX_TOOL_NAME ? call.tool : null,
    session: session?.id ?? null,
    outcome: d.outcome,
    rule: d.rule,
  };
  if (d.outcome === "deny") line.cause = d.cause;
  if (d.outcome !== "allow") line.reason = d.reason;
  if (d.outcome === "rate_limited") line.retryAfterMs = d.retryAfterMs;
  if (d.outcome === "allow" && d.remaining !== undefined) line.remaining = d.remaining;
  if (typeof call.approved === "boolean") line.approved = call.approved;
  if (d.outcome === "allow" && d.failedOpen === true) line.failedOpen = true;
  if (event.shadow) line.shadow = true;
  if (mode === "omit") return line;
  // Arguments that cannot be written (a cycle, a BigInt, too deep, too large) are left out:
  // the line is still written, and replay counts it as skipped.
  let text: string;
  try {
    text = call.args === undefined ? "{}" : canonicalJson(call.args);
  } catch {
    return line;
  }
  if (mode === "hmac") {
    line.argsHmac = createHmac("sha256", key!).update(text, "utf8").digest("hex");
    return line;
  }
  // In clear, the arguments, the attributes and the annotations go together or not at all: replay
  // decides from them, and a call replayed without the attributes it had is another call.
  let attributes: string | undefined;
  let annotations: string | undefined;
  try {
    if (session !== undefined) attributes = canonicalJson(session.attributes());
    if (call.annotations !== undefined) annotations = canonicalJson(call.annotations);
  } catch {
    return line;
  }
  if (text.length + (attributes?.length ?? 0) + (annotations?.length ?? 0) > MAX_LOGGED_ARGS) return line;
  line.args = JSON.parse(text) as unknown;
  if (attributes !== undefined) line.attributes = JSON.parse(attributes) as Record<string, unknown>;
  if (annotations !== undefined) line.annotations = JSON.parse(annotations) as unknown;
  return line;
}

/** The session's id (when it is a string) and a way to read its other fields, or `undefined`. */
function readSession(v: unknown): { id: string | undefined; attributes: () => Record<string, unknown> } | undefined {
  try {
    if (!isPlainObjectLike(v)) return undefined;
    const id = hasOwn.call(v, "id") ? v.id : undefined;
    return {
      id: typeof id === "string" ? id : undefined,
      attributes: () => {
        const attributes: Record<string, unknown> = {};
        for (const k of Object.keys(v)) if (k !== "id") setOwnData(attributes, k, v[k]);
        return attributes;
      },
    };
  } catch {
    return undefined;
  }
}

function isPlainObjectLike(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && (isPlainObject(v) || !Array.isArray(v));
}

function setOwnData(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function isoTime(ms: number): string {
  const d = new Date(Math.floor(ms));
  return Number.isNaN(d.getTime()) ? new Date().toISOString() : d.toISOString();
}
