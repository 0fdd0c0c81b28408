/**
 * `toolgate proxy --url` (docs/spec.md, section 9): a gateway in front of a remote Streamable
 * HTTP server. The remote here is another toolgate gateway (allow-all) in front of a stdio
 * server, on a fixed loopback port so that it can come back where it was. While it is away,
 * calls are answered with errors, never allowed by accident; once it is back, the gateway
 * connects again and calls go through.
 */

import { afterAll, describe, expect, it } from "vitest";
import {
  client1,
  client2,
  outcomeOf,
  runCli,
  SLOW_UPSTREAM,
  startGateway,
  stopAll,
  writeTemp,
} from "./gateway-process.js";

afterAll(stopAll);

const allowAll = () => writeTemp("allow.json", JSON.stringify({ version: "1", default: "allow", tools: {} }));
const front = () =>
  writeTemp(
    "front.json",
    JSON.stringify({ version: "1", default: "deny", tools: { echo: { rate_limit: { max: 100, window: "1h" } } } }),
  );

describe("toolgate proxy --url", () => {
  it("relays to a remote server, reports its absence as errors, and reconnects when it is back", async () => {
    const remote = await startGateway(["--policy", allowAll()], { upstream: ["--", process.execPath, SLOW_UPSTREAM] });
    const port = remote.port;
    const gw = await startGateway(["--policy", front()], { upstream: ["--url", remote.url.href] });
    expect(gw.stderr()).toContain(`upstream ${remote.url.href} (Streamable HTTP)`);
    const c = await client2(gw.url);
    expect((await c.listTools()).tools.map((t) => t.name)).toEqual(["echo"]);
    const echo = () => c.callTool({ name: "echo", arguments: { text: "hi" } });
    expect((await echo()) as unknown).toMatchObject({ content: [{ text: 'echo: {"text":"hi"}' }] });
    expect(outcomeOf(await c.callTool({ name: "slow", arguments: {} }))).toBe("deny");

    await remote.stop();
    // Away: an error (a JSON-RPC error or an error result, as the downstream SDK puts it), never
    // the tool's result.
    for (let i = 0; i < 2; i++) {
      const failed = (await echo().then(
        (r) => r,
        (e: unknown) => e,
      )) as { isError?: boolean; content?: { text: string }[]; message?: string };
      const text = failed instanceof Error ? failed.message : (failed.content?.[0]?.text ?? "");
      if (!(failed instanceof Error)) expect(failed.isError).toBe(true);
      expect(text).toMatch(/unreachable|fetch failed|ECONNREFUSED|connect/i);
      expect(text).not.toContain('echo: {"text":"hi"}');
    }

    const back = await startGateway(["--policy", allowAll()], {
      upstream: ["--", process.execPath, SLOW_UPSTREAM],
      port,
    });
    let result: unknown;
    for (let i = 0; i < 50 && result === undefined; i++) {
      result = await echo().catch(() => undefined);
      if (result === undefined) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(result).toMatchObject({ content: [{ text: 'echo: {"text":"hi"}' }] });
    expect(gw.stderr()).toMatch(/connected again/);
    await c.close();
    await Promise.all([gw.stop(), back.stop()]);
  });

  it("serves a 1.x client in front of a remote server", async () => {
    const remote = await startGateway(["--policy", allowAll()], { upstream: ["--", process.execPath, SLOW_UPSTREAM] });
    const gw = await startGateway(["--policy", front()], { upstream: ["--url", remote.url.href] });
    const c = await client1(gw.url);
    expect(await c.callTool({ name: "echo", arguments: { text: "x" } })).toMatchObject({
      content: [{ text: 'echo: {"text":"x"}' }],
    });
    await c.close();
    await Promise.all([gw.stop(), remote.stop()]);
  });

  it("is an error at start when the remote server cannot be reached", async () => {
    const r = await runCli([
      "proxy",
      "--policy",
      front(),
      "--listen",
      "0",
      "--url",
      "http://127.0.0.1:1/mcp",
      "--start-timeout",
      "3000",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the server at http:\/\/127\.0\.0\.1:1\/mcp could not be reached/);
  });
});
