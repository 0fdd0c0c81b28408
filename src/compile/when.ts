/**
 * `when` conditions: JSON Schemas (draft 2020-12) compiled once by ajv at policy compile time
 * (docs/spec.md, "Conditional rule"; what is checked and in what time: docs/conditions.md).
 *
 * Strictness is what the spec asks: unknown keywords and unknown formats are errors (a typo such
 * as `maximun` must not make a schema that always holds); nothing else is stricter than JSON
 * Schema (no `type` needed, `required` may name undescribed properties); no coercion, no
 * defaults, nothing removed, so the arguments are never changed.
 *
 * The arguments are written by a model an attacker may steer, so every keyword and format runs
 * in time linear in the value (or bounded): patterns on a linear-time engine with ECMA-262
 * meaning (conditions/ecma-regex.ts), formats without backtracking (conditions/formats.ts),
 * `uniqueItems` by hashing (conditions/unique-items.ts), `contains` without an error object
 * kept per item (conditions/contains.ts). Objects are read by their own
 * properties only (ajv's `ownProperties`): `required: ["constructor"]` does not hold on `{}`.
 */

import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { errorMessage } from "../shared/text.js";
import { auditSchema, locateCompileError, type ConditionIssue } from "./conditions/audit.js";
import { addLeanContains } from "./conditions/contains.js";
import { linearRegExp } from "./conditions/ecma-regex.js";
import { addFormats, addLinearFormats, linearFormats } from "./conditions/formats.js";
import { originalPath, withOwnNames, type Moved } from "./conditions/own-names.js";
import { addLinearUniqueItems } from "./conditions/unique-items.js";
import { addToolgateKeywords, TOOLGATE_KEYWORDS } from "./keywords/index.js";

/** A compiled condition on one part of the call. */
export type Condition = ValidateFunction;

/** A condition compiled, or the issues that stopped it, at JSON Pointers into the policy. */
export type CompiledCondition = { ok: true; check: Condition } | { ok: false; issues: ConditionIssue[] };

export type { ConditionIssue } from "./conditions/audit.js";

let shared: Ajv2020 | undefined;
/** Characters of schema text compiled on `shared`: ajv keeps every pattern and function it generated. */
let compiledChars = 0;

/** After this much schema text the instance is replaced, so hot reloads cannot grow it without bound. */
const INSTANCE_BUDGET_CHARS = 16_000_000;

// One ajv instance per process: creating one costs milliseconds, compiling a small schema far
// less. Schemas are compiled with `addUsedSchema: false` and removed afterwards, so `$id`s of
// one condition never resolve from another.
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
      // Own enumerable properties only, in every keyword that reads an object's members.
      ownProperties: true,
      code: { regExp: linearRegExp, optimize: true },
      logger: false,
    });
    addFormats(shared);
    // Right after addFormats: the same format names, each with a check that cannot backtrack.
    addLinearFormats(shared);
    addLinearUniqueItems(shared);
    addLeanContains(shared);
    addToolgateKeywords(shared);
    compiledChars = 0;
  }
  return shared;
}

const EXTRA_KEYWORDS: ReadonlySet<string> = new Set<string>(TOOLGATE_KEYWORDS);

/** Compiled conditions by schema text, bounded in entries and in characters of text. */
const cache = new Map<string, Condition>();
let cachedChars = 0;
const CACHE_ENTRIES = 1_000;
const CACHE_CHARS = 4_000_000;

function remember(key: string, check: Condition): void {
  if (key.length > CACHE_CHARS / 4) return;
  cache.set(key, check);
  cachedChars += key.length;
  // Oldest first: a Map iterates in insertion order.
  for (const k of cache.keys()) {
    if (cache.size <= CACHE_ENTRIES && cachedChars <= CACHE_CHARS) break;
    cache.delete(k);
    cachedChars -= k.length;
  }
}

/**
 * Compiles one `when` schema found at `path`. Identical schemas (by their JSON text) share
 * one compiled function, which keeps policies with thousands of similar rules fast to compile.
 */
export function compileCondition(schema: unknown, path: string): CompiledCondition {
  let key: string;
  try {
    key = JSON.stringify(schema);
  } catch (e) {
    return { ok: false, issues: [{ code: "condition", path, message: `cannot be read as JSON: ${errorMessage(e)}` }] };
  }
  const hit = cache.get(key);
  if (hit !== undefined) return { ok: true, check: hit };
  const issues = auditSchema(schema, path, { extraKeywords: EXTRA_KEYWORDS, formats: linearFormats() });
  if (issues.length > 0) return { ok: false, issues };
  if (compiledChars > INSTANCE_BUDGET_CHARS) shared = undefined;
  const instance = ajv();
  compiledChars += key.length;
  // Check against the meta-schema first: ajv's compile error for a bad keyword value names no
  // place, its validateSchema errors do. The deepest error is the most specific one (the
  // meta-schema's alternatives add shallower ones).
  if (!instance.validateSchema(schema as object)) {
    const errors = instance.errors ?? [];
    const e = errors.reduce<ErrorObject | undefined>(
      (a, b) => (a === undefined || b.instancePath.length > a.instancePath.length ? b : a),
      undefined,
    );
    if (e !== undefined) {
      return {
        ok: false,
        issues: [
          {
            code: "condition",
            path: path + e.instancePath,
            message: `${e.message ?? "is invalid"} (in a when schema)`,
          },
        ],
      };
    }
  }
  // Checked as written (so errors point into the policy), compiled in the form ajv reads
  // `__proto__` members in.
  const { schema: compiled, moves } = withOwnNames(schema as object);
  try {
    const validate = instance.compile(compiled);
    const check = moves.length === 0 ? validate : reporting(validate, moves);
    remember(key, check);
    return { ok: true, check };
  } catch (e) {
    return { ok: false, issues: [locateCompileError(schema, path, errorMessage(e))] };
  } finally {
    try {
      instance.removeSchema(compiled);
    } catch {
      // Nothing was added for a schema that failed early; nothing to remove.
    }
  }
}

/**
 * A condition compiled from a rewritten schema, whose errors name the places the policy wrote
 * (explanations read `errors`): the rewrite costs nothing when the condition holds.
 */
function reporting(validate: ValidateFunction, moves: readonly Moved[]): Condition {
  const check = ((value: unknown) => {
    const ok = validate(value) === true;
    check.errors = ok
      ? null
      : (validate.errors ?? []).map((e) => ({ ...e, schemaPath: originalPath(e.schemaPath, moves) }));
    return ok;
  }) as Condition;
  return check;
}

/** The first reason a value fails a condition, for explanations: keyword and paths. */
export function firstFailure(
  check: Condition,
): { keyword: string; instancePath: string; schemaPath: string; message: string } | undefined {
  const e: ErrorObject | undefined = check.errors?.[0];
  if (e === undefined) return undefined;
  return { keyword: e.keyword, instancePath: e.instancePath, schemaPath: e.schemaPath, message: e.message ?? "fails" };
}
