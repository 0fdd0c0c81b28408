/**
 * Asking a person to approve one call (docs/spec.md, section 8, "Approvals"), in the way the
 * request's protocol era allows:
 *
 * - 2025 era: an elicitation sent as part of the `tools/call` request it is about (so
 *   Streamable HTTP routes it on that request's stream), abandoned when the client cancels the
 *   call or nobody answers in time. The answer can only be about this call: it is the reply to a
 *   request the server sent while the call waits.
 * - 2026-07-28: there is no pending request to ask within, so the call is answered with an
 *   `input_required` result carrying the question and a sealed state; the client sends the call
 *   again with the answer, and it is approved only if the state verifies for exactly that call
 *   (see approval-state.ts).
 *
 * The question is a form with no fields: accepting approves the call, declining or cancelling
 * refuses it, each with its own reason. Reasons never carry text from an error or a client.
 */

import { quoteName } from "../shared/text.js";
import { approvalMessage } from "./approval-message.js";
import {
  APPROVAL_INPUT_KEY,
  canonicalJson,
  digest,
  type ApprovalNonceStore,
  type ApprovalSealer,
} from "./approval-state.js";
import type { RequestView } from "./request.js";
import type { LowLevelServer } from "./sdk.js";

/** How an approval ended: approved, refused (with why), or a question to return (2026-07-28). */
export type ApprovalOutcome =
  | { approved: true }
  | { approved: false; reason: string; cause: "not_approved" | "host_failure" }
  | { approved: false; inputRequired: Record<string, unknown> };

/** The call a person is asked about. */
export interface ApprovalQuestion {
  tool: string;
  args: Record<string, unknown>;
  sessionId: string;
  /** The needs-approval rule and its reason. */
  rule: string;
  reason: string;
  /** Argument names the policy's conditions read: shown first. */
  first: readonly string[];
}

/** What the elicitation flows need. */
export interface ElicitationContext {
  server: LowLevelServer;
  sealer: ApprovalSealer;
  nonces: ApprovalNonceStore;
  timeoutMs: number;
  clock: () => number;
}

const FORM = { type: "object", properties: {} } as const;

/** Asks through a 2025-era elicitation on the request's own stream. */
export async function elicitNow(
  q: ApprovalQuestion,
  view: RequestView,
  ctx: ElicitationContext,
): Promise<ApprovalOutcome> {
  const tool = quoteName(q.tool);
  let capabilities: Record<string, unknown> | undefined;
  try {
    capabilities = ctx.server.getClientCapabilities();
  } catch {
    capabilities = undefined;
  }
  if (!canAskForm(capabilities?.elicitation)) return cannotAsk(q);
  const message = approvalMessage(q.tool, q.reason, q.args, q.first);
  if (!message.ok) return cannotShow(q, message.why);
  const timer = AbortSignal.timeout(ctx.timeoutMs);
  const signal = view.signal === undefined ? timer : AbortSignal.any([view.signal, timer]);
  let action: string;
  try {
    const options: Record<string, unknown> = { signal, timeout: ctx.timeoutMs + 1000 };
    if (view.requestId !== undefined) options.relatedRequestId = view.requestId;
    const result = await ctx.server.elicitInput(
      { mode: "form", message: message.text, requestedSchema: FORM },
      options,
    );
    action = typeof result?.action === "string" ? result.action : "";
  } catch {
    if (timer.aborted) {
      return {
        approved: false,
        cause: "not_approved",
        reason: `Nobody answered the approval request for ${tool} in time; the call was not made.`,
      };
    }
    if (view.signal?.aborted === true) {
      return {
        approved: false,
        cause: "not_approved",
        reason: `The call to ${tool} was cancelled while it waited for approval.`,
      };
    }
    return {
      approved: false,
      cause: "host_failure",
      reason: `The call to ${tool} needs approval, and asking the user failed; the call was not made.`,
    };
  }
  return answered(q, action);
}

/**
 * Under 2026-07-28: the question for a first call (an `input_required` result), or the verdict
 * on a retried call that carries toolgate's state and the person's answer.
 */
export async function elicitByRoundTrip(
  q: ApprovalQuestion,
  view: RequestView,
  ctx: ElicitationContext,
): Promise<ApprovalOutcome> {
  const canonical = canonicalJson(q.args);
  if (canonical === undefined) return cannotShow(q, "its arguments have no canonical JSON form");
  const binding = { tool: q.tool, args: digest(canonical), session: digest(q.sessionId), rule: q.rule };
  if (view.requestState !== undefined) {
    const opened = ctx.sealer.open(view.requestState, ctx.clock());
    const answer = view.inputResponses?.[APPROVAL_INPUT_KEY] as { action?: unknown } | undefined;
    const matches =
      opened !== undefined &&
      opened.tool === binding.tool &&
      opened.args === binding.args &&
      opened.session === binding.session &&
      opened.rule === binding.rule;
    if (!matches) {
      return {
        approved: false,
        cause: "not_approved",
        reason:
          `The approval sent with this call to ${quoteName(q.tool)} is not valid for it ` +
          "(altered, expired, or given for another call); the call was not made.",
      };
    }
    const action =
      typeof answer === "object" && answer !== null && typeof answer.action === "string" ? answer.action : "";
    if (action !== "accept") return answered(q, action);
    let fresh: boolean;
    try {
      fresh = (await ctx.nonces.claim(opened.nonce, opened.exp)) === true;
    } catch {
      return {
        approved: false,
        cause: "host_failure",
        reason: `The approval of this call to ${quoteName(q.tool)} could not be checked; the call was not made.`,
      };
    }
    if (!fresh) {
      return {
        approved: false,
        cause: "not_approved",
        reason:
          `The approval sent with this call to ${quoteName(q.tool)} was already used; ` +
          "an approval applies to one call only.",
      };
    }
    return { approved: true };
  }
  const elicitation = view.clientCapabilities?.elicitation;
  if (!canAskForm(elicitation)) return cannotAsk(q);
  const message = approvalMessage(q.tool, q.reason, q.args, q.first);
  if (!message.ok) return cannotShow(q, message.why);
  const requestState = ctx.sealer.seal(binding, ctx.clock() + ctx.timeoutMs);
  return {
    approved: false,
    inputRequired: {
      resultType: "input_required",
      inputRequests: {
        [APPROVAL_INPUT_KEY]: {
          method: "elicitation/create",
          params: { mode: "form", message: message.text, requestedSchema: FORM },
        },
      },
      requestState,
    },
  };
}

function answered(q: ApprovalQuestion, action: string): ApprovalOutcome {
  const tool = quoteName(q.tool);
  if (action === "accept") return { approved: true };
  if (action === "decline")
    return { approved: false, cause: "not_approved", reason: `The user declined the call to ${tool}.` };
  return {
    approved: false,
    cause: "not_approved",
    reason: `The user dismissed the approval request for ${tool} without approving it; the call was not made.`,
  };
}

function cannotAsk(q: ApprovalQuestion): ApprovalOutcome {
  return {
    approved: false,
    cause: "not_approved",
    reason:
      `${q.reason} The client cannot ask its user for approval (it does not support form elicitation), ` +
      `so the call to ${quoteName(q.tool)} was refused.`,
  };
}

function cannotShow(q: ApprovalQuestion, why: string): ApprovalOutcome {
  return {
    approved: false,
    cause: "not_approved",
    reason:
      `The call to ${quoteName(q.tool)} needs approval, but it cannot be shown to a person in full (${why}), ` +
      "so nobody was asked and the call was not made.",
  };
}

/**
 * Whether the client takes form elicitations: it declares `form`, or declares elicitation with
 * neither mode (the spec's form-only default, which SDK versions before modes do not normalise).
 */
function canAskForm(elicitation: unknown): boolean {
  if (typeof elicitation !== "object" || elicitation === null) return false;
  const { form, url } = elicitation as { form?: unknown; url?: unknown };
  return form !== undefined || url === undefined;
}
