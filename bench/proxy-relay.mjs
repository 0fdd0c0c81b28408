// The floor for bench/proxy.mjs: a bare pass-through MCP relay on the same SDKs as `toolgate
// proxy`, with no policy — tools/list and tools/call relayed as they came, nothing else.
//
//   node bench/proxy-relay.mjs stdio -- <command> [args...]      serve on stdin/stdout (SDK 1.x)
//   node bench/proxy-relay.mjs http  -- <command> [args...]      serve Streamable HTTP (SDK 2.x)
//
// In http mode it listens on 127.0.0.1 on a free port and prints "listening <port>" on stderr;
// 2025-era clients get a session (as the gateway gives them), 2026-07-28 requests a server each.
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Server as Server1 } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  ListToolsRequestSchema,
  ListToolsResultSchema,
} from "@modelcontextprotocol/sdk/types.js";

const [mode, dashes, command, ...args] = process.argv.slice(2);
if ((mode !== "stdio" && mode !== "http") || dashes !== "--" || command === undefined) {
  console.error("usage: node bench/proxy-relay.mjs stdio|http -- <command> [args...]");
  process.exit(2);
}
const upstream = new Client({ name: "bare-relay", version: "1" }, { capabilities: {} });
await upstream.connect(new StdioClientTransport({ command, args, stderr: "ignore" }));
const info = upstream.getServerVersion() ?? { name: "upstream", version: "0" };
const relay = (method, schema) => (request, extra) =>
  upstream.request({ method, params: request.params }, schema, { signal: extra?.signal ?? extra?.mcpReq?.signal });

if (mode === "stdio") {
  const server = new Server1(info, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, relay("tools/list", ListToolsResultSchema));
  server.setRequestHandler(CallToolRequestSchema, relay("tools/call", CallToolResultSchema));
  server.onclose = () => void upstream.close().then(() => process.exit(0));
  await server.connect(new StdioServerTransport());
} else {
  const { Server, createMcpHandler, isLegacyRequest, isInitializeRequest, WebStandardStreamableHTTPServerTransport } =
    await import("@modelcontextprotocol/server");
  const { toNodeHandler } = await import("@modelcontextprotocol/node");
  const make = () => {
    const server = new Server(info, { capabilities: { tools: {} } });
    server.setRequestHandler("tools/list", relay("tools/list", ListToolsResultSchema));
    server.setRequestHandler("tools/call", relay("tools/call", CallToolResultSchema));
    return server;
  };
  const modern = createMcpHandler(make, { legacy: "reject" });
  const sessions = new Map();
  const handle = toNodeHandler({
    fetch: async (request) => {
      const body = request.method === "POST" ? JSON.parse(await request.text()) : undefined;
      if (!(await isLegacyRequest(request, body))) return modern.fetch(request, { parsedBody: body });
      const id = request.headers.get("mcp-session-id");
      if (id !== null) return sessions.get(id).handleRequest(request, { parsedBody: body });
      if (!isInitializeRequest(body)) return new Response("no session", { status: 400 });
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => sessions.set(sid, transport),
        onsessionclosed: (sid) => sessions.delete(sid),
      });
      await make().connect(transport);
      return transport.handleRequest(request, { parsedBody: body });
    },
  });
  const http = createServer((req, res) => void handle(req, res));
  http.listen(0, "127.0.0.1", () => console.error(`listening ${http.address().port}`));
  const stop = () => {
    http.close();
    http.closeAllConnections();
    void upstream.close().then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
