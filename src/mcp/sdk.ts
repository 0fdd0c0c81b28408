/**
 * The SDK shapes this module works with. `toolgate/mcp` never loads an SDK itself: it works on
 * the server object the host built with its own copy, of either line — `@modelcontextprotocol/sdk`
 * 1.x or `@modelcontextprotocol/server` 2.x. The 1.x types are imported as types only; the 2.x
 * shapes are described structurally here, so neither package is needed to use the other.
 */

import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type {
  CallToolResult,
  JSONRPCRequest,
  ServerNotification,
  ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";

export type { CallToolResult, JSONRPCRequest, McpServer, Server };

/** What a 1.x server passes to its request handlers: the session id, `authInfo`, an abort signal, … */
export type RequestExtraV1 = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * What a 2.x server passes to its request handlers (`ServerContext` of
 * `@modelcontextprotocol/server`), as far as toolgate reads it.
 */
export interface ServerContextV2 {
  /** The transport's session id (2025-era Streamable HTTP), if any. */
  sessionId?: string;
  mcpReq: {
    id: string | number;
    method: string;
    signal: AbortSignal;
    /** The 2026-07-28 per-request envelope: protocol version, client info, client capabilities. */
    envelope?: Record<string, unknown>;
    /** A retried 2026-07-28 request's answers, keyed as the server asked. */
    inputResponses?: Record<string, unknown>;
    /** A retried 2026-07-28 request's state (the raw string unless the host verifies its own). */
    requestState: () => unknown;
    [other: string]: unknown;
  };
  /** HTTP information; present for HTTP transports. */
  http?: { authInfo?: AuthInfoLike; req?: unknown; [other: string]: unknown };
  [other: string]: unknown;
}

/** The SDK's `AuthInfo` (both lines): what a verified token said. */
export interface AuthInfoLike {
  token?: string;
  clientId?: string;
  scopes?: string[];
  extra?: Record<string, unknown>;
  [other: string]: unknown;
}

/**
 * What either SDK line passes to a server's request handlers: 1.x's `RequestHandlerExtra`
 * (`extra.authInfo`, `extra.sessionId`) or 2.x's `ServerContext` (`ctx.http?.authInfo`,
 * `ctx.sessionId`, `ctx.mcpReq`). The `session` and `approval` options receive it as it came;
 * the fields of the line that did not send it are absent.
 */
export type RequestExtra = Partial<RequestExtraV1> & Partial<ServerContextV2>;

/** A low-level server of either line, as toolgate drives it. */
export interface LowLevelServer {
  setRequestHandler(...args: never[]): unknown;
  readonly transport?: unknown;
  getClientCapabilities(): Record<string, unknown> | undefined;
  elicitInput(
    params: Record<string, unknown>,
    options?: Record<string, unknown>,
  ): Promise<{ action: string; content?: unknown }>;
  sendToolListChanged(): unknown;
}

/** A server `guardServer` takes: an `McpServer` or a low-level `Server`, of either SDK line. */
export type GuardableServer =
  McpServer | Server | { readonly server: object } | { setRequestHandler(...args: never[]): unknown };

/** A request handler as the SDKs keep it: the raw JSON-RPC request in, a result out. */
export type RawHandler = (request: JSONRPCRequest, extra: RequestExtra) => Promise<unknown>;
