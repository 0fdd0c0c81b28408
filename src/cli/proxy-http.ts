/**
 * The gateway's HTTP listener (docs/spec.md, section 9): Streamable HTTP at `/mcp` for many
 * clients at once, both protocol eras on one endpoint, `/healthz`, Host and Origin checks
 * against DNS rebinding, and bearer tokens checked before anything else sees a request.
 *
 * The SDK does the protocol work. 2026-07-28 requests go to `createMcpHandler(factory, { legacy:
 * "reject" })` (a server per request); 2025-era requests, told apart by `isLegacyRequest`, go to
 * a sessionful `WebStandardStreamableHTTPServerTransport` per client session, because section 8
 * rule 3 keys an unauthenticated 2025 client's budget by its `Mcp-Session-Id` (the handler's own
 * legacy fallback is stateless and issues none). `@modelcontextprotocol/node` converts between
 * node:http and web-standard requests.
 */

import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ServerSdk, ServerV2 } from "../mcp/http-relay.js";
import type { Refused, TokenVerifier, VerifiedToken } from "./proxy-auth.js";

/** The parts of `@modelcontextprotocol/node` the gateway uses. */
export interface NodeSdk {
  toNodeHandler: typeof import("@modelcontextprotocol/node").toNodeHandler;
  hostHeaderValidation: typeof import("@modelcontextprotocol/node").hostHeaderValidation;
  originValidation: typeof import("@modelcontextprotocol/node").originValidation;
}

/** Loads `@modelcontextprotocol/node`; rejects with how to install it when it is missing. */
export async function loadNodeSdk(): Promise<NodeSdk> {
  try {
    const m = await import("@modelcontextprotocol/node");
    return {
      toNodeHandler: m.toNodeHandler,
      hostHeaderValidation: m.hostHeaderValidation,
      originValidation: m.originValidation,
    };
  } catch (e) {
    throw new Error(
      `toolgate proxy --listen needs @modelcontextprotocol/node (${e instanceof Error ? e.message : String(e)}); ` +
        "install it with: npm install @modelcontextprotocol/server @modelcontextprotocol/node",
      { cause: e },
    );
  }
}

/** The largest request body read, in bytes (the SDK's own default). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];

/** Options of {@link Gateway}. */
export interface GatewayOptions {
  host: string;
  port: number;
  sdk: ServerSdk;
  node: NodeSdk;
  /** A new downstream server (a relay on the upstream) for a 2025 session or a 2026-07-28 request. */
  newServer: (era: "legacy" | "modern") => ServerV2;
  /** Checks tokens; without it, requests are anonymous. */
  verifier?: TokenVerifier;
  /** The most 2025-era sessions open at once; an `initialize` beyond it is answered 503. */
  maxSessions: number;
  /** A 2025-era session idle this long is closed. */
  idleMs: number;
  /** Where errors the client cannot be told go (standard error). */
  report: (message: string) => void;
}

interface LegacySession {
  transport: InstanceType<ServerSdk["WebStandardStreamableHTTPServerTransport"]>;
  server: ServerV2;
  /** The principal that opened it: another may not use it. */
  principal: string | undefined;
  lastUsed: number;
}

/** The HTTP side of `toolgate proxy --listen`. */
export class Gateway {
  private readonly sessions = new Map<string, LegacySession>();
  private readonly modern: ReturnType<ServerSdk["createMcpHandler"]>;
  private readonly http: HttpServer;
  private readonly inFlight = new Set<Promise<void>>();
  private sweeper: ReturnType<typeof setInterval> | undefined;
  private closing = false;
  private readonly checkHost: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  private readonly checkOrigin: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;

  constructor(private readonly options: GatewayOptions) {
    const { sdk, node } = options;
    this.modern = sdk.createMcpHandler(() => options.newServer("modern"), {
      legacy: "reject",
      onerror: (e) => options.report(`a request failed: ${e.message}`),
    });
    // DNS rebinding: a page a browser loaded from elsewhere must not reach a local listener. On
    // loopback only these names are the listener's; on another address it serves that name too.
    const names = isLoopback(options.host)
      ? LOOPBACK_NAMES
      : isWildcard(options.host)
        ? undefined
        : [...LOOPBACK_NAMES, bracketed(options.host)];
    this.checkHost = names === undefined ? undefined : node.hostHeaderValidation(names);
    this.checkOrigin = names === undefined ? undefined : node.originValidation(names);
    const handle = node.toNodeHandler(
      { fetch: (request, extra) => this.route(request, extra?.authInfo as VerifiedToken | undefined) },
      {
        maxRequestBodySize: MAX_BODY_BYTES,
        onerror: (e) => options.report(`a request could not be served: ${e.message}`),
      },
    );
    this.http = createServer((req, res) => {
      const served = this.serve(req, res, handle).catch((e: unknown) => {
        options.report(`a request failed: ${e instanceof Error ? e.message : String(e)}`);
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end();
      });
      // A POST is a request whose answer is owed; a GET is a standing stream for notifications,
      // which shutdown closes rather than waits for.
      if (req.method !== "POST") return;
      this.inFlight.add(served);
      void served.finally(() => this.inFlight.delete(served));
    });
  }

  /** Starts listening; resolves with the address, once bound. */
  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(this.options.port, this.options.host, () => {
        this.http.off("error", reject);
        resolve();
      });
    });
    this.sweeper = setInterval(() => this.sweep(), Math.min(this.options.idleMs, 60_000));
    this.sweeper.unref();
    const address = this.http.address() as AddressInfo;
    return { host: address.address, port: address.port };
  }

  /** The servers of the open 2025-era sessions (for notifications from the upstream). */
  legacyServers(): ServerV2[] {
    return [...this.sessions.values()].map((s) => s.server);
  }

  /** Publishes a tools/list_changed to the open 2026-07-28 subscriptions. */
  get notify(): ReturnType<ServerSdk["createMcpHandler"]>["notify"] {
    return this.modern.notify;
  }

  /** The number of open 2025-era sessions. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Stops taking requests, lets those in flight finish (up to `graceMs`), then closes every
   * session and the listener.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    const stopped = new Promise<void>((resolve) => this.http.close(() => resolve()));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.allSettled([this.modern.close(), ...sessions.map((s) => s.transport.close())]);
    this.http.closeAllConnections();
    await stopped;
  }

  private async serve(
    req: IncomingMessage,
    res: ServerResponse,
    handle: ReturnType<NodeSdk["toNodeHandler"]>,
  ): Promise<void> {
    const path = pathOf(req.url);
    if (path === "/healthz") {
      const status = this.closing ? 503 : 200;
      res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify({ status: this.closing ? "stopping" : "ok" }));
      return;
    }
    if (path !== "/mcp") {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "not found: the MCP endpoint is /mcp" }));
      return;
    }
    if (this.checkHost !== undefined && !this.checkHost(req, res)) return;
    if (this.checkOrigin !== undefined && !this.checkOrigin(req, res)) return;
    if (this.closing) {
      jsonRpcError(res, 503, -32000, "The proxy is shutting down.");
      return;
    }
    const verifier = this.options.verifier;
    if (verifier !== undefined) {
      const checked = await verifier.verify(req.headers.authorization);
      if ("status" in checked) {
        unauthorized(res, checked);
        return;
      }
      (req as IncomingMessage & { auth?: VerifiedToken }).auth = checked;
    }
    await handle(req, res);
  }

  private async route(request: Request, auth: VerifiedToken | undefined): Promise<Response> {
    const { sdk } = this.options;
    let body: unknown;
    if (request.method === "POST") {
      const text = await request.text();
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        return jsonRpcResponse(400, -32700, "Parse error: the body is not JSON.");
      }
    }
    const extra = auth === undefined ? { parsedBody: body } : { parsedBody: body, authInfo: auth };
    if (!(await sdk.isLegacyRequest(request, body))) return this.modern.fetch(request, extra);

    const principal = auth?.extra.sub;
    const id = request.headers.get("mcp-session-id");
    if (id !== null) {
      const session = this.sessions.get(id);
      // Another principal's session is as unknown to this one as a session that never existed.
      if (session === undefined || session.principal !== principal)
        return jsonRpcResponse(404, -32001, "Session not found.");
      session.lastUsed = Date.now();
      return session.transport.handleRequest(request, extra);
    }
    if (request.method !== "POST" || !isInitialize(sdk, body)) {
      return jsonRpcResponse(400, -32000, "Bad Request: no valid session id (Mcp-Session-Id); start with initialize.");
    }
    if (this.sessions.size >= this.options.maxSessions) {
      return jsonRpcResponse(503, -32000, "Too many open sessions; try again later.");
    }
    const server = this.options.newServer("legacy");
    let opened: string | undefined;
    const transport = new sdk.WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sessionId) => {
        opened = sessionId;
        this.sessions.set(sessionId, { transport, server, principal, lastUsed: Date.now() });
      },
      onsessionclosed: (sessionId) => {
        this.sessions.delete(sessionId);
      },
    });
    transport.onclose = () => {
      if (opened !== undefined) this.sessions.delete(opened);
    };
    await server.connect(transport);
    return transport.handleRequest(request, extra);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, session] of this.sessions) {
      if (now - session.lastUsed < this.options.idleMs) continue;
      this.sessions.delete(id);
      void session.transport.close().catch(() => {});
    }
  }
}

function isInitialize(sdk: ServerSdk, body: unknown): boolean {
  return Array.isArray(body) ? body.some((m) => sdk.isInitializeRequest(m)) : sdk.isInitializeRequest(body);
}

function pathOf(url: string | undefined): string {
  try {
    return new URL(url ?? "/", "http://localhost").pathname;
  } catch {
    return "";
  }
}

function unauthorized(res: ServerResponse, refused: Refused): void {
  res.writeHead(refused.status, { "content-type": "application/json", "www-authenticate": refused.challenge });
  res.end(
    JSON.stringify({
      jsonrpc: "2.0",
      id: null,
      error: { code: -32001, message: "Unauthorized: a valid bearer token is required." },
    }),
  );
}

function jsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code, message } }));
}

function jsonRpcResponse(status: number, code: number, message: string): Response {
  return new Response(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code, message } }), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "";
}

function bracketed(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
