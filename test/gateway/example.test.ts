/**
 * examples/gateway runs as its README says: start.mjs serves the gateway in front of the
 * reference "everything" server with tokens and a decision log, client.mjs (SDK 2.x) connects
 * as two agents, and the policy decides what each sees and may call.
 */

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runNode, stopAll, tempDir, track } from "./gateway-process.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const SECRET = "example-secret-that-is-at-least-32-bytes";

afterAll(stopAll);

describe("examples/gateway", () => {
  it("starts, serves two agents with their own budgets and roles, logs, and stops on SIGTERM", async () => {
    const log = join(tempDir(), "decisions.jsonl");
    const env = { ...process.env, TOOLGATE_JWT_SECRET: SECRET, PORT: "0", LOG: log };
    const start = track(
      spawn(process.execPath, ["examples/gateway/start.mjs"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] }),
    );
    let output = "";
    start.stdout?.setEncoding("utf8").on("data", (c: string) => (output += c));
    start.stderr?.setEncoding("utf8").on("data", (c: string) => (output += c));
    const port = await new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => {
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\/mcp/.exec(output);
        if (m?.[1] !== undefined) {
          clearInterval(timer);
          resolve(m[1]);
        }
      }, 20);
      start.once("exit", () => {
        clearInterval(timer);
        reject(new Error(output));
      });
    });
    expect(output).toMatch(/budgets in memory .*; policy namespace "gateway-example"; bearer tokens required/);

    const agent = await runNode(["examples/gateway/client.mjs", "agent-1", "red"], {
      cwd: root,
      env: { TOOLGATE_JWT_SECRET: SECRET, PORT: port },
    });
    expect(agent.code, agent.stderr).toBe(0);
    expect(agent.stdout).toContain("agent-1: protocol 2026-07-28");
    expect(agent.stdout).toContain("agent-1: tools echo, get-sum\n");
    expect(agent.stdout).toContain("agent-1: echo #3: Echo: hello 3");
    expect(agent.stdout).toMatch(/agent-1: echo #4: refused \(rate_limited\)/);
    expect(agent.stdout).toMatch(/agent-1: get-env: refused \(deny, policy\): Environment variables can hold secrets/);
    const ops = await runNode(["examples/gateway/client.mjs", "ops-bot", "blue", "ops"], {
      cwd: root,
      env: { TOOLGATE_JWT_SECRET: SECRET, PORT: port },
    });
    expect(ops.stdout).toContain("ops-bot: tools echo, get-sum, trigger-long-running-operation\n");
    expect(ops.stdout).toContain("ops-bot: echo #1: Echo: hello 1");
    // A wrong secret gets nowhere.
    const stranger = await runNode(["examples/gateway/client.mjs", "stranger"], {
      cwd: root,
      env: { TOOLGATE_JWT_SECRET: "not-the-secret-but-long-enough-anyway!", PORT: port },
    });
    expect(stranger.code).not.toBe(0);
    expect(stranger.stderr).toMatch(/401|authoriz/i);

    start.kill("SIGTERM");
    expect(await new Promise((resolve) => start.once("exit", resolve))).toBe(0);
    const lines = readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { session: string; tool: string });
    expect(lines.filter((l) => l.session === "agent-1" && l.tool === "echo")).toHaveLength(4);
  });
});
