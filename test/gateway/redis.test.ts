/**
 * `toolgate proxy --redis` (docs/spec.md, section 9): two gateway processes with the same policy
 * share one budget through a real redis-server, budgets survive a restart of the proxy, a Redis
 * that goes away gets calls refused within the store timeout (never allowed, never stalled),
 * `--fail-open` allows them marked, and calls are decided again once Redis is back.
 */

import { Client as Client2, StreamableHTTPClientTransport as Transport2 } from "@modelcontextprotocol/client";
import { afterAll, expect, it } from "vitest";
import { describeWithRedis } from "../helpers/redis-server.js";
import { client1, client2, outcomeOf, runCli, startGateway, stopAll, writeTemp } from "./gateway-process.js";

afterAll(stopAll);

const policyText = (name: string) =>
  JSON.stringify({
    version: "1",
    name,
    default: "deny",
    tools: { get_run: { rate_limit: { max: 3, window: "1h", per: "global" } } },
  });

type Caller = { callTool: (p: { name: string; arguments: Record<string, unknown> }) => Promise<unknown> };
const call = async (c: Caller) => {
  const result = (await c.callTool({ name: "get_run", arguments: { run_id: "r1" } })) as {
    _meta?: Record<string, { cause?: string; failedOpen?: boolean }>;
  };
  return { outcome: outcomeOf(result), cause: result._meta?.["toolgate/decision"]?.cause };
};

describeWithRedis("toolgate proxy --redis", (server) => {
  it("shares one budget between two proxy processes, and keeps it across a restart", async () => {
    const policy = writeTemp("p.json", policyText("shared-budget"));
    const a = await startGateway(["--policy", policy, "--redis", server().url]);
    const b = await startGateway(["--policy", policy, "--redis", server().url]);
    expect(a.stderr()).toMatch(new RegExp(`budgets in Redis at redis://127\\.0\\.0\\.1:${server().port}`));
    const ca = await client2(a.url);
    const cb = await client1(b.url);
    expect([(await call(ca)).outcome, (await call(cb)).outcome, (await call(ca)).outcome]).toEqual([
      "allow",
      "allow",
      "allow",
    ]);
    expect((await call(cb)).outcome).toBe("rate_limited");
    expect((await call(ca)).outcome).toBe("rate_limited");
    await Promise.all([ca.close(), cb.close()]);
    await Promise.all([a.stop(), b.stop()]);
    // A new proxy on the same Redis: the budget is still spent.
    const c = await startGateway(["--policy", policy, "--redis", server().url]);
    const cc = await client2(c.url);
    expect((await call(cc)).outcome).toBe("rate_limited");
    await cc.close();
    await c.stop();
  });

  it("approves on one replica a 2026-07-28 call asked on the other (shared key), once (shared nonces)", async () => {
    const policy = writeTemp(
      "p.json",
      JSON.stringify({
        version: "1",
        name: "shared-approval",
        default: "deny",
        tools: { delete_run: { action: "require_approval" } },
      }),
    );
    const a = await startGateway(["--policy", policy, "--redis", server().url]);
    const b = await startGateway(["--policy", policy, "--redis", server().url]);
    // The first ask goes to replica A; the retry that carries the answer goes to replica B.
    const bodies: string[] = [];
    const sent: { body: string; headers: Headers }[] = [];
    const routed = async (url: string | URL, init?: RequestInit) => {
      const body = typeof init?.body === "string" ? init.body : "";
      bodies.push(body);
      sent.push({ body, headers: new Headers(init?.headers) });
      const target = body.includes("inputResponses") ? b.url : a.url;
      return fetch(new URL(target), init);
    };
    const elicited: unknown[] = [];
    const client = new Client2(
      { name: "replica-test", version: "1" },
      { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: "auto" } },
    );
    client.setRequestHandler("elicitation/create", async (request) => {
      elicited.push(request.params);
      return { action: "accept", content: { approve: true } };
    });
    await client.connect(new Transport2(a.url, { fetch: routed }));
    expect(client.getNegotiatedProtocolVersion()).toBe("2026-07-28");
    const result = (await client.callTool({ name: "delete_run", arguments: { run_id: "r9" } })) as {
      isError?: boolean;
      content: { text: string }[];
    };
    expect(elicited).toHaveLength(1);
    expect(bodies.some((body) => body.includes("inputResponses"))).toBe(true);
    expect(result.isError).not.toBe(true);
    expect(result.content[0]?.text).toContain("delete_run");
    // The same answer sent again, to either replica, approves nothing: its nonce is used.
    const retry = sent.find((r) => r.body.includes("inputResponses") && r.body.includes("tools/call"));
    expect(retry).toBeDefined();
    for (const target of [a.url, b.url]) {
      const again = await fetch(target, { method: "POST", headers: retry?.headers, body: retry?.body });
      const text = await again.text();
      expect(text).not.toContain('"run_id":"r9"}');
      expect(text).toMatch(/not_approved|input_required|approv/);
    }
    await client.close();
    await Promise.all([a.stop(), b.stop()]);
  });

  it("refuses calls within the store timeout while Redis is down, and decides again once it is back", async () => {
    const policy = writeTemp("p.json", policyText("outage"));
    const gw = await startGateway(["--policy", policy, "--redis", server().url, "--store-timeout", "300"]);
    const c = await client2(gw.url);
    expect((await call(c)).outcome).toBe("allow");
    await server().kill();
    try {
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        const r = await call(c);
        expect(r).toEqual({ outcome: "deny", cause: "store_failure" });
        // Within the timeout (a generous multiple of it: this asserts "no stall", not speed).
        expect(Date.now() - started).toBeLessThan(300 * 10);
      }
    } finally {
      await server().start();
    }
    // ioredis reconnects in the background; the next calls are decided again.
    let back = "deny";
    for (let i = 0; i < 50 && back !== "allow"; i++) {
      back = (await call(c)).outcome;
      if (back !== "allow") await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(back).toBe("allow");
    await c.close();
    await gw.stop();
  });

  it("allows calls marked failedOpen while Redis is down with --fail-open", async () => {
    const policy = writeTemp("p.json", policyText("fail-open"));
    const gw = await startGateway([
      "--policy",
      policy,
      "--redis",
      server().url,
      "--store-timeout",
      "300",
      "--fail-open",
    ]);
    const c = await client1(gw.url);
    await server().kill();
    try {
      const result = (await c.callTool({ name: "get_run", arguments: { run_id: "r1" } })) as {
        isError?: boolean;
        content: { text: string }[];
      };
      expect(result.isError).not.toBe(true);
    } finally {
      await server().start();
    }
    await c.close();
    await gw.stop();
  });

  it("is an error at start when Redis cannot be reached, before anything listens", async () => {
    const policy = writeTemp("p.json", policyText("unreachable"));
    const r = await runCli([
      "proxy",
      "--policy",
      policy,
      "--listen",
      "0",
      "--redis",
      "redis://127.0.0.1:1",
      "--",
      process.execPath,
      "-e",
      "",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Redis at redis:\/\/127\.0\.0\.1:1 could not be reached/);
    expect(r.stderr).not.toMatch(/listening/);
  });
});
