// An MCP server with a toolgate policy in front of its tools (the README's "MCP" example).
// Run it as a stdio MCP server: node examples/mcp-server/server.mjs
import { readFileSync } from "node:fs";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";
import { compilePolicy } from "toolgate";
import { guardServer } from "toolgate/mcp";

const server = new McpServer({ name: "mlflow", version: "1.0.0" });
guardServer(server, compilePolicy(readFileSync(new URL("policy.json", import.meta.url), "utf8")));

server.registerTool("get_run", { inputSchema: { run_id: z.string() }, annotations: { readOnlyHint: true } },
  async ({ run_id }) => ({ content: [{ type: "text", text: `run ${run_id}: FINISHED` }] }));
server.registerTool("delete_run", { inputSchema: { run_id: z.string() }, annotations: { destructiveHint: true } },
  async ({ run_id }) => ({ content: [{ type: "text", text: `deleted run ${run_id}` }] }));
server.registerTool("drop_database", { inputSchema: {} },
  async () => ({ content: [{ type: "text", text: "dropped" }] }));

await server.connect(new StdioServerTransport());
