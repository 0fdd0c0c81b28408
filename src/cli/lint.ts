/**
 * `toolgate check`'s warnings about conditions that read well and hold for the wrong values:
 *
 * - a constraint keyword (`maximum`, `pattern`, `maxLength`…) on a value with no `type`: JSON
 *   Schema applies it to its own type only, so `{ "maximum": 1000 }` holds for the string
 *   `"5000"` (and a server that coerces strings to numbers then runs with 5000);
 * - `pattern` on an argument that names a path or a URL: a pattern cannot say where a path or
 *   URL points (`^/workspace/` matches `/workspace/../etc/passwd`); `pathWithin` and
 *   `urlHostIn` (docs/spec.md, section 1) can.
 *
 * The rules looked at come from the compiled plan (`policy.rules`, `policy.rulesFor`); only
 * their `when` schemas are read from the document.
 */

import type { Policy, ToolContext } from "toolgate";
import { hasOwn, isPlainObject } from "../shared/objects.js";
import type { ToolInfo } from "./files.js";
import { nameWords } from "./names.js";

/** One warning of `check` about a condition. */
export interface ConditionWarning {
  /** What kind of warning it is. */
  kind: "untyped_constraint" | "pattern_on_path";
  /** The tool it is about, for warnings that read a tool's input schema. */
  tool?: string;
  /** JSON Pointer of the rule whose condition it is. */
  rule: string;
  /** JSON Pointer of the keyword in the policy. */
  path: string;
  /** The warning in words. */
  message: string;
}

const NUMBER_KEYWORDS = ["maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum", "multipleOf"];
const STRING_KEYWORDS = ["pattern", "maxLength", "minLength", "format"];
/** Subschemas that validate the same value as their parent. */
const SAME_VALUE = ["allOf", "anyOf", "oneOf"];
const SAME_VALUE_ONE = ["not", "if", "then", "else"];
/** Subschemas that validate a part of the value: a property, an item. */
const PART_MAPS = ["properties", "patternProperties", "dependentSchemas", "$defs"];
const PART_ONE = ["additionalProperties", "unevaluatedProperties", "items", "contains", "unevaluatedItems"];
const PATH_WORDS = new Set([
  "path",
  "paths",
  "filepath",
  "file",
  "files",
  "filename",
  "filenames",
  "dir",
  "dirs",
  "directory",
  "folder",
]);
const EITHER_WORDS = new Set(["source", "src", "destination", "dest", "dst"]);
const URL_WORDS = new Set(["url", "urls", "uri", "uris", "endpoint", "href", "link", "webhook"]);
/** Bounds the walk of one schema: conditions are small; a pathological one is not walked to its end. */
const MAX_VISITS = 10_000;

/** Constraint keywords on untyped values, in every condition of every rule that can decide. */
export function untypedConstraints(policy: Policy): ConditionWarning[] {
  const out: ConditionWarning[] = [];
  for (const r of policy.rules) {
    const when = at(policy.document, `${r.rule}/when`);
    if (!isPlainObject(when)) continue;
    for (const part of ["args", "session", "annotations"]) {
      // The root of each condition is an object (arguments, session, annotations): typed.
      if (hasOwn.call(when, part)) walk(when[part], `${r.rule}/when/${part}`, true, { visits: 0 }, r.rule, out);
    }
  }
  return out;
}

function walk(
  schema: unknown,
  path: string,
  typed: boolean,
  budget: { visits: number },
  rule: string,
  out: ConditionWarning[],
): void {
  if (!isPlainObject(schema) || ++budget.visits > MAX_VISITS) return;
  const pinned =
    typed ||
    hasOwn.call(schema, "type") ||
    hasOwn.call(schema, "const") ||
    hasOwn.call(schema, "enum") ||
    typedMember(schema);
  if (!pinned) {
    for (const k of NUMBER_KEYWORDS) {
      if (!hasOwn.call(schema, k)) continue;
      out.push({
        kind: "untyped_constraint",
        rule,
        path: `${path}/${k}`,
        message:
          `"${k}" on a value without "type" holds for any value that is not a number ` +
          '(the string "5000" passes "maximum": 1000): add "type": "integer" or "number"',
      });
    }
    for (const k of STRING_KEYWORDS) {
      if (!hasOwn.call(schema, k)) continue;
      out.push({
        kind: "untyped_constraint",
        rule,
        path: `${path}/${k}`,
        message:
          `"${k}" on a value without "type" holds for any value that is not a string ` +
          '(a number, an array, an object): add "type": "string"',
      });
    }
  }
  for (const k of SAME_VALUE) {
    const list = own(schema, k);
    if (Array.isArray(list)) list.forEach((s, i) => walk(s, `${path}/${k}/${i}`, pinned, budget, rule, out));
  }
  for (const k of SAME_VALUE_ONE) walk(own(schema, k), `${path}/${k}`, pinned, budget, rule, out);
  for (const k of PART_MAPS) {
    const map = own(schema, k);
    if (!isPlainObject(map)) continue;
    for (const name of Object.keys(map)) walk(map[name], `${path}/${k}/${escapeToken(name)}`, false, budget, rule, out);
  }
  for (const k of PART_ONE) walk(own(schema, k), `${path}/${k}`, false, budget, rule, out);
  const prefix = own(schema, "prefixItems");
  if (Array.isArray(prefix)) prefix.forEach((s, i) => walk(s, `${path}/prefixItems/${i}`, false, budget, rule, out));
  // Property names are always strings.
  walk(own(schema, "propertyNames"), `${path}/propertyNames`, true, budget, rule, out);
}

/** `allOf: [{ "type": "integer" }, { "maximum": 5 }]` types its siblings too. */
function typedMember(schema: Record<string, unknown>): boolean {
  const all = own(schema, "allOf");
  return Array.isArray(all) && all.some((s) => isPlainObject(s) && hasOwn.call(s, "type"));
}

/**
 * `pattern` on a string argument named like a path or a URL (in the tool's input schema), in
 * a condition of a rule that may decide the tool's calls, where the same condition uses
 * neither `pathWithin` nor `urlHostIn` on it.
 */
export function patternsOnPaths(policy: Policy, tool: ToolInfo, context: ToolContext): ConditionWarning[] {
  const props = tool.inputSchema === undefined ? undefined : own(tool.inputSchema, "properties");
  if (!isPlainObject(props)) return [];
  const named: { name: string; keyword: string }[] = [];
  for (const name of Object.keys(props)) {
    const keyword = pointsWith(name);
    if (keyword !== undefined && mayBeString(props[name])) named.push({ name, keyword });
  }
  if (named.length === 0) return [];
  const out: ConditionWarning[] = [];
  for (const r of policy.rulesFor(tool.name, context)) {
    const argProps = at(policy.document, `${r.rule}/when/args/properties`);
    if (!isPlainObject(argProps)) continue;
    for (const { name, keyword } of named) {
      if (!hasOwn.call(argProps, name)) continue;
      const base = `${r.rule}/when/args/properties/${escapeToken(name)}`;
      const found = { pattern: undefined as string | undefined, guarded: false };
      scan(argProps[name], base, found, { visits: 0 });
      if (found.pattern === undefined || found.guarded) continue;
      const advice = keyword === "either" ? '"pathWithin" (or "urlHostIn" for a URL)' : `"${keyword}"`;
      out.push({
        kind: "pattern_on_path",
        tool: tool.name,
        rule: r.rule,
        path: found.pattern,
        message:
          `"${name}" names a ${keyword === "urlHostIn" ? "URL" : "path"}, and "pattern" cannot say where it points ` +
          `(^/workspace/ matches /workspace/../etc/passwd): use ${advice}`,
      });
    }
  }
  return out;
}

/** The keyword that checks where an argument of this name points, if its name says it points somewhere. */
function pointsWith(name: string): "pathWithin" | "urlHostIn" | "either" | undefined {
  const words = nameWords(name);
  if (words.some((w) => URL_WORDS.has(w))) return "urlHostIn";
  if (words.some((w) => PATH_WORDS.has(w))) return "pathWithin";
  if (words.some((w) => EITHER_WORDS.has(w))) return "either";
  return undefined;
}

function mayBeString(schema: unknown): boolean {
  if (!isPlainObject(schema)) return schema === true || schema === undefined;
  const type = own(schema, "type");
  if (type === undefined) return true;
  return type === "string" || (Array.isArray(type) && type.includes("string"));
}

/** Finds a `pattern` and a `pathWithin`/`urlHostIn` that apply to the value itself. */
function scan(
  schema: unknown,
  path: string,
  found: { pattern: string | undefined; guarded: boolean },
  budget: { visits: number },
): void {
  if (!isPlainObject(schema) || ++budget.visits > MAX_VISITS) return;
  if (hasOwn.call(schema, "pathWithin") || hasOwn.call(schema, "urlHostIn")) found.guarded = true;
  if (found.pattern === undefined && hasOwn.call(schema, "pattern")) found.pattern = `${path}/pattern`;
  for (const k of SAME_VALUE) {
    const list = own(schema, k);
    if (Array.isArray(list)) list.forEach((s, i) => scan(s, `${path}/${k}/${i}`, found, budget));
  }
  for (const k of ["if", "then", "else"]) scan(own(schema, k), `${path}/${k}`, found, budget);
}

/** The value at a JSON Pointer, read through own properties only. */
function at(root: unknown, pointer: string): unknown {
  let node = root;
  for (const raw of pointer.split("/").slice(1)) {
    const token = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(node)) node = /^(0|[1-9]\d*)$/.test(token) ? node[Number(token)] : undefined;
    else if (isPlainObject(node)) node = hasOwn.call(node, token) ? node[token] : undefined;
    else return undefined;
  }
  return node;
}

function own(o: Record<string, unknown>, key: string): unknown {
  return hasOwn.call(o, key) ? o[key] : undefined;
}

function escapeToken(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}
