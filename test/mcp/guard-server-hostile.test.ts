import { describe, expect, it } from "vitest";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  ListToolsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { compilePolicy, MemoryStore } from "toolgate";
import { approvalMessage, DECISION_META_KEY, escapeNonPrinting, guardServer } from "toolgate/mcp";
import { echoResult, mlflowTools } from "../fixtures/mcp/mlflow.mjs";
import { connectClient, mlflowPolicy, textOf } from "./helpers.js";

const meta = (result: unknown) => (result as { _meta?: Record<string, unknown> })._meta?.[DECISION_META_KEY];
const accept = () => ({ action: "accept" as const, content: {} });

/** A 1.x low-level server with the MLflow tools, counting the reads of its tool list. */
function countingServer(calls: string[] = [], failing: Record<string, "error" | "throw"> = {}) {
  const lists = { count: 0 };
  const server = new Server({ name: "counting", version: "1.0.0" }, { capabilities: { tools: { listChanged: true } } });
  server.setRequestHandler(ListToolsRequestSchema, async () => {
    lists.count += 1;
    return { tools: mlflowTools };
  });
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    calls.push(request.params.name);
    if (failing[request.params.name] === "throw") throw new Error("the tool broke: password=hunter2");
    if (failing[request.params.name] === "error") return { content: [{ type: "text", text: "failed" }], isError: true };
    return echoResult(request.params.name, request.params.arguments);
  });
  return { server, lists };
}

const readOnlyPolicy = () =>
  compilePolicy({
    version: "1",
    default: {
      rules: [
        { when: { annotations: { properties: { readOnlyHint: { const: true } }, required: ["readOnlyHint"] } } },
        { action: "deny", reason: "Only read-only tools" },
      ],
    },
    tools: {},
  });

describe("annotations come from the server's own tool list, never from the client", () => {
  it("a client that claims readOnlyHint in _meta and in the arguments is still refused", async () => {
    const calls: string[] = [];
    const { server } = countingServer(calls);
    const { client } = await connectClient(guardServer(server, readOnlyPolicy()));
    const claims = { readOnlyHint: true, destructiveHint: false };
    const raw = (params: unknown) => client.request({ method: "tools/call", params } as never, CallToolResultSchema);
    for (const params of [
      { name: "set_run_tag", arguments: { run_id: "r1", key: "k", value: "v" }, _meta: { annotations: claims } },
      { name: "set_run_tag", arguments: { run_id: "r1", key: "k", value: "v", annotations: claims } },
      { name: "set_run_tag", arguments: { run_id: "r1", key: "k", value: "v" }, annotations: claims },
    ]) {
      const result = await raw(params);
      expect(textOf(result)).toBe("Only read-only tools");
      expect(meta(result)).toMatchObject({ outcome: "deny", cause: "policy" });
    }
    expect(calls).toEqual([]);
    // And a tool the server marks read-only is allowed whatever the client claims.
    expect(
      (await raw({ name: "get_run", arguments: { run_id: "r1" }, _meta: { annotations: { readOnlyHint: false } } }))
        .isError,
    ).toBeUndefined();
  });
});

describe("the server's tool list is read once, until its tools change", () => {
  it(
    "50 calls of unknown tools (and known ones) read the list once; " +
      "a tools/list_changed makes the next call read it again",
    async () => {
      const { server, lists } = countingServer();
      const { client } = await connectClient(guardServer(server, readOnlyPolicy()));
      for (let i = 0; i < 50; i++) {
        const result = await client.callTool({
          name: i % 2 === 0 ? `no_such_tool_${i}` : "get_run",
          arguments: { run_id: "r1" },
        });
        expect(result.isError).toBe(i % 2 === 0 ? true : undefined);
      }
      expect(lists.count).toBe(1);
      await server.sendToolListChanged();
      await client.callTool({ name: "no_such_tool", arguments: {} });
      expect(lists.count).toBe(2);
      await client.callTool({ name: "another_unknown", arguments: {} });
      expect(lists.count).toBe(2);
    },
  );

  it("a client's own complete listing counts as a read", async () => {
    const { server, lists } = countingServer();
    const { client } = await connectClient(guardServer(server, readOnlyPolicy()));
    await client.listTools();
    await client.callTool({ name: "no_such_tool", arguments: {} });
    expect(lists.count).toBe(1);
  });
});

describe("sessions a client cannot reset", () => {
  const tag = { name: "set_run_tag", arguments: { run_id: "r1", key: "k", value: "v" } };

  /** Connects over in-memory as an HTTP transport would deliver: with request headers, and no session id. */
  async function connectStatelessHttp(
    server: Server,
    authInfo?: { token: string; clientId: string; scopes: string[]; extra?: Record<string, unknown> },
  ) {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const client = new Client({ name: "http-client", version: "1.0.0" });
    await server.connect(serverSide);
    const deliver = serverSide.onmessage!;
    serverSide.onmessage = (message, extra) =>
      deliver(message, { ...extra, ...(authInfo ? { authInfo } : {}), requestInfo: { headers: {} } } as never);
    await client.connect(clientSide);
    return client;
  }

  it(
    "stateless HTTP without authentication is one anonymous session: " + "a new connection gets no fresh budget",
    async () => {
      const policy = compilePolicy(mlflowPolicy, { store: new MemoryStore() });
      const first = await connectStatelessHttp(guardServer(countingServer().server, policy));
      await first.callTool(tag);
      await first.callTool(tag);
      await first.close();
      const second = await connectStatelessHttp(guardServer(countingServer().server, policy));
      expect(meta(await second.callTool(tag))).toMatchObject({ outcome: "rate_limited" });
    },
  );

  it(
    "with authInfo, the session is the principal: " +
      "a client that drops its session and opens another keeps its budget",
    async () => {
      const policy = compilePolicy(mlflowPolicy, { store: new MemoryStore() });
      const alice = { token: "a1", clientId: "shared-app", scopes: [], extra: { sub: "alice" } };
      const first = await connectStatelessHttp(guardServer(countingServer().server, policy), alice);
      await first.callTool(tag);
      await first.callTool(tag);
      await first.close();
      const again = await connectStatelessHttp(guardServer(countingServer().server, policy), { ...alice, token: "a2" });
      expect(meta(await again.callTool(tag))).toMatchObject({ outcome: "rate_limited" });
      // Another principal of the same OAuth client has its own budget.
      const bob = await connectStatelessHttp(guardServer(countingServer().server, policy), {
        ...alice,
        token: "b1",
        extra: { sub: "bob" },
      });
      expect((await bob.callTool(tag)).isError).toBeUndefined();
    },
  );
});

describe("approval questions show what is approved", () => {
  const policy = () =>
    compilePolicy({
      version: "1",
      default: "deny",
      tools: {
        write_file: {
          rules: [
            { when: { args: { properties: { path: { pattern: "^/tmp/" } }, required: ["path"] } } },
            { action: "require_approval", reason: "Writes outside /tmp" },
          ],
        },
      },
    });
  const writeServer = (calls: unknown[]) => {
    const server = new Server({ name: "files", version: "1.0.0" }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: [{ name: "write_file", inputSchema: { type: "object" } }],
    }));
    server.setRequestHandler(CallToolRequestSchema, async (request) => {
      calls.push(request.params.arguments);
      return echoResult(request.params.name, request.params.arguments);
    });
    return server;
  };

  it("a long value before the path cannot hide it: every key is shown, the keys the policy reads first", async () => {
    const { client, elicitations } = await connectClient(guardServer(writeServer([]), policy()), {
      elicit: () => ({ action: "decline" }),
    });
    await client.callTool({
      name: "write_file",
      arguments: { a_note: "x".repeat(600), path: "/etc/shadow", content: "root::0:0" },
    });
    const message = elicitations[0]?.message ?? "";
    const lines = message.split("\n");
    expect(lines[0]).toBe('Allow the tool "write_file" to run with these arguments, this once?');
    expect(lines[2]).toBe("Arguments (3, every one shown):");
    expect(lines[3]).toBe('  "path": "/etc/shadow"');
    expect(lines[4]).toMatch(/^ {2}"a_note": "x{199}… \(602 characters in all\)$/);
    expect(lines[5]).toBe('  "content": "root::0:0"');
  });

  it("bidi and zero-width characters reach the person escaped", async () => {
    const { client, elicitations } = await connectClient(guardServer(writeServer([]), policy()), {
      elicit: () => ({ action: "decline" }),
    });
    await client.callTool({
      name: "write_file",
      arguments: { path: "/home/u/\u202Eexe.txt", ["k\u200Bey"]: "\u2066x\u2069" },
    });
    const message = elicitations[0]?.message ?? "";
    expect(message).toContain('"path": "/home/u/\\u{202E}exe.txt"');
    expect(message).toContain('"k\\u{200B}ey": "\\u{2066}x\\u{2069}"');
    expect(message).not.toMatch(/[\u202E\u200B\u2066\u2069]/);
  });

  it("a call that cannot be shown is refused without asking, with a reason that says why", async () => {
    const calls: unknown[] = [];
    const { client, elicitations } = await connectClient(guardServer(writeServer(calls), policy()), { elicit: accept });
    const many = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`k${i}`, i]));
    const result = await client.callTool({ name: "write_file", arguments: { path: "/etc/x", ...many } });
    expect(textOf(result)).toBe(
      'The call to "write_file" needs approval, but it cannot be shown to a person in full ' +
        "(it has 81 arguments, more than the 64 an approval can show), " +
        "so nobody was asked and the call was not made.",
    );
    expect(meta(result)).toMatchObject({ outcome: "needs_approval", cause: "not_approved" });
    const longKey = await client.callTool({ name: "write_file", arguments: { path: "/etc/x", ["k".repeat(200)]: 1 } });
    expect(textOf(longKey)).toContain("an argument's name is longer than 128 characters");
    expect(elicitations).toEqual([]);
    expect(calls).toEqual([]);
  });

  it(
    "approvalMessage and escapeNonPrinting, directly: " + "every non-printing class is escaped, printable text is kept",
    () => {
      expect(escapeNonPrinting("a\u0000b\u0085c\u200Dd\u2028e\uFEFFf\uD800g\u{E0041}h é 日本 😀")).toBe(
        "a\\u{0000}b\\u{0085}c\\u{200D}d\\u{2028}e\\u{FEFF}f\\u{D800}g\\u{E0041}h é 日本 😀",
      );
      const message = approvalMessage("t", "why", { b: 1, a: { deep: [1, 2] } }, []);
      expect(message).toEqual({
        ok: true,
        text:
          'Allow the tool "t" to run with these arguments, this once?\n' +
          "Why approval is needed: why\nArguments (3, every one shown):\n" +
          '  "a"."deep"[0]: 1\n  "a"."deep"[1]: 2\n  "b": 1',
      });
    },
  );
});

describe("refusals are data; host failures never leak their text", () => {
  it(
    "a session function that throws: tools/call is denied with host_failure, " +
      "tools/list lists nothing, no text of the error leaks",
    async () => {
      const { server } = countingServer();
      const guarded = guardServer(server, compilePolicy(mlflowPolicy), {
        session: () => {
          throw new Error("redis://admin:secret@db failed");
        },
      });
      const { client } = await connectClient(guarded);
      const result = await client.callTool({ name: "get_run", arguments: { run_id: "r1" } });
      expect(meta(result)).toMatchObject({ outcome: "deny", rule: "", cause: "host_failure" });
      expect(JSON.stringify(result)).not.toContain("secret");
      expect((await client.listTools()).tools).toEqual([]);
    },
  );

  it("an approval function that throws refuses the call with host_failure and no text of its error", async () => {
    const calls: string[] = [];
    const { server } = countingServer(calls);
    const guarded = guardServer(server, compilePolicy(mlflowPolicy), {
      approval: () => {
        throw new Error("token=abc123");
      },
    });
    const { client } = await connectClient(guarded);
    const result = await client.callTool({ name: "update_model_version", arguments: { name: "m", version: "1" } });
    expect(textOf(result)).toBe(
      'The call to "update_model_version" was not approved: the host\'s approval check failed.',
    );
    expect(meta(result)).toMatchObject({ outcome: "needs_approval", cause: "host_failure" });
    expect(JSON.stringify(result)).not.toContain("abc123");
    expect(calls).toEqual([]);
  });

  it("hostile tool names and arguments are denied (malformed or by policy), never crash the server", async () => {
    const calls: string[] = [];
    const { server } = countingServer(calls);
    const { client } = await connectClient(guardServer(server, compilePolicy(mlflowPolicy), { approval: () => true }));
    const raw = (params: unknown) => client.request({ method: "tools/call", params } as never, CallToolResultSchema);
    let deep: unknown = "leaf";
    for (let i = 0; i < 5000; i++) deep = { d: deep };
    for (const params of [
      { name: "x".repeat(10_000) },
      { name: "__proto__", arguments: {} },
      { name: "constructor", arguments: { __proto__: { polluted: true } } },
      { name: "get_run", arguments: deep },
    ]) {
      const result = await raw(params);
      expect(result.isError).toBe(true);
      expect(meta(result)).toMatchObject({ outcome: "deny" });
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // A deep argument to a tool that needs approval cannot be shown, so nobody is asked.
    const approval = await raw({
      name: "update_model_version",
      arguments: { name: "m", version: "1", description: deep },
    });
    expect(approval.isError).toBe(true);
    expect(calls).toEqual([]);
  });
});
