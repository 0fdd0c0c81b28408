/**
 * The question put to a person about one call: the tool, why approval is needed, and every
 * argument (docs/spec.md, section 8, "Approvals").
 *
 * What decides must never be cut off: a long value early in the agent's key order once hid a
 * path that came after it, first among the arguments and then inside one nested object. So every
 * leaf is shown by its path, each value as a bounded preview, in sorted order with the keys the
 * policy's conditions read first; characters that do not print (bidi
 * controls, zero-width characters, other format and control characters) are shown as escapes,
 * so the text cannot be reordered or hidden on the person's screen. A call that cannot be shown
 * this way is not put to anyone: the caller refuses it and says why.
 */

import { isPlainObject } from "../shared/objects.js";

/**
 * At most this many arguments, and this many values in all (nested ones counted by leaf), are
 * shown; a call with more is not put to a person.
 */
export const MAX_SHOWN_KEYS = 64;
/** Characters of a value's JSON shown before the preview is cut (the length is then stated). */
export const PREVIEW_CHARS = 200;
/** A key longer than this cannot be shown in full, so the call is not put to a person. */
export const MAX_KEY_CHARS = 128;
/** Levels of nesting shown (`{ a: { b: 1 } }` is two); arguments nested deeper are not put to a person. */
export const MAX_DEPTH = 8;

/** The message, or why the call cannot be shown to a person. */
export type ApprovalMessage = { ok: true; text: string } | { ok: false; why: string };

/**
 * Characters that would not print as themselves: C0 and C1 controls, bidi embeddings,
 * overrides, isolates and marks, zero-width characters, the line and paragraph separators, the
 * byte-order mark, interlinear annotation marks, tag characters, and lone surrogates. The combining
 * marks come first in the class, so none of them follows a base character there.
 */
const NON_PRINTING =
  /[\u17b4\u17b5\u180b-\u180f\ufe00-\ufe0f\u0000-\u001f\u007f-\u009f\u00ad\u061c\u115f\u1160\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufeff\uffa0\ufff0-\ufffb]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|\udb40[\udc00-\udc7f]/g;

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
 *
 * Every leaf of the arguments (a string, number, boolean, null, empty object or empty array) is
 * shown on its own line by its path (`"target"."path"`, `"paths"[1]`), so no value can push a
 * nested key out of view; only each leaf's own preview is cut. Arguments with more than
 * {@link MAX_SHOWN_KEYS} leaves, or nested deeper than {@link MAX_DEPTH} levels, are refused
 * rather than shown in part.
 */
export function approvalMessage(
  tool: string,
  reason: string,
  args: Record<string, unknown>,
  first: readonly string[] = [],
): ApprovalMessage {
  if (typeof args !== "object" || args === null) return { ok: false, why: "its arguments are not an object" };
  let keys: string[];
  try {
    keys = Object.keys(args);
  } catch {
    return { ok: false, why: "its arguments could not be read" };
  }
  if (keys.length > MAX_SHOWN_KEYS) {
    return { ok: false, why: `it has ${keys.length} arguments, more than the ${MAX_SHOWN_KEYS} an approval can show` };
  }
  const read = new Set(first);
  const leaves: Leaf[] = [];
  let failure: string | undefined;
  try {
    failure = collect(args, [], leaves);
  } catch {
    failure = "its arguments could not be read";
  }
  if (failure !== undefined) return { ok: false, why: failure };
  leaves.sort((a, b) => {
    const ra = read.has(a.path[0] as string) ? 0 : 1;
    const rb = read.has(b.path[0] as string) ? 0 : 1;
    return ra !== rb ? ra - rb : comparePaths(a.path, b.path);
  });
  const lines = leaves.map(({ path, json }) => {
    const preview =
      json.length <= PREVIEW_CHARS ? json : `${json.slice(0, PREVIEW_CHARS)}… (${json.length} characters in all)`;
    return `  ${escapeNonPrinting(pathText(path))}: ${escapeNonPrinting(preview)}`;
  });
  const shown =
    lines.length === 0 ? "Arguments: none" : `Arguments (${lines.length}, every one shown):\n${lines.join("\n")}`;
  return {
    ok: true,
    text: [
      `Allow the tool ${escapeNonPrinting(JSON.stringify(tool))} to run with these arguments, this once?`,
      `Why approval is needed: ${escapeNonPrinting(reason)}`,
      shown,
    ].join("\n"),
  };
}

/** One shown value: its path from the arguments (names and array indices) and its JSON. */
interface Leaf {
  path: (string | number)[];
  json: string;
}

/**
 * Appends the leaves of `value` (at `path`) to `out`, or says why the arguments cannot be shown.
 * Children are read one at a time and the walk stops at the first value beyond the bound, so a
 * huge, sparse or shared (even cyclic) structure costs at most {@link MAX_SHOWN_KEYS} leaves times
 * {@link MAX_DEPTH} levels, besides listing one object's own names.
 */
function collect(value: unknown, path: (string | number)[], out: Leaf[]): string | undefined {
  if (path.length > MAX_DEPTH) return `its arguments are nested more than ${MAX_DEPTH} levels deep`;
  if (path.length > 0 && typeof value === "object" && value !== null) {
    const toJson: unknown = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJson === "function" || (!Array.isArray(value) && !isPlainObject(value))) {
      // A value with a JSON form of its own (a Date, a toJSON) is shown as the data that form holds,
      // which is what the tool is sent.
      const json = leafJson(value, path);
      if (typeof json !== "string") return json.why;
      const data: unknown = JSON.parse(json);
      if (typeof data !== "object" || data === null) return push(path, json, out);
      return collect(data, path, out);
    }
  }
  if (Array.isArray(value) && value.length > 0) {
    if (value.length > MAX_SHOWN_KEYS - out.length) return tooMany();
    for (let i = 0; i < value.length; i++) {
      const why = collect(value[i], [...path, i], out);
      if (why !== undefined) return why;
    }
    return undefined;
  }
  if (isPlainObject(value) || (path.length === 0 && typeof value === "object" && value !== null)) {
    const names = Object.keys(value);
    if (names.length > 0 || path.length === 0) {
      if (names.length > MAX_SHOWN_KEYS - out.length) return tooMany();
      if (names.some((k) => k.length > MAX_KEY_CHARS))
        return `an argument's name is longer than ${MAX_KEY_CHARS} characters`;
      for (const name of names) {
        const why = collect((value as Record<string, unknown>)[name], [...path, name], out);
        if (why !== undefined) return why;
      }
      return undefined;
    }
  }
  const json = leafJson(value, path);
  return typeof json === "string" ? push(path, json, out) : json.why;
}

function push(path: (string | number)[], json: string, out: Leaf[]): string | undefined {
  if (out.length >= MAX_SHOWN_KEYS) return tooMany();
  out.push({ path, json });
  return undefined;
}

function tooMany(): string {
  return `its arguments hold more than the ${MAX_SHOWN_KEYS} values an approval can show`;
}

function leafJson(value: unknown, path: readonly (string | number)[]): string | { why: string } {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    return { why: `the argument ${escapeNonPrinting(pathText(path))} cannot be shown as JSON` };
  }
  if (json === undefined) return { why: `the argument ${escapeNonPrinting(pathText(path))} has no JSON form` };
  return json;
}

/** `"target"."path"`, `"paths"[1]`: every name quoted, so a name holding a dot cannot pose as a path. */
function pathText(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${JSON.stringify(p)}`)).join("");
}

/** Paths in order: names by code unit, indices by number, a parent's leaves before a longer path's. */
function comparePaths(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (typeof x === "number" && typeof y === "number") return x - y;
    const sx = String(x);
    const sy = String(y);
    return sx < sy ? -1 : sx > sy ? 1 : 0;
  }
  return a.length - b.length;
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
