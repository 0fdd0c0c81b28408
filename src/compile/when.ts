/**
 * `when` conditions: JSON Schemas (draft 2020-12) compiled once by ajv at policy compile time.
 *
 * Strictness is what SPEC.md asks: unknown keywords and unknown formats are errors (a typo such
 * as `maximun` must not make a schema that always holds); nothing else is stricter than JSON
 * Schema (no `type` needed, `required` may name undescribed properties); no coercion, no
 * defaults, nothing removed, so the arguments are never changed.
 *
 * `pattern` and `patternProperties` run against arguments an attacker may write, so every
 * regular expression runs on re2js, a linear-time engine: no input can make a pattern take
 * super-linear time. Patterns RE2 cannot express (backreferences, lookaround) are errors.
 */

import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import formatsModule from "ajv-formats";
import { RE2JS } from "re2js";
import { child } from "../document/pointer.js";
import { errorText } from "../document/data.js";
import { closest } from "../document/words.js";
import { addToolgateKeywords } from "./keywords/index.js";

type FormatsPlugin = (ajv: Ajv2020) => Ajv2020;
// ajv-formats is CommonJS; depending on the loader its function is the module or its default.
const addFormats: FormatsPlugin =
  (formatsModule as unknown as { default?: FormatsPlugin }).default ?? (formatsModule as unknown as FormatsPlugin);

/** A compiled condition on one part of the call. */
export type Condition = ValidateFunction;

/**
 * ajv's `code.regExp` hook: RE2 semantics, linear time, the `test` method ajv calls. ajv
 * shares compiled patterns by their `toString()`, so it must name the pattern as a RegExp
 * does: with the default "[object Object]" every pattern would run as the first one compiled.
 */
function linearRegExp(pattern: string, flags: string): { test(s: string): boolean; toString(): string } {
  const re = RE2JS.compile(pattern, flags.includes("i") ? RE2JS.CASE_INSENSITIVE : 0);
  const name = `/${pattern}/${flags}`;
  return { test: (s: string) => re.test(s), toString: () => name };
}
linearRegExp.code = "linearRegExp";

let shared: Ajv2020 | undefined;

// One ajv instance per process: creating one costs milliseconds, compiling a small schema far
// less. Schemas are compiled with `addUsedSchema: false` and removed afterwards, so `$id`s of
// one condition never resolve from another, and hot reloads do not grow the instance.
function ajv(): Ajv2020 {
  if (shared === undefined) {
    shared = new Ajv2020({
      strict: false,
      strictSchema: true,
      strictNumbers: true,
      strictTypes: false,
      strictTuples: false,
      strictRequired: false,
      allowUnionTypes: true,
      allErrors: false,
      coerceTypes: false,
      useDefaults: false,
      removeAdditional: false,
      addUsedSchema: false,
      validateFormats: true,
      unicodeRegExp: true,
      code: { regExp: linearRegExp, optimize: true },
      logger: false,
    });
    addFormats(shared);
    addToolgateKeywords(shared);
  }
  return shared;
}

/** A condition compiled, or the issue that stopped it, at a JSON Pointer into the policy. */
export type CompiledCondition = { ok: true; check: Condition } | { ok: false; issues: { path: string; message: string }[] };

const cache = new Map<string, Condition>();

/**
 * Compiles one `when` schema found at `path`. Identical schemas (by their JSON text) share
 * one compiled function, which keeps policies with thousands of similar rules fast to compile.
 */
export function compileCondition(schema: unknown, path: string): CompiledCondition {
  let key: string;
  try {
    key = JSON.stringify(schema);
  } catch (e) {
    return { ok: false, issues: [{ path, message: `cannot be read as JSON: ${errorText(e)}` }] };
  }
  const hit = cache.get(key);
  if (hit !== undefined) return { ok: true, check: hit };
  const instance = ajv();
  const unknown: { path: string; message: string }[] = [];
  walk(schema, path, (node, at) => {
    for (const k of Object.keys(node)) {
      if (!knownKeywords(instance).has(k)) unknown.push({ path: child(at, k), message: unknownKeywordMessage(k) });
    }
    return undefined;
  });
  if (unknown.length > 0) return { ok: false, issues: unknown };
  // Check against the meta-schema first: ajv's compile error for a bad keyword value names no
  // place, its validateSchema errors do. The deepest error is the most specific one (the
  // meta-schema's alternatives add shallower ones).
  if (!instance.validateSchema(schema as object)) {
    const errors = instance.errors ?? [];
    const e = errors.reduce<ErrorObject | undefined>((a, b) => (a === undefined || b.instancePath.length > a.instancePath.length ? b : a), undefined);
    if (e !== undefined) return { ok: false, issues: [{ path: path + e.instancePath, message: `${e.message ?? "is invalid"} (in a when schema)` }] };
  }
  try {
    const check = instance.compile(schema as object);
    if (cache.size >= 1000) cache.clear();
    cache.set(key, check);
    return { ok: true, check };
  } catch (e) {
    return { ok: false, issues: [locateSchemaError(schema, path, errorText(e))] };
  } finally {
    try {
      instance.removeSchema(schema as object);
    } catch {
      // Nothing was added for a schema that failed early; nothing to remove.
    }
  }
}

/** The first reason a value fails a condition, for explanations: keyword and paths. */
export function firstFailure(check: Condition): { keyword: string; instancePath: string; schemaPath: string; message: string } | undefined {
  const e: ErrorObject | undefined = check.errors?.[0];
  if (e === undefined) return undefined;
  return { keyword: e.keyword, instancePath: e.instancePath, schemaPath: e.schemaPath, message: e.message ?? "fails" };
}

let known: Set<string> | undefined;

/**
 * The keywords ajv knows. Checked by us before ajv compiles: ajv looks keywords up in plain
 * objects, so "constructor", "__proto__" or "toString" in a schema pass as known and are
 * silently ignored — a schema that always holds, which SPEC.md forbids.
 */
function knownKeywords(instance: Ajv2020): Set<string> {
  if (known === undefined) {
    const rules = instance.RULES as unknown as { all: object; keywords: object };
    known = new Set([...Object.keys(rules.all), ...Object.keys(rules.keywords)]);
  }
  return known;
}

function unknownKeywordMessage(keyword: string): string {
  const guess = closest(keyword, KEYWORDS);
  return `unknown keyword ${JSON.stringify(keyword)} in a when schema${guess === undefined ? "" : ` (did you mean "${guess}"?)`}`;
}

/** The JSON Schema 2020-12 keywords, for "did you mean" hints. */
const KEYWORDS = [
  "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
  "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains", "minContains",
  "maxProperties", "minProperties", "required", "dependentRequired", "properties", "patternProperties",
  "additionalProperties", "propertyNames", "items", "prefixItems", "contains", "allOf", "anyOf", "oneOf",
  "not", "if", "then", "else", "dependentSchemas", "unevaluatedItems", "unevaluatedProperties", "format",
  "$ref", "$defs", "$id", "$anchor", "$comment", "title", "description", "default", "examples",
];

const SCHEMA_VALUED = ["not", "if", "then", "else", "contains", "additionalProperties", "propertyNames", "unevaluatedItems", "unevaluatedProperties", "items", "additionalItems"];
const SCHEMA_LISTS = ["allOf", "anyOf", "oneOf", "prefixItems", "items"];
const SCHEMA_MAPS = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"];

/**
 * ajv reports a bad schema without saying where in it the problem is. Find the spot, so the
 * author is sent to `/tools/x/rules/0/when/args/properties/n/maximun`, not to the whole schema.
 */
function locateSchemaError(schema: unknown, path: string, message: string): { path: string; message: string } {
  const keyword = /unknown keyword: "([^"]*)"/.exec(message)?.[1];
  const format = /unknown format "([^"]*)"/.exec(message)?.[1];
  const ref = /can't resolve reference (\S+)/.exec(message)?.[1];
  const found = walk(schema, path, (node, at) => {
    if (keyword !== undefined && Object.prototype.hasOwnProperty.call(node, keyword)) {
      return { path: child(at, keyword), message: unknownKeywordMessage(keyword) };
    }
    if (format !== undefined && node.format === format) {
      return { path: child(at, "format"), message: `unknown format "${format}" in a when schema` };
    }
    if (ref !== undefined && node.$ref === ref) {
      return { path: child(at, "$ref"), message: `cannot resolve ${JSON.stringify(ref)}: $ref resolves only within this when schema` };
    }
    if (typeof node.pattern === "string" && !compilesAsRe2(node.pattern)) {
      return { path: child(at, "pattern"), message: `pattern ${JSON.stringify(node.pattern)} is not supported: ${re2Error(node.pattern)}` };
    }
    const pp = node.patternProperties;
    if (pp !== null && typeof pp === "object") {
      for (const p of Object.keys(pp)) {
        if (!compilesAsRe2(p)) {
          return { path: child(child(at, "patternProperties"), p), message: `pattern ${JSON.stringify(p)} is not supported: ${re2Error(p)}` };
        }
      }
    }
    return undefined;
  });
  if (found !== undefined) return found;
  return { path, message: `is not a valid JSON Schema: ${message}` };
}

function compilesAsRe2(p: string): boolean {
  return re2Error(p) === "";
}

function re2Error(p: string): string {
  try {
    RE2JS.compile(p);
    return "";
  } catch (e) {
    return `${errorText(e)} (patterns run on a linear-time engine, RE2: no backreferences or lookaround)`;
  }
}

type Visit = (node: Record<string, unknown>, at: string) => { path: string; message: string } | undefined;

function walk(schema: unknown, at: string, visit: Visit, depth = 0): { path: string; message: string } | undefined {
  if (schema === null || typeof schema !== "object" || Array.isArray(schema) || depth > 200) return undefined;
  const node = schema as Record<string, unknown>;
  const hit = visit(node, at);
  if (hit !== undefined) return hit;
  for (const k of SCHEMA_VALUED) {
    if (Object.prototype.hasOwnProperty.call(node, k) && !Array.isArray(node[k])) {
      const r = walk(node[k], child(at, k), visit, depth + 1);
      if (r !== undefined) return r;
    }
  }
  for (const k of SCHEMA_LISTS) {
    const list = Object.prototype.hasOwnProperty.call(node, k) ? node[k] : undefined;
    if (Array.isArray(list)) {
      for (let i = 0; i < list.length; i++) {
        const r = walk(list[i], child(child(at, k), i), visit, depth + 1);
        if (r !== undefined) return r;
      }
    }
  }
  for (const k of SCHEMA_MAPS) {
    const map = Object.prototype.hasOwnProperty.call(node, k) ? node[k] : undefined;
    if (map !== null && typeof map === "object" && !Array.isArray(map)) {
      for (const name of Object.keys(map)) {
        const r = walk((map as Record<string, unknown>)[name], child(child(at, k), name), visit, depth + 1);
        if (r !== undefined) return r;
      }
    }
  }
  return undefined;
}
