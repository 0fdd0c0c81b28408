/**
 * The relay behind `toolgate proxy`: an SDK `Server` that offers downstream whatever a connected
 * upstream SDK `Client` offers, request for request, with the policy enforced by
 * {@link guardServer} on `tools/call` and `tools/list`.
 *
 * The SDK is passed in, loaded by the caller with `import()`, so that this module costs nothing
 * to those who never run the proxy and the package never needs the SDK to load.
 */

import type { Policy } from "toolgate";
import { guardServer, type GuardServerOptions } from "./guard-server.js";
import type { Server } from "./sdk.js";

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
    throw new Error(`the MCP SDK could not be loaded (${e instanceof Error ? e.message : String(e)}); install it with: npm install @modelcontextprotocol/sdk`);
  }
}

/** What the relay's upstream client tells the upstream server it can do: it relays them downstream. */
export const RELAY_CLIENT_CAPABILITIES = { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } };

/**
 * Relayed requests wait as long as the downstream client does: it cancels (which is relayed)
 * when it stops waiting. This bound only keeps the timer within what Node accepts.
 */
const RELAY_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/**
 * Builds the downstream server for a connected upstream `client`: the upstream's name, version,
 * instructions and capabilities (less tasks and experimental ones, which are not relayed), its
 * requests and notifications relayed both ways, and `policy` enforced on tools.
 */
export function relayServer(sdk: Sdk, client: Client, policy: Policy, options: GuardServerOptions = {}): Server {
  const T = sdk.types;
  const upstream = client.getServerCapabilities() ?? {};
  const { tasks: _tasks, experimental: _experimental, ...capabilities } = upstream;
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
  const relay = <Q extends { method: string; params?: unknown }>(requestSchema: Parameters<Server["setRequestHandler"]>[0], resultSchema: Parameters<Client["request"]>[1]) =>
    server.setRequestHandler(requestSchema, async (request: Q, extra) => {
      const params = request.params as { _meta?: { progressToken?: string | number } } | undefined;
      const token = params?._meta?.progressToken;
      if (token === undefined) {
        return (await client.request({ method: request.method, params } as Parameters<Client["request"]>[0], resultSchema, { signal: extra.signal, timeout: RELAY_TIMEOUT_MS })) as never;
      }
      const upstreamToken = `toolgate-proxy-${nextToken++}`;
      progressRoutes.set(upstreamToken, (progress) => {
        void extra.sendNotification({ method: "notifications/progress", params: { ...progress, progressToken: token } } as never).catch(() => {});
      });
      try {
        const relayed = { ...params, _meta: { ...params?._meta, progressToken: upstreamToken } };
        return (await client.request({ method: request.method, params: relayed } as Parameters<Client["request"]>[0], resultSchema, {
          signal: extra.signal,
          timeout: RELAY_TIMEOUT_MS,
        })) as never;
      } finally {
        progressRoutes.delete(upstreamToken);
      }
    });

  if (upstream.tools) {
    relay(T.ListToolsRequestSchema, T.ListToolsResultSchema);
    relay(T.CallToolRequestSchema, T.CallToolResultSchema);
    client.setNotificationHandler(T.ToolListChangedNotificationSchema, () => server.sendToolListChanged());
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

  // Requests the upstream server makes of its client go to the real client downstream, which
  // refuses those it does not support.
  client.setRequestHandler(T.CreateMessageRequestSchema, (request, extra) =>
    server.request(request, request.params.tools === undefined ? T.CreateMessageResultSchema : T.CreateMessageResultWithToolsSchema, {
      signal: extra.signal,
      timeout: RELAY_TIMEOUT_MS,
    }),
  );
  client.setRequestHandler(T.ElicitRequestSchema, (request, extra) =>
    server.request(request, T.ElicitResultSchema, { signal: extra.signal, timeout: RELAY_TIMEOUT_MS }),
  );
  client.setRequestHandler(T.ListRootsRequestSchema, (request, extra) =>
    server.request(request, T.ListRootsResultSchema, { signal: extra.signal, timeout: RELAY_TIMEOUT_MS }),
  );
  server.setNotificationHandler(T.RootsListChangedNotificationSchema, () => client.sendRootsListChanged());

  guardServer(server, policy, options);
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
