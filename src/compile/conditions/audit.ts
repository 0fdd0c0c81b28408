/**
 * What a `when` schema is checked for before ajv sees it, at the JSON Pointer of each problem:
 * unknown keywords, unknown formats, patterns the linear engine cannot run, names that ajv
 * would silently skip, and a cost per value that the schema multiplies past a bound (fanout.ts).
 *
 * Every lookup is in an own-property table (a `Map`), never in a plain object: ajv looks its
 * keywords up in plain objects, so `constructor`, `__proto__` or `toString` pass there as known
 * keywords and are ignored — a schema that always holds. And the walk descends by each
 * keyword's own kind (schema, list of schemas, map of schemas…), so no place where a subschema
 * can sit (`dependencies`, `contentSchema`, `$defs`…) is left unchecked.
 */

import { child } from "../../shared/pointer.js";
import { closestName } from "../../shared/text.js";
import { patternProblem } from "./ecma-regex.js";
import { fanoutIssues } from "./fanout.js";
import { KEYWORDS, Kind, MAX_SCHEMA_DEPTH } from "./keywords.js";

/** A problem in a `when` schema, at a JSON Pointer into the policy. */
export interface ConditionIssue {
  code: "condition";
  path: string;
  message: string;
}

/** The options of one audit. */
export interface AuditOptions {
  /** Keywords registered beyond {@link KEYWORDS} (toolgate's own, such as `pathWithin`): values, no subschemas. */
  extraKeywords: ReadonlySet<string>;
  /** The format names that exist. */
  formats: ReadonlyMap<string, unknown>;
}

const DEPENDENCIES_INSTEAD = "write dependentRequired or dependentSchemas instead";

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function unknownKeyword(keyword: string, options: AuditOptions): string {
  const guess = closestName(keyword, [...KEYWORDS.keys(), ...options.extraKeywords]);
  const hint = guess === undefined ? "" : ` (did you mean "${guess}"?)`;
  return `unknown keyword ${JSON.stringify(keyword)} in a when schema${hint}`;
}

/** Every problem of `schema` (found at `path`) that ajv would not report, or not report at its place. */
export function auditSchema(schema: unknown, path: string, options: AuditOptions): ConditionIssue[] {
  const issues: ConditionIssue[] = [];
  const issue = (at: string, message: string) => issues.push({ code: "condition", path: at, message });

  const visit = (node: unknown, at: string, depth: number): void => {
    if (!isObject(node)) return;
    if (depth > MAX_SCHEMA_DEPTH) {
      issue(at, `a when schema nested deeper than ${MAX_SCHEMA_DEPTH} levels cannot be checked`);
      return;
    }
    for (const keyword of Object.keys(node)) {
      const value = node[keyword];
      const here = child(at, keyword);
      const kind = KEYWORDS.get(keyword) ?? (options.extraKeywords.has(keyword) ? Kind.Value : undefined);
      if (kind === undefined) {
        issue(here, unknownKeyword(keyword, options));
        continue;
      }
      switch (kind) {
        case Kind.Value:
          break;
        case Kind.Schema:
          visit(value, here, depth + 1);
          break;
        case Kind.SchemaOrList:
        case Kind.SchemaList:
          if (Array.isArray(value)) value.forEach((s, i) => visit(s, child(here, i), depth + 1));
          else if (kind === Kind.SchemaOrList) visit(value, here, depth + 1);
          break;
        case Kind.SchemaMap:
        case Kind.SchemaOrNames:
          if (!isObject(value)) break;
          for (const name of Object.keys(value)) {
            const at2 = child(here, name);
            // ajv skips this name in `dependencies` (own-names.ts rewrites the other places it does).
            if (name === "__proto__" && keyword === "dependencies") {
              issue(at2, `dependencies cannot check a property named "__proto__": ${DEPENDENCIES_INSTEAD}`);
            }
            if (keyword === "patternProperties") {
              const problem = patternProblem(name);
              if (problem !== undefined) issue(at2, `pattern ${JSON.stringify(name)} ${problem}`);
            }
            if (!Array.isArray(value[name])) visit(value[name], at2, depth + 1);
          }
          break;
      }
      if (keyword === "pattern" && typeof value === "string") {
        const problem = patternProblem(value);
        if (problem !== undefined) issue(here, `pattern ${JSON.stringify(value)} ${problem}`);
      }
      if (keyword === "format" && typeof value === "string" && !options.formats.has(value)) {
        issue(here, `unknown format ${JSON.stringify(value)} in a when schema`);
      }
    }
  };
  visit(schema, path, 0);
  // Counted only on a schema whose keywords are all known: its cost is then what ajv will run.
  if (issues.length === 0) issues.push(...fanoutIssues(schema, path));
  return issues;
}

/**
 * Where in `schema` an ajv compile error points, for the errors only ajv finds (a `$ref` that
 * does not resolve); the whole schema when it names no place.
 */
export function locateCompileError(schema: unknown, path: string, message: string): ConditionIssue {
  const ref = /can't resolve reference (\S+)/.exec(message)?.[1];
  let found: string | undefined;
  const visit = (node: unknown, at: string, depth: number): void => {
    if (found !== undefined || depth > MAX_SCHEMA_DEPTH || node === null || typeof node !== "object") return;
    if (Array.isArray(node)) {
      node.forEach((s, i) => visit(s, child(at, i), depth + 1));
      return;
    }
    const record = node as Record<string, unknown>;
    if (ref !== undefined && Object.prototype.hasOwnProperty.call(record, "$ref") && record.$ref === ref) {
      found = child(at, "$ref");
      return;
    }
    for (const k of Object.keys(record)) visit(record[k], child(at, k), depth + 1);
  };
  if (ref !== undefined) visit(schema, path, 0);
  if (found !== undefined) {
    return {
      code: "condition",
      path: found,
      message: `cannot resolve ${JSON.stringify(ref)}: $ref resolves only within this when schema`,
    };
  }
  return { code: "condition", path, message: `is not a valid JSON Schema: ${message}` };
}
