/**
 * The gateway's downstream servers: an `@modelcontextprotocol/server` 2.x `Server` per HTTP
 * client session (2025 era) or per request (2026-07-28, built by `createMcpHandler`), each
 * relaying to the proxy's one upstream SDK 1.x `Client`, with the policy enforced by
 * {@link guardServerWith} (docs/spec.md, sections 8 and 9).
 *
 * The 2.x line is used downstream because it serves both protocol eras; the upstream stays on
 * the 1.x client, which every upstream speaks. Notifications from the upstream are fanned out
 * by the gateway (one upstream, many clients), not here: a per-request server has no channel of
 * its own to send them on. What the clients would share through the one upstream connection
 * (tasks, the logging level, resource subscriptions) is not offered. The upstream is told the
 * client can do nothing (no sampling,
 * elicitation or roots): with many clients behind one upstream connection, a request the upstream
 * makes could not be attributed to the client whose call caused it.
 */

import type { Policy } from "toolgate";
import { isPlainObject } from "../shared/objects.js";
import { errorMessage } from "../shared/text.js";
import { guardServerWith, type GuardServerOptions } from "./guard-server.js";
import type { ToolPins } from "./pins.js";
import type { Sdk } from "./relay.js";
import { changedToolRefusal } from "./pins.js";

type ServerModule = typeof import("@modelcontextprotocol/server");

/** The parts of `@modelcontextprotocol/server` 2.x the gateway uses, as loaded by {@link loadServerSdk}. */
export interface ServerSdk {
  Server: ServerModule["Server"];
  createMcpHandler: ServerModule["createMcpHandler"];
  isLegacyRequest: ServerModule["isLegacyRequest"];
  WebStandardStreamableHTTPServerTransport: ServerModule["WebStandardStreamableHTTPServerTransport"];
  isInitializeRequest: ServerModule["isInitializeRequest"];
}

/** A 2.x low-level server. */
export type ServerV2 = InstanceType<ServerSdk["Server"]>;
type Client = InstanceType<Sdk["Client"]>;

/** Loads the 2.x server package; rejects with a message saying how to install it when it is missing. */
export async function loadServerSdk(): Promise<ServerSdk> {
  try {
    const m = await import("@modelcontextprotocol/server");
    return {
      Server: m.Server,
      createMcpHandler: m.createMcpHandler,
      isLegacyRequest: m.isLegacyRequest,
      WebStandardStreamableHTTPServerTransport: m.WebStandardStreamableHTTPServerTransport,
      isInitializeRequest: m.isInitializeRequest,
    };
  } catch (e) {
    throw new Error(
      `toolgate proxy --listen needs @modelcontextprotocol/server 2.x (${errorMessage(e)}); ` +
        "install it with: npm install @modelcontextprotocol/server @modelcontextprotocol/node",
      { cause: e },
    );
  }
}

/**
 * Relayed requests wait as long as the downstream client does: it cancels (which aborts the
 * upstream request) when it stops waiting. This bound only keeps the timer within what Node accepts.
 */
const RELAY_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/** Options of {@link httpRelayServer}. */
export interface HttpRelayOptions {
  /** The upstream's pinned tool definitions; without it, definitions are not pinned. */
  pins?: ToolPins;
  /** Forwards upstream progress for a relayed request: the token to send upstream, and a release. */
  progress: ProgressRoutes;
  /** Sees every tool list the upstream returned (before pins and policy trim it). */
  onToolList?: (tools: unknown[]) => void;
  /**
   * The upstream's last whole tool list, shared by the relays of one upstream: the guard's own
   * read of the annotations (once per downstream server, so once per 2026-07-28 request) is
   * answered from it instead of a round trip. A client's own `tools/list` always goes upstream
   * and refreshes it; the upstream's `notifications/tools/list_changed` empties it.
   */
  toolList?: { value: unknown };
}

/** Upstream progress tokens → forwarders, shared by every relay on one upstream client. */
export class ProgressRoutes {
  private readonly routes = new Map<string, (progress: Record<string, unknown>) => void>();
  private next = 0;

  /**
   * Takes over the upstream client's transport so progress for relayed requests is passed on
   * the moment it is read (the SDK's own `onprogress` runs a microtask later and can lose one
   * read together with its response).
   */
  constructor(client: Client) {
    this.attach(client);
  }

  /** Routes the progress read on `client`'s transport (again after it reconnected on a new one). */
  attach(client: Client): void {
    const transport = client.transport;
    if (transport === undefined) throw new Error("the upstream client is not connected");
    const deliver = transport.onmessage;
    transport.onmessage = (message, extra) => {
      const { method, params } = message as { method?: unknown; params?: { progressToken?: unknown } };
      if (method === "notifications/progress" && typeof params?.progressToken === "string") {
        const forward = this.routes.get(params.progressToken);
        if (forward !== undefined) {
          const { progressToken: _token, ...progress } = params;
          forward(progress);
          return;
        }
      }
      deliver?.call(transport, message, extra);
    };
  }

  /** A fresh upstream token routed to `forward` until `release` is called. */
  open(forward: (progress: Record<string, unknown>) => void): { token: string; release: () => void } {
    const token = `toolgate-gateway-${this.next++}`;
    this.routes.set(token, forward);
    return { token, release: () => this.routes.delete(token) };
  }
}

/** What a 2.x handler context gives the relay. */
interface RelayContext {
  mcpReq: {
    method: string;
    signal: AbortSignal;
    notify: (notification: { method: string; params?: unknown }) => Promise<void>;
  };
}

/**
 * The capabilities the downstream is offered: the upstream's, less what one upstream connection
 * shared by many clients cannot keep apart per client — `tasks` (one client could list, read or
 * cancel another's), `logging` (one client's level would be every client's) and resource
 * `subscribe` (one client's subscriptions would be every client's updates) — and `experimental`.
 */
export function offeredCapabilities(client: Client): Record<string, unknown> {
  const upstream = (client.getServerCapabilities() ?? {}) as Record<string, unknown>;
  const { experimental: _e, tasks: _t, logging: _l, ...capabilities } = upstream;
  if (isPlainObject(capabilities.resources)) {
    const { subscribe: _s, ...resources } = capabilities.resources;
    capabilities.resources = resources;
  }
  return capabilities;
}

/**
 * Builds one 2.x downstream server for the connected upstream `client`: the upstream's name,
 * version, instructions and capabilities; each request the upstream supports relayed as it came
 * (with the downstream's cancellation and progress); `policy` enforced on tools; tools whose
 * definitions changed since they were pinned hidden and refused (`cause: "tool_changed"`).
 */
export function httpRelayServer(
  sdk1: Sdk,
  sdk2: ServerSdk,
  client: Client,
  policy: Policy,
  options: GuardServerOptions,
  relayOptions: HttpRelayOptions,
): ServerV2 {
  const T = sdk1.types;
  const upstream = (client.getServerCapabilities() ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const capabilities = offeredCapabilities(client);
  const info = client.getServerVersion() ?? { name: "upstream", version: "0.0.0" };
  const instructions = client.getInstructions();
  const server = new sdk2.Server(
    { name: info.name, version: info.version },
    instructions === undefined ? { capabilities } : { capabilities, instructions },
  );
  const { pins, progress } = relayOptions;
  type ResultSchema = Parameters<Client["request"]>[1];

  const relay = (
    method: string,
    resultSchema: ResultSchema | ((params: Record<string, unknown> | undefined) => ResultSchema),
    review?: (result: never) => unknown,
    cached?: { value: unknown },
  ) => {
    const handler = async (request: { method: string; params?: Record<string, unknown> }, ctx: RelayContext) => {
      // The guard reads the tool list inside a tools/call, with that call's context.
      if (cached?.value !== undefined && ctx.mcpReq.method === "tools/call" && request.params?.cursor === undefined)
        return cached.value as never;
      const params = request.params as { _meta?: { progressToken?: string | number } } | undefined;
      const schema = typeof resultSchema === "function" ? resultSchema(params) : resultSchema;
      const done = (result: unknown): never => (review === undefined ? result : review(result as never)) as never;
      const options = { signal: ctx.mcpReq.signal, timeout: RELAY_TIMEOUT_MS };
      // The 2.x server lifts the 2026-07-28 envelope out of `_meta` before handlers see it; what
      // remains is the client's own, relayed as it came.
      const token = params?._meta?.progressToken;
      if (token === undefined) {
        return done(await client.request({ method, params }, schema, options));
      }
      const route = progress.open((p) => {
        void ctx.mcpReq
          .notify({ method: "notifications/progress", params: { ...p, progressToken: token } })
          .catch(() => {});
      });
      try {
        const relayed = { ...params, _meta: { ...params?._meta, progressToken: route.token } };
        return done(await client.request({ method, params: relayed }, schema, options));
      } finally {
        route.release();
      }
    };
    (server.setRequestHandler as (m: string, h: typeof handler) => void)(method, handler);
  };

  if (upstream.tools) {
    const reviewList = (result: { tools?: unknown }) => {
      if (!Array.isArray(result.tools)) return result;
      relayOptions.onToolList?.(result.tools);
      return pins === undefined ? result : { ...result, tools: pins.review(result.tools) };
    };
    const cache = relayOptions.toolList;
    relay(
      "tools/list",
      T.ListToolsResultSchema,
      (result: { tools?: unknown; nextCursor?: unknown }) => {
        if (cache !== undefined && typeof result.nextCursor !== "string") cache.value = result;
        return reviewList(result);
      },
      cache,
    );
    relay("tools/call", (params) => (params?.task === undefined ? T.CallToolResultSchema : T.CreateTaskResultSchema));
  }
  if (upstream.resources) {
    relay("resources/list", T.ListResourcesResultSchema);
    relay("resources/templates/list", T.ListResourceTemplatesResultSchema);
    relay("resources/read", T.ReadResourceResultSchema);
  }
  if (upstream.prompts) {
    relay("prompts/list", T.ListPromptsResultSchema);
    relay("prompts/get", T.GetPromptResultSchema);
  }
  if (upstream.completions) relay("completion/complete", T.CompleteResultSchema);

  guardServerWith(server, policy, options, { refuseTool: (tool) => changedToolRefusal(pins, tool) });
  return server;
}
