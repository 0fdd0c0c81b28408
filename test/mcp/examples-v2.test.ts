import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { DECISION_META_KEY } from "toolgate/mcp";

const root = fileURLToPath(new URL("../..", import.meta.url));
const clients: Client[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
});

/** Connects the 2.x SDK's stdio client to the example, in the 2025 era or pinned to 2026-07-28. */
async function connect(modern: boolean, accept: boolean): Promise<Client> {
  const client = new Client(
    { name: "examples-v2-test", version: "2.0.0" },
    {
      capabilities: accept ? { elicitation: { form: {} } } : {},
      ...(modern ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {}),
    },
  );
  if (accept) client.setRequestHandler("elicitation/create", async () => ({ action: "accept", content: {} }));
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: ["examples/mcp-server-v2/server.mjs"],
      cwd: root,
      stderr: "pipe",
    }),
  );
  clients.push(client);
  return client;
}

const text = (result: unknown) => (result as { content: { text: string }[] }).content[0]?.text ?? "";

describe("examples/mcp-server-v2: guardServer on SDK 2.x over stdio", () => {
  for (const modern of [false, true]) {
    it(
      `${modern ? "2026-07-28" : "2025 era"}: lists, allows, ` + `refuses with a cause, and asks for approval`,
      async () => {
        const client = await connect(modern, true);
        expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["get_run", "delete_run"]);
        expect(text(await client.callTool({ name: "get_run", arguments: { run_id: "r1" } }))).toBe("run r1: FINISHED");
        const dropped = await client.callTool({ name: "drop_database", arguments: {} });
        expect(dropped.isError).toBe(true);
        expect(dropped._meta?.[DECISION_META_KEY]).toMatchObject({
          outcome: "deny",
          rule: "/default",
          cause: "policy",
        });
        expect(text(await client.callTool({ name: "delete_run", arguments: { run_id: "r1" } }))).toBe("deleted run r1");
      },
    );
  }

  it("a client that cannot be asked gets needs_approval with cause not_approved", async () => {
    const client = await connect(true, false);
    const refused = await client.callTool({ name: "delete_run", arguments: { run_id: "r1" } });
    expect(refused._meta?.[DECISION_META_KEY]).toMatchObject({
      outcome: "needs_approval",
      rule: "/tools/delete_run",
      cause: "not_approved",
    });
  });
});
