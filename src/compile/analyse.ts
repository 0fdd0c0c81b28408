/**
 * Document → validated document → plan, with every issue found on the way. Nothing here picks
 * a store or builds a decision function: that is the façade's job (src/policy.ts).
 */

import { copyJsonData, deepFreeze, NotJsonData } from "../document/data.js";
import { duplicateKeyMessage, JsonTextError, locatePointers, positionOf, readJsonText } from "../shared/json-text.js";
import { child } from "../shared/pointer.js";
import { schemaIssues } from "../document/schema.js";
import { errorMessage } from "../shared/text.js";
import type { PolicyDocument, PolicyIssue } from "../types.js";
import { buildPlan } from "./build.js";
import { documentNamespace } from "./namespace.js";
import type { Plan } from "./plan.js";
import { compileCondition } from "./when.js";
import { parseWindow } from "./window.js";

/** What analysing a policy found: the plan when there were no issues. */
export interface Analysis {
  /** The validated document, deep-frozen; `undefined` when it could not be read. */
  doc: PolicyDocument | undefined;
  issues: PolicyIssue[];
  warnings: PolicyIssue[];
  plan: Plan | undefined;
}

/**
 * Reads, checks and compiles a policy given as an object or JSON text. Never throws: anything
 * unexpected becomes an issue with code `internal`.
 * @param input - the policy: an object, or JSON text.
 * @param namespace - the budget namespace; `undefined` for the policy's name, else its hash.
 */
export function analysePolicy(input: unknown, namespace: string | undefined): Analysis {
  try {
    return analyse(input, namespace);
  } catch (e) {
    return failed([{ code: "internal", path: "", message: `could not be checked: ${errorMessage(e)}` }]);
  }
}

function analyse(input: unknown, namespace: string | undefined): Analysis {
  const text = typeof input === "string" ? (input.charCodeAt(0) === 0xfeff ? input.slice(1) : input) : undefined;
  let data: unknown;
  const early: PolicyIssue[] = [];
  try {
    if (text === undefined) data = copyJsonData(input);
    else {
      const read = readJsonText(text);
      data = read.value;
      for (const d of read.duplicates) {
        early.push({
          code: "json",
          path: d.pointer,
          message: duplicateKeyMessage(d.key),
          ...positionOf(text, d.offset),
        });
      }
    }
  } catch (e) {
    if (e instanceof JsonTextError) {
      return failed([
        {
          code: e.code,
          path: e.pointer,
          message: e.message,
          ...(text === undefined ? {} : positionOf(text, e.offset)),
        },
      ]);
    }
    if (e instanceof NotJsonData) return failed([e.issue]);
    return failed([{ code: "json", path: "", message: `could not be read: ${errorMessage(e)}` }]);
  }
  const withPositions = (list: PolicyIssue[]): PolicyIssue[] => {
    if (text === undefined || list.length === 0) return list;
    const where = locatePointers(
      text,
      list.map((i) => i.path),
    );
    return list.map((i) => (i.line === undefined ? { ...i, ...where.get(i.path) } : i));
  };
  const shapeIssues = schemaIssues(data);
  if (shapeIssues.length > 0)
    return failed(withPositions([...early, ...shapeIssues, ...laterIssues(data, shapeIssues)]));
  // The shape holds: the compiler's own checks run even beside duplicate keys, so the author
  // sees every issue at once.
  const doc = deepFreeze(data as PolicyDocument);
  const built = buildPlan(doc, namespace ?? doc.name ?? documentNamespace(doc));
  const issues = [...early, ...built.issues];
  return {
    doc,
    issues: withPositions(issues),
    warnings: withPositions(built.warnings),
    plan: issues.length === 0 ? built.plan : undefined,
  };
}

/**
 * When the document's shape is wrong, the compiler's own checks (amounts, ids, windows, `when`
 * schemas) still run wherever the shape allows, so an author sees every issue at once. The
 * builder expects a valid shape and may stumble on an invalid one: then the checks that can run
 * on any shape (windows and `when` schemas) stand in for it.
 */
function laterIssues(data: unknown, known: readonly PolicyIssue[]): PolicyIssue[] {
  const reported = new Set(known.map((i) => i.path));
  let found: PolicyIssue[];
  try {
    found = buildPlan(data as PolicyDocument, "").issues;
  } catch {
    found = valueIssues(data, known);
  }
  return found.filter((i) => !reported.has(i.path));
}

function valueIssues(data: unknown, known: readonly PolicyIssue[]): PolicyIssue[] {
  const out: PolicyIssue[] = [];
  const reported = new Set(known.map((i) => i.path));
  const obj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  const limit = (l: unknown, at: string) => {
    if (!obj(l) || (typeof l.window !== "number" && typeof l.window !== "string")) return;
    const path = child(at, "window");
    const w = parseWindow(l.window);
    if (typeof w === "string" && !reported.has(path)) out.push({ code: "value", path, message: w });
  };
  const limits = (v: unknown, at: string) => {
    if (Array.isArray(v)) v.forEach((l, i) => limit(l, child(at, i)));
    else limit(v, at);
  };
  const rule = (r: unknown, at: string) => {
    if (!obj(r)) return;
    limits(r.rate_limit, child(at, "rate_limit"));
    if (!Array.isArray(r.rules)) return;
    r.rules.forEach((c: unknown, i) => {
      const cat = child(child(at, "rules"), i);
      if (!obj(c)) return;
      limits(c.rate_limit, child(cat, "rate_limit"));
      if (!obj(c.when)) return;
      for (const part of ["args", "session", "annotations"]) {
        const schema = c.when[part];
        if (schema === undefined || (typeof schema !== "boolean" && !obj(schema))) continue;
        const compiled = compileCondition(schema, child(child(cat, "when"), part));
        if (!compiled.ok)
          for (const i of compiled.issues) out.push({ code: "condition", path: i.path, message: i.message });
      }
    });
  };
  if (!obj(data)) return out;
  if (Array.isArray(data.limits)) data.limits.forEach((l, i) => limit(l, child("/limits", i)));
  rule(data.default, "/default");
  if (obj(data.tools)) for (const key of Object.keys(data.tools)) rule(data.tools[key], child("/tools", key));
  return out;
}

function failed(issues: PolicyIssue[]): Analysis {
  return { doc: undefined, issues, warnings: [], plan: undefined };
}
