/**
 * The decision function: a compiled plan plus a store, a clock, the failure options and the
 * observers. One path serves `decide`, `decideSync`, `peek` and `explain`: read the call,
 * choose the rule, and when the rule allows and has limits, ask the store once for every
 * budget. Only the store call differs between them (synchronous or not, counting or not).
 */

import type { DecidingRule, FixedCostLimit, Plan } from "../compile/plan.js";
import { namespaceOpening } from "../compile/keys.js";
import { hasOwn, isPlainObject } from "../shared/objects.js";
import { describeValue, errorMessage } from "../shared/text.js";
import { MICRO } from "../document/units.js";
import type { ConsumeRequest, RefundEntry, Store } from "../store.js";
import type { DirectBudget } from "../stores/memory.js";
import type {
  Decision,
  LimitInfo,
  DecisionEvent,
  Explanation,
  Policy,
  PolicyDocument,
  PolicyIssue,
  RefundEvent,
  RefundTicket,
  RuleSummary,
  ToolCall,
  ToolContext,
} from "../types.js";
import { rateLimited, readAnswer } from "./answer.js";
import { budgetsFor, keyFor } from "./budgets.js";
import { checkCallObject, checkFields, inheritedField, strayField, type SeenCall } from "./call.js";
import { choose, EMPTY } from "./choose.js";
import { Deadlines } from "./deadlines.js";
import {
  detailOf,
  malformedDecision,
  missingAttribute,
  StoreFault,
  storeFailure,
  unreadableDecision,
} from "./refusals.js";
import { allRules, mayAllow, reachable, summarise } from "./rules.js";
import type { Trace } from "./trace.js";

/** Compile options after checking, with defaults applied. */
export interface EngineOptions {
  readonly store: Store;
  readonly clock: () => number;
  readonly storeTimeoutMs: number;
  readonly failOpen: boolean;
  readonly onDecision: ((event: DecisionEvent) => void) | undefined;
  readonly onRefund: ((event: RefundEvent) => void) | undefined;
  readonly mode: "enforce" | "shadow";
  /**
   * The store's direct path for one budget, when the store is a MemoryStore of its own `consume`:
   * a call with one limit of fixed cost is counted through it, with no request or answer objects.
   */
  readonly direct: DirectBudget | undefined;
}

/** The most entries a refund ticket may name: more than any call's limits could count. */
const MAX_TICKET_ENTRIES = 256;
/** The longest key or entry id a ticket may carry. */
const MAX_TICKET_TEXT = 64 * 1024;

/**
 * The rule allows and limits apply: the store must be asked. A class, so telling it from a
 * decision is one map check on the hot path.
 */
class BudgetCheck {
  constructor(
    readonly rule: DecidingRule,
    readonly tool: string,
    readonly request: ConsumeRequest,
  ) {}
}

const TIMED_OUT = Symbol("timed out");

/** Builds the public {@link Policy} object around a plan. */
export function createPolicy(
  plan: Plan,
  document: PolicyDocument,
  warnings: readonly PolicyIssue[],
  options: EngineOptions,
): Policy {
  const { store, clock, storeTimeoutMs, failOpen, onDecision, onRefund, mode, direct } = options;
  // Read once: `synchronous` is part of a store's contract, not something that changes.
  const synchronous = store.synchronous === true;
  const shadow = mode === "shadow";
  const { names, namespace } = plan;
  const opening = namespaceOpening(namespace);

  /** Everything before the store. `trace` is filled only by `explain`, `seen` only for observers. */
  function evaluate(
    call: unknown,
    dryRun: boolean,
    trace: Trace | null,
    seen: SeenCall | null,
  ): Decision | BudgetCheck {
    const notPlain = checkCallObject(call);
    if (notPlain !== null) return malformedDecision(notPlain);
    // The call's fields are read here, once each, into locals (docs/spec.md, "Evaluation", step
    // 1): as own properties by name, enumerable or not, so the engine never decides on less than
    // the host will pass on. One pass over the enumerable keys refuses any other key; for-in also
    // yields keys inherited from a polluted Object.prototype, so a field seen there must be own,
    // and a field not seen may still be an own non-enumerable one. Locals, not a record: a getter
    // may decide another call meanwhile. The checks and their words live in call.ts.
    const c = call as SeenCall;
    let seenKeys = 0;
    let ownKeys = 0;
    // Inside for-in, V8 answers `hasOwnProperty.call(c, key)` from the call's hidden class with
    // no call at all, but only for a function it knows at compile time: the module's `hasOwn`
    // is a variable once bundled, a call per key and a third of this function's time. The
    // global path to it is known (V8 deoptimizes if anyone reassigns it), and is used only
    // while it still leads to the genuine function, so a polluter's replacement never runs.
    // eslint-disable-next-line @typescript-eslint/unbound-method -- always called as check.call(object, key)
    const check = Object.prototype.hasOwnProperty;
    const trusted = check === hasOwn;
    for (const key in c) {
      const own = trusted ? check.call(c, key) : hasOwn.call(c, key);
      let bit: number;
      if (key === "tool") bit = 1;
      else if (key === "session") bit = 2;
      else if (key === "args") bit = 4;
      else if (key === "annotations") bit = 8;
      else if (key === "approved") bit = 16;
      else return malformedDecision(strayField(own, key));
      seenKeys |= bit;
      if (own) ownKeys |= bit;
    }
    let tool: unknown;
    let session: unknown;
    let args: unknown;
    let annotations: unknown;
    let approved: unknown;
    if ((ownKeys & 1) !== 0 || ((seenKeys & 1) === 0 && hasOwn.call(c, "tool"))) tool = c.tool;
    else if ((seenKeys & 1) !== 0) return malformedDecision(inheritedField("tool"));
    if ((ownKeys & 2) !== 0 || ((seenKeys & 2) === 0 && hasOwn.call(c, "session"))) session = c.session;
    else if ((seenKeys & 2) !== 0) return malformedDecision(inheritedField("session"));
    // An optional field not seen above is absent, an own non-enumerable one, or inherited:
    // `in`, which runs no getter, rules out the first (the common case) from the hidden class.
    if ((ownKeys & 4) !== 0) args = c.args;
    else if ((seenKeys & 4) !== 0) return malformedDecision(inheritedField("args"));
    else if ("args" in c && hasOwn.call(c, "args")) args = c.args;
    if ((ownKeys & 8) !== 0) annotations = c.annotations;
    else if ((seenKeys & 8) !== 0) return malformedDecision(inheritedField("annotations"));
    else if ("annotations" in c && hasOwn.call(c, "annotations")) annotations = c.annotations;
    if ((ownKeys & 16) !== 0) approved = c.approved;
    else if ((seenKeys & 16) !== 0) return malformedDecision(inheritedField("approved"));
    else if ("approved" in c && hasOwn.call(c, "approved")) approved = c.approved;
    if (seen !== null) {
      seen.tool = tool;
      if (session !== undefined) seen.session = session;
      if (args !== undefined) seen.args = args;
      if (annotations !== undefined) seen.annotations = annotations;
      if (approved !== undefined) seen.approved = approved;
    }
    const id = checkFields(tool, session, args, annotations, approved);
    if (typeof id !== "string") return malformedDecision(id);
    const t = names.resolve(tool as string);
    if (trace !== null) {
      trace.steps.push({
        path: t.pointer,
        message:
          t === plan.fallback ? "no key of tools matches the name: the default decides" : "governs this tool name",
      });
    }
    const rule =
      t.rule ??
      choose(
        plan,
        t,
        { args: args ?? EMPTY, session: session as Record<string, unknown>, annotations: annotations ?? EMPTY },
        trace,
      );
    // Decisions that depend only on the rule were built once at compile time (frozen, shared).
    const settled = approved === true ? rule.settledApproved : rule.settled;
    if (settled !== null) return settled;
    return limited(rule, tool as string, session as Record<string, unknown>, id, args, dryRun, trace);
  }

  /**
   * The rest of `evaluate` for a rule whose limits apply: apart, so the static path stays small
   * enough for the optimizing compiler to inline what it calls.
   */
  function limited(
    rule: DecidingRule,
    tool: string,
    session: Record<string, unknown>,
    id: string,
    args: unknown,
    dryRun: boolean,
    trace: Trace | null,
  ): Decision | BudgetCheck {
    if (trace !== null) {
      for (const l of rule.limits) {
        trace.limits.push(l.pointer);
        trace.steps.push({ path: l.pointer, message: `limit applies: ${l.describe}` });
      }
    }
    const l = rule.lone;
    if (direct !== undefined && l !== null) {
      const key = keyFor(l, session, id);
      if (key === undefined) return missingAttribute(l);
      const now = readClock(rule);
      if (typeof now !== "number") return now;
      decidedAt = now;
      return consumeDirect(direct, rule, l, tool, key, now, dryRun);
    }
    const budgets = budgetsFor(rule, session, id, args as Record<string, unknown> | undefined);
    if (!Array.isArray(budgets)) return budgets;
    const now = readClock(rule);
    if (typeof now !== "number") return now;
    return new BudgetCheck(rule, tool, { namespace, budgets, now, dryRun });
  }

  /** The clock's time for a decision of `rule`, or the decision when the clock fails. */
  function readClock(rule: DecidingRule): number | Decision {
    let now: number;
    try {
      now = clock();
    } catch (e) {
      // The clock is the host's: a clock that throws is a bug, never an outage to fail open on.
      return storeFailure(rule, StoreFault.Failed, `the clock failed: ${errorMessage(e)}`, false);
    }
    if (typeof now !== "number" || !Number.isFinite(now)) {
      return storeFailure(
        rule,
        StoreFault.Failed,
        `the clock returned ${describeValue(now)}, not a time in milliseconds`,
        false,
      );
    }
    return now;
  }

  /**
   * The time of the decision `evaluate` just made through the direct path, for its observers:
   * read and cleared by `takeTime` right after (decisions with observers), or cleared by
   * `explain`. A decision without a store leaves it unset, so a time read then is always its own.
   */
  let decidedAt: number | undefined;

  function takeTime(): number | undefined {
    const t = decidedAt;
    decidedAt = undefined;
    return t;
  }

  /** What `consume` and `readAnswer` would decide for one budget, without their objects. */
  function consumeDirect(
    d: DirectBudget,
    rule: DecidingRule,
    l: FixedCostLimit,
    tool: string,
    key: string,
    now: number,
    dryRun: boolean,
  ): Decision {
    const cost = l.cost.units;
    let r: number;
    try {
      r = d.consume(key, l.max, l.windowMs, cost, l.shared, l.budgetRefundable, now, dryRun);
    } catch (e) {
      return thrown(rule, e);
    }
    if (r < 0) return rateLimited(rule, l, tool, -r);
    const allowed: Decision = { outcome: "allow", rule: rule.pointer, remaining: l.scale === 1 ? r : r / MICRO };
    if (l.refundable && cost > 0 && !dryRun) allowed.refund = { namespace, entries: [{ key, entry: d.entry() }] };
    return allowed;
  }

  // An ill-formed answer fails open only from an asynchronous store (answer.ts says why).
  const garbledOpen = failOpen && !synchronous;

  function answer(p: BudgetCheck, r: unknown): Decision {
    try {
      return readAnswer(p.rule, p.tool, p.request.budgets, namespace, r, garbledOpen, p.request.dryRun);
    } catch (e) {
      return storeFailure(p.rule, StoreFault.Failed, `its answer could not be read: ${errorMessage(e)}`, garbledOpen);
    }
  }

  function thrown(rule: DecidingRule, e: unknown): Decision {
    if (isBusy(e)) return storeFailure(rule, StoreFault.Busy, errorMessage(e), false);
    return storeFailure(rule, StoreFault.Failed, errorMessage(e), failOpen);
  }

  function consumeSync(p: BudgetCheck): Decision {
    let r: unknown;
    try {
      r = store.consume(p.request);
    } catch (e) {
      return thrown(p.rule, e);
    }
    let promised: boolean;
    try {
      // Reading `then` of a hostile answer (a proxy's trap) may throw: that answer is unreadable.
      promised = isThenable(r);
    } catch (e) {
      return storeFailure(p.rule, StoreFault.Failed, `its answer could not be read: ${errorMessage(e)}`, false);
    }
    if (promised) {
      Promise.resolve(r as PromiseLike<unknown>).then(undefined, ignore);
      return storeFailure(p.rule, StoreFault.Failed, "a store marked synchronous returned a promise", false);
    }
    return answer(p, r);
  }

  /**
   * Asks the store and decides; `finish` (delivery to observers, shadowing) runs on the decision
   * before the promise settles, so a networked store's answer reaches the caller through one
   * promise and one reaction, whatever the store's promise was.
   */
  function consumeAsync(p: BudgetCheck, finish: (d: Decision) => Decision): Decision | Promise<Decision> {
    let r: unknown;
    let now: Decision | undefined;
    try {
      r = store.consume(p.request);
      if (!isThenable(r)) now = answer(p, r);
    } catch (e) {
      now = thrown(p.rule, e);
    }
    if (now !== undefined) return finish(now);
    // The same answer as decideSync gives: a store that says it is synchronous and returns a
    // promise has broken its contract, whichever of the two asked.
    if (synchronous) {
      Promise.resolve(r).catch(ignore);
      return finish(storeFailure(p.rule, StoreFault.Failed, "a store marked synchronous returned a promise", false));
    }
    return new Promise<Decision>((resolve, reject) => {
      const settle = (d: Decision): void => {
        try {
          resolve(finish(d));
        } catch (e) {
          reject(asError(e));
        }
      };
      awaitStore(
        r,
        (v) => settle(answer(p, v)),
        (e) => settle(thrown(p.rule, e)),
        () =>
          settle(
            storeFailure(
              p.rule,
              StoreFault.TimedOut,
              `no answer within ${storeTimeoutMs} ms; the call may still have been counted`,
              failOpen,
            ),
          ),
      );
    });
  }

  const deadlines = new Deadlines(storeTimeoutMs);

  /**
   * Waits for a store's promise at most `storeTimeoutMs`: exactly one of `answered`, `failed` and
   * `expired` runs, once. Reading the promise (its constructor, its own `then`) may throw: that is
   * the store failing too.
   */
  function awaitStore(
    r: unknown,
    answered: (v: unknown) => void,
    failed: (e: unknown) => void,
    expired: () => void,
  ): void {
    const deadline = deadlines.start(expired);
    const fail = (e: unknown): void => {
      // Too late: the call was decided when its deadline passed.
      if (deadline.expire === null) return;
      deadlines.settle(deadline);
      failed(e);
    };
    try {
      Promise.resolve(r as PromiseLike<unknown>).then((v) => {
        if (deadline.expire === null) return;
        deadlines.settle(deadline);
        answered(v);
      }, fail);
    } catch (e) {
      fail(e);
    }
  }

  function withTimeout(r: unknown): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      awaitStore(
        r,
        resolve,
        (e) => reject(asError(e)),
        () => resolve(TIMED_OUT),
      );
    });
  }

  /** Observers see the real decision; the caller gets it, or in shadow mode its shadowed form. */
  function deliver(d: Decision, seen: SeenCall | null, now: number | undefined): Decision {
    if (onDecision !== undefined && seen !== null) {
      // The observer gets its own copy: whatever it does to the event, the host's decision stays.
      const event: DecisionEvent = {
        time: now ?? readClockForEvent(),
        namespace,
        call: seen as DecisionEvent["call"],
        decision: copyDecision(d),
        shadow,
      };
      const detail = detailOf(d);
      if (detail !== undefined) event.detail = detail;
      observe(onDecision, event);
    }
    return shadow ? shadowed(d) : d;
  }

  function readClockForEvent(): number {
    try {
      const t = clock();
      if (typeof t === "number" && Number.isFinite(t)) return t;
    } catch {
      // The event still needs a time.
    }
    return Date.now();
  }

  function start(call: unknown, dryRun: boolean, seen: SeenCall | null): Decision | BudgetCheck {
    try {
      return evaluate(call, dryRun, null, seen);
    } catch (e) {
      return unreadableDecision(`the call could not be read: ${errorMessage(e)}`);
    }
  }

  function run(call: unknown, dryRun: boolean): Promise<Decision> {
    const seen = !dryRun && onDecision !== undefined ? {} : null;
    const step = start(call, dryRun, seen);
    if (!(step instanceof BudgetCheck)) {
      // Taken even when unused (a dry run), so it can never date a later decision's event.
      const at = takeTime();
      return Promise.resolve(dryRun ? shadowed(step) : deliver(step, seen, at));
    }
    const now = step.request.now;
    const r = consumeAsync(step, dryRun ? shadowed : (d) => deliver(d, seen, now));
    return r instanceof Promise ? r : Promise.resolve(r);
  }

  function shadowed(d: Decision): Decision {
    if (!shadow || d.outcome === "allow" || (d.outcome === "deny" && d.cause === "malformed_call")) return d;
    return { outcome: "allow", rule: d.rule, shadow: d };
  }

  function readTicket(decision: unknown): RefundTicket | undefined {
    if (!isPlainObject(decision) || !hasOwn.call(decision, "refund")) return undefined;
    const t = decision.refund;
    if (!isPlainObject(t) || t.namespace !== namespace || !Array.isArray(t.entries)) return undefined;
    const list = t.entries as unknown[];
    if (list.length === 0 || list.length > MAX_TICKET_ENTRIES) return undefined;
    const entries: { key: string; entry: string }[] = [];
    for (const e of list) {
      if (!isPlainObject(e)) return undefined;
      const { key, entry } = e;
      if (typeof key !== "string" || typeof entry !== "string") return undefined;
      if (key.length > MAX_TICKET_TEXT || entry.length === 0 || entry.length > MAX_TICKET_TEXT) return undefined;
      // Only this namespace's budgets: a ticket naming another's gives back nothing.
      if (!key.startsWith(opening)) return undefined;
      entries.push({ key, entry });
    }
    return { namespace, entries };
  }

  async function refund(decision: unknown): Promise<boolean> {
    let ticket: RefundTicket | undefined;
    try {
      ticket = readTicket(decision);
    } catch {
      return false;
    }
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called as give.call(store, …) below
    const give = store.refund;
    if (ticket === undefined || typeof give !== "function") return false;
    let now: number;
    try {
      now = clock();
    } catch (e) {
      throw new Error("toolgate: the clock failed while refunding", { cause: e });
    }
    if (typeof now !== "number" || !Number.isFinite(now))
      throw new Error("toolgate: the clock returned no time while refunding");
    const entries: RefundEntry[] = ticket.entries;
    let answer: unknown;
    try {
      const r = give.call(store, { namespace, entries, now });
      answer = isThenable(r) ? await withTimeout(r) : r;
    } catch (e) {
      throw new Error("toolgate: the rate-limit store failed to refund", { cause: e });
    }
    if (answer === TIMED_OUT)
      throw new Error(`toolgate: the rate-limit store did not answer a refund within ${storeTimeoutMs} ms`);
    let given: boolean;
    try {
      const g = (answer as { given?: unknown } | null)?.given;
      if (!Array.isArray(g) || g.length !== entries.length || !g.every((x) => typeof x === "boolean"))
        throw new Error("ill-formed");
      given = g.includes(true);
    } catch (e) {
      throw new Error("toolgate: the rate-limit store answered a refund with something that is not a refund result", {
        cause: e,
      });
    }
    if (onRefund !== undefined) observe(onRefund, { time: now, namespace, refund: copyTicket(ticket), given });
    return given;
  }

  const rules: readonly RuleSummary[] = Object.freeze(allRules(plan).map((r) => Object.freeze(r)));

  const policy: Policy = {
    decide(call: ToolCall): Promise<Decision> {
      return run(call, false);
    },

    decideSync(call: ToolCall): Decision {
      if (!synchronous) {
        throw new TypeError(
          "decideSync needs a synchronous store (such as MemoryStore); " +
            "this policy's store is asynchronous: use decide()",
        );
      }
      const seen = onDecision !== undefined ? {} : null;
      const step = start(call, false, seen);
      // Without observers (seen null) nothing ever reads the time: no need to take it.
      if (!(step instanceof BudgetCheck)) return deliver(step, seen, seen === null ? undefined : takeTime());
      return deliver(consumeSync(step), seen, step.request.now);
    },

    peek(call: ToolCall): Promise<Decision> {
      return run(call, true);
    },

    async explain(call: ToolCall): Promise<Explanation> {
      const trace: Trace = { steps: [], limits: [] };
      let matched: string[] = [];
      let decision: Decision;
      try {
        const tool =
          isPlainObject(call) && typeof call.tool === "string" && call.tool.length <= 128 ? call.tool : undefined;
        if (tool !== undefined) {
          matched = names.matchingPointers(tool);
          if (names.hasExact(tool)) matched.unshift(names.resolve(tool).pointer);
        }
        const step = evaluate(call, true, trace, null);
        // explain delivers nothing: its time must never date a later decision's event.
        decidedAt = undefined;
        decision = step instanceof BudgetCheck ? await consumeAsync(step, (d) => d) : step;
      } catch (e) {
        decision = unreadableDecision(`the call could not be read: ${errorMessage(e)}`);
      }
      const { steps, limits } = trace;
      steps.push({
        path: decision.rule,
        message: `decision: ${decision.outcome}${"reason" in decision ? ` (${decision.reason})` : ""}`,
      });
      return { decision, matched, steps, limits };
    },

    mayAllow(tool: string, context: ToolContext = {}): boolean {
      const ctx = checkContext("mayAllow", tool, context);
      return mayAllow(reachable(plan, names.resolve(tool), ctx), ctx);
    },

    rulesFor(tool: string, context: ToolContext = {}): RuleSummary[] {
      const ctx = checkContext("rulesFor", tool, context);
      return reachable(plan, names.resolve(tool), ctx).map(({ rule, conditional }) => summarise(rule, conditional));
    },

    ruleFor(tool: string): string {
      if (typeof tool !== "string") throw new TypeError(`ruleFor: tool must be a string, got ${describeValue(tool)}`);
      return names.resolve(tool).pointer;
    },

    refund,
    rules,
    namespace,
    mode,
    warnings: Object.freeze(warnings.map((w) => Object.freeze({ ...w }))),
    document,
  };
  return Object.freeze(policy);
}

function checkContext(owner: string, tool: unknown, context: unknown): ToolContext {
  if (typeof tool !== "string") throw new TypeError(`${owner}: tool must be a string, got ${describeValue(tool)}`);
  if (!isPlainObject(context))
    throw new TypeError(`${owner}: context must be a plain object, got ${describeValue(context)}`);
  return context;
}

/**
 * Calls an observer. One that throws changes nothing (docs/spec.md, "Observers"), and neither
 * does one that returns a promise that rejects: its rejection is caught here, never left
 * unhandled to take the host's process down.
 */
function observe<E>(observer: (event: E) => void, event: E): void {
  try {
    const r: unknown = observer(event);
    if (isThenable(r)) Promise.resolve(r).catch(ignore);
  } catch {
    // Nothing: the decision is made.
  }
}

/** A copy of a decision, deep where it nests: what an observer gets, so it cannot change the host's. */
function copyDecision(d: Decision): Decision {
  switch (d.outcome) {
    case "allow": {
      const c: Decision = { ...d };
      if (d.refund !== undefined) c.refund = copyTicket(d.refund);
      if (d.shadow !== undefined) c.shadow = copyDecision(d.shadow) as typeof d.shadow;
      return c;
    }
    case "rate_limited": {
      // Field by field: a spread of a refusal was a sixth of a refused call with an observer.
      const l = d.limit;
      const limit: LimitInfo =
        l.cost === undefined
          ? { max: l.max, windowMs: l.windowMs, per: l.per }
          : { max: l.max, windowMs: l.windowMs, per: l.per, cost: l.cost };
      return { outcome: d.outcome, rule: d.rule, reason: d.reason, retryAfterMs: d.retryAfterMs, limit };
    }
    default:
      return { ...d };
  }
}

function copyTicket(t: RefundTicket): RefundTicket {
  return { namespace: t.namespace, entries: t.entries.map((e) => ({ key: e.key, entry: e.entry })) };
}

/** `e` itself when it is an Error, else an Error saying what it was; never throws (a Proxy's traps may). */
function asError(e: unknown): Error {
  try {
    if (e instanceof Error) return e;
  } catch {
    // A hostile value: described below, as far as it can be.
  }
  return new Error(errorMessage(e));
}

function isBusy(e: unknown): boolean {
  try {
    return e instanceof Error && e.name === "StoreBusyError";
  } catch {
    return false;
  }
}

function isThenable(v: unknown): boolean {
  return (
    v !== null &&
    (typeof v === "object" || typeof v === "function") &&
    typeof (v as { then?: unknown }).then === "function"
  );
}

function ignore(): void {}
