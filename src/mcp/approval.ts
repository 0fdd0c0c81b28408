/**
 * Asking the user to approve a call through MCP elicitation.
 *
 * The question is a form with no fields: accepting it approves the call, declining or
 * cancelling refuses it, each with its own reason. It is sent as part of the `tools/call`
 * request it is about (so Streamable HTTP routes it on that request's stream) and is abandoned
 * when the client cancels the call.
 */

import type { ApprovalAnswer, ApprovalRequest } from "toolgate";
import type { RequestExtra, Server } from "./sdk.js";

const ARGS_SUMMARY_CHARS = 500;

/** An approval function that asks the client's user through elicitation. */
export function elicitApproval(server: Server, timeoutMs: number) {
  return async (request: ApprovalRequest, extra: RequestExtra): Promise<ApprovalAnswer> => {
    const tool = JSON.stringify(request.call.tool);
    if (!canAskForm(server.getClientCapabilities()?.elicitation)) {
      return {
        approved: false,
        reason: `${request.decision.reason} The client cannot ask its user for approval (it does not support form elicitation), so the call to ${tool} was refused.`,
      };
    }
    let action: string;
    try {
      const result = await server.elicitInput(
        { mode: "form", message: approvalMessage(request), requestedSchema: { type: "object", properties: {} } },
        { relatedRequestId: extra.requestId, signal: extra.signal, timeout: timeoutMs },
      );
      action = result.action;
    } catch (e) {
      return { approved: false, reason: `The call to ${tool} needs approval, and asking the user failed: ${e instanceof Error ? e.message : String(e)}.` };
    }
    switch (action) {
      case "accept":
        return true;
      case "decline":
        return { approved: false, reason: `The user declined the call to ${tool}.` };
      default:
        return { approved: false, reason: `The user dismissed the approval request for ${tool} without approving it; the call was not made.` };
    }
  };
}

/**
 * Whether the client takes form elicitations: it declares `form`, or declares elicitation with
 * neither mode (the spec's form-only default, which SDK versions before modes do not normalise).
 */
function canAskForm(elicitation: { form?: unknown; url?: unknown } | undefined): boolean {
  if (typeof elicitation !== "object" || elicitation === null) return false;
  return elicitation.form !== undefined || elicitation.url === undefined;
}

/** The question put to the user: the tool, the reason approval is needed, the arguments. */
export function approvalMessage(request: ApprovalRequest): string {
  return [
    `Allow the tool ${JSON.stringify(request.call.tool)} to run?`,
    `Why approval is needed: ${request.decision.reason}`,
    `Arguments: ${summarize(request.call.args)}`,
  ].join("\n");
}

function summarize(args: Record<string, unknown>): string {
  const text = JSON.stringify(args);
  return text.length <= ARGS_SUMMARY_CHARS ? text : `${text.slice(0, ARGS_SUMMARY_CHARS)}… (${text.length} characters in all)`;
}
