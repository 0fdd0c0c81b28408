/**
 * `guardServer`: a compiled policy in front of every `tools/call` of an MCP SDK server, and
 * its tool list trimmed to what the session may call.
 */

import { guard, ToolCallRefused, type ApprovalAnswer, type ApprovalRequest, type Policy, type Session } from "toolgate";
import { elicitApproval } from "./approval.js";
import { Connections } from "./connection.js";
import { interceptHandlers, type HandlerAccess } from "./handlers.js";
import { refusalResult } from "./result.js";
import type { JSONRPCRequest, McpServer, RawHandler, RequestExtra, Server } from "./sdk.js";

/** Options of {@link guardServer}. Unknown options are rejected. */
export interface GuardServerOptions {
  /**
   * The session of a request: its `id` keys per-session budgets, its other attributes are what
   * `when.session` conditions and `per` limits read. To key sessions by the authenticated user,
   * read `extra.authInfo` (set by the SDK's bearer-auth middleware), for example
   * `(extra) => ({ id: extra.authInfo?.clientId ?? "anonymous", scopes: extra.authInfo?.scopes })`.
   * A stateless HTTP deployment (a new transport per request, no session id) must pass this
   * option: by default every request there is a new session with a fresh budget.
   * A function that throws, or returns no valid session, gets the call denied.
   * @default `{ id: extra.sessionId }` when the transport has a session id (Streamable HTTP, SSE);
   *   else one id generated per connection (stdio, in-memory)
   */
  session?: (extra: RequestExtra) => Session | Promise<Session>;
  /**
   * The host's own way to approve a call that needs approval, used instead of elicitation.
   * Asked only once a look (counting nothing) has shown the call would be allowed once
   * approved. Return `true` to approve, `false` or `{ approved: false, reason }` to refuse.
   * @default ask the client's user through elicitation when the client supports it; refuse otherwise
   */
  approval?: (request: ApprovalRequest, extra: RequestExtra) => ApprovalAnswer | Promise<ApprovalAnswer>;
  /**
   * Leave out of `tools/list` the tools the session can never call (denied whatever the
   * arguments). Calls are enforced either way; this only keeps them from the model's view.
   * @default true
   */
  hideDenied?: boolean;
  /**
   * How long to wait for the user to answer an elicitation before refusing the call,
   * in milliseconds (a positive whole number).
   * @default 600000 (ten minutes)
   */
  approvalTimeoutMs?: number;
}

const OPTION_KEYS = new Set(["session", "approval", "hideDenied", "approvalTimeoutMs"]);
const MAX_LIST_PAGES = 100;
const guarded = new WeakSet<object>();

/**
 * Enforces `policy` on `server`, an `McpServer` or a low-level `Server` of
 * `@modelcontextprotocol/sdk`. Call it before `connect`, before or after the tools are
 * registered; handlers installed later (by `registerTool` or `setRequestHandler`) are guarded
 * too. Every `tools/call` is decided before the tool runs:
 *
 * - allow: the tool runs and its result is returned unchanged;
 * - deny, rate-limited: a result with `isError: true`, the reason as text and the decision
 *   under `_meta["toolgate/decision"]` (with `retryAfterMs` for a rate-limited call);
 * - needs approval: the user is asked (see {@link GuardServerOptions.approval}), unless a limit
 *   would refuse the call anyway; an approved call is decided again as approved and counted.
 *
 * The tool's annotations, from the server's own tool list, are passed to the decision.
 * Returns `server`. A server can be guarded once.
 *
 * @example
 * ```ts
 * const server = new McpServer({ name: "mlflow", version: "1.0.0" });
 * guardServer(server, compilePolicy(policyText));
 * server.registerTool("get_run", { inputSchema: { run_id: z.string() } }, getRun);
 * await server.connect(new StdioServerTransport());
 * ```
 */
export function guardServer<S extends McpServer | Server>(server: S, policy: Policy, options: GuardServerOptions = {}): S {
  const low = lowLevel(server);
  if (typeof policy !== "object" || policy === null || typeof policy.decide !== "function" || typeof policy.mayAllow !== "function") {
    throw new TypeError("guardServer: policy must be a compiled policy (from compilePolicy)");
  }
  const opts = checkOptions(options);
  if (guarded.has(low)) throw new Error("guardServer: this server is already guarded");

  const connections = new Connections();
  const sessionOf = async (extra: RequestExtra): Promise<Session> =>
    opts.session !== undefined ? await opts.session(extra) : { id: extra.sessionId ?? connections.current(low).id };
  const approve = opts.approval ?? elicitApproval(low, opts.approvalTimeoutMs);

  const run = guard(
    policy,
    async ({ args }, inner: RawHandler, request: JSONRPCRequest, extra: RequestExtra) => {
      // The tool gets the arguments the policy decided on, not the request's own object.
      const params = { ...request.params } as Record<string, unknown>;
      if (params.arguments !== undefined) params.arguments = args;
      return await inner({ ...request, params } as JSONRPCRequest, extra);
    },
    { approval: (request, _inner, _request, extra) => approve(request, extra) },
  );

  let access: HandlerAccess | undefined;
  const annotationsOf = async (tool: string, extra: RequestExtra): Promise<Record<string, unknown> | undefined> => {
    const connection = connections.current(low);
    if (connection.annotations === undefined || !connection.annotations.has(tool)) {
      connection.annotations = await readAnnotations(access?.installed("tools/list"), extra);
    }
    return connection.annotations.get(tool);
  };

  const callTool = (inner: RawHandler): RawHandler => async (request, extra) => {
    const params = (request.params ?? {}) as Record<string, unknown>;
    const tool = params.name;
    let session: Session;
    let annotations: Record<string, unknown> | undefined;
    try {
      session = await sessionOf(extra);
    } catch (e) {
      return refusalResult({ outcome: "deny", rule: "", reason: `The session of this call could not be determined: ${message(e)}.` });
    }
    try {
      annotations = typeof tool === "string" ? await annotationsOf(tool, extra) : undefined;
    } catch (e) {
      return refusalResult({ outcome: "deny", rule: "", reason: `The tool's annotations could not be read from the server's tool list: ${message(e)}.` });
    }
    const call: { tool: string; args?: Record<string, unknown>; session: Session; annotations?: Record<string, unknown> } = {
      tool: tool as string,
      session,
    };
    if (params.arguments !== undefined) call.args = params.arguments as Record<string, unknown>;
    if (annotations !== undefined) call.annotations = annotations;
    try {
      return await run(call, inner, request, extra);
    } catch (e) {
      if (e instanceof ToolCallRefused) return refusalResult(e.decision);
      throw e;
    }
  };

  const listTools = (inner: RawHandler): RawHandler => async (request, extra) => {
    const result = (await inner(request, extra)) as { tools?: unknown };
    if (!Array.isArray(result?.tools)) return result;
    const connection = connections.current(low);
    const page = annotationMap(result.tools);
    // A first page replaces what was known; later pages add to it.
    const cursor = (request.params as { cursor?: unknown } | undefined)?.cursor;
    connection.annotations = cursor === undefined || connection.annotations === undefined ? page : new Map([...connection.annotations, ...page]);
    if (!opts.hideDenied) return result;
    const session = await sessionOf(extra);
    const tools = result.tools.filter((t: { name?: unknown }) => {
      if (typeof t?.name !== "string") return false;
      const annotations = page.get(t.name);
      return policy.mayAllow(t.name, annotations === undefined ? { session } : { session, annotations });
    });
    return { ...result, tools };
  };

  access = interceptHandlers(low, {
    "tools/call": (inner) => (inner === undefined ? undefined : callTool(inner)),
    "tools/list": (inner) => (inner === undefined ? undefined : listTools(inner)),
  });
  // When the server announces that its tools changed, their annotations are read again.
  const announce = low.sendToolListChanged;
  low.sendToolListChanged = function sendToolListChanged(this: Server) {
    connections.toolsChanged(low);
    return announce.call(low);
  };
  guarded.add(low);
  return server;
}

/** Reads every page of the server's own tool list (unguarded) into name → annotations. */
async function readAnnotations(list: RawHandler | undefined, extra: RequestExtra): Promise<Map<string, Record<string, unknown> | undefined>> {
  const all = new Map<string, Record<string, unknown> | undefined>();
  if (list === undefined) return all;
  let cursor: unknown;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const params = cursor === undefined ? {} : { cursor };
    const result = (await list({ jsonrpc: "2.0", id: `toolgate-annotations-${page}`, method: "tools/list", params } as JSONRPCRequest, extra)) as {
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

function annotationMap(tools: unknown[]): Map<string, Record<string, unknown> | undefined> {
  const map = new Map<string, Record<string, unknown> | undefined>();
  for (const tool of tools) {
    const { name, annotations } = (tool ?? {}) as { name?: unknown; annotations?: unknown };
    if (typeof name !== "string") continue;
    const plain = typeof annotations === "object" && annotations !== null && !Array.isArray(annotations);
    map.set(name, plain ? { ...(annotations as Record<string, unknown>) } : undefined);
  }
  return map;
}

function lowLevel(server: McpServer | Server): Server {
  const candidate = server as unknown as { server?: unknown; setRequestHandler?: unknown };
  if (typeof candidate !== "object" || candidate === null) {
    throw new TypeError("guardServer: server must be an McpServer or a Server of @modelcontextprotocol/sdk");
  }
  const inner = candidate.server as { setRequestHandler?: unknown } | undefined;
  if (typeof inner === "object" && inner !== null && typeof inner.setRequestHandler === "function") return inner as unknown as Server;
  if (typeof candidate.setRequestHandler === "function") return server as Server;
  throw new TypeError("guardServer: server must be an McpServer or a Server of @modelcontextprotocol/sdk");
}

interface CheckedOptions {
  session: GuardServerOptions["session"];
  approval: GuardServerOptions["approval"];
  hideDenied: boolean;
  approvalTimeoutMs: number;
}

function checkOptions(options: GuardServerOptions): CheckedOptions {
  if (typeof options !== "object" || options === null) throw new TypeError("guardServer: options must be an object");
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new TypeError(`guardServer: unknown option "${key}"`);
  }
  const { session, approval, hideDenied = true, approvalTimeoutMs = 600_000 } = options;
  if (session !== undefined && typeof session !== "function") throw new TypeError("guardServer: options.session must be a function");
  if (approval !== undefined && typeof approval !== "function") throw new TypeError("guardServer: options.approval must be a function");
  if (typeof hideDenied !== "boolean") throw new TypeError("guardServer: options.hideDenied must be a boolean");
  if (!Number.isSafeInteger(approvalTimeoutMs) || approvalTimeoutMs <= 0) {
    throw new TypeError("guardServer: options.approvalTimeoutMs must be a positive whole number of milliseconds");
  }
  return { session, approval, hideDenied, approvalTimeoutMs };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
