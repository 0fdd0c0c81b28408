import { spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { DECISION_META_KEY } from "toolgate/mcp";
import { echoResult, mlflowTools } from "../fixtures/mcp/mlflow.mjs";
import { mlflowPolicy, textOf } from "./helpers.js";
import { alive, CLI, eventually, startProxy, UPSTREAM, writeTemp, type ProxyRun } from "./proxy-process.js";

const policyFile = writeTemp("policy.json", JSON.stringify(mlflowPolicy, null, 2));
const upstream = ["--", process.execPath, UPSTREAM];
const running: ProxyRun[] = [];

async function proxy(
  options: Parameters<typeof startProxy>[1] = {},
  args = ["--policy", policyFile, ...upstream],
): Promise<ProxyRun> {
  const run = await startProxy(args, options);
  running.push(run);
  return run;
}

afterEach(async () => {
  for (const run of running.splice(0)) {
    await run.client.close().catch(() => {});
    if (run.child.exitCode === null) run.child.kill();
  }
});

const upstreamPid = (stderr: string): number => Number(/mlflow fixture: ready \(pid (\d+)\)/.exec(stderr)?.[1]);

describe("toolgate proxy pins the upstream's tool definitions", () => {
  it(
    "a tool whose definition changes after listing is hidden and refused with tool_changed; " +
      "stderr says what changed",
    async () => {
      const run = await proxy({ env: { FIXTURE_RUG_PULL_ON: "health" } });
      const before = (await run.client.listTools()).tools.map((t) => t.name);
      expect(before).toContain("get_run");
      expect(before).toContain("get_runs");
      expect(await run.client.callTool({ name: "get_run", arguments: { run_id: "r1" } })).toEqual(
        echoResult("get_run", { run_id: "r1" }),
      );

      expect(textOf(await run.client.callTool({ name: "health" }))).toBe("the tools changed");
      const after = (await run.client.listTools()).tools.map((t) => t.name);
      expect(after).not.toContain("get_run");
      expect(after).not.toContain("get_runs");
      expect(after).toContain("get_experiments");
      const refused = await run.client.callTool({ name: "get_run", arguments: { run_id: "r1" } });
      expect(refused.isError).toBe(true);
      expect(textOf(refused)).toBe(
        'The definition of the tool "get_run" changed since it was first listed, so this proxy refuses to call it.',
      );
      expect(refused._meta?.[DECISION_META_KEY]).toEqual({
        outcome: "deny",
        rule: "",
        reason: textOf(refused),
        cause: "tool_changed",
      });
      expect(await eventually(() => /changed the description of the tool "get_run"/.test(run.stderr()))).toBe(true);
      expect(run.stderr()).toMatch(/changed the annotations of the tool "get_runs"/);
      // Reported once, however often the list is read.
      await run.client.listTools();
      expect(run.stderr().match(/of the tool "get_run" since/g)).toHaveLength(1);
    },
  );

  it("a changed tool is refused even when the client never lists again (the proxy reads the list itself)", async () => {
    const run = await proxy({ env: { FIXTURE_RUG_PULL_ON: "health" } });
    await run.client.listTools();
    await run.client.callTool({ name: "health" });
    await eventually(() => false, 200);
    expect(
      (await run.client.callTool({ name: "get_run", arguments: { run_id: "r1" } }))._meta?.[DECISION_META_KEY],
    ).toMatchObject({ cause: "tool_changed" });
  });

  it("--accept-tool-changes passes changed definitions on", async () => {
    const run = await proxy({ env: { FIXTURE_RUG_PULL_ON: "health" } }, [
      "--policy",
      policyFile,
      "--accept-tool-changes",
      ...upstream,
    ]);
    await run.client.listTools();
    await run.client.callTool({ name: "health" });
    const tools = (await run.client.listTools()).tools;
    expect(tools.find((t) => t.name === "get_run")?.description).toMatch(/^Get a run. Before answering/);
    expect((await run.client.callTool({ name: "get_run", arguments: { run_id: "r1" } })).isError).toBeUndefined();
  });
});

describe("toolgate proxy relays what the client declared, no more", () => {
  it("tells the upstream only the capabilities the client declared", async () => {
    const plain = await proxy();
    expect(await eventually(() => /client capabilities/.test(plain.stderr()))).toBe(true);
    expect(plain.stderr()).toContain("mlflow fixture: client capabilities {}");
    const eliciting = await proxy({ elicit: () => ({ action: "accept", content: {} }) });
    expect(await eventually(() => /client capabilities/.test(eliciting.stderr()))).toBe(true);
    // The SDK's client spells a bare elicitation declaration as form elicitation.
    expect(eliciting.stderr()).toContain('mlflow fixture: client capabilities {"elicitation":{"form":{}}}');
  });
});

describe("toolgate proxy options", () => {
  it("--command with repeated --arg runs the server like the words after --", async () => {
    const run = await proxy({}, ["--policy", policyFile, "--command", process.execPath, "--arg", UPSTREAM]);
    expect((await run.client.listTools()).tools.length).toBeGreaterThan(0);
  });

  it(
    "--session gives the session its attributes; " + "a policy reading missing attributes is warned about at start",
    async () => {
      const perUser = writeTemp(
        "per-user.json",
        JSON.stringify({
          version: "1",
          default: "deny",
          tools: {
            health: { rate_limit: { max: 1, window: "1h", per: "/userId" } },
            get_run: {
              rules: [
                { when: { session: { properties: { team: { const: "ml" } }, required: ["team"] } } },
                { action: "deny" },
              ],
            },
          },
        }),
      );
      const bare = await proxy({}, ["--policy", perUser, ...upstream]);
      expect(bare.stderr()).toMatch(
        /warning: the policy reads session attributes that this proxy's session does not have: "\/userId" \(\/tools\/health\/rate_limit, per\), "team" \(\/tools\/get_run\/rules\/0, when.session\)/,
      );
      expect((await bare.client.callTool({ name: "health" }))._meta?.[DECISION_META_KEY]).toMatchObject({
        cause: "missing_attribute",
      });
      const given = await proxy({}, [
        "--policy",
        perUser,
        "--session",
        '{"id":"s1","userId":"ada","team":"ml"}',
        ...upstream,
      ]);
      expect(given.stderr()).not.toContain("warning");
      expect((await given.client.callTool({ name: "health" })).isError).toBeUndefined();
      expect((await given.client.callTool({ name: "get_run", arguments: { run_id: "r1" } })).isError).toBeUndefined();
      expect((await given.client.callTool({ name: "health" }))._meta?.[DECISION_META_KEY]).toMatchObject({
        outcome: "rate_limited",
      });
    },
  );

  it(
    "--start-timeout: a server that never answers the handshake " + "is stopped, and the proxy says so and exits 1",
    async () => {
      const silent = [
        "-e",
        "process.stderr.write('silent fixture pid ' + process.pid + '\\n'); setInterval(() => {}, 1000)",
      ];
      const child = spawn(
        process.execPath,
        [CLI, "proxy", "--policy", policyFile, "--start-timeout", "300", "--", process.execPath, ...silent],
        {
          stdio: ["pipe", "pipe", "pipe"],
        },
      );
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
      child.stdin.write(
        `${JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
        })}\n`,
      );
      const status = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      expect(status).toBe(1);
      expect(stderr).toMatch(
        /toolgate proxy: the server ".*" did not answer the MCP handshake within 300 ms \(see --start-timeout\)/,
      );
      const pid = Number(/silent fixture pid (\d+)/.exec(stderr)?.[1]);
      expect(await eventually(() => !alive(pid))).toBe(true);
    },
  );

  it("rejects bad values at start", async () => {
    const { runCli } = await import("./proxy-process.js");
    for (const [args, message] of [
      [["--start-timeout", "soon"], "--start-timeout must be a whole number of milliseconds"],
      [["--approval-timeout", "0"], "--approval-timeout must be a whole number of milliseconds"],
      [["--session", '{"userId":"ada"}'], '--session must be a JSON object with a non-empty string "id"'],
      [["--arg", "x"], "--arg is for the arguments of --command <command>"],
    ] as const) {
      const result = await runCli(["proxy", "--policy", policyFile, ...args, ...(args[0] === "--arg" ? [] : upstream)]);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(message);
    }
    const both = await runCli(["proxy", "--policy", policyFile, "--command", "node", ...upstream]);
    expect(both.stderr).toContain('give the server either after "--" or with --command, not both');
  });
});

describe("toolgate proxy shutdown", () => {
  it("the SDK's own stdio client closing stops the upstream promptly, and the proxy exits", async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, "proxy", "--policy", policyFile, ...upstream],
      stderr: "pipe",
    });
    let stderr = "";
    const errors = transport.stderr as NodeJS.ReadableStream | null;
    errors?.setEncoding("utf8");
    errors?.on("data", (c: string) => (stderr += c));
    const client = new Client({ name: "sdk-client", version: "1.0.0" });
    await client.connect(transport);
    await client.listTools();
    expect(await eventually(() => Number.isInteger(upstreamPid(stderr)))).toBe(true);
    const pid = upstreamPid(stderr);
    const proxyPid = transport.pid!;
    await client.close();
    expect(await eventually(() => !alive(pid) && !alive(proxyPid))).toBe(true);
  });
});

describe("toolgate proxy, tool list", () => {
  it("lists exactly the upstream's definitions for the tools it shows", async () => {
    const run = await proxy();
    const tools = (await run.client.listTools()).tools;
    for (const tool of tools) expect(tool).toEqual(mlflowTools.find((t) => t.name === tool.name));
  });
});
