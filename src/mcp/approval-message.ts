/**
 * The question put to a person about one call: the tool, why approval is needed, and every
 * argument (docs/spec.md, section 8, "Approvals").
 *
 * What decides must never be cut off: a long value early in the agent's key order once hid a
 * path that came after it. So every key is shown, each value as a bounded preview, in sorted
 * order with the keys the policy's conditions read first; characters that do not print (bidi
 * controls, zero-width characters, other format and control characters) are shown as escapes,
 * so the text cannot be reordered or hidden on the person's screen. A call that cannot be shown
 * this way is not put to anyone: the caller refuses it and says why.
 */

import { isPlainObject } from "../shared/objects.js";

/** At most this many arguments are shown; a call with more is not put to a person. */
export const MAX_SHOWN_KEYS = 64;
/** Characters of a value's JSON shown before the preview is cut (the length is then stated). */
export const PREVIEW_CHARS = 200;
/** A key longer than this cannot be shown in full, so the call is not put to a person. */
export const MAX_KEY_CHARS = 128;

/** The message, or why the call cannot be shown to a person. */
export type ApprovalMessage = { ok: true; text: string } | { ok: false; why: string };

/**
 * Characters that would not print as themselves: C0 and C1 controls, bidi embeddings,
 * overrides, isolates and marks, zero-width characters, the line and paragraph separators, the
 * byte-order mark, interlinear annotation marks, tag characters, and lone surrogates.
 */
const NON_PRINTING =
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|\udb40[\udc00-\udc7f]/g;

/** `text` with every non-printing character written as `\u{…}`. */
export function escapeNonPrinting(text: string): string {
  return text.replace(NON_PRINTING, (c) => {
    const code = c.length === 2 ? (c.codePointAt(0) ?? 0) : c.charCodeAt(0);
    return `\\u{${code.toString(16).toUpperCase().padStart(4, "0")}}`;
  });
}

/**
 * Builds the question for `tool` called with `args`. `first` are the argument names the
 * policy's conditions read (shown first, in their own sorted order).
 */
export function approvalMessage(tool: string, reason: string, args: Record<string, unknown>, first: readonly string[] = []): ApprovalMessage {
  let keys: string[];
  try {
    keys = Object.keys(args);
  } catch {
    return { ok: false, why: "its arguments could not be read" };
  }
  if (keys.length > MAX_SHOWN_KEYS) {
    return { ok: false, why: `it has ${keys.length} arguments, more than the ${MAX_SHOWN_KEYS} an approval can show` };
  }
  const long = keys.find((k) => k.length > MAX_KEY_CHARS);
  if (long !== undefined) return { ok: false, why: `an argument's name is longer than ${MAX_KEY_CHARS} characters` };
  const read = new Set(first);
  const sorted = [...keys].sort((a, b) => {
    const ra = read.has(a) ? 0 : 1;
    const rb = read.has(b) ? 0 : 1;
    if (ra !== rb) return ra - rb;
    return a < b ? -1 : a > b ? 1 : 0;
  });
  const lines: string[] = [];
  for (const key of sorted) {
    let json: string | undefined;
    try {
      json = JSON.stringify(args[key]);
    } catch {
      return { ok: false, why: `the argument ${escapeNonPrinting(JSON.stringify(key))} cannot be shown as JSON` };
    }
    if (json === undefined) return { ok: false, why: `the argument ${escapeNonPrinting(JSON.stringify(key))} has no JSON form` };
    const preview = json.length <= PREVIEW_CHARS ? json : `${json.slice(0, PREVIEW_CHARS)}… (${json.length} characters in all)`;
    lines.push(`  ${escapeNonPrinting(JSON.stringify(key))}: ${escapeNonPrinting(preview)}`);
  }
  const shown = lines.length === 0 ? "Arguments: none" : `Arguments (${lines.length}, every one shown):\n${lines.join("\n")}`;
  return {
    ok: true,
    text: [`Allow the tool ${escapeNonPrinting(JSON.stringify(tool))} to run with these arguments, this once?`, `Why approval is needed: ${escapeNonPrinting(reason)}`, shown].join("\n"),
  };
}

/**
 * The top-level argument names that the `when.args` conditions (and `cost` pointers) of the
 * rule governing `tool` read, from the compiled document: shown first in an approval.
 */
export function argumentsRead(document: unknown, rulePointer: string): string[] {
  const names = new Set<string>();
  const rule = resolve(document, rulePointer);
  const limits: unknown[] = [];
  const scan = (schema: unknown): void => {
    if (!isPlainObject(schema)) return;
    if (isPlainObject(schema.properties)) for (const k of Object.keys(schema.properties)) names.add(k);
    if (Array.isArray(schema.required)) for (const k of schema.required) if (typeof k === "string") names.add(k);
  };
  if (isPlainObject(rule)) {
    if (Array.isArray(rule.rules)) {
      for (const r of rule.rules) {
        if (isPlainObject(r) && isPlainObject(r.when)) scan(r.when.args);
        if (isPlainObject(r)) limits.push(r.rate_limit);
      }
    }
    limits.push(rule.rate_limit);
  }
  if (isPlainObject(document) && Array.isArray(document.limits)) limits.push(document.limits);
  for (const l of limits.flat()) {
    if (isPlainObject(l) && typeof l.cost === "string" && l.cost.startsWith("/")) {
      names.add(l.cost.slice(1).split("/", 1)[0]!.replace(/~1/g, "/").replace(/~0/g, "~"));
    }
  }
  return [...names];
}

function resolve(document: unknown, pointer: string): unknown {
  let at: unknown = document;
  for (const part of pointer.split("/").slice(1)) {
    const key = part.replace(/~1/g, "/").replace(/~0/g, "~");
    if (!isPlainObject(at) || !Object.hasOwn(at, key)) return undefined;
    at = at[key];
  }
  return at;
}
