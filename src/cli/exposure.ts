/**
 * Which rules could let a tool's calls through with neither a person's approval nor a rate
 * limit. Read from the document, so it holds for every argument, not just the ones tried:
 * a rule counts when its `when.annotations` holds for the tool's annotations (checked by the
 * engine itself) and its `when.args`/`when.session` might hold.
 */

import { compilePolicy, type JsonSchema, type PolicyDocument } from "toolgate";

/**
 * JSON Pointers of the rules that may allow calls of a tool with these annotations without
 * approval and without any limit, in the order the engine would try them.
 */
export function unguardedAllows(doc: PolicyDocument, governing: string, annotations: Record<string, unknown>): string[] {
  // The policy's own limits apply to every allowed call: then nothing is unguarded.
  if ((doc.limits ?? []).length > 0) return [];
  const rule = governing === "/default" ? doc.default : doc.tools[keyOf(governing)];
  return candidates(doc, rule, governing, annotations);
}

function candidates(doc: PolicyDocument, rule: unknown, pointer: string, annotations: Record<string, unknown>): string[] {
  if (typeof rule === "string") return rule === "allow" ? [pointer] : [];
  const r = rule as Record<string, unknown>;
  if (!Array.isArray(r.rules)) return unguarded(r) ? [pointer] : [];
  const out: string[] = [];
  for (const [i, c] of (r.rules as Record<string, unknown>[]).entries()) {
    const when = (c.when ?? {}) as Record<string, JsonSchema | undefined>;
    if (when.annotations !== undefined && !holds(when.annotations, annotations)) continue;
    if (unguarded(c)) out.push(`${pointer}/rules/${i}`);
    // Nothing after a rule that holds whatever the arguments and session is ever tried.
    if (always(when.args) && always(when.session)) return out;
  }
  // No rule held: the default decides (and if the default's own rules all fail, it denies).
  return pointer === "/default" ? out : [...out, ...candidates(doc, doc.default, "/default", annotations)];
}

/** A condition that holds for every value: absent, `true` or `{}` (as the engine judges it). */
function always(schema: JsonSchema | undefined): boolean {
  return schema === undefined || schema === true || (typeof schema === "object" && Object.keys(schema).length === 0);
}

function unguarded(rule: Record<string, unknown>): boolean {
  return (rule.action === undefined || rule.action === "allow") && rule.rate_limit === undefined;
}

/** Whether an annotations schema holds, asked of the engine so the schema means what it means there. */
function holds(schema: JsonSchema, annotations: Record<string, unknown>): boolean {
  const probe = compilePolicy({ version: "1", default: "deny", tools: { probe: { rules: [{ when: { annotations: schema } }] } } });
  return probe.decideSync({ tool: "probe", session: { id: "check" }, annotations }).outcome === "allow";
}

function keyOf(pointer: string): string {
  return pointer.slice("/tools/".length).replace(/~1/g, "/").replace(/~0/g, "~");
}
