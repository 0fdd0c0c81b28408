// The MCP example on SDK 2.x (@modelcontextprotocol/server): the same policy and tools as
// examples/mcp-server, served over stdio in either protocol era (2025 handshake or 2026-07-28).
// Run it as a stdio MCP server: node examples/mcp-server-v2/server.mjs
import { readFileSync } from "node:fs";
import { McpServer } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import { z } from "zod";
import { compilePolicy } from "toolgate";
import { guardServer } from "toolgate/mcp";

// One compiled policy for the process: budgets live in its store, whatever instance serves.
const policy = compilePolicy(readFileSync(new URL("../mcp-server/policy.json", import.meta.url), "utf8"));

serveStdio(() => {
  const server = guardServer(new McpServer({ name: "mlflow", version: "2.0.0" }), policy);
  server.registerTool(
    "get_run",
    { inputSchema: z.object({ run_id: z.string() }), annotations: { readOnlyHint: true } },
    async ({ run_id }) => ({ content: [{ type: "text", text: `run ${run_id}: FINISHED` }] }),
  );
  server.registerTool(
    "delete_run",
    { inputSchema: z.object({ run_id: z.string() }), annotations: { destructiveHint: true } },
    async ({ run_id }) => ({ content: [{ type: "text", text: `deleted run ${run_id}` }] }),
  );
  server.registerTool("drop_database", { inputSchema: z.object({}) }, async () => ({
    content: [{ type: "text", text: "dropped" }],
  }));
  return server;
});
