/**
 * Validation of a policy document against `schemas/policy.v1.schema.json`, the one source of
 * truth for the format, with ajv's errors rewritten for policy authors.
 */

import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import policySchema from "../../schemas/policy.v1.schema.json" with { type: "json" };
import { closestName as closest, describeValue as describe } from "../shared/text.js";
import { child } from "../shared/pointer.js";
import type { PolicyIssue } from "../types.js";

/** The format versions this build reads. */
export const SUPPORTED_VERSIONS = ["1"] as const;

let compiled: ValidateFunction | undefined;

// Compiled on first use and kept for the life of the process: compiling the schema costs far
// more than validating a document with it.
function validator(): ValidateFunction {
  if (compiled === undefined) {
    const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
    compiled = ajv.compile(policySchema);
  }
  return compiled;
}

const defs = (policySchema as { $defs: Record<string, { properties?: Record<string, unknown> }> }).$defs;

/** Checks `doc` (JSON data) against the policy schema; every issue, with author-facing messages. */
export function schemaIssues(doc: unknown): PolicyIssue[] {
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    return [{ code: "type", path: "", message: `a policy must be a JSON object, got ${describe(doc)}` }];
  }
  const version = (doc as Record<string, unknown>).version;
  if (Object.prototype.hasOwnProperty.call(doc, "version") && version !== "1") {
    return [
      {
        code: "version",
        path: "/version",
        message: `unsupported version ${describe(version)}: this toolgate reads version ${SUPPORTED_VERSIONS.map(
          (v) => `"${v}"`,
        ).join(", ")}`,
      },
    ];
  }
  const validate = validator();
  if (validate(doc)) return [];
  return formatErrors(validate.errors ?? []);
}

function formatErrors(errors: readonly ErrorObject[]): PolicyIssue[] {
  const typeFailed = new Set<string>();
  for (const e of errors) if (e.keyword === "type") typeFailed.add(e.instancePath);
  const out: PolicyIssue[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    // A value of the wrong type also fails its branch of if/then/else; the type error says it all.
    if (e.keyword !== "type" && typeFailed.has(e.instancePath) && e.propertyName === undefined) continue;
    const issue = formatError(e);
    if (issue === undefined) continue;
    const id = `${issue.path}\u0000${issue.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(issue);
  }
  return out;
}

const TYPE_WORDS: Record<string, string> = {
  integer: "an integer",
  number: "a number",
  string: "a string",
  object: "an object",
  array: "an array",
  boolean: "a boolean",
  null: "null",
};

const CODES: Record<string, PolicyIssue["code"]> = {
  required: "missing_field",
  additionalProperties: "unknown_field",
  type: "type",
};

function formatError(e: ErrorObject): PolicyIssue | undefined {
  const found = describeError(e);
  if (found === undefined) return undefined;
  const code = e.instancePath === "/version" ? "version" : (CODES[e.keyword] ?? "value");
  return { code, ...found };
}

function describeError(e: ErrorObject): Omit<PolicyIssue, "code"> | undefined {
  const path = e.instancePath;
  const got = describe(e.data);
  const p = e.params as Record<string, unknown>;
  if (e.propertyName !== undefined) {
    // An error about a key of `tools`, not its value.
    if (e.keyword === "propertyNames") return undefined;
    return { path: child(path, e.propertyName), message: "a tool-name pattern must not be empty" };
  }
  switch (e.keyword) {
    case "if":
      return undefined;
    case "required":
      return { path: child(path, String(p.missingProperty)), message: "is required" };
    case "additionalProperties": {
      const field = String(p.additionalProperty);
      return { path: child(path, field), message: unknownFieldMessage(field, e.parentSchema) };
    }
    case "type": {
      const types = ([] as string[]).concat(p.type as string | string[]);
      if (path === "/default") {
        return { path, message: `must be "allow", "deny", "require_approval" or a rule object, got ${got}` };
      }
      if (e.parentSchema === defs.rule && path.startsWith("/tools/")) {
        return { path, message: `must be a rule object (use {} to allow), got ${got}` };
      }
      if (path.endsWith("/window")) {
        return { path, message: `must be a number of seconds or a string such as "30s" or "5m", got ${got}` };
      }
      return { path, message: `must be ${types.map((t) => TYPE_WORDS[t] ?? t).join(" or ")}, got ${got}` };
    }
    case "minimum":
    case "maximum":
    case "exclusiveMinimum": {
      const op = e.keyword === "minimum" ? ">=" : e.keyword === "maximum" ? "<=" : ">";
      if (path.endsWith("/window"))
        return { path, message: `must be a number of seconds ${op} ${String(p.limit)}, got ${got}` };
      if (path.endsWith("/max") && e.keyword === "exclusiveMinimum") {
        return { path, message: `must be an integer >= 1 (with a "cost", a number > 0), got ${got}` };
      }
      const what = (e.parentSchema as { type?: unknown } | undefined)?.type === "integer" ? "an integer" : "a number";
      return { path, message: `must be ${what} ${op} ${String(p.limit)}, got ${got}` };
    }
    case "minLength":
      return { path, message: "must not be empty" };
    case "minItems":
      return { path, message: "must not be an empty list" };
    case "enum": {
      const allowed = (p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ");
      return { path, message: `must be one of ${allowed}, got ${got}` };
    }
    case "pattern":
      if (path.endsWith("/per")) {
        return {
          path,
          message: `must be "session", "global" or a JSON Pointer into the session such as "/userId", got ${got}`,
        };
      }
      if (path.endsWith("/window")) {
        return {
          path,
          message: `must be a whole number and a unit (ms, s, m, h, d), such as "500ms" or "5m", got ${got}`,
        };
      }
      if (path.endsWith("/cost")) {
        return {
          path,
          message: `must be a number >= 0 or a JSON Pointer into the arguments such as "/amount", got ${got}`,
        };
      }
      return { path, message: `must match ${String(p.pattern)}, got ${got}` };
    default:
      return { path, message: `${e.message ?? "is invalid"}${e.data === undefined ? "" : `, got ${got}`}` };
  }
}

function unknownFieldMessage(field: string, parentSchema: unknown): string {
  if (parentSchema === defs.rule && field === "when") {
    return 'unknown field "when": a condition belongs in a conditional rule, inside "rules": [{ "when": ..., ... }]';
  }
  if (parentSchema === defs.conditionalRule && field === "rules") {
    return 'unknown field "rules": conditional rules cannot hold "rules" of their own';
  }
  const known = Object.keys((parentSchema as { properties?: object } | undefined)?.properties ?? {});
  const guess = closest(field, known);
  return `unknown field ${JSON.stringify(field)}${guess === undefined ? "" : ` (did you mean "${guess}"?)`}${
    known.length > 0 ? `; allowed here: ${known.map((k) => `"${k}"`).join(", ")}` : ""
  }`;
}
