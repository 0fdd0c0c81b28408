/**
 * `toolgate proxy --listen`: one upstream (a command over stdio, or a Streamable HTTP URL) served
 * to many HTTP clients at once (docs/spec.md, section 9). The upstream is connected at start,
 * before any client, and told the client can do nothing of its own (see http-relay.ts); every
 * downstream server relays to it. What the upstream announces (its tools, resources or prompts
 * changed) is passed to every open session and subscription.
 */

import type { Session } from "toolgate";
import { ANONYMOUS_SESSION } from "../mcp/connection.js";
import { httpRelayServer, loadServerSdk, ProgressRoutes, type ServerV2 } from "../mcp/http-relay.js";
import { ToolPins } from "../mcp/pins.js";
import type { Sdk } from "../mcp/relay.js";
import { principalOf, viewRequest } from "../mcp/request.js";
import type { RequestExtra } from "../mcp/sdk.js";
import { isPlainObject } from "../shared/objects.js";
import { errorMessage } from "../shared/text.js";
import { EXIT_FINDINGS, EXIT_OK } from "./errors.js";
import type { TokenVerifier } from "./proxy-auth.js";
import { Gateway, loadNodeSdk } from "./proxy-http.js";
import { visibleToolsChanged, listedTools, type ListedTool, type LivePolicy } from "./proxy-policy.js";
import type { SharedState } from "./proxy-store.js";
import type { Upstream } from "./proxy-upstream.js";

/** How long in-flight requests may take to finish after SIGTERM. */
const DRAIN_MS = 10_000;
/** Sessions remembered for deciding whether a reload changes what a client sees. */
const MAX_SEEN_SESSIONS = 1000;
/** A session bigger than this (its claims, as JSON) is not remembered for that comparison. */
const MAX_SEEN_SESSION_CHARS = 16 * 1024;

/** The gateway's settings. */
export interface ListenSettings {
  host: string;
  port: number;
  live: LivePolicy;
  shared: SharedState | undefined;
  verifier: TokenVerifier | undefined;
  showDenied: boolean;
  acceptToolChanges: boolean;
  approvalTimeoutMs: number;
  maxSessions: number;
  watch: boolean;
  /** What the startup line says of the store, besides the listener and upstream. */
  describeStore: string;
}

/** Runs the gateway until SIGINT or SIGTERM, or until the upstream goes away for good. */
export async function listen(sdk: Sdk, upstream: Upstream, settings: ListenSettings): Promise<number> {
  const [server2, node] = await Promise.all([loadServerSdk(), loadNodeSdk()]);
  const report = (line: string) => process.stderr.write(`${line}\n`);
  const client = upstream.client;
  const progress = new ProgressRoutes(client);
  upstream.onReconnect(() => progress.attach(client));
  const toolList: { value: unknown } = { value: undefined };
  let lastTools: ListedTool[] = [];
  const seen = new Map<string, Session>();
  const remember = (session: Session) => {
    if (seen.has(session.id)) seen.delete(session.id);
    else if (JSON.stringify(session).length > MAX_SEEN_SESSION_CHARS) return;
    seen.set(session.id, session);
    if (seen.size > MAX_SEEN_SESSIONS) seen.delete(seen.keys().next().value as string);
  };
  const pins = settings.acceptToolChanges
    ? undefined
    : new ToolPins({
        onChange: (tool, fields) =>
          report(
            `toolgate proxy: the server changed the ${fields.join(", ")} of the tool ${JSON.stringify(tool)} ` +
              "since it was first listed; " +
              "the tool is hidden and its calls are refused (--accept-tool-changes allows changes)",
          ),
      });

  // Section 8: the token's principal (with its claims as the session's `claims`), else the
  // 2025 protocol session, else one shared anonymous session.
  const sessionOf = (extra: RequestExtra): Session => {
    const view = viewRequest(extra);
    const principal = principalOf(view.authInfo);
    const claims = view.authInfo?.extra?.claims;
    const session: Session =
      principal !== undefined
        ? isPlainObject(claims)
          ? { id: principal, claims: claims }
          : { id: principal }
        : { id: view.sessionId ?? ANONYMOUS_SESSION };
    remember(session);
    return session;
  };
  const guardOptions = {
    hideDenied: !settings.showDenied,
    approvalTimeoutMs: settings.approvalTimeoutMs,
    session: sessionOf,
    ...(settings.shared === undefined
      ? {}
      : { approvalKey: settings.shared.approvalKey, approvalNonces: settings.shared.nonces }),
  };
  const newServer = (): ServerV2 =>
    httpRelayServer(sdk, server2, client, settings.live.view, guardOptions, {
      progress,
      toolList,
      ...(pins === undefined ? {} : { pins }),
      onToolList: (tools) => {
        lastTools = listedTools(tools);
      },
    });

  const gateway = new Gateway({
    host: settings.host,
    port: settings.port,
    sdk: server2,
    node,
    newServer,
    ...(settings.verifier === undefined ? {} : { verifier: settings.verifier }),
    maxSessions: settings.maxSessions,
    idleMs: 30 * 60 * 1000,
    report: (message) => report(`toolgate proxy: ${message}`),
  });

  const T = sdk.types;
  const toEverySession = (send: (server: ServerV2) => Promise<void> | void) => {
    for (const server of gateway.legacyServers()) {
      try {
        void Promise.resolve(send(server)).catch(() => {});
      } catch {
        // A session closing as we send.
      }
    }
  };
  const tools = () => {
    toolList.value = undefined;
    toEverySession((s) => s.sendToolListChanged());
    gateway.notify.toolsChanged();
  };
  client.setNotificationHandler(T.ToolListChangedNotificationSchema, tools);
  client.setNotificationHandler(T.ResourceListChangedNotificationSchema, () => {
    toEverySession((s) => s.sendResourceListChanged());
    gateway.notify.resourcesChanged();
  });
  client.setNotificationHandler(T.PromptListChangedNotificationSchema, () => {
    toEverySession((s) => s.sendPromptListChanged());
    gateway.notify.promptsChanged();
  });

  let address: { host: string; port: number };
  try {
    address = await gateway.listen();
  } catch (e) {
    await upstream.stop();
    throw new Error(`could not listen on ${settings.host}:${settings.port}: ${errorMessage(e)}`, { cause: e });
  }
  const shownHost = address.host.includes(":") ? `[${address.host}]` : address.host;
  report(
    `toolgate proxy: listening on http://${shownHost}:${address.port}/mcp (health: /healthz); upstream ${upstream.describe}; ` +
      `budgets in ${settings.describeStore}; policy namespace ${JSON.stringify(settings.live.current.namespace)}` +
      `${settings.verifier === undefined ? "; no authentication" : "; bearer tokens required"}`,
  );

  const onSwap = (
    previous: Parameters<typeof visibleToolsChanged>[0],
    next: Parameters<typeof visibleToolsChanged>[1],
  ) => {
    const sessions = seen.size === 0 ? [{ id: ANONYMOUS_SESSION }] : seen.values();
    if (visibleToolsChanged(previous, next, lastTools, sessions)) {
      toEverySession((s) => s.sendToolListChanged());
      gateway.notify.toolsChanged();
    }
  };
  if (settings.watch) settings.live.watch(onSwap);
  const onHup = () => settings.live.reload(onSwap);
  process.on("SIGHUP", onHup);

  return new Promise<number>((resolve) => {
    let ending = false;
    const end = (status: number, why?: string) => {
      if (ending) return;
      ending = true;
      if (why !== undefined) report(`toolgate proxy: ${why}`);
      settings.live.stop();
      process.off("SIGHUP", onHup);
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      // In-flight calls finish first; then the upstream is stopped.
      void gateway
        .close(DRAIN_MS)
        .catch(() => {})
        .then(() => upstream.stop())
        .then(() => resolve(status));
    };
    const onSignal = () => end(EXIT_OK);
    upstream.onGone((why) => end(EXIT_FINDINGS, why));
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}
