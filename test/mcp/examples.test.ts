import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { compilePolicy } from "toolgate";
import { mlflowTools } from "../fixtures/mcp/mlflow.mjs";
import { textOf } from "./helpers.js";
import { CLI, UPSTREAM } from "./proxy-process.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const read = (file: string) => readFileSync(`${root}${file}`, "utf8");
const clients: Client[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
});

/** Connects the SDK's own stdio client to a command; with `accept`, it approves elicitations. */
async function connect(command: string, args: string[], accept = false): Promise<Client> {
  const client = new Client(
    { name: "examples-test", version: "1.0.0" },
    { capabilities: accept ? { elicitation: {} } : {} },
  );
  if (accept) client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: {} }));
  await client.connect(new StdioClientTransport({ command, args, cwd: root, stderr: "pipe" }));
  clients.push(client);
  return client;
}

describe("examples/mcp-server: the README's MCP snippet", () => {
  it("is the example file, word for word", () => {
    const readme = read("README.md");
    const section = readme.slice(readme.indexOf("\n## MCP\n"));
    const snippet = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    expect(snippet).toBeDefined();
    const example = read("examples/mcp-server/server.mjs").replace(/^(\/\/.*\n)+/, "");
    expect(example).toBe(snippet);
  });

  it("runs as an MCP server with the policy enforced", async () => {
    const client = await connect(process.execPath, ["examples/mcp-server/server.mjs"]);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["get_run", "delete_run"]);
    expect(textOf(await client.callTool({ name: "get_run", arguments: { run_id: "r1" } }))).toBe("run r1: FINISHED");
    const refused = await client.callTool({ name: "delete_run", arguments: { run_id: "r1" } });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toContain("Deletes an MLflow run");
    const dropped = await client.callTool({ name: "drop_database", arguments: {} });
    expect(dropped.isError).toBe(true);
  });

  it("runs an approved call when the client's user accepts", async () => {
    const client = await connect(process.execPath, ["examples/mcp-server/server.mjs"], true);
    expect(textOf(await client.callTool({ name: "delete_run", arguments: { run_id: "r1" } }))).toBe("deleted run r1");
  });
});

describe("examples/mcp-proxy", () => {
  const config = JSON.parse(read("examples/mcp-proxy/claude_desktop_config.json")) as {
    mcpServers: { mlflow: { command: string; args: string[]; env: Record<string, string> } };
  };
  const { command, args } = config.mcpServers.mlflow;
  // The configuration names the clone by a placeholder that users replace; here it is this clone.
  const PLACEHOLDER = "/absolute/path/to/toolgate/";
  const local = (a: string) => (a.startsWith(PLACEHOLDER) ? `${root}${a.slice(PLACEHOLDER.length)}` : a);

  it("runs the local build's proxy with node (never npx of a package name) in front of uvx mlflow-mcp", () => {
    expect(command).toBe("node");
    expect(args).toEqual([
      `${PLACEHOLDER}dist/cli.js`,
      "proxy",
      "--policy",
      `${PLACEHOLDER}examples/mcp-proxy/policy.json`,
      "--",
      "uvx",
      "mlflow-mcp",
    ]);
    expect(local(args[0]!)).toBe(CLI);
  });

  it("has a rule of its own for every tool of the MLflow server", () => {
    const policy = compilePolicy(read("examples/mcp-proxy/policy.json"));
    expect(policy.warnings).toEqual([]);
    expect(mlflowTools.filter((t) => policy.ruleFor(t.name) === "/default").map((t) => t.name)).toEqual([]);
  });

  it("works as configured, with the MLflow-shaped fixture server standing in for uvx mlflow-mcp", async () => {
    // The configured arguments as they are (run by this process's node), with only the upstream replaced.
    const own = args.slice(0, args.indexOf("--")).map(local);
    const client = await connect(process.execPath, [...own, "--", process.execPath, UPSTREAM]);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain("get_run");
    expect(names.filter((n) => n.startsWith("delete_"))).toEqual([]);
    expect(textOf(await client.callTool({ name: "get_run", arguments: { run_id: "r1" } }))).toBe(
      JSON.stringify({ tool: "get_run", args: { run_id: "r1" } }),
    );
    const approval = await client.callTool({
      name: "set_model_alias",
      arguments: { name: "m", alias: "champion", version: "3" },
    });
    expect(textOf(approval)).toContain("Moves an alias (such as champion) to another model version");
    expect(textOf(await client.callTool({ name: "delete_run", arguments: { run_id: "r1" } }))).toBe(
      "Deleting MLflow data is blocked through this proxy",
    );
  });
});
