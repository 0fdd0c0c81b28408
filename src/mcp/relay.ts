/**
 * The relay behind `toolgate proxy`: an SDK `Server` per downstream client that offers it
 * whatever the one upstream SDK `Client` offers, request for request, with the policy enforced
 * by {@link guardServer} on `tools/call` and `tools/list`, and the upstream's tool definitions
 * pinned (see pins.ts).
 *
 * One upstream connection serves every downstream client of a proxy: the relay is built per
 * downstream client on a connected upstream, so a second downstream transport (HTTP) adds
 * relays, not upstreams.
 *
 * The SDK is passed in, loaded by the caller with `import()`, so that this module costs nothing
 * to those who never run the proxy and the package never needs the SDK to load.
 */

import type { Policy } from "toolgate";
import { guardServerWith, type GuardServerOptions } from "./guard-server.js";
import type { ToolPins } from "./pins.js";
import type { Server } from "./sdk.js";
import { changedToolRefusal } from "./pins.js";

/** The parts of `@modelcontextprotocol/sdk` the relay uses, as loaded by {@link loadSdk}. */
export interface Sdk {
  Client: typeof import("@modelcontextprotocol/sdk/client/index.js").Client;
  StdioClientTransport: typeof import("@modelcontextprotocol/sdk/client/stdio.js").StdioClientTransport;
  Server: typeof import("@modelcontextprotocol/sdk/server/index.js").Server;
  StdioServerTransport: typeof import("@modelcontextprotocol/sdk/server/stdio.js").StdioServerTransport;
  types: typeof import("@modelcontextprotocol/sdk/types.js");
}

type Client = InstanceType<Sdk["Client"]>;

/** Loads the SDK; rejects with a one-line message saying how to install it when it is missing. */
export async function loadSdk(): Promise<Sdk> {
  try {
    const [client, clientStdio, server, serverStdio, types] = await Promise.all([
      import("@modelcontextprotocol/sdk/client/index.js"),
      import("@modelcontextprotocol/sdk/client/stdio.js"),
      import("@modelcontextprotocol/sdk/server/index.js"),
      import("@modelcontextprotocol/sdk/server/stdio.js"),
      import("@modelcontextprotocol/sdk/types.js"),
    ]);
    return {
      Client: client.Client,
      StdioClientTransport: clientStdio.StdioClientTransport,
      Server: server.Server,
      StdioServerTransport: serverStdio.StdioServerTransport,
      types,
    };
  } catch (e) {
    throw new Error(
      `the MCP SDK could not be loaded (${e instanceof Error ? e.message : String(e)}); ` +
        "install it with: npm install @modelcontextprotocol/sdk",
      { cause: e },
    );
  }
}

/**
 * What the relay's upstream client tells the upstream server it can do: exactly what the
 * downstream client declared of the requests a server makes of its client (sampling,
 * elicitation, roots), which the relay passes on to it — nothing it did not declare.
 */
export function relayClientCapabilities(downstream: unknown): Record<string, unknown> {
  const declared = (typeof downstream === "object" && downstream !== null ? downstream : {}) as Record<string, unknown>;
  const capabilities: Record<string, unknown> = {};
  for (const key of ["sampling", "elicitation", "roots"]) {
    const value = declared[key];
    if (typeof value === "object" && value !== null && !Array.isArray(value))
      capabilities[key] = JSON.parse(JSON.stringify(value)) as unknown;
  }
  return capabilities;
}

/**
 * Relayed requests wait as long as the downstream client does: it cancels (which is relayed)
 * when it stops waiting. This bound only keeps the timer within what Node accepts.
 */
const RELAY_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/** Options of {@link relayServer}. */
export interface RelayOptions {
  /** The upstream's pinned tool definitions; without it, definitions are not pinned. */
  pins?: ToolPins;
  /**
   * What the upstream client declared (see {@link relayClientCapabilities}): the upstream's
   * requests of these kinds are relayed downstream.
   * @default none: the upstream's requests of its client are refused
   */
  clientCapabilities?: Record<string, unknown>;
  /** Sees every tool list the upstream returned (before pins and policy trim it). */
  onToolList?: (tools: unknown[]) => void;
}

/**
 * Builds the downstream server for a connected upstream `client`: the upstream's name, version,
 * instructions and capabilities (less experimental ones, which are not relayed), its requests
 * and notifications relayed both ways, `policy` enforced on tools, and tools whose definitions
 * changed since they were pinned hidden and refused (`cause: "tool_changed"`).
 */
export function relayServer(
  sdk: Sdk,
  client: Client,
  policy: Policy,
  options: GuardServerOptions = {},
  relayOptions: RelayOptions = {},
): Server {
  const T = sdk.types;
  const upstream = client.getServerCapabilities() ?? {};
  const { experimental: _experimental, ...capabilities } = upstream;
  const pins = relayOptions.pins;
  const info = client.getServerVersion() ?? { name: "upstream", version: "0.0.0" };
  const instructions = client.getInstructions();
  const server = new sdk.Server(
    { name: info.name, version: info.version },
    instructions === undefined ? { capabilities } : { capabilities, instructions },
  );

  // Progress from upstream is passed on the moment it is read, under the downstream's token.
  // (The SDK's own `onprogress` runs a microtask later, and loses a progress notification read
  // together with its request's response.)
  const progressRoutes = routeProgress(client);
  let nextToken = 0;

  // Each relayed request is sent upstream as it came, with the downstream's cancellation.
  type ResultSchema = Parameters<Client["request"]>[1];
  const relay = <Q extends { method: string; params?: unknown }>(
    requestSchema: Parameters<Server["setRequestHandler"]>[0],
    resultSchema: ResultSchema | ((params: Record<string, unknown> | undefined) => ResultSchema),
    review?: (result: never) => unknown,
  ) =>
    server.setRequestHandler(requestSchema, async (request: Q, extra) => {
      const params = request.params as { _meta?: { progressToken?: string | number } } | undefined;
      const schema = typeof resultSchema === "function" ? resultSchema(params) : resultSchema;
      const done = (result: unknown): never => (review === undefined ? result : review(result as never)) as never;
      const token = params?._meta?.progressToken;
      if (token === undefined) {
        return done(
          await client.request({ method: request.method, params }, schema, {
            signal: extra.signal,
            timeout: RELAY_TIMEOUT_MS,
          }),
        );
      }
      const upstreamToken = `toolgate-proxy-${nextToken++}`;
      progressRoutes.set(upstreamToken, (progress) => {
        void extra
          .sendNotification({
            method: "notifications/progress",
            params: { ...progress, progressToken: token },
          })
          .catch(() => {});
      });
      try {
        const relayed = { ...params, _meta: { ...params?._meta, progressToken: upstreamToken } };
        return done(
          await client.request({ method: request.method, params: relayed }, schema, {
            signal: extra.signal,
            timeout: RELAY_TIMEOUT_MS,
          }),
        );
      } finally {
        progressRoutes.delete(upstreamToken);
      }
    });

  if (upstream.tools) {
    // Tools whose definitions changed since they were pinned are left out of the list.
    const reviewList = (result: { tools?: unknown }) => {
      if (!Array.isArray(result.tools)) return result;
      relayOptions.onToolList?.(result.tools);
      return pins === undefined ? result : { ...result, tools: pins.review(result.tools) };
    };
    relay(T.ListToolsRequestSchema, T.ListToolsResultSchema, reviewList);
    // A call the client asked to run as a task is answered with the task it created.
    relay(T.CallToolRequestSchema, (params) =>
      params?.task === undefined ? T.CallToolResultSchema : T.CreateTaskResultSchema,
    );
    client.setNotificationHandler(T.ToolListChangedNotificationSchema, () => server.sendToolListChanged());
  }
  if (upstream.tasks) {
    relay(T.GetTaskRequestSchema, T.GetTaskResultSchema);
    relay(T.GetTaskPayloadRequestSchema, T.GetTaskPayloadResultSchema);
    relay(T.ListTasksRequestSchema, T.ListTasksResultSchema);
    relay(T.CancelTaskRequestSchema, T.CancelTaskResultSchema);
    client.setNotificationHandler(T.TaskStatusNotificationSchema, (n) => server.notification(n));
  }
  if (upstream.resources) {
    relay(T.ListResourcesRequestSchema, T.ListResourcesResultSchema);
    relay(T.ListResourceTemplatesRequestSchema, T.ListResourceTemplatesResultSchema);
    relay(T.ReadResourceRequestSchema, T.ReadResourceResultSchema);
    if (upstream.resources.subscribe) {
      relay(T.SubscribeRequestSchema, T.EmptyResultSchema);
      relay(T.UnsubscribeRequestSchema, T.EmptyResultSchema);
    }
    client.setNotificationHandler(T.ResourceListChangedNotificationSchema, () => server.sendResourceListChanged());
    client.setNotificationHandler(T.ResourceUpdatedNotificationSchema, (n) => server.sendResourceUpdated(n.params));
  }
  if (upstream.prompts) {
    relay(T.ListPromptsRequestSchema, T.ListPromptsResultSchema);
    relay(T.GetPromptRequestSchema, T.GetPromptResultSchema);
    client.setNotificationHandler(T.PromptListChangedNotificationSchema, () => server.sendPromptListChanged());
  }
  if (upstream.completions) relay(T.CompleteRequestSchema, T.CompleteResultSchema);
  if (upstream.logging) {
    relay(T.SetLevelRequestSchema, T.EmptyResultSchema);
    // Upstream already filtered by the level the downstream set; pass each message on as is.
    client.setNotificationHandler(T.LoggingMessageNotificationSchema, (n) => server.notification(n));
  }

  // Requests the upstream server makes of its client go to the real client downstream — only
  // those the client declared (the upstream was told no more), which it may still refuse.
  const declared = relayOptions.clientCapabilities ?? {};
  if (declared.sampling !== undefined) {
    client.setRequestHandler(T.CreateMessageRequestSchema, (request, extra) =>
      server.request(
        request,
        request.params.tools === undefined ? T.CreateMessageResultSchema : T.CreateMessageResultWithToolsSchema,
        {
          signal: extra.signal,
          timeout: RELAY_TIMEOUT_MS,
        },
      ),
    );
  }
  if (declared.elicitation !== undefined) {
    client.setRequestHandler(T.ElicitRequestSchema, (request, extra) =>
      server.request(request, T.ElicitResultSchema, { signal: extra.signal, timeout: RELAY_TIMEOUT_MS }),
    );
  }
  if (declared.roots !== undefined) {
    client.setRequestHandler(T.ListRootsRequestSchema, (request, extra) =>
      server.request(request, T.ListRootsResultSchema, { signal: extra.signal, timeout: RELAY_TIMEOUT_MS }),
    );
  }
  server.setNotificationHandler(T.RootsListChangedNotificationSchema, () => client.sendRootsListChanged());

  guardServerWith(server, policy, options, { refuseTool: (tool) => changedToolRefusal(pins, tool) });
  return server;
}

/**
 * Intercepts the progress notifications the upstream sends for relayed requests, as they are
 * read from the client's transport; returns the routes (upstream token → forwarder) to fill.
 */
function routeProgress(client: Client): Map<string, (progress: Record<string, unknown>) => void> {
  const routes = new Map<string, (progress: Record<string, unknown>) => void>();
  const transport = client.transport;
  if (transport === undefined) throw new Error("the upstream client is not connected");
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    const { method, params } = message as { method?: unknown; params?: { progressToken?: unknown } };
    if (method === "notifications/progress" && typeof params?.progressToken === "string") {
      const forward = routes.get(params.progressToken);
      if (forward !== undefined) {
        const { progressToken: _token, ...progress } = params;
        forward(progress);
        return;
      }
    }
    deliver?.call(transport, message, extra);
  };
  return routes;
}
