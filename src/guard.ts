/**
 * Guarding a host's own tool dispatcher: decide first, then dispatch exactly what was decided.
 *
 * The arguments are copied once into plain JSON data before the decision. The policy decides on
 * that copy and the dispatcher receives the same copy, so a getter that answers differently on
 * a second read, or a caller that mutates its object after the call, cannot show the tool
 * something other than what the policy saw.
 */

import { isPlainObject } from "./decide/call.js";
import type { AllowDecision, Decision, NeedsApprovalDecision, Policy, Session, ToolCall } from "./types.js";

/** A call as the guarded function receives it: the {@link ToolCall} fields a host supplies. */
export interface GuardedCall {
  /** The tool's name. */
  tool: string;
  /** The call's arguments; a plain object. Absent means `{}`. */
  args?: Record<string, unknown>;
  /** The agent's session. */
  session: Session;
  /** The tool's MCP annotations as the host knows them. */
  annotations?: Record<string, unknown>;
}

/** The call the dispatcher receives: the snapshot the policy decided on, `args` always present. */
export interface DispatchedCall {
  /** The tool's name. */
  tool: string;
  /** A deep copy of the caller's arguments, made before the decision (plain JSON data). */
  args: Record<string, unknown>;
  /** The caller's session (not copied: it is the host's own data). */
  session: Session;
  /** The caller's annotations, if any. */
  annotations?: Record<string, unknown>;
}

/** What an approval function is asked about. */
export interface ApprovalRequest {
  /** The call to approve: a copy of the snapshot, so an approver cannot change what runs. */
  call: DispatchedCall;
  /** The needs-approval decision, with the rule and the reason to show the person asked. */
  decision: NeedsApprovalDecision;
}

/**
 * An approval's answer: `true` approves; `false` refuses; `{ approved: false, reason }` refuses
 * with a reason of the host's own (for example, "the user declined").
 */
export type ApprovalAnswer = boolean | { approved: boolean; reason?: string };

/** Options of {@link guard}. Unknown options are rejected. */
export interface GuardOptions<A extends unknown[] = []> {
  /**
   * Asked when a call needs approval, after a look that counts nothing has shown the call
   * would be allowed once approved (so nobody is asked in vain). It receives the request and
   * the rest of the guarded function's arguments. When it approves, the call is decided again
   * as approved (which counts it) and dispatched. A function that throws refuses the call.
   * @default none: a call that needs approval is refused with its needs-approval decision
   */
  approval?: (request: ApprovalRequest, ...rest: A) => ApprovalAnswer | Promise<ApprovalAnswer>;
}

/** A decision that refuses a call: anything but allow. */
export type RefusalDecision = Exclude<Decision, AllowDecision>;

/**
 * Thrown (as a rejection) by a guarded function when the policy refuses the call. The tool was
 * not dispatched. `decision` says why; `message` is its reason.
 */
export class ToolCallRefused extends Error {
  /** The refusing decision: deny, rate_limited or needs_approval. */
  readonly decision: RefusalDecision;
  /** The tool that was refused. */
  readonly tool: string;

  constructor(tool: string, decision: RefusalDecision) {
    super(decision.reason);
    this.name = "ToolCallRefused";
    this.tool = tool;
    this.decision = decision;
  }
}

const OPTION_KEYS = new Set(["approval"]);

/**
 * Wraps a tool dispatcher so that every call is decided by `policy` before it runs.
 *
 * The dispatcher has the shape `(call, ...rest) => result`: `call` is
 * `{ tool, args, session, annotations? }` and `rest` is anything else the host passes along
 * (a request context, an abort signal); the guarded function has the same shape and returns a
 * promise of the dispatcher's result. An allowed call is dispatched with a deep copy of its
 * arguments — the copy the policy decided on. A refused call rejects with
 * {@link ToolCallRefused} and is never dispatched. Arguments that cannot be copied as JSON data
 * (a cycle, a BigInt, a getter that throws) are denied, not dispatched. A call may not carry
 * `approved`: approval is given only through `options.approval`.
 *
 * @example
 * ```ts
 * const run = guard(policy, ({ tool, args }) => tools[tool](args));
 * try { await run({ tool: "delete_run", args: { run_id: "r1" }, session: { id: "s1" } }) }
 * catch (e) { if (e instanceof ToolCallRefused) console.log(e.decision.outcome, e.message) }
 * ```
 */
export function guard<R, A extends unknown[] = []>(
  policy: Policy,
  dispatch: (call: DispatchedCall, ...rest: A) => R | Promise<R>,
  options: GuardOptions<A> = {},
): (call: GuardedCall, ...rest: A) => Promise<Awaited<R>> {
  if (typeof policy !== "object" || policy === null || typeof policy.decide !== "function" || typeof policy.peek !== "function") {
    throw new TypeError("guard: policy must be a compiled policy (from compilePolicy)");
  }
  if (typeof dispatch !== "function") throw new TypeError("guard: dispatch must be a function");
  if (typeof options !== "object" || options === null) throw new TypeError("guard: options must be an object");
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new TypeError(`guard: unknown option "${key}"`);
  }
  const approval = options.approval;
  if (approval !== undefined && typeof approval !== "function") throw new TypeError("guard: options.approval must be a function");

  return async (call: GuardedCall, ...rest: A): Promise<Awaited<R>> => {
    const taken = takeCall(call);
    if ("refusal" in taken) throw new ToolCallRefused(taken.tool, taken.refusal);
    const { call: snapshot, tool } = taken;
    const decided: ToolCall = { ...snapshot };
    const decision = await policy.decide(decided);
    if (decision.outcome === "allow") return await dispatch(snapshot, ...rest);
    if (decision.outcome !== "needs_approval" || approval === undefined) throw new ToolCallRefused(tool, decision);

    // A look first: a call that a limit or a rule would refuse even once approved is refused
    // now, without asking anyone.
    const approvedCall: ToolCall = { ...decided, approved: true };
    const look = await policy.peek(approvedCall);
    if (look.outcome !== "allow") throw new ToolCallRefused(tool, look);

    const answer = await ask(approval, { call: { ...snapshot, args: copyJson(snapshot.args) as Record<string, unknown> }, decision }, rest);
    if (answer !== true) {
      throw new ToolCallRefused(tool, { outcome: "deny", rule: decision.rule, reason: answer });
    }
    const final = await policy.decide(approvedCall);
    if (final.outcome !== "allow") throw new ToolCallRefused(tool, final);
    return await dispatch(snapshot, ...rest);
  };
}

/** Asks the approval function; `true` when approved, else the reason of the refusal. */
async function ask<A extends unknown[]>(
  approval: NonNullable<GuardOptions<A>["approval"]>,
  request: ApprovalRequest,
  rest: A,
): Promise<true | string> {
  const tool = JSON.stringify(request.call.tool);
  let answer: unknown;
  try {
    answer = await approval(request, ...rest);
  } catch (e) {
    return `The call to ${tool} was not approved: the approval failed (${firstLine(e)}).`;
  }
  if (answer === true) return true;
  if (typeof answer === "object" && answer !== null) {
    const { approved, reason } = answer as { approved?: unknown; reason?: unknown };
    if (approved === true) return true;
    if (typeof reason === "string" && reason.length > 0) return reason;
  }
  return `The call to ${tool} was not approved.`;
}

type Taken = { call: DispatchedCall; tool: string } | { tool: string; refusal: RefusalDecision };

/** Reads the guarded call once and copies its arguments; a call that cannot be taken is denied. */
function takeCall(call: unknown): Taken {
  const malformed = (tool: string, reason: string): Taken => ({ tool, refusal: { outcome: "deny", rule: "", reason: `Malformed call: ${reason}.` } });
  if (typeof call !== "object" || call === null) return malformed("", "the call must be an object");
  let tool: unknown;
  let args: unknown;
  let session: unknown;
  let annotations: unknown;
  try {
    const fields = call as Record<string, unknown>;
    for (const key of Object.keys(fields)) {
      if (key === "tool" || key === "args" || key === "session" || key === "annotations") continue;
      const name = typeof fields.tool === "string" ? fields.tool : "";
      if (key === "approved") {
        return malformed(name, `"approved" cannot be set by the caller; approval is given through the guard's approval option`);
      }
      const hint = key === "arguments" || key === "params" || key === "input" ? ` (did you mean "args"?)` : "";
      return malformed(name, `unknown field ${JSON.stringify(key)}${hint}; a call has tool, args, session and annotations`);
    }
    ({ tool, args, session, annotations } = fields);
  } catch (e) {
    return malformed("", `the call could not be read (${firstLine(e)})`);
  }
  const name = typeof tool === "string" ? tool : "";
  if (args !== undefined && !isPlainObject(args)) {
    return malformed(name, `"args" must be a plain object when present, got ${args === null ? "null" : Array.isArray(args) ? "an array" : typeof args}`);
  }
  let copy: unknown;
  try {
    copy = args === undefined ? {} : copyJson(args);
  } catch (e) {
    return malformed(name, `the arguments could not be copied as JSON data (${firstLine(e)})`);
  }
  const snapshot: DispatchedCall = { tool: tool as string, args: copy as Record<string, unknown>, session: session as Session };
  if (annotations !== undefined) snapshot.annotations = annotations as Record<string, unknown>;
  return { call: snapshot, tool: name };
}

/**
 * A deep copy as JSON data, the form tool arguments take on the wire: getters are read once,
 * `toJSON` is honoured, functions and `undefined` members are dropped. A cycle or a BigInt
 * throws, and so does any depth the engine's stack cannot take.
 */
function copyJson(value: unknown): unknown {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError("the value has no JSON form");
  return JSON.parse(text) as unknown;
}

/** An error's message as one line (JSON.stringify explains a cycle over several). */
function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split("\n", 1)[0] ?? text;
}
