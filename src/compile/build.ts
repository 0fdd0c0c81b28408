/**
 * Validated document → plan. Finds what the shape schema cannot (window values, amounts, rules
 * mixing `rules` with an action, limits sharing an `id` that disagree, bad `when` schemas) and
 * builds every decision that depends only on the rule once, frozen and shared.
 */

import { child, parsePointer } from "../shared/pointer.js";
import { MICRO, toMicro } from "../document/units.js";
import type { ConditionalRuleDocument, LimitDocument, PolicyDocument, PolicyIssue } from "../types.js";
import { BudgetKeys, keyPrefix } from "./keys.js";
import { includes, NameMatcher } from "./match.js";
import {
  Effect,
  Scope,
  type ConditionalRule,
  type Conditions,
  type DecidingRule,
  type FixedCostLimit,
  type Plan,
  type PlanCost,
  type PlanLimit,
  type ToolRule,
} from "./plan.js";
import { compileCondition, type Condition } from "./when.js";
import { formatWindow, parseWindow } from "./window.js";

/** One shared empty list for every rule without limits: fewer objects for the hot path to touch. */
const NO_LIMITS: readonly PlanLimit[] = Object.freeze([]);

/** The largest `max` (and constant `cost`): a billion calls or units. */
export const MAX_LIMIT = 1_000_000_000;

/** What the limits sharing one `id` agree on (or not). */
interface IdGroup {
  readonly members: { pointer: string; max: number; windowMs: number | undefined; per: string }[];
  counts: "calls" | "micro";
  refundable: boolean;
}

/** The plan, with the issues and warnings found while building it. */
export interface Built {
  plan: Plan;
  issues: PolicyIssue[];
  warnings: PolicyIssue[];
}

/** Builds the plan of a document the shape schema accepted. */
export function buildPlan(doc: PolicyDocument, namespace: string): Built {
  return new Builder(doc, namespace).build();
}

class Builder {
  readonly issues: PolicyIssue[] = [];
  readonly warnings: PolicyIssue[] = [];
  policyLimits: PlanLimit[] = [];
  readonly ids = new Map<string, IdGroup>();
  readonly reported = new Set<string>();

  constructor(
    readonly doc: PolicyDocument,
    readonly ns: string,
  ) {}

  issue(code: PolicyIssue["code"], path: string, message: string): void {
    const id = `${path}\u0000${message}`;
    if (this.reported.has(id)) return;
    this.reported.add(id);
    this.issues.push({ code, path, message });
  }

  build(): Built {
    const doc = this.doc;
    this.collectIds();
    this.policyLimits = (doc.limits ?? []).map((l, i) => this.limit(l, child("/limits", i), false));
    const fallback =
      typeof doc.default === "string"
        ? this.toolRule({ action: doc.default }, "/default")
        : this.toolRule(doc.default as Record<string, unknown>, "/default");
    const keys = Object.keys(doc.tools);
    const entries = keys.map(
      (key) => [key, this.toolRule(doc.tools[key] as Record<string, unknown>, child("/tools", key))] as const,
    );
    const names = new NameMatcher<ToolRule>(entries, fallback);
    this.neverChosenWarnings(names);
    const noRuleHeld = decidingRule(
      "/default",
      Effect.Deny,
      undefined,
      "Not allowed: none of the default's conditional rules holds for this call.",
      NO_LIMITS,
    );
    const plan: Plan = {
      names,
      fallback,
      namespace: this.ns,
      noRuleHeld,
      toolRules: [...entries.map(([, e]) => e), fallback],
    };
    return { plan, issues: this.issues, warnings: this.warnings };
  }

  /** Every limit with an `id`, first: what a unit is depends on the whole group. */
  collectIds(): void {
    const visit = (l: LimitDocument, pointer: string) => {
      if (typeof l.id !== "string") return;
      const parsed = parseWindow(l.window);
      let g = this.ids.get(l.id);
      if (g === undefined) this.ids.set(l.id, (g = { members: [], counts: "calls", refundable: false }));
      g.members.push({
        pointer,
        max: l.max,
        windowMs: typeof parsed === "number" ? parsed : undefined,
        per: l.per ?? "session",
      });
      if (l.cost !== undefined) g.counts = "micro";
      if (l.refund === "on_error") g.refundable = true;
    };
    const limits = (raw: unknown, at: string) => {
      if (Array.isArray(raw)) raw.forEach((l: LimitDocument, i) => visit(l, child(at, i)));
      else if (raw !== undefined) visit(raw as LimitDocument, at);
    };
    const rule = (r: Record<string, unknown>, at: string) => {
      limits(r.rate_limit, child(at, "rate_limit"));
      if (Array.isArray(r.rules))
        r.rules.forEach((c: Record<string, unknown>, i) =>
          limits(c.rate_limit, child(child(child(at, "rules"), i), "rate_limit")),
        );
    };
    (this.doc.limits ?? []).forEach((l, i) => visit(l, child("/limits", i)));
    if (typeof this.doc.default === "object") rule(this.doc.default as Record<string, unknown>, "/default");
    for (const key of Object.keys(this.doc.tools))
      rule(this.doc.tools[key] as Record<string, unknown>, child("/tools", key));
    for (const [id, g] of this.ids) {
      const first = g.members[0]!;
      const agree = g.members.every((m) => m.max === first.max && m.windowMs === first.windowMs && m.per === first.per);
      if (agree) continue;
      const say = (m: IdGroup["members"][number]) =>
        `max ${m.max}, window ${m.windowMs === undefined ? "(invalid)" : formatWindow(m.windowMs)}, per ${m.per}`;
      // Each member is compared with one other, so the messages stay short however many share the id.
      for (const m of g.members) {
        const other = m === first ? g.members.find((x) => say(x) !== say(first))! : first;
        this.issue(
          "conflict",
          child(m.pointer, "id"),
          `limits sharing the id ${JSON.stringify(id)} share one budget and must agree on max, window and per: ` +
            `this one has ${say(m)}, ${other.pointer} has ${say(other)}`,
        );
      }
    }
  }

  toolRule(rule: Record<string, unknown>, pointer: string): ToolRule {
    if (rule.rules === undefined) return { pointer, rule: this.decidingRule(rule, pointer), rules: null };
    for (const field of ["action", "reason", "rate_limit"]) {
      if (rule[field] !== undefined) {
        this.issue(
          "conflict",
          child(pointer, field),
          `a rule with "rules" holds nothing else: move "${field}" into the conditional rules`,
        );
      }
    }
    const list = rule.rules as ConditionalRuleDocument[];
    let alwaysAt: string | undefined;
    const rules = list.map((r, i): ConditionalRule => {
      const at = child(child(pointer, "rules"), i);
      if (alwaysAt !== undefined) {
        this.warnings.push({
          code: "warning",
          path: at,
          message: `never reached: ${alwaysAt} before it always holds (it has no condition)`,
        });
      }
      const when = r.when === undefined ? null : this.conditions(r.when as Record<string, unknown>, child(at, "when"));
      const unconditional = isUnconditional(r);
      if (alwaysAt === undefined && unconditional) alwaysAt = at;
      return { when, unconditional, rule: this.decidingRule(r as Record<string, unknown>, at) };
    });
    return { pointer, rule: null, rules };
  }

  decidingRule(rule: Record<string, unknown>, pointer: string): DecidingRule {
    const effect =
      rule.action === "deny" ? Effect.Deny : rule.action === "require_approval" ? Effect.Approval : Effect.Allow;
    const raw = rule.rate_limit as LimitDocument | LimitDocument[] | undefined;
    const own =
      raw === undefined
        ? []
        : Array.isArray(raw)
          ? raw.map((l, i) => this.limit(l, child(child(pointer, "rate_limit"), i), true))
          : [this.limit(raw, child(pointer, "rate_limit"), true)];
    const reason = typeof rule.reason === "string" ? rule.reason : undefined;
    if (effect === Effect.Deny && raw !== undefined) {
      this.warnings.push({
        code: "warning",
        path: child(pointer, "rate_limit"),
        message: "never applies: a deny rule's calls are refused before any limit is checked",
      });
    }
    const limits =
      effect === Effect.Deny || (own.length === 0 && this.policyLimits.length === 0)
        ? NO_LIMITS
        : [...own, ...this.policyLimits];
    this.checkIdsOnce(limits);
    return decidingRule(pointer, effect, reason, reason ?? generatedRefusal(effect, pointer), limits);
  }

  /** One call's limits name an `id` at most once: two would count the call twice in one budget. */
  checkIdsOnce(limits: readonly PlanLimit[]): void {
    const seen = new Map<string, string>();
    for (const l of limits) {
      if (l.id === undefined) continue;
      const before = seen.get(l.id);
      if (before === undefined) seen.set(l.id, l.pointer);
      else {
        this.issue(
          "conflict",
          child(l.pointer, "id"),
          `the id ${JSON.stringify(l.id)} is already named by ${before}, which applies to the same calls: ` +
            "one call's limits name an id at most once",
        );
      }
    }
  }

  limit(l: LimitDocument, pointer: string, own: boolean): PlanLimit {
    const parsed = parseWindow(l.window);
    let windowMs = 1;
    if (typeof parsed === "string") this.issue("value", child(pointer, "window"), parsed);
    else windowMs = parsed;
    const id = typeof l.id === "string" ? l.id : undefined;
    const counts = id !== undefined ? this.ids.get(id)!.counts : l.cost !== undefined ? "micro" : "calls";
    const scale = counts === "micro" ? MICRO : 1;
    // A fractional max needs the limit's own cost: sharing an id with a limit that has one is
    // not enough (docs/spec.md section 5: without cost, max is a whole number of calls).
    const max = this.amount(l.max, child(pointer, "max"), l.cost !== undefined, scale);
    const cost = this.cost(l, pointer, scale, max);
    const per = l.per ?? "session";
    const scope = per === "session" ? Scope.Session : per === "global" ? Scope.Global : Scope.Attribute;
    const identity = id !== undefined ? `id:${id}` : `at:${pointer}`;
    const head = (tag: string) => keyPrefix(this.ns, identity, windowMs, counts, tag);
    const keyPrefixText = head(
      scope === Scope.Session ? "session" : scope === Scope.Global ? "global" : `attr:string:${per}`,
    );
    const refundable = l.refund === "on_error";
    const budgetRefundable = id !== undefined ? this.ids.get(id)!.refundable : refundable;
    const info = Object.freeze({ max: l.max, windowMs, per, ...(l.cost === undefined ? {} : { cost: l.cost }) });
    const unit = counts === "micro" ? "unit" : "call";
    return {
      pointer,
      id,
      max,
      windowMs,
      scale,
      cost,
      refundable,
      budgetRefundable,
      scope,
      shared: scope !== Scope.Session,
      tokens: scope === Scope.Attribute ? parsePointer(per) : [],
      per,
      keys: new BudgetKeys(keyPrefixText),
      keysNumber: new BudgetKeys(head(`attr:number:${per}`)),
      globalBudget:
        scope === Scope.Global && cost.kind === "fixed"
          ? Object.freeze({
              key: keyPrefixText,
              max,
              windowMs,
              cost: cost.units,
              refundable: budgetRefundable,
              shared: true,
            })
          : undefined,
      info,
      own,
      describe: `at most ${l.max} ${unit}${l.max === 1 ? "" : "s"} per ${formatWindow(windowMs)}${
        scope === Scope.Session ? " per session" : scope === Scope.Global ? " across all sessions" : ` per ${per}`
      }`,
    };
  }

  /** `max` in store units: whole calls, or micro-units (a number > 0, six places at most). */
  amount(value: number, path: string, fractional: boolean, scale: number): number {
    if (!fractional) {
      if (!Number.isInteger(value)) {
        this.issue("value", path, `must be an integer without "cost" (fractional budgets need a "cost"), got ${value}`);
      }
      return Math.max(1, Math.trunc(value)) * scale;
    }
    const micro = toMicro(value);
    if (micro === undefined || micro === 0) {
      this.issue("value", path, `must be a number > 0 with at most six decimal places, got ${value}`);
      return 1;
    }
    return micro;
  }

  cost(l: LimitDocument, pointer: string, scale: number, max: number): PlanCost {
    const c = l.cost;
    if (c === undefined) return { kind: "fixed", units: scale };
    if (typeof c === "string") return { kind: "pointer", pointer: c, tokens: parsePointer(c) };
    const micro = toMicro(c);
    if (micro === undefined) {
      this.issue(
        "value",
        child(pointer, "cost"),
        `must be a number >= 0 with at most six decimal places, or a JSON Pointer into the arguments, got ${c}`,
      );
      return { kind: "fixed", units: 0 };
    }
    if (micro > max) {
      this.issue("value", child(pointer, "cost"), `is more than the limit's max (${l.max}): no call could ever fit`);
    }
    return { kind: "fixed", units: micro };
  }

  conditions(when: Record<string, unknown>, pointer: string): Conditions {
    const part = (name: "args" | "session" | "annotations"): Condition | null => {
      if (when[name] === undefined) return null;
      const c = compileCondition(when[name], child(pointer, name));
      if (c.ok) return c.check;
      for (const i of c.issues) this.issue("condition", i.path, i.message);
      return null;
    };
    return { args: part("args"), session: part("session"), annotations: part("annotations") };
  }

  neverChosenWarnings(names: NameMatcher<ToolRule>): void {
    const bySpecificity = new Map<number, { key: string; pointer: string }[]>();
    for (const p of names.patterns) {
      let group = bySpecificity.get(p.specificity);
      if (group === undefined) bySpecificity.set(p.specificity, (group = []));
      group.push({ key: p.key, pointer: p.value.pointer });
    }
    for (const group of bySpecificity.values()) {
      if (group.length * group.length > 4_000_000) {
        this.warnings.push({
          code: "warning",
          path: "/tools",
          message: `${group.length} patterns share one specificity: too many to check which ones can never be chosen`,
        });
        continue;
      }
      for (let j = 1; j < group.length; j++) {
        for (let i = 0; i < j; i++) {
          if (includes(group[i]!.key, group[j]!.key)) {
            this.warnings.push({
              code: "warning",
              path: group[j]!.pointer,
              message:
                `never chosen: every name it matches is also matched by ${JSON.stringify(group[i]!.key)}, ` +
                "which is as specific and written earlier",
            });
            break;
          }
        }
      }
    }
  }
}

/** A deciding rule with the decisions that depend on nothing but the rule, built once. */
function decidingRule(
  pointer: string,
  effect: Effect,
  reason: string | undefined,
  refusal: string,
  limits: readonly PlanLimit[],
): DecidingRule {
  const refused =
    effect === Effect.Approval
      ? Object.freeze({ outcome: "needs_approval", rule: pointer, reason: refusal } as const)
      : Object.freeze({ outcome: "deny", rule: pointer, reason: refusal, cause: "policy" } as const);
  const allowed = Object.freeze({ outcome: "allow", rule: pointer } as const);
  const readsCost = limits.some((l) => l.cost.kind === "pointer");
  const lone = limits.length === 1 && !readsCost ? (limits[0] as FixedCostLimit) : null;
  const free = limits.length === 0 ? allowed : null;
  const settled = effect === Effect.Allow ? free : refused;
  const settledApproved = effect === Effect.Deny ? refused : free;
  return { pointer, effect, reason, refusal, refused, allowed, settled, settledApproved, limits, readsCost, lone };
}

/** The reason for a refusal whose rule has none of its own. */
function generatedRefusal(effect: Effect, pointer: string): string {
  if (effect === Effect.Approval) return `This tool needs a person's approval (${pointer}).`;
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
