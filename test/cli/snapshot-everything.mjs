// Refreshes test/fixtures/everything-mcp-tools.json: the reference "everything" MCP server's real
// tools/list result, taken over stdio with the SDK client. The tests read the committed snapshot,
// so they need no server at run time; run this after upgrading @modelcontextprotocol/server-everything:
//   node test/cli/snapshot-everything.mjs
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const server = `${root}node_modules/@modelcontextprotocol/server-everything/dist/index.js`;
const transport = new StdioClientTransport({ command: process.execPath, args: [server, "stdio"], stderr: "ignore" });
const client = new Client({ name: "toolgate-snapshot", version: "1" });
await client.connect(transport);
try {
  const { tools } = await client.listTools();
  writeFileSync(`${root}test/fixtures/everything-mcp-tools.json`, `${JSON.stringify({ tools }, null, 2)}\n`);
  process.stdout.write(`${tools.length} tools\n`);
} finally {
  await client.close();
}
