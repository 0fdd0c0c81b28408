/**
 * `compilePolicy` and `validatePolicy`: document → validated document → compiled plan.
 */

import { copyJsonData, deepFreeze, errorText, NotJsonData } from "../document/data.js";
import { JsonTextError, locatePointers, parseJsonText, positionOf } from "../document/json.js";
import { child, parsePointer } from "../document/pointer.js";
import { schemaIssues } from "../document/schema.js";
import { PolicyError } from "../errors.js";
import { MemoryStore } from "../stores/memory.js";
import { createPolicy, type EngineOptions } from "../decide/policy.js";
import type { Store } from "../store.js";
import type {
  CompileOptions,
  ConditionalRuleDocument,
  LimitDocument,
  Policy,
  PolicyDocument,
  PolicyIssue,
  ValidationResult,
} from "../types.js";
import { BudgetKeys } from "./keys.js";
import { includes, NameMatcher } from "./match.js";
import { Act, Scope, type ConditionalRule, type Conditions, type Entry, type Plan, type PlanLimit, type Terminal } from "./plan.js";
import { compileCondition, type Condition } from "./when.js";
import { formatWindow, parseWindow } from "./window.js";

/** One shared empty list for every rule without limits: fewer objects for the hot path to touch. */
const NO_LIMITS: readonly PlanLimit[] = Object.freeze([]);

/** The default for {@link CompileOptions.storeTimeoutMs}. */
export const DEFAULT_STORE_TIMEOUT_MS = 1000;

const OPTION_NAMES = new Set(["store", "clock", "namespace", "storeTimeoutMs", "failOpen"]);

/**
 * Validates and compiles a policy once into its decision function.
 *
 * @param document - the policy: an object, or JSON text (parsed strictly: duplicate keys are
 *   errors, and issues then carry `line` and `column`).
 * @throws PolicyError when the document is not a valid policy (every issue, with paths).
 * @throws TypeError when an option is unknown or of the wrong type.
 *
 * @example
 * ```ts
 * const policy = compilePolicy(doc, { clock: () => fakeNow });
 * const d = policy.decideSync({ tool: "create_run", session: { id: "s1" } });
 * ```
 */
export function compilePolicy(document: unknown, options: CompileOptions = {}): Policy {
  const engine = checkOptions(options);
  let analysis: Analysis;
  try {
    analysis = analyse(document, engine.namespace);
  } catch (e) {
    // Whatever the input, the caller gets a PolicyError, never another exception.
    throw new PolicyError([{ path: "", message: `could not be compiled: ${errorText(e)}` }]);
  }
  const { doc, issues, warnings, plan } = analysis;
  if (issues.length > 0 || plan === undefined) throw new PolicyError(issues);
  return createPolicy(plan, doc, warnings, engine);
}

/**
 * Checks a policy without compiling a decision function. Never throws.
 * @param document - an object, or JSON text.
 */
export function validatePolicy(document: unknown): ValidationResult {
  try {
    const { issues, warnings } = analyse(document, undefined);
    return issues.length > 0 ? { valid: false, issues, warnings } : { valid: true, warnings };
  } catch (e) {
    return { valid: false, issues: [{ path: "", message: `could not be checked: ${errorText(e)}` }], warnings: [] };
  }
}

function checkOptions(options: CompileOptions): EngineOptions {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`compilePolicy: options must be an object, got ${options === null ? "null" : typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.has(key)) throw new TypeError(`compilePolicy: unknown option "${key}"`);
  }
  const { store, clock, namespace, storeTimeoutMs, failOpen } = options;
  if (store !== undefined && (store === null || typeof store !== "object" || typeof (store as Store).consume !== "function")) {
    throw new TypeError("compilePolicy: store must be an object with a consume(request) method");
  }
  if (clock !== undefined && typeof clock !== "function") {
    throw new TypeError("compilePolicy: clock must be a function returning milliseconds");
  }
  if (namespace !== undefined && (typeof namespace !== "string" || namespace === "")) {
    throw new TypeError("compilePolicy: namespace must be a non-empty string");
  }
  if (storeTimeoutMs !== undefined && (!Number.isSafeInteger(storeTimeoutMs) || storeTimeoutMs < 1)) {
    throw new TypeError(`compilePolicy: storeTimeoutMs must be a positive integer (milliseconds), got ${String(storeTimeoutMs)}`);
  }
  if (failOpen !== undefined && typeof failOpen !== "boolean") {
    throw new TypeError("compilePolicy: failOpen must be a boolean");
  }
  return {
    store: store ?? new MemoryStore(),
    clock: clock ?? Date.now,
    namespace,
    storeTimeoutMs: storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS,
    failOpen: failOpen ?? false,
  };
}

interface Analysis {
  doc: PolicyDocument;
  issues: PolicyIssue[];
  warnings: PolicyIssue[];
  plan: Plan | undefined;
}

function analyse(input: unknown, namespace: string | undefined): Analysis {
  const text = typeof input === "string" ? input : undefined;
  let data: unknown;
  try {
    data = text === undefined ? copyJsonData(input) : parseJsonText(text);
  } catch (e) {
    if (e instanceof JsonTextError) {
      const at = text === undefined ? {} : positionOf(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, e.offset);
      return failed([{ path: e.pointer, message: e.message, ...at }]);
    }
    if (e instanceof NotJsonData) return failed([e.issue]);
    return failed([{ path: "", message: `could not be read: ${errorText(e)}` }]);
  }
  const withPositions = (list: PolicyIssue[]): PolicyIssue[] => {
    if (text === undefined || list.length === 0) return list;
    const where = locatePointers(text, list.map((i) => i.path));
    return list.map((i) => ({ ...i, ...where.get(i.path) }));
  };
  const shapeIssues = schemaIssues(data);
  if (shapeIssues.length > 0) return failed(withPositions([...shapeIssues, ...valueIssues(data, shapeIssues)]));
  const doc = deepFreeze(data as PolicyDocument);
  const built = new Builder(doc).build(namespace);
  return {
    doc,
    issues: withPositions(built.issues),
    warnings: withPositions(built.warnings),
    plan: built.issues.length === 0 ? built.plan : undefined,
  };
}

/**
 * When the document's shape is wrong, the checks that run after the schema (window values,
 * `when` schemas) still run wherever the shape allows, so an author sees every issue at once.
 */
function valueIssues(data: unknown, known: readonly PolicyIssue[]): PolicyIssue[] {
  const out: PolicyIssue[] = [];
  const reported = new Set(known.map((i) => i.path));
  const obj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  const limit = (l: unknown, at: string) => {
    if (!obj(l) || (typeof l.window !== "number" && typeof l.window !== "string")) return;
    const path = child(at, "window");
    const w = parseWindow(l.window);
    if (typeof w === "string" && !reported.has(path)) out.push({ path, message: w });
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
        if (!compiled.ok) out.push(...compiled.issues);
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
  return { doc: undefined as unknown as PolicyDocument, issues, warnings: [], plan: undefined };
}

/** Builds the plan and finds what the schema cannot: window values, mixed rules, bad `when`s. */
class Builder {
  readonly issues: PolicyIssue[] = [];
  readonly warnings: PolicyIssue[] = [];
  policyLimits: PlanLimit[] = [];

  constructor(readonly doc: PolicyDocument) {}

  build(namespace: string | undefined): { plan: Plan; issues: PolicyIssue[]; warnings: PolicyIssue[] } {
    const doc = this.doc;
    const ns = namespace ?? doc.name ?? `sha:${hashDocument(doc)}`;
    this.policyLimits = (doc.limits ?? []).map((l, i) => this.limit(l, child("/limits", i), ns, false));
    const fallback =
      typeof doc.default === "string"
        ? this.entry({ action: doc.default }, "/default", ns)
        : this.entry(doc.default as Record<string, unknown>, "/default", ns);
    const keys = Object.keys(doc.tools);
    const entries = keys.map((key) => [key, this.entry(doc.tools[key] as Record<string, unknown>, child("/tools", key), ns)] as const);
    const names = new NameMatcher<Entry>(entries, fallback);
    this.shadowWarnings(names);
    const noRuleHeld = terminal("/default", Act.Deny, undefined, "Not allowed: none of the default's conditional rules holds for this call.", NO_LIMITS);
    return { plan: { names, fallback, namespace: ns, noRuleHeld }, issues: this.issues, warnings: this.warnings };
  }

  entry(rule: Record<string, unknown>, pointer: string, ns: string): Entry {
    if (rule.rules === undefined) return { pointer, terminal: this.terminal(rule, pointer, ns), rules: null };
    for (const field of ["action", "reason", "rate_limit"]) {
      if (rule[field] !== undefined) {
        this.issues.push({
          path: child(pointer, field),
          message: `a rule with "rules" holds nothing else: move "${field}" into the conditional rules`,
        });
      }
    }
    const list = rule.rules as ConditionalRuleDocument[];
    let alwaysAt: string | undefined;
    const rules = list.map((r, i): ConditionalRule => {
      const at = child(child(pointer, "rules"), i);
      if (alwaysAt !== undefined) {
        this.warnings.push({ path: at, message: `never reached: ${alwaysAt} before it always holds (it has no condition)` });
      }
      const when = r.when === undefined ? null : this.conditions(r.when as Record<string, unknown>, child(at, "when"));
      if (alwaysAt === undefined && isUnconditional(r)) alwaysAt = at;
      return { when, terminal: this.terminal(r as Record<string, unknown>, at, ns) };
    });
    return { pointer, terminal: null, rules };
  }

  terminal(rule: Record<string, unknown>, pointer: string, ns: string): Terminal {
    const action = rule.action === "deny" ? Act.Deny : rule.action === "require_approval" ? Act.Approval : Act.Allow;
    const raw = rule.rate_limit as LimitDocument | LimitDocument[] | undefined;
    const own =
      raw === undefined
        ? []
        : Array.isArray(raw)
          ? raw.map((l, i) => this.limit(l, child(child(pointer, "rate_limit"), i), ns, true))
          : [this.limit(raw, child(pointer, "rate_limit"), ns, true)];
    const reason = typeof rule.reason === "string" ? rule.reason : undefined;
    if (action === Act.Deny && raw !== undefined) {
      this.warnings.push({ path: child(pointer, "rate_limit"), message: "never applies: a deny rule's calls are refused before any limit is checked" });
    }
    return terminal(
      pointer,
      action,
      reason,
      reason ?? generatedRefusal(action, pointer),
      action === Act.Deny || (own.length === 0 && this.policyLimits.length === 0) ? NO_LIMITS : [...own, ...this.policyLimits],
    );
  }

  limit(l: LimitDocument, pointer: string, ns: string, own: boolean): PlanLimit {
    const parsed = parseWindow(l.window);
    let windowMs = 1;
    if (typeof parsed === "string") this.issues.push({ path: child(pointer, "window"), message: parsed });
    else windowMs = parsed;
    const per = l.per ?? "session";
    const scope = per === "session" ? Scope.Session : per === "global" ? Scope.Global : Scope.Attribute;
    const head = (tag: string) => JSON.stringify([ns, pointer, tag]);
    const keyPrefix = head(scope === Scope.Session ? "session" : scope === Scope.Global ? "global" : "attr:string");
    const info = Object.freeze({ max: l.max, windowMs, per });
    return {
      pointer,
      max: l.max,
      windowMs,
      scope,
      tokens: scope === Scope.Attribute ? parsePointer(per) : [],
      per,
      keys: new BudgetKeys(keyPrefix),
      keysNumber: new BudgetKeys(head("attr:number")),
      globalBudget: scope === Scope.Global ? Object.freeze({ key: keyPrefix, max: l.max, windowMs, cost: 1, refundable: false, shared: true }) : undefined,
      info,
      own,
      describe: `at most ${l.max} call${l.max === 1 ? "" : "s"} per ${formatWindow(windowMs)}${
        scope === Scope.Session ? " per session" : scope === Scope.Global ? " across all sessions" : ` per ${per}`
      }`,
    };
  }

  conditions(when: Record<string, unknown>, pointer: string): Conditions {
    const part = (name: "args" | "session" | "annotations"): Condition | null => {
      if (when[name] === undefined) return null;
      const c = compileCondition(when[name], child(pointer, name));
      if (c.ok) return c.check;
      this.issues.push(...c.issues);
      return null;
    };
    return { args: part("args"), session: part("session"), annotations: part("annotations") };
  }

  shadowWarnings(names: NameMatcher<Entry>): void {
    const bySpecificity = new Map<number, { key: string; pointer: string }[]>();
    for (const p of names.patterns) {
      let group = bySpecificity.get(p.specificity);
      if (group === undefined) bySpecificity.set(p.specificity, (group = []));
      group.push({ key: p.key, pointer: p.value.pointer });
    }
    for (const group of bySpecificity.values()) {
      if (group.length * group.length > 4_000_000) {
        this.warnings.push({
          path: "/tools",
          message: `${group.length} patterns share one specificity: too many to check which ones can never be chosen`,
        });
        continue;
      }
      for (let j = 1; j < group.length; j++) {
        for (let i = 0; i < j; i++) {
          if (includes(group[i]!.key, group[j]!.key)) {
            this.warnings.push({
              path: group[j]!.pointer,
              message: `never chosen: every name it matches is also matched by ${JSON.stringify(group[i]!.key)}, which is as specific and written earlier`,
            });
            break;
          }
        }
      }
    }
  }
}

/** A terminal rule with the decisions that depend on nothing but the rule, built once. */
function terminal(pointer: string, action: Act, reason: string | undefined, refusal: string, limits: readonly PlanLimit[]): Terminal {
  const refused =
    action === Act.Approval
      ? Object.freeze({ outcome: "needs_approval", rule: pointer, reason: refusal } as const)
      : Object.freeze({ outcome: "deny", rule: pointer, reason: refusal } as const);
  const allowed = Object.freeze({ outcome: "allow", rule: pointer } as const);
  return { pointer, action, reason, refusal, refused, allowed, limits };
}

/** The reason for a refusal whose rule has none of its own. */
function generatedRefusal(action: Act, pointer: string): string {
  if (action === Act.Approval) return `This tool needs a person's approval (${pointer}).`;
  if (pointer === "/default") return "Not allowed: no rule of the policy allows this tool (default: deny).";
  return `Denied by the policy (${pointer}).`;
}

function isUnconditional(r: ConditionalRuleDocument): boolean {
  const w = r.when as Record<string, unknown> | undefined;
  if (w === undefined) return true;
  return ["args", "session", "annotations"].every((k) => {
    const s = w[k];
    return s === undefined || s === true || (typeof s === "object" && s !== null && Object.keys(s).length === 0);
  });
}

/**
 * A hash of the document's JSON text, so replicas running the same policy share budgets. The
 * text keeps the document's key order: the same file gives the same namespace everywhere.
 */
function hashDocument(doc: unknown): string {
  const text = JSON.stringify(doc);
  return cyrb53(text, 0x9e3779b9).toString(16).padStart(14, "0") + cyrb53(text, 0x85ebca6b).toString(16).padStart(14, "0");
}

/** cyrb53: a fast 53-bit string hash; two seeds give 106 bits, plenty for a namespace name. */
function cyrb53(s: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
