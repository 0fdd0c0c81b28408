/**
 * One view of a request's context over both SDK lines: 1.x hands handlers a
 * `RequestHandlerExtra`, 2.x a `ServerContext`. Everything toolgate reads from either is read
 * here, once, defensively (the objects are the SDK's, but what they carry came from a client).
 */

import { isPlainObject } from "../shared/objects.js";
import type { AuthInfoLike, RequestExtra } from "./sdk.js";

/** The 2026-07-28 envelope keys toolgate reads. */
const PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion";
const CLIENT_CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities";
/** The first protocol revision without a server-to-client request channel. */
const MODERN_REVISION = "2026-07-28";

/** What toolgate needs to know about one request. */
export interface RequestView {
  /** The transport's session id (2025 HTTP session, SSE), when it has one. */
  sessionId: string | undefined;
  /** The verified principal's authentication, when the request carried any. */
  authInfo: AuthInfoLike | undefined;
  /** Whether the request came over HTTP (then a missing session id means "stateless"). */
  http: boolean;
  /** The request's JSON-RPC id (for related messages). */
  requestId: string | number | undefined;
  /** Aborted when the client cancels the request. */
  signal: AbortSignal | undefined;
  /** Whether the request is of the 2026-07-28 era (answers ask for input with `input_required`). */
  modern: boolean;
  /** The client's capabilities as this request declares them (2026-07-28), if it does. */
  clientCapabilities: Record<string, unknown> | undefined;
  /** A retried 2026-07-28 request's state, as sent. */
  requestState: unknown;
  /** A retried 2026-07-28 request's answers, as sent. */
  inputResponses: Record<string, unknown> | undefined;
}

/** Reads `extra` (1.x) or `ctx` (2.x). Never throws. */
export function viewRequest(extra: RequestExtra): RequestView {
  const e = (isPlainObject(extra) || typeof extra === "object" ? extra : {}) as Record<string, unknown>;
  const mcpReq = e.mcpReq as Record<string, unknown> | undefined;
  if (typeof mcpReq === "object" && mcpReq !== null) {
    const http = e.http as Record<string, unknown> | undefined;
    const envelope = isPlainObject(mcpReq.envelope) ? mcpReq.envelope : undefined;
    const version = envelope?.[PROTOCOL_VERSION_KEY];
    let requestState: unknown;
    try {
      requestState = typeof mcpReq.requestState === "function" ? (mcpReq.requestState as () => unknown)() : undefined;
    } catch {
      requestState = undefined;
    }
    return {
      sessionId: nonEmpty(e.sessionId),
      authInfo: authOf(http?.authInfo),
      http: typeof http === "object" && http !== null && http.req !== undefined,
      requestId: idOf(mcpReq.id),
      signal: mcpReq.signal instanceof AbortSignal ? mcpReq.signal : undefined,
      modern: typeof version === "string" && version >= MODERN_REVISION,
      clientCapabilities:
        envelope !== undefined && isPlainObject(envelope[CLIENT_CAPABILITIES_KEY])
          ? envelope[CLIENT_CAPABILITIES_KEY]
          : undefined,
      requestState,
      inputResponses: isPlainObject(mcpReq.inputResponses) ? mcpReq.inputResponses : undefined,
    };
  }
  return {
    sessionId: nonEmpty(e.sessionId),
    authInfo: authOf(e.authInfo),
    // 1.x HTTP transports attach the request's headers; stdio and in-memory ones do not.
    http: e.requestInfo !== undefined,
    requestId: idOf(e.requestId),
    signal: e.signal instanceof AbortSignal ? e.signal : undefined,
    modern: false,
    clientCapabilities: undefined,
    requestState: undefined,
    inputResponses: undefined,
  };
}

/**
 * The verified principal of `authInfo` (docs/spec.md, section 8): `extra.sub` when it is a
 * non-empty string, else `clientId`. toolgate never decodes the token itself.
 */
export function principalOf(authInfo: AuthInfoLike | undefined): string | undefined {
  if (authInfo === undefined) return undefined;
  const extra = authInfo.extra;
  const sub = isPlainObject(extra) ? nonEmpty(extra.sub) : undefined;
  return sub ?? nonEmpty(authInfo.clientId);
}

/**
 * A 2.x context for the guarded handler without toolgate's own round-trip material (its state
 * and answer), so the host's handler and its own `requestState` hook never see them.
 */
export function withoutApprovalRound(extra: RequestExtra, inputKey: string): RequestExtra {
  const ctx = extra as unknown as { mcpReq?: Record<string, unknown> };
  if (typeof ctx.mcpReq !== "object" || ctx.mcpReq === null) return extra;
  const mcpReq: Record<string, unknown> = { ...ctx.mcpReq, requestState: () => undefined };
  const responses = isPlainObject(ctx.mcpReq.inputResponses) ? { ...ctx.mcpReq.inputResponses } : undefined;
  if (responses !== undefined) {
    delete responses[inputKey];
    if (Object.keys(responses).length === 0) delete mcpReq.inputResponses;
    else mcpReq.inputResponses = responses;
  }
  return { ...(extra as object), mcpReq } as unknown as RequestExtra;
}

function authOf(v: unknown): AuthInfoLike | undefined {
  return typeof v === "object" && v !== null ? (v as AuthInfoLike) : undefined;
}

function nonEmpty(v: unknown): string | undefined {
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

function idOf(v: unknown): string | number | undefined {
  return typeof v === "string" || typeof v === "number" ? v : undefined;
}
