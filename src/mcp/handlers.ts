/**
 * Putting a guard in front of a low-level `Server`'s request handlers so that it cannot be
 * replaced.
 *
 * The SDK keeps handlers in a map and looks one up for every request. `McpServer` installs its
 * own `tools/call` and `tools/list` handlers lazily, on the first `registerTool` (and refuses to
 * overwrite an existing one), and a host may call `setRequestHandler` at any time. Wrapping a
 * handler when it is installed would therefore miss some, and installing one of ours first would
 * break `registerTool`. Instead the map's lookup is wrapped: whatever handler is installed, by
 * whom and when, the request reaches it only through the guard. The map itself is pinned to the
 * server so it cannot be swapped for an unguarded one.
 */

import type { LowLevelServer, RawHandler } from "./sdk.js";

/** Wraps the handler found for a method (or `undefined` when the server has none). */
export type HandlerWrapper = (inner: RawHandler | undefined) => RawHandler | undefined;

interface ProtocolInternals {
  _requestHandlers?: unknown;
  fallbackRequestHandler?: RawHandler;
}

/** The handlers of `server` as installed, without the guard: for the guard's own use. */
export interface HandlerAccess {
  /** The handler installed for `method`, or the server's fallback handler, unguarded. */
  installed(method: string): RawHandler | undefined;
}

/**
 * Routes every lookup of the methods in `wrappers` through its wrapper. Throws a `TypeError`
 * when the server does not keep its handlers the way this SDK version does.
 */
export function interceptHandlers(
  server: LowLevelServer,
  wrappers: Readonly<Record<string, HandlerWrapper>>,
): HandlerAccess {
  const internals = server as unknown as ProtocolInternals;
  const map = internals._requestHandlers;
  if (!(map instanceof Map) || typeof map.get !== "function") {
    throw new TypeError(
      "guardServer: this MCP SDK keeps its request handlers in an unknown way; " +
        "toolgate/mcp supports @modelcontextprotocol/sdk ^1.20 and @modelcontextprotocol/server ^2.4",
    );
  }
  const handlers = map as Map<string, RawHandler>;
  const lookup = Map.prototype.get.bind(handlers) as (method: string) => RawHandler | undefined;
  const installed = (method: string): RawHandler | undefined => lookup(method) ?? internals.fallbackRequestHandler;
  Object.defineProperty(handlers, "get", {
    value: (method: string): RawHandler | undefined => {
      const wrap = Object.hasOwn(wrappers, method) ? wrappers[method] : undefined;
      if (wrap === undefined) return lookup(method);
      return wrap(installed(method));
    },
    writable: false,
    configurable: false,
    enumerable: false,
  });
  Object.defineProperty(server, "_requestHandlers", { value: handlers, writable: false, configurable: false });
  return { installed };
}
