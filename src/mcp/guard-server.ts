/**
 * `guardServer`: a compiled policy in front of every `tools/call` of an MCP server of either
 * SDK line, and its tool list trimmed to what the session may call (docs/spec.md, section 8).
 */

import type { AllowDecision, Decision, DenyDecision, NeedsApprovalDecision, Policy, Session, ToolCall } from "toolgate";
import { isPlainObject } from "../shared/objects.js";
import { quoteName } from "../shared/text.js";
import { argumentsRead } from "./approval-message.js";
import {
  APPROVAL_INPUT_KEY,
  ApprovalSealer,
  processDefaults,
  STATE_PREFIX,
  type ApprovalNonceStore,
} from "./approval-state.js";
import {
  elicitByRoundTrip,
  elicitNow,
  type ApprovalOutcome,
  type ApprovalQuestion,
  type ElicitationContext,
} from "./approval.js";
import { Connections, defaultSessionId, type Connection, type ToolAnnotations } from "./connection.js";
import { interceptHandlers } from "./handlers.js";
import { viewRequest, withoutApprovalRound, type RequestView } from "./request.js";
import { notApprovedResult, refusalResult } from "./result.js";
import type { GuardableServer, LowLevelServer, RawHandler, RequestExtra } from "./sdk.js";

/** What a host's own approval function is asked about. */
export interface ServerApprovalRequest {
  /** The call: the tool, a copy of the arguments the policy decided on, the session, the annotations. */
  call: { tool: string; args: Record<string, unknown>; session: Session; annotations?: Record<string, unknown> };
  /** The needs-approval decision, with the rule and the reason to show the person asked. */
  decision: NeedsApprovalDecision;
}

/** A host approval's answer: `true` approves; `false` or `{ approved: false, reason }` refuses. */
export type ServerApprovalAnswer = boolean | { approved: boolean; reason?: string };

/** Options of {@link guardServer}. Unknown options are rejected. */
export interface GuardServerOptions {
  /**
   * The session of a request: its `id` keys per-session budgets, its other attributes are what
   * `when.session` conditions and `per` limits read. It receives the SDK's handler context
   * (1.x `extra`, 2.x `ctx`). A function that throws, or returns no valid session, gets the call
   * denied (`cause: "host_failure"` or `"malformed_call"`); a function that throws makes
   * `tools/list` list no tools (unless `hideDenied` is `false`), so listing and calls agree.
   * @default the verified principal when the request is authenticated (`authInfo.extra.sub`,
   *   else `authInfo.clientId`); else the transport's session id (2025 Streamable HTTP, SSE);
   *   else, over HTTP, one shared session `"anonymous"`; else one id per connection (stdio,
   *   in-memory). See docs/mcp.md for what each means for budgets.
   */
  session?: (extra: RequestExtra) => Session | Promise<Session>;
  /**
   * The host's own way to approve a call that needs approval, used instead of elicitation.
   * Asked only once a look (counting nothing) has shown the call would be allowed once
   * approved. Return `true` to approve, `false` or `{ approved: false, reason }` to refuse; a
   * function that throws refuses the call (`cause: "host_failure"`).
   * @default ask the client's user through elicitation when the client supports it; refuse otherwise
   */
  approval?: (
    request: ServerApprovalRequest,
    extra: RequestExtra,
  ) => ServerApprovalAnswer | Promise<ServerApprovalAnswer>;
  /**
   * Leave out of `tools/list` the tools the session can never call (denied whatever the
   * arguments). Calls are enforced either way; this only keeps them from the model's view.
   * @default true
   */
  hideDenied?: boolean;
  /**
   * How long a person may take to answer an approval question, in milliseconds (a positive
   * whole number); under 2026-07-28, how long the signed question stays valid.
   * @default 600000 (ten minutes)
   */
  approvalTimeoutMs?: number;
  /**
   * The key that signs 2026-07-28 approval states (at least 32 bytes; a string is read as
   * UTF-8). Replicas that may receive each other's retried calls must share it.
   * @default a random key per process
   */
  approvalKey?: Uint8Array | string;
  /**
   * Where used approval nonces are remembered, so an approval is used once. Replicas must share
   * one (for example backed by Redis).
   * @default one in-memory store per process
   */
  approvalNonces?: ApprovalNonceStore;
}

const OPTION_KEYS = new Set([
  "session",
  "approval",
  "hideDenied",
  "approvalTimeoutMs",
  "approvalKey",
  "approvalNonces",
]);
const MAX_LIST_PAGES = 100;
const guarded = new WeakSet<object>();

/**
 * Enforces `policy` on `server`: an `McpServer` or a low-level `Server` of
 * `@modelcontextprotocol/sdk` 1.x or `@modelcontextprotocol/server` 2.x. Call it before
 * `connect`, before or after the tools are registered; handlers installed later (by
 * `registerTool` or `setRequestHandler`) are guarded too. Every `tools/call` is decided before
 * the tool runs:
 *
 * - allow: the tool runs and its result is returned unchanged; when it fails (throws or
 *   answers `isError: true`), the units of its `refund: "on_error"` limits are given back;
 * - deny, rate-limited: a result with `isError: true`, the reason as text and the decision
 *   under `_meta["toolgate/decision"]` (with `cause`, and `retryAfterMs` when rate limited);
 * - needs approval: a person is asked (see {@link GuardServerOptions.approval}), unless a limit
 *   would refuse the call anyway; an approved call is decided again as approved and counted.
 *   Refused, it keeps `outcome: "needs_approval"` in `_meta`, with `cause: "not_approved"`.
 *
 * The tool's annotations come from the server's own tool list, never from the request. Returns
 * `server`. A server can be guarded once.
 *
 * @example
 * ```ts
 * const server = new McpServer({ name: "mlflow", version: "1.0.0" });
 * guardServer(server, compilePolicy(policyText));
 * server.registerTool("get_run", { inputSchema: { run_id: z.string() } }, getRun);
 * await server.connect(new StdioServerTransport());
 * ```
 */
export function guardServer<S extends GuardableServer>(server: S, policy: Policy, options: GuardServerOptions = {}): S {
  return guardServerWith(server, policy, options, {});
}

/** What the proxy adds to a guard: refusals of its own, decided before the policy is asked. */
export interface GuardHooks {
  /** A refusal for a call of `tool` that must not reach the policy (a changed tool definition). */
  refuseTool?: (tool: string) => DenyDecision | undefined;
}

/** {@link guardServer} with the proxy's hooks (not exported from `toolgate/mcp`). */
export function guardServerWith<S extends GuardableServer>(
  server: S,
  policy: Policy,
  options: GuardServerOptions,
  hooks: GuardHooks,
): S {
  const low = lowLevel(server);
  if (
    typeof policy !== "object" ||
    policy === null ||
    typeof policy.decide !== "function" ||
    typeof policy.mayAllow !== "function"
  ) {
    throw new TypeError("guardServer: policy must be a compiled policy (from compilePolicy)");
  }
  const opts = checkOptions(options);
  if (guarded.has(low)) throw new Error("guardServer: this server is already guarded");

  const defaults = processDefaults();
  const elicitation: ElicitationContext = {
    server: low,
    sealer: new ApprovalSealer(opts.approvalKey ?? defaults.key),
    nonces: opts.approvalNonces ?? defaults.nonces,
    timeoutMs: opts.approvalTimeoutMs,
    clock: Date.now,
  };
  const connections = new Connections();

  type SessionResult = { session: Session } | { failed: true };
  const sessionOf = async (view: RequestView, extra: RequestExtra, connection: Connection): Promise<SessionResult> => {
    if (opts.session === undefined) return { session: { id: defaultSessionId(view, connection) } };
    try {
      return { session: await opts.session(extra) };
    } catch {
      return { failed: true };
    }
  };

  const annotationsOf = async (tool: string, connection: Connection, extra: RequestExtra): Promise<ToolAnnotations> => {
    if (!connection.complete) {
      connection.annotations = await readAnnotations(access.installed("tools/list"), extra);
      connection.complete = true;
    }
    return connection.annotations?.get(tool);
  };

  const callTool =
    (inner: RawHandler): RawHandler =>
    async (request, extra) => {
      const params = (isPlainObject(request.params) ? request.params : {}) as Record<string, unknown>;
      const tool = params.name;
      const view = viewRequest(extra);
      const oursState = typeof view.requestState === "string" && view.requestState.startsWith(STATE_PREFIX);
      const connection = connections.of(low.transport);
      const found = await sessionOf(view, extra, connection);
      if ("failed" in found) {
        return refusalResult({
          outcome: "deny",
          rule: "",
          cause: "host_failure",
          reason:
            "The session of this call could not be determined (the host's session function failed), " +
            "so the call was refused.",
        });
      }
      let annotations: ToolAnnotations;
      try {
        annotations = typeof tool === "string" ? await annotationsOf(tool, connection, extra) : undefined;
      } catch {
        return refusalResult({
          outcome: "deny",
          rule: "",
          cause: "host_failure",
          reason: "The tool's annotations could not be read from the server's own tool list, so the call was refused.",
        });
      }
      const own = typeof tool === "string" ? hooks.refuseTool?.(tool) : undefined;
      if (own !== undefined) return refusalResult(own);
      let args: unknown = params.arguments;
      if (isPlainObject(args)) {
        // The tool gets the arguments the policy decided on: a copy, read once.
        try {
          args = JSON.parse(JSON.stringify(args)) as unknown;
        } catch {
          return refusalResult({
            outcome: "deny",
            rule: "",
            cause: "malformed_call",
            reason: "Malformed call: the arguments could not be read as JSON data.",
          });
        }
      }
      const call = { tool, session: found.session } as ToolCall;
      if (args !== undefined) call.args = args as Record<string, unknown>;
      if (annotations !== undefined) call.annotations = annotations;

      const run = async (decision: AllowDecision): Promise<unknown> => {
        const forward = { ...params };
        if (forward.arguments !== undefined) forward.arguments = call.args;
        let result: unknown;
        try {
          // The host's handler never sees toolgate's own round trip (its state and its answer).
          const handed = oursState ? withoutApprovalRound(extra, APPROVAL_INPUT_KEY) : extra;
          result = await inner({ ...request, params: forward }, handed);
        } catch (e) {
          await refund(policy, decision);
          throw e;
        }
        if (isPlainObject(result) && result.isError === true) await refund(policy, decision);
        return result;
      };

      const decision: Decision = await policy.decide(call);
      if (decision.outcome === "allow") return run(decision);
      if (decision.outcome !== "needs_approval") return refusalResult(decision);

      // A look first: a call that a limit or a rule would refuse even once approved is refused
      // now, without asking anyone.
      const approvedCall: ToolCall = { ...call, approved: true };
      const look = await policy.peek(approvedCall);
      if (look.outcome !== "allow") return refusalResult(look);

      const question: ApprovalQuestion = {
        tool: call.tool,
        args: call.args ?? {},
        sessionId: found.session.id,
        rule: decision.rule,
        reason: decision.reason,
        first: argumentsRead(policy.document, policy.ruleFor(call.tool)),
      };
      let outcome: ApprovalOutcome;
      if (opts.approval !== undefined) {
        outcome = await askHost(opts.approval, question, call, decision, extra);
      } else if (view.modern) {
        // A state that is not toolgate's belongs to the host's own tool: this call is then a first ask.
        outcome = await elicitByRoundTrip(
          question,
          oursState ? view : { ...view, requestState: undefined },
          elicitation,
        );
      } else {
        outcome = await elicitNow(question, view, elicitation);
      }
      if (!outcome.approved) {
        if ("inputRequired" in outcome) return outcome.inputRequired;
        return notApprovedResult(decision.rule, outcome.reason, outcome.cause);
      }
      const final = await policy.decide(approvedCall);
      if (final.outcome !== "allow") return refusalResult(final);
      return run(final);
    };

  const listTools =
    (inner: RawHandler): RawHandler =>
    async (request, extra) => {
      const result = (await inner(request, extra)) as { tools?: unknown };
      if (!Array.isArray(result?.tools)) return result;
      const view = viewRequest(extra);
      const connection = connections.of(low.transport);
      const page = annotationMap(result.tools);
      // A first page replaces what was known; later pages add to it. A listing the client read to
      // its end is the whole list.
      const cursor = (request.params as { cursor?: unknown } | undefined)?.cursor;
      if (cursor === undefined || connection.annotations === undefined) {
        connection.annotations = page;
        // One page with no next cursor is the whole list; a paged listing is completed by the
        // guard's own read when a call needs it.
        connection.complete =
          cursor === undefined && typeof (result as { nextCursor?: unknown }).nextCursor !== "string";
      } else {
        for (const [name, annotations] of page) connection.annotations.set(name, annotations);
      }
      if (!opts.hideDenied) return result;
      const found = await sessionOf(view, extra, connection);
      // With no session, every call is denied: so no tool is listed, as calls and listing agree.
      if ("failed" in found) return { ...result, tools: [] };
      const tools = result.tools.filter((t: { name?: unknown }) => {
        if (typeof t?.name !== "string") return false;
        const annotations = page.get(t.name);
        try {
          return policy.mayAllow(
            t.name,
            annotations === undefined ? { session: found.session } : { session: found.session, annotations },
          );
        } catch {
          return false;
        }
      });
      return { ...result, tools };
    };

  const access = interceptHandlers(low, {
    "tools/call": (inner) => (inner === undefined ? undefined : callTool(inner)),
    "tools/list": (inner) => (inner === undefined ? undefined : listTools(inner)),
  });
  // When the server announces that its tools changed, their annotations are read again.
  const announce = low.sendToolListChanged.bind(low);
  low.sendToolListChanged = function sendToolListChanged(this: LowLevelServer) {
    connections.toolsChanged();
    return announce();
  };
  guarded.add(low);
  return server;
}

/** Asks the host's approval function; its failure refuses the call, and its text never leaks. */
async function askHost(
  approval: NonNullable<GuardServerOptions["approval"]>,
  q: ApprovalQuestion,
  call: ToolCall,
  decision: NeedsApprovalDecision,
  extra: RequestExtra,
): Promise<ApprovalOutcome> {
  const copy = JSON.parse(JSON.stringify(q.args)) as Record<string, unknown>;
  const request: ServerApprovalRequest = {
    call: { tool: q.tool, args: copy, session: call.session },
    decision: { ...decision },
  };
  if (call.annotations !== undefined) request.call.annotations = { ...call.annotations };
  let answer: unknown;
  try {
    answer = await approval(request, extra);
  } catch {
    return {
      approved: false,
      cause: "host_failure",
      reason: `The call to ${quoteName(q.tool)} was not approved: the host's approval check failed.`,
    };
  }
  if (answer === true) return { approved: true };
  if (typeof answer === "object" && answer !== null) {
    const { approved, reason } = answer as { approved?: unknown; reason?: unknown };
    if (approved === true) return { approved: true };
    // The host's own words for its own refusal: the host wrote them for its users.
    if (typeof reason === "string" && reason.length > 0) return { approved: false, cause: "not_approved", reason };
  }
  return { approved: false, cause: "not_approved", reason: `The call to ${quoteName(q.tool)} was not approved.` };
}

/** Gives back an allowed call's refundable units after the tool failed; a store failure changes nothing. */
async function refund(policy: Policy, decision: AllowDecision): Promise<void> {
  if (decision.refund === undefined) return;
  try {
    await policy.refund(decision);
  } catch {
    // The tool's own failure is what the client must see; the store's is the store's.
  }
}

/** Reads every page of the server's own tool list (unguarded) into name → annotations. */
async function readAnnotations(
  list: RawHandler | undefined,
  extra: RequestExtra,
): Promise<Map<string, ToolAnnotations>> {
  const all = new Map<string, ToolAnnotations>();
  if (list === undefined) return all;
  let cursor: unknown;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const params = cursor === undefined ? {} : { cursor };
    const result = (await list(
      { jsonrpc: "2.0", id: `toolgate-annotations-${page}`, method: "tools/list", params },
      extra,
    )) as {
      tools?: unknown;
      nextCursor?: unknown;
    };
    if (!Array.isArray(result?.tools)) break;
    for (const [name, annotations] of annotationMap(result.tools)) all.set(name, annotations);
    cursor = result.nextCursor;
    if (typeof cursor !== "string") break;
  }
  return all;
}

function annotationMap(tools: unknown[]): Map<string, ToolAnnotations> {
  const map = new Map<string, ToolAnnotations>();
  for (const tool of tools) {
    const { name, annotations } = (tool ?? {}) as { name?: unknown; annotations?: unknown };
    if (typeof name !== "string") continue;
    map.set(name, isPlainObject(annotations) ? { ...annotations } : undefined);
  }
  return map;
}

const NOT_A_SERVER =
  "guardServer: server must be an McpServer or a Server of @modelcontextprotocol/sdk (1.x) " +
  "or @modelcontextprotocol/server (2.x)";

function lowLevel(server: GuardableServer): LowLevelServer {
  const candidate = server as unknown as { server?: unknown; setRequestHandler?: unknown };
  if (typeof candidate !== "object" || candidate === null) throw new TypeError(NOT_A_SERVER);
  const inner = candidate.server as { setRequestHandler?: unknown } | undefined;
  if (typeof inner === "object" && inner !== null && typeof inner.setRequestHandler === "function")
    return inner as unknown as LowLevelServer;
  if (typeof candidate.setRequestHandler === "function") return server as unknown as LowLevelServer;
  throw new TypeError(NOT_A_SERVER);
}

interface CheckedOptions {
  session: GuardServerOptions["session"];
  approval: GuardServerOptions["approval"];
  hideDenied: boolean;
  approvalTimeoutMs: number;
  approvalKey: Uint8Array | string | undefined;
  approvalNonces: ApprovalNonceStore | undefined;
}

function checkOptions(options: GuardServerOptions): CheckedOptions {
  if (typeof options !== "object" || options === null) throw new TypeError("guardServer: options must be an object");
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new TypeError(`guardServer: unknown option "${key}"`);
  }
  const { session, approval, hideDenied = true, approvalTimeoutMs = 600_000, approvalKey, approvalNonces } = options;
  if (session !== undefined && typeof session !== "function")
    throw new TypeError("guardServer: options.session must be a function");
  if (approval !== undefined && typeof approval !== "function")
    throw new TypeError("guardServer: options.approval must be a function");
  if (typeof hideDenied !== "boolean") throw new TypeError("guardServer: options.hideDenied must be a boolean");
  if (!Number.isSafeInteger(approvalTimeoutMs) || approvalTimeoutMs <= 0 || approvalTimeoutMs > 2_147_000_000) {
    throw new TypeError("guardServer: options.approvalTimeoutMs must be a positive whole number of milliseconds");
  }
  if (approvalKey !== undefined && typeof approvalKey !== "string" && !(approvalKey instanceof Uint8Array)) {
    throw new TypeError("guardServer: options.approvalKey must be a string or a Uint8Array of at least 32 bytes");
  }
  if (approvalKey !== undefined) new ApprovalSealer(approvalKey);
  if (
    approvalNonces !== undefined &&
    (typeof approvalNonces !== "object" || approvalNonces === null || typeof approvalNonces.claim !== "function")
  ) {
    throw new TypeError("guardServer: options.approvalNonces must have a claim(nonce, expiresAt) method");
  }
  return { session, approval, hideDenied, approvalTimeoutMs, approvalKey, approvalNonces };
}
