/**
 * Guarding a host's own tool dispatcher: decide first, then dispatch exactly what was decided.
 *
 * The arguments are copied once into plain JSON data before the decision. The policy decides on
 * that copy and the dispatcher receives the same copy, so a getter that answers differently on
 * a second read, or a caller that mutates its object after the call, cannot show the tool
 * something other than what the policy saw.
 */

import { isPlainObject } from "./shared/objects.js";
import { checkOptionKeys } from "./shared/options.js";
import { describeValue, errorMessage } from "./shared/text.js";
import type {
  AllowDecision,
  Decision,
  DenyDecision,
  NeedsApprovalDecision,
  Policy,
  Session,
  ToolCall,
} from "./types.js";

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
 * and records the host's own words (for example, "the user declined") as the error's `detail`
 * — never in the decision's reason, which goes to the model.
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
 * Thrown (as a rejection) by a guarded function when the call is refused. The tool was not
 * dispatched. `decision` says why (with `cause` on a deny); `message` is its reason.
 */
export class ToolCallRefusedError extends Error {
  /** The refusing decision: deny, rate_limited or needs_approval. */
  readonly decision: RefusalDecision;
  /** The tool that was refused. */
  readonly tool: string;
  /**
   * When the call was refused for want of approval (`cause: "not_approved"` or
   * `"host_failure"`), the needs-approval decision it was refused on.
   */
  readonly approval: NeedsApprovalDecision | undefined;
  /**
   * What the host said or what failed (an approval's own reason, an error's message): for logs,
   * never for the model.
   */
  readonly detail: string | undefined;

  constructor(tool: string, decision: RefusalDecision, approval?: NeedsApprovalDecision, detail?: string) {
    super(decision.reason);
    this.name = "ToolCallRefusedError";
    this.tool = tool;
    this.decision = decision;
    this.approval = approval;
    this.detail = detail;
  }
}

/**
 * The former name of {@link ToolCallRefusedError}, the same class.
 * @deprecated Use `ToolCallRefusedError`; this alias stays until 1.0.
 */
export const ToolCallRefused = ToolCallRefusedError;
/** @deprecated Use `ToolCallRefusedError`; this alias stays until 1.0. */
export type ToolCallRefused = ToolCallRefusedError;

/**
 * Wraps a tool dispatcher so that every call is decided by `policy` before it runs.
 *
 * The dispatcher has the shape `(call, ...rest) => result`: `call` is
 * `{ tool, args, session, annotations? }` and `rest` is anything else the host passes along
 * (a request context, an abort signal); the guarded function has the same shape and returns a
 * promise of the dispatcher's result. An allowed call is dispatched with a deep copy of its
 * arguments — the copy the policy decided on. A refused call rejects with
 * {@link ToolCallRefusedError} and is never dispatched. Arguments that cannot be copied as JSON data
 * (a cycle, a BigInt, a getter that throws) are denied, not dispatched. A call may not carry
 * `approved`: approval is given only through `options.approval`. When the dispatcher throws or
 * rejects after a call was allowed, the units the call counted in limits with
 * `refund: "on_error"` are given back before the error is passed on.
 *
 * @example
 * ```ts
 * const run = guard(policy, ({ tool, args }) => tools[tool](args));
 * try { await run({ tool: "delete_run", args: { run_id: "r1" }, session: { id: "s1" } }) }
 * catch (e) { if (e instanceof ToolCallRefusedError) console.log(e.decision.outcome, e.message) }
 * ```
 */
export function guard<R, A extends unknown[] = []>(
  policy: Policy,
  dispatch: (call: DispatchedCall, ...rest: A) => R | Promise<R>,
  options: GuardOptions<A> = {},
): (call: GuardedCall, ...rest: A) => Promise<Awaited<R>> {
  if (
    typeof policy !== "object" ||
    policy === null ||
    typeof policy.decide !== "function" ||
    typeof policy.peek !== "function"
  ) {
    throw new TypeError("guard: policy must be a compiled policy (from compilePolicy)");
  }
  if (typeof dispatch !== "function") throw new TypeError("guard: dispatch must be a function");
  const approval = checkOptionKeys("guard", options, ["approval"]).approval;
  if (approval !== undefined && typeof approval !== "function") {
    throw new TypeError(`guard: options.approval must be a function, got ${describeValue(approval)}`);
  }

  return async (call: GuardedCall, ...rest: A): Promise<Awaited<R>> => {
    const taken = takeCall(call);
    if ("refusal" in taken) throw new ToolCallRefusedError(taken.tool, taken.refusal, undefined, taken.detail);
    const { call: snapshot, tool } = taken;
    const decided: ToolCall = { ...snapshot };
    const decision = await policy.decide(decided);
    if (decision.outcome === "allow") return run(policy, decision, () => dispatch(snapshot, ...rest));
    if (decision.outcome !== "needs_approval" || approval === undefined) throw new ToolCallRefusedError(tool, decision);

    // A look first: a call that a limit or a rule would refuse even once approved is refused
    // now, without asking anyone.
    const approvedCall: ToolCall = { ...decided, approved: true };
    const look = await policy.peek(approvedCall);
    if (look.outcome !== "allow") throw new ToolCallRefusedError(tool, look);

    const answer = await ask(
      approval,
      { call: { ...snapshot, args: copyJson(snapshot.args) as Record<string, unknown> }, decision },
      rest,
    );
    if (answer !== true)
      throw new ToolCallRefusedError(tool, notApproved(decision, answer.cause), decision, answer.detail);
    const final = await policy.decide(approvedCall);
    if (final.outcome !== "allow") throw new ToolCallRefusedError(tool, final);
    return run(policy, final, () => dispatch(snapshot, ...rest));
  };
}

/** Dispatches an allowed call; if the tool fails, gives its refundable units back first. */
async function run<R>(policy: Policy, decision: AllowDecision, dispatch: () => R | Promise<R>): Promise<Awaited<R>> {
  try {
    return await dispatch();
  } catch (e) {
    if (decision.refund !== undefined) {
      // A store failure while refunding must not hide the tool's own error.
      await policy.refund(decision).catch(() => false);
    }
    throw e;
  }
}

/** The deny for a call that needed approval and did not get it. */
function notApproved(decision: NeedsApprovalDecision, cause: "not_approved" | "host_failure"): DenyDecision {
  return {
    outcome: "deny",
    rule: decision.rule,
    reason:
      cause === "host_failure"
        ? "The call was not approved: asking for approval failed."
        : "The call was not approved by the person asked.",
    cause,
  };
}

/** Asks the approval function; `true` when approved, else why not (the host's words only as detail). */
async function ask<A extends unknown[]>(
  approval: NonNullable<GuardOptions<A>["approval"]>,
  request: ApprovalRequest,
  rest: A,
): Promise<true | { cause: "not_approved" | "host_failure"; detail: string | undefined }> {
  let answer: unknown;
  try {
    answer = await approval(request, ...rest);
  } catch (e) {
    return { cause: "host_failure", detail: `the approval function failed: ${firstLine(e)}` };
  }
  if (answer === true) return true;
  try {
    if (typeof answer === "object" && answer !== null) {
      const { approved, reason } = answer as { approved?: unknown; reason?: unknown };
      if (approved === true) return true;
      if (typeof reason === "string" && reason.length > 0)
        return { cause: "not_approved", detail: reason.slice(0, 1000) };
    }
  } catch (e) {
    return { cause: "host_failure", detail: `the approval's answer could not be read: ${firstLine(e)}` };
  }
  return { cause: "not_approved", detail: undefined };
}

type Taken = { call: DispatchedCall; tool: string } | { tool: string; refusal: RefusalDecision; detail: string };

/** Reads the guarded call once and copies its arguments; a call that cannot be taken is denied. */
function takeCall(call: unknown): Taken {
  // The reason names the field and what it must be; what was sent goes only into the detail.
  const malformed = (tool: string, reason: string, detail = reason): Taken => ({
    tool,
    refusal: { outcome: "deny", rule: "", reason: `Malformed call: ${reason}.`, cause: "malformed_call" },
    detail,
  });
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
        return malformed(
          name,
          `"approved" cannot be set by the caller; approval is given through the guard's approval option`,
        );
      }
      const known = key === "arguments" || key === "params" || key === "input";
      return malformed(
        name,
        known
          ? `unknown field "${key}" (did you mean "args"?)`
          : "it has a field that a call does not have (a call has tool, args, session and annotations)",
        `unknown field ${JSON.stringify(key.slice(0, 200))}`,
      );
    }
    ({ tool, args, session, annotations } = fields);
  } catch (e) {
    return malformed("", "the call could not be read", `the call could not be read: ${firstLine(e)}`);
  }
  const name = typeof tool === "string" ? tool : "";
  if (args !== undefined && !isPlainObject(args)) {
    return malformed(name, '"args" must be a plain object when present', `"args" is ${describeValue(args)}`);
  }
  let copy: unknown;
  try {
    copy = args === undefined ? {} : copyJson(args);
  } catch (e) {
    return malformed(
      name,
      "the arguments could not be copied as JSON data",
      `the arguments could not be copied as JSON data: ${firstLine(e)}`,
    );
  }
  const snapshot: DispatchedCall = {
    tool: tool as string,
    args: copy as Record<string, unknown>,
    session: session as Session,
  };
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
  const text = errorMessage(e);
  return text.split("\n", 1)[0] ?? text;
}
