/**
 * `pathWithin`: the `when` keyword that holds when a value names an absolute POSIX path inside
 * one of the listed directories, after lexical resolution of `.`, `..` and repeated `/`
 * (docs/spec.md, "Two keywords beyond JSON Schema"; docs/conditions.md).
 *
 * A `pattern` such as `^/workspace/` is not enough: `/workspace/../etc/passwd` matches it. The
 * check here resolves the path as the server's filesystem would (without symlinks, which only
 * the server can see) and compares whole segments, so `/workspace2` is not under `/workspace`.
 */

import type { ErrorObject, FuncKeywordDefinition } from "ajv/dist/2020.js";
import type { DataValidateFunction } from "./ajv-types.js";
import { describeValue, quoteName } from "../../shared/text.js";

/**
 * The longest value judged, in UTF-16 code units: 16 × Linux's PATH_MAX of 4096. A longer
 * value fails, since no server opens it; the bound keeps a failing value's work small, not
 * the check linear (it is linear at any length).
 */
export const MAX_PATH_LENGTH = 65_536;

/** A value that can be judged, resolved; or why it cannot be judged (words for `explain`). */
type ResolvedPath = { ok: true; path: string } | { ok: false; why: string };

/**
 * Resolves `.`, `..` and repeated `/` lexically: `..` above `/` stays at `/`, a trailing `/`
 * is dropped. Fails for what is not an absolute path this keyword can judge: a non-string,
 * an empty or relative path, NUL or `\` anywhere, a value longer than {@link MAX_PATH_LENGTH}.
 * Percent-escapes are names, not escapes: `%2e%2e` is a file of that name.
 */
function resolvePath(value: unknown): ResolvedPath {
  if (typeof value !== "string")
    return { ok: false, why: `must be a string naming an absolute path (got ${describeValue(value)})` };
  if (value.length > MAX_PATH_LENGTH) {
    return { ok: false, why: `must be at most ${MAX_PATH_LENGTH} characters long (got ${value.length})` };
  }
  if (value.charCodeAt(0) !== 0x2f) return { ok: false, why: `must be an absolute path (got ${describeValue(value)})` };
  // Both would let the server read a different path than the one judged here: NUL ends a C
  // string early, and `\` is a separator to Windows and to code that "normalises" it.
  if (value.includes("\u0000")) return { ok: false, why: "must not contain a NUL character" };
  if (value.includes("\\")) return { ok: false, why: `must not contain a backslash (got ${quoteName(value)})` };
  const kept: string[] = [];
  for (const segment of value.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") kept.pop();
    else kept.push(segment);
  }
  return { ok: true, path: `/${kept.join("/")}` };
}

/**
 * Checks and normalises one listed directory, as written in a policy. Stricter than values: a
 * `..` in a policy is almost always a mistake, so it is an error rather than resolved.
 * @returns the normalised path, or the message for the policy author.
 */
function listedPath(item: unknown): { ok: true; path: string } | { ok: false; message: string } {
  if (typeof item !== "string") return { ok: false, message: `must be an absolute path, got ${describeValue(item)}` };
  if (item === "") return { ok: false, message: "must be an absolute path, got an empty string" };
  if (item.length > MAX_PATH_LENGTH)
    return { ok: false, message: `must be at most ${MAX_PATH_LENGTH} characters long` };
  if (item.charCodeAt(0) !== 0x2f) {
    return { ok: false, message: `must be an absolute path (starting with "/"), got ${quoteName(item)}` };
  }
  if (item.includes("\u0000")) return { ok: false, message: "must not contain a NUL character" };
  if (item.includes("\\"))
    return { ok: false, message: `must not contain a backslash (POSIX paths only), got ${quoteName(item)}` };
  if (item.split("/").includes("..")) {
    return {
      ok: false,
      message: `must not contain a ".." segment: write the directory it means, got ${quoteName(item)}`,
    };
  }
  const resolved = resolvePath(item);
  return resolved.ok ? { ok: true, path: resolved.path } : { ok: false, message: resolved.why };
}

/** The keyword's value as a list, whichever way it was written. */
function listOf(schema: unknown): unknown[] {
  return Array.isArray(schema) ? schema : [schema];
}

/**
 * The problems of a `pathWithin` value, each at a JSON Pointer relative to the value (`""` for
 * the value itself, `"/1"` for its second item). Empty when the value is valid.
 */
export function pathWithinIssues(schema: unknown): { at: string; message: string }[] {
  if (typeof schema !== "string" && !Array.isArray(schema)) {
    return [{ at: "", message: `must be an absolute path or a non-empty list of them, got ${describeValue(schema)}` }];
  }
  if (Array.isArray(schema) && schema.length === 0) {
    return [{ at: "", message: "must not be an empty list: a value could never be within it" }];
  }
  const out: { at: string; message: string }[] = [];
  listOf(schema).forEach((item, i) => {
    const r = listedPath(item);
    if (!r.ok) out.push({ at: Array.isArray(schema) ? `/${i}` : "", message: r.message });
  });
  return out;
}

/** How the listed directories are named in messages: a few, then a count. */
function nameList(roots: readonly string[], or: string): string {
  const shown = roots.slice(0, 5).map((r) => quoteName(r));
  const more = roots.length - shown.length;
  if (more > 0) return `${shown.join(", ")} ${or} ${more} more`;
  return shown.length === 1 ? shown[0]! : `${shown.slice(0, -1).join(", ")} ${or} ${shown[shown.length - 1]!}`;
}

/**
 * Compiles a checked `pathWithin` value to its test: the normalised roots, each compared as a
 * whole-segment prefix. Cost per value: one pass over it, plus one comparison per root.
 * @throws Error when the value is invalid (only reachable when the meta-schema was bypassed).
 */
function compilePathWithin(schema: unknown): DataValidateFunction {
  const issues = pathWithinIssues(schema);
  if (issues.length > 0) throw new Error(`pathWithin${issues[0]!.at}: ${issues[0]!.message}`);
  const roots = [...new Set(listOf(schema).map((item) => (listedPath(item) as { path: string }).path))];
  const everything = roots.includes("/");
  const prefixes = roots.map((r) => `${r}/`);
  const named = nameList(roots, "or");
  const fail = (message: string, params: Record<string, unknown>): false => {
    validate.errors = [{ keyword: "pathWithin", message, params } satisfies Partial<ErrorObject>];
    return false;
  };
  const validate: DataValidateFunction = (data: unknown): boolean => {
    const resolved = resolvePath(data);
    if (!resolved.ok) return fail(`${resolved.why}, so it is not within ${named}`, { pathWithin: roots });
    const p = resolved.path;
    if (everything) return true;
    for (let i = 0; i < roots.length; i++) {
      if (p === roots[i] || p.startsWith(prefixes[i]!)) return true;
    }
    const shown = p === data ? quoteName(p) : `${quoteName(data as string)} (resolved: ${quoteName(p)})`;
    return fail(`must be within ${named}: ${shown} is not`, { pathWithin: roots, resolved: p });
  };
  return validate;
}

/** The ajv definition of `pathWithin`. No `type`: ajv would skip other types, and so hold. */
export const pathWithinKeyword: FuncKeywordDefinition = {
  keyword: "pathWithin",
  schemaType: ["string", "array"],
  errors: true,
  compile: compilePathWithin,
};
