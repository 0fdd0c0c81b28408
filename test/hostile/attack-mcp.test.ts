/**
 * Adversarial review of 0.2 (issue 11), MCP last (another engineer is still changing it): the
 * approval prompt (issue 10 item 3) through guardServer with a real SDK 1.x client asked by
 * elicitation, names beyond 128 characters from a client, and declined approvals.
 */

import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { compilePolicy } from "toolgate";
import { approvalMessage, DECISION_META_KEY, guardServer } from "toolgate/mcp";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { connectClient, textOf } from "../mcp/helpers.js";

const meta = (result: unknown) => (result as { _meta?: Record<string, unknown> })._meta?.[DECISION_META_KEY];

function server(ran: unknown[]) {
  const s = new McpServer({ name: "attack", version: "1.0.0" });
  s.registerTool(
    "write",
    { inputSchema: { target: z.any().optional(), note: z.string().optional(), path: z.string().optional() } },
    async (args) => {
      ran.push(args);
      return { content: [{ type: "text", text: "written" }] };
    },
  );
  s.registerTool("read", { inputSchema: { path: z.string() } }, async (args) => {
    ran.push(args);
    return { content: [{ type: "text", text: "read" }] };
  });
  return s;
}

const policy = () =>
  compilePolicy({
    version: "1",
    name: "attack-mcp",
    default: "allow",
    tools: { write: { action: "require_approval", reason: "writes need a person" } },
  });

describe("attack: the approval prompt through guardServer (issue 10 item 3)", () => {
  it("a 600-character note before the path: the path and every key are shown, bidi escaped", async () => {
    const ran: unknown[] = [];
    const { client, elicitations } = await connectClient(guardServer(server(ran), policy()), {
      elicit: () => ({ action: "accept", content: {} }),
    });
    await client.callTool({ name: "write", arguments: { note: "n".repeat(600), path: "/etc/shadow\u202e" } });
    const message = elicitations[0]!.message;
    expect(message).toContain("/etc/shadow");
    expect(message).toContain('"note"');
    expect(message).not.toContain("\u202e");
    expect(ran).toHaveLength(1);
  });

  it("a long value nested before the path no longer hides it from the approver (was a BUG; fixed)", async () => {
    // docs/spec.md section 8: the question shows "every key, bounded previews";
    // issue 10 item 3: "Never cut what decides". The preview of `target` was cut at 200 characters
    // inside the nested object, in the agent's key order, so "/etc/shadow" was never shown. Now every
    // leaf is shown by its path, each with its own bounded preview.
    const ran: unknown[] = [];
    const { client, elicitations } = await connectClient(guardServer(server(ran), policy()), {
      elicit: () => ({ action: "accept", content: {} }),
    });
    await client.callTool({ name: "write", arguments: { target: { note: "n".repeat(600), path: "/etc/shadow" } } });
    const message = elicitations[0]!.message;
    expect(message).toContain('  "target"."path": "/etc/shadow"');
    expect(message).toContain(`  "target"."note": "${"n".repeat(199)}… (602 characters in all)`);
  });

  it("the same through approvalMessage: cycles and BigInt are refused with a reason, not shown cut", () => {
    const c: Record<string, unknown> = {};
    c.self = c;
    expect(approvalMessage("write", "r", { c })).toMatchObject({ ok: false });
    expect(approvalMessage("write", "r", { b: 1n })).toMatchObject({ ok: false });
    expect(
      approvalMessage("write", "r", Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i]))),
    ).toMatchObject({ ok: false });
    expect(approvalMessage("write", "r", { ["k".repeat(129)]: 1 })).toMatchObject({ ok: false });
    const ok = approvalMessage("write", "r\u2066", { "k\u200b": "v\u0000" });
    expect(ok.ok && !/[\u0000\u200b\u2066]/.test(ok.text)).toBe(true);
  });

  it("a declined or cancelled elicitation refuses with not_approved and runs nothing", async () => {
    for (const answer of [{ action: "decline" }, { action: "cancel" }]) {
      const ran: unknown[] = [];
      const { client } = await connectClient(guardServer(server(ran), policy()), { elicit: () => answer as never });
      const result = await client.callTool({ name: "write", arguments: { path: "/x" } });
      expect(result.isError).toBe(true);
      expect(meta(result)).toMatchObject({ outcome: "needs_approval", cause: "not_approved" });
      expect(ran).toEqual([]);
    }
  });

  it("a client that cannot be asked gets a refusal that says so", async () => {
    const ran: unknown[] = [];
    const { client } = await connectClient(guardServer(server(ran), policy()));
    const result = await client.callTool({ name: "write", arguments: { path: "/x" } });
    expect(result.isError).toBe(true);
    expect(meta(result)).toMatchObject({ cause: "not_approved" });
    expect(ran).toEqual([]);
  });
});

describe("attack: names a client chooses", () => {
  it("129-character and 64 KB tool names are refused as malformed, the reason repeats neither", async () => {
    const ran: unknown[] = [];
    const { client } = await connectClient(guardServer(server(ran), policy()));
    for (const name of ["r".repeat(129), "r".repeat(65_536)]) {
      const result = await client.request(
        { method: "tools/call", params: { name, arguments: {} } },
        CallToolResultSchema,
      );
      expect(result.isError).toBe(true);
      expect(textOf(result)).not.toContain("r".repeat(129));
      expect(textOf(result).length).toBeLessThan(500);
    }
    expect(ran).toEqual([]);
  });
});
