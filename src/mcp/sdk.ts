/**
 * The SDK types this module works with, imported as types only: `toolgate/mcp` never loads the
 * SDK itself, it works on the server object the host built with its own copy.
 */

import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { CallToolResult, JSONRPCRequest, ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";

export type { CallToolResult, JSONRPCRequest, McpServer, Server };

/** What the SDK passes to a server's request handlers: the session id, `authInfo`, an abort signal, … */
export type RequestExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** A request handler as the SDK keeps it: the raw JSON-RPC request in, a result out. */
export type RawHandler = (request: JSONRPCRequest, extra: RequestExtra) => Promise<unknown>;
