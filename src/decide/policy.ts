/**
 * The decision function: a compiled plan plus a store, a clock and the failure options.
 *
 * One path serves `decide`, `decideSync`, `peek` and `explain`: check the call, choose the
 * rule, and when the rule allows and has limits, ask the store once for every budget. Only the
 * store call differs between them (synchronous or not, counting or not).
 */

import { Act, Scope, type Entry, type Plan, type PlanLimit, type Terminal } from "../compile/plan.js";
import { firstFailure, type Condition } from "../compile/when.js";
import { formatWait } from "../compile/window.js";
import { errorText } from "../document/data.js";
import { readPointer } from "../document/pointer.js";
import type { BudgetRequest, ConsumeRequest, Store } from "../store.js";
import type {
  Decision,
  Explanation,
  ExplanationStep,
  Policy,
  PolicyDocument,
  PolicyIssue,
  ToolCall,
  ToolContext,
} from "../types.js";
import { EMPTY, hasOwn, isPlainObject, kind, Malformed, malformedReason, quote, type ToolCallFields } from "./call.js";

/** Compile options after checking, with defaults applied. */
export interface EngineOptions {
  store: Store;
  clock: () => number;
  namespace: string | undefined;
  storeTimeoutMs: number;
  failOpen: boolean;
}

/**
 * The rule chose "allow" and limits apply: the store must be asked. A class, so telling it
 * from a decision is one map check on the hot path.
 */
class NeedsStore {
  constructor(
    readonly terminal: Terminal,
    readonly tool: string,
    readonly request: ConsumeRequest,
  ) {}
}

type Step = Decision | NeedsStore;

const TIMED_OUT = Symbol("timed out");

/** What conditions are checked against. */
interface Inputs {
  args: unknown;
  session: Record<string, unknown>;
  annotations: unknown;
}

/** What `explain` collects along the way. */
interface Trace {
  steps: ExplanationStep[];
  limits: string[];
}

/** Builds the public {@link Policy} object around a plan. */
export function createPolicy(plan: Plan, document: PolicyDocument, warnings: PolicyIssue[], options: EngineOptions): Policy {
  const { store, clock, storeTimeoutMs, failOpen } = options;
  // Read once: `synchronous` is part of a store's contract, not something that changes.
  const synchronous = store.synchronous === true;
  const { names, namespace } = plan;
  /**
   * Everything before the store. `trace` is filled only by `explain`. The call's fields are
   * read once each into locals — never a second time, so a getter cannot answer differently,
   * and never into a shared scratch record, since a getter may call back into the engine.
   */
  function evaluate(call: unknown, dryRun: boolean, trace: Trace | null): Step {
    if (typeof call !== "object" || call === null) return malformed(Malformed.NotObject, call);
    let tool: unknown;
    let args: unknown;
    let session: unknown;
    let annotations: unknown;
    let approved: unknown;
    // Own fields only: inherited from a polluted prototype, `approved` could approve a call and
    // `args` or `annotations` make a condition hold. `tool` and `session` are checked once after
    // the loop with constant names, which V8 answers from the object's map: a variable-name
    // check on every key cost a sixth of a decision.
    for (const key in call) {
      if (key === "tool") tool = (call as ToolCallFields).tool;
      else if (key === "session") session = (call as ToolCallFields).session;
      else if (!hasOwn.call(call, key)) return malformed(Malformed.Inherited, key);
      else if (key === "args") args = (call as ToolCallFields).args;
      else if (key === "annotations") annotations = (call as ToolCallFields).annotations;
      else if (key === "approved") approved = (call as ToolCallFields).approved;
      else return malformed(Malformed.Unknown, key);
    }
    if (!hasOwn.call(call, "tool") && tool !== undefined) return malformed(Malformed.Inherited, "tool");
    if (!hasOwn.call(call, "session") && session !== undefined) return malformed(Malformed.Inherited, "session");
    if (typeof tool !== "string" || tool.length === 0) return malformed(Malformed.Tool, tool);
    if (typeof session !== "object" || session === null) return malformed(Malformed.Session, session);
    const id = hasOwn.call(session, "id") ? (session as { id?: unknown }).id : undefined;
    if (typeof id !== "string" || id.length === 0) return malformed(Malformed.SessionId, id);
    if (args !== undefined && !isPlainObject(args)) return malformed(Malformed.Args, args);
    if (annotations !== undefined && !isPlainObject(annotations)) return malformed(Malformed.Annotations, annotations);
    if (approved !== undefined && typeof approved !== "boolean") return malformed(Malformed.Approved, approved);

    const entry = names.resolve(tool);
    if (trace !== null) trace.steps.push({ path: entry.pointer, message: entry === plan.fallback ? "no key of tools matches the name: the default decides" : "governs this tool name" });
    const t =
      entry.terminal ??
      choose(entry, { args: args ?? EMPTY, session: session as Record<string, unknown>, annotations: annotations ?? EMPTY }, trace);
    // Decisions that depend only on the rule were built once at compile time (frozen, shared).
    if (t.action === Act.Deny || (t.action === Act.Approval && approved !== true)) return t.refused;
    if (t.limits.length === 0) return t.allowed;
    return limited(t, tool, session as Record<string, unknown>, id, dryRun, trace);
  }

  /** The rule allows and has limits: the budgets to ask the store about, or why there are none. */
  function limited(t: Terminal, tool: string, session: Record<string, unknown>, id: string, dryRun: boolean, trace: Trace | null): Step {
    const limits = t.limits;
    const n = limits.length;
    if (trace !== null) {
      for (const l of limits) {
        trace.limits.push(l.pointer);
        trace.steps.push({ path: l.pointer, message: `limit applies: ${l.describe}` });
      }
    }
    const budgets: BudgetRequest[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const l = limits[i]!;
      const b = budgetFor(l, session, id);
      if (b === undefined) {
        return {
          outcome: "deny",
          rule: l.pointer,
          reason: `The limit ${l.pointer} counts per ${l.per}, and this session has no usable value there (a non-empty string or a finite number).`,
        };
      }
      budgets[i] = b;
    }
    let now: number;
    try {
      now = clock();
    } catch (e) {
      return storeFailed(t, `the clock failed: ${errorText(e)}`);
    }
    if (typeof now !== "number" || !Number.isFinite(now)) return storeFailed(t, `the clock returned ${kind(now)}, not a time in milliseconds`);
    return new NeedsStore(t, tool, { namespace, budgets, now, dryRun });
  }

  function choose(entry: Entry, c: Inputs, trace: Trace | null): Terminal {
    const held = firstHolding(entry, c, trace);
    if (held !== null) return held;
    if (entry === plan.fallback) return plan.noRuleHeld;
    if (trace !== null) trace.steps.push({ path: "/default", message: "no conditional rule held: the default decides" });
    if (plan.fallback.terminal !== null) return plan.fallback.terminal;
    return firstHolding(plan.fallback, c, trace) ?? plan.noRuleHeld;
  }

  function firstHolding(entry: Entry, c: Inputs, trace: Trace | null): Terminal | null {
    const rules = entry.rules!;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      const w = r.when;
      if (
        w === null ||
        ((w.args === null || holds(w.args, c.args, r.terminal.pointer, "args", trace)) &&
          (w.session === null || holds(w.session, c.session, r.terminal.pointer, "session", trace)) &&
          (w.annotations === null || holds(w.annotations, c.annotations, r.terminal.pointer, "annotations", trace)))
      ) {
        if (trace !== null) trace.steps.push({ path: r.terminal.pointer, message: w === null ? "holds (no condition)" : "holds: every condition is met" });
        return r.terminal;
      }
    }
    return null;
  }

  function budgetFor(l: PlanLimit, session: Record<string, unknown>, id: string): BudgetRequest | undefined {
    switch (l.scope) {
      case Scope.Global:
        return l.globalBudget;
      case Scope.Session:
        return { key: l.keys.keyFor(id), max: l.max, windowMs: l.windowMs, cost: 1, refundable: false, shared: false };
      default: {
        const v = readPointer(session, l.tokens);
        if (typeof v === "string" && v.length > 0) return { key: l.keys.keyFor(v), max: l.max, windowMs: l.windowMs, cost: 1, refundable: false, shared: true };
        if (typeof v === "number" && Number.isFinite(v)) return { key: l.keysNumber.keyFor(String(v)), max: l.max, windowMs: l.windowMs, cost: 1, refundable: false, shared: true };
        return undefined;
      }
    }
  }

  /** Turns the store's answer into a decision; anything unexpected is a store failure. */
  function finish(p: NeedsStore, r: unknown): Decision {
    try {
      return readAnswer(p, r);
    } catch (e) {
      return storeFailed(p.terminal, `its answer could not be read: ${errorText(e)}`);
    }
  }

  function readAnswer(p: NeedsStore, r: unknown): Decision {
    const t = p.terminal;
    const n = t.limits.length;
    if (r === null || typeof r !== "object") return storeFailed(t, `the store answered ${kind(r)}`);
    const answer = r as { allowed?: unknown; remaining?: unknown; retryAfterMs?: unknown };
    if (answer.allowed === true) {
      const rem = answer.remaining;
      if (!Array.isArray(rem) || rem.length !== n) return storeFailed(t, "the store answered without one remaining count per limit");
      let min = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const x: unknown = rem[i];
        if (typeof x !== "number" || !Number.isSafeInteger(x) || x < 0) return storeFailed(t, `the store answered a remaining count of ${kind(x)}`);
        if (x < min) min = x;
      }
      return { outcome: "allow", rule: t.pointer, remaining: min };
    }
    if (answer.allowed === false) {
      const waits = answer.retryAfterMs;
      if (!Array.isArray(waits) || waits.length !== n) return storeFailed(t, "the store answered without one wait per limit");
      let worst = -1;
      let wait = 0;
      for (let i = 0; i < n; i++) {
        const x: unknown = waits[i];
        if (typeof x !== "number" || !Number.isSafeInteger(x) || x < 0) return storeFailed(t, `the store answered a wait of ${kind(x)}`);
        if (x > wait) {
          wait = x;
          worst = i;
        }
      }
      if (worst < 0) return storeFailed(t, "the store refused the call without a wait");
      const l = t.limits[worst]!;
      return {
        outcome: "rate_limited",
        rule: l.pointer,
        reason: l.own && t.reason !== undefined ? t.reason : `Rate limit reached for ${quote(p.tool)}: ${l.describe} (${l.pointer}). Retry in ${formatWait(wait)}.`,
        retryAfterMs: wait,
        limit: l.info,
      };
    }
    return storeFailed(t, "the store answered neither allowed nor refused");
  }

  function storeFailed(t: Terminal, why: string): Decision {
    if (failOpen) return { outcome: "allow", rule: t.pointer, failedOpen: true };
    return { outcome: "deny", rule: t.pointer, reason: `The rate-limit store failed (${why}), so the call is refused.` };
  }

  function consumeSync(p: NeedsStore): Decision {
    let r: unknown;
    try {
      r = store.consume(p.request);
      if (isThenable(r)) {
        Promise.resolve(r).catch(ignore);
        return storeFailed(p.terminal, "a store marked synchronous returned a promise");
      }
    } catch (e) {
      return storeFailed(p.terminal, errorText(e));
    }
    return finish(p, r);
  }

  function consumeAsync(p: NeedsStore): Decision | Promise<Decision> {
    let r: unknown;
    try {
      r = store.consume(p.request);
      if (!isThenable(r)) return finish(p, r);
    } catch (e) {
      return storeFailed(p.terminal, errorText(e));
    }
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(resolve, storeTimeoutMs, TIMED_OUT);
      timer.unref?.();
      Promise.resolve(r as PromiseLike<unknown>).then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    }).then(
      (v) =>
        v === TIMED_OUT
          ? storeFailed(p.terminal, `no answer within ${storeTimeoutMs} ms; the call may still have been counted`)
          : finish(p, v),
      (e: unknown) => storeFailed(p.terminal, errorText(e)),
    );
  }

  function run(call: unknown, dryRun: boolean): Promise<Decision> {
    try {
      const step = evaluate(call, dryRun, null);
      if (!(step instanceof NeedsStore)) return Promise.resolve(step);
      return Promise.resolve(consumeAsync(step));
    } catch (e) {
      return Promise.resolve(unreadable(e));
    }
  }

  const policy: Policy = {
    decide(call: ToolCall): Promise<Decision> {
      return run(call, false);
    },

    decideSync(call: ToolCall): Decision {
      if (!synchronous) {
        throw new TypeError("decideSync needs a synchronous store (such as MemoryStore); this policy's store is asynchronous: use decide()");
      }
      try {
        const step = evaluate(call, false, null);
        return step instanceof NeedsStore ? consumeSync(step) : step;
      } catch (e) {
        return unreadable(e);
      }
    },

    peek(call: ToolCall): Promise<Decision> {
      return run(call, true);
    },

    async explain(call: ToolCall): Promise<Explanation> {
      const trace: Trace = { steps: [], limits: [] };
      let matched: string[] = [];
      let decision: Decision;
      try {
        const tool = isPlainObject(call) && typeof call.tool === "string" ? call.tool : undefined;
        if (tool !== undefined) matched = matchedKeys(plan, tool);
        const step = evaluate(call, true, trace);
        decision = step instanceof NeedsStore ? await consumeAsync(step) : step;
      } catch (e) {
        decision = unreadable(e);
      }
      const { steps, limits } = trace;
      steps.push({ path: decision.rule, message: `decision: ${decision.outcome}${"reason" in decision ? ` (${decision.reason})` : ""}` });
      return { decision, matched, steps, limits };
    },

    mayAllow(tool: string, context: ToolContext = {}): boolean {
      if (typeof tool !== "string") throw new TypeError(`mayAllow: tool must be a string, got ${kind(tool)}`);
      const entry = names.resolve(tool);
      const r = reachable(entry, context);
      if (r === "may-fall-through") return entry === plan.fallback ? false : reachable(plan.fallback, context) === "may-allow";
      return r === "may-allow";
    },

    ruleFor(tool: string): string {
      if (typeof tool !== "string") throw new TypeError(`ruleFor: tool must be a string, got ${kind(tool)}`);
      return names.resolve(tool).pointer;
    },

    namespace,
    warnings: Object.freeze(warnings.map((w) => Object.freeze(w))),
    document,
  };
  return Object.freeze(policy);
}

/**
 * Whether an entry can lead to anything but a deny for some arguments, given only what is
 * known without them. Conservative: "may" whenever the arguments could decide.
 */
function reachable(entry: Entry, ctx: ToolContext): "may-allow" | "denied" | "may-fall-through" {
  if (entry.terminal !== null) return terminalMay(entry.terminal, ctx) ? "may-allow" : "denied";
  for (const r of entry.rules!) {
    const w = r.when;
    const sessionPart = w?.session ?? null;
    const annotationsPart = w?.annotations ?? null;
    if (sessionPart !== null && ctx.session !== undefined && !safeHolds(sessionPart, ctx.session)) continue;
    if (annotationsPart !== null && ctx.annotations !== undefined && !safeHolds(annotationsPart, ctx.annotations)) continue;
    const unconditional =
      (w === null || w.args === null) &&
      (sessionPart === null || ctx.session !== undefined) &&
      (annotationsPart === null || ctx.annotations !== undefined);
    if (terminalMay(r.terminal, ctx)) return "may-allow";
    if (unconditional) return "denied";
  }
  return "may-fall-through";
}

function terminalMay(t: Terminal, ctx: ToolContext): boolean {
  if (t.action === Act.Deny) return false;
  // An unapproved call of an approval rule is answered needs_approval, never deny, whatever
  // its limits would say once approved.
  if (t.action === Act.Approval || ctx.session === undefined) return true;
  for (const l of t.limits) {
    if (l.scope !== Scope.Attribute) continue;
    const v = readPointer(ctx.session, l.tokens);
    if (!((typeof v === "string" && v.length > 0) || (typeof v === "number" && Number.isFinite(v)))) return false;
  }
  return true;
}

function safeHolds(check: Condition, value: unknown): boolean {
  try {
    return check(value) === true;
  } catch {
    return false;
  }
}

function holds(check: Condition, value: unknown, pointer: string, part: string, trace: Trace | null): boolean {
  const ok = check(value) === true;
  if (trace !== null && !ok) {
    const f = firstFailure(check);
    trace.steps.push({
      path: `${pointer}/when/${part}${f === undefined ? "" : f.schemaPath.replace(/^#/, "")}`,
      message: `does not hold: ${part}${f?.instancePath ?? ""} ${f?.message ?? "fails the schema"}${f === undefined ? "" : ` (keyword "${f.keyword}")`}`,
    });
  }
  return ok;
}

function matchedKeys(plan: Plan, tool: string): string[] {
  const out: string[] = [];
  if (plan.names.hasExact(tool)) out.push(plan.names.resolve(tool).pointer);
  for (const p of plan.names.matchingPatterns(tool)) out.push(p.value.pointer);
  return out;
}

function malformed(what: Malformed, value: unknown): Decision {
  return { outcome: "deny", rule: "", reason: `Malformed call: ${malformedReason(what, value)}` };
}

function unreadable(e: unknown): Decision {
  return { outcome: "deny", rule: "", reason: `Malformed call: it could not be read (${errorText(e)}).` };
}

function isThenable(v: unknown): boolean {
  return v !== null && (typeof v === "object" || typeof v === "function") && typeof (v as { then?: unknown }).then === "function";
}

function ignore(): void {}
