import { afterEach, describe, expect, it } from "vitest";
import { DECISION_META_KEY } from "toolgate/mcp";
import { echoResult, mlflowTools } from "../fixtures/mcp/mlflow.mjs";
import { mlflowPolicy, textOf } from "./helpers.js";
import { alive, eventually, runCli, startProxy, UPSTREAM, writeTemp, type ProxyRun } from "./proxy-process.js";

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

const upstreamPid = (run: ProxyRun): number => Number(/mlflow fixture: ready \(pid (\d+)\)/.exec(run.stderr())?.[1]);
const tag = { name: "set_run_tag", arguments: { run_id: "r1", key: "k", value: "v" } };
const update = { name: "update_model_version", arguments: { name: "churn", version: "3", description: "better" } };

describe("toolgate proxy, a real child process between a real SDK client and a real upstream server", () => {
  it(
    "relays the server's identity, tools (filtered), " + "resources and prompts, and passes its stderr through",
    async () => {
      const run = await proxy();
      const { client } = run;
      expect(client.getServerVersion()).toMatchObject({ name: "mlflow-fixture", version: "1.0.0" });
      expect(client.getInstructions()).toBe("An MLflow tracking server (test fixture).");
      const tools = (await client.listTools()).tools;
      const names = tools.map((t) => t.name);
      expect(names).toContain("get_run");
      expect(names).toContain("update_model_version");
      expect(names).not.toContain("delete_run");
      expect(names).not.toContain("register_model");
      expect(tools.find((t) => t.name === "get_run")).toEqual(mlflowTools.find((t) => t.name === "get_run"));
      expect((await client.listResources()).resources).toEqual([
        { uri: "mlflow://experiments", name: "experiments", mimeType: "application/json" },
      ]);
      expect((await client.readResource({ uri: "mlflow://experiments" })).contents[0]).toMatchObject({
        text: '[{"id":"1","name":"btc"}]',
      });
      expect(
        (await client.getPrompt({ name: "summarize_run", arguments: { run_id: "r9" } })).messages[0]?.content,
      ).toEqual({ type: "text", text: "Summarize run r9" });
      expect(await eventually(() => /mlflow fixture: ready/.test(run.stderr()))).toBe(true);
    },
  );

  it("allows, denies and rate-limits tool calls", async () => {
    const { client } = await proxy();
    expect(await client.callTool({ name: "get_run", arguments: { run_id: "r1" } })).toEqual(
      echoResult("get_run", { run_id: "r1" }),
    );
    const denied = await client.callTool({ name: "delete_run", arguments: { run_id: "r1" } });
    expect(denied.isError).toBe(true);
    expect(textOf(denied)).toBe("Destructive operations are blocked");
    expect(denied._meta?.[DECISION_META_KEY]).toEqual({
      outcome: "deny",
      rule: "/tools/delete_*",
      reason: "Destructive operations are blocked",
      cause: "policy",
    });
    expect((await client.callTool(tag)).isError).toBeUndefined();
    expect((await client.callTool(tag)).isError).toBeUndefined();
    const limited = await client.callTool(tag);
    expect(limited.isError).toBe(true);
    expect(textOf(limited)).toMatch(/retry/i);
    expect(limited._meta?.[DECISION_META_KEY]).toMatchObject({
      outcome: "rate_limited",
      rule: "/tools/set_run_tag/rate_limit",
      limit: { max: 2 },
    });
  });

  it("asks for approval through the client's elicitation: accepted, declined, cancelled", async () => {
    const answers: ("accept" | "decline" | "cancel")[] = ["decline", "cancel", "accept"];
    const run = await proxy({
      elicit: () => {
        const action = answers.shift() ?? "decline";
        return action === "accept" ? { action, content: {} } : { action };
      },
    });
    const declined = await run.client.callTool(update);
    expect(textOf(declined)).toBe('The user declined the call to "update_model_version".');
    const cancelled = await run.client.callTool(update);
    expect(textOf(cancelled)).toMatch(/^The user dismissed the approval request for "update_model_version"/);
    expect(await run.client.callTool(update)).toEqual(echoResult("update_model_version", update.arguments));
    expect(run.elicitations).toHaveLength(3);
    expect(run.elicitations[0]).toMatchObject({ message: expect.stringContaining("Changes model metadata") });
    // The approved call used the limit's one call: the next is refused without asking.
    expect((await run.client.callTool(update))._meta?.[DECISION_META_KEY]).toMatchObject({ outcome: "rate_limited" });
    expect(run.elicitations).toHaveLength(3);
  });

  it("refuses a call that needs approval when the client cannot elicit", async () => {
    const { client } = await proxy();
    const refused = await client.callTool(update);
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toContain(
      "The client cannot ask its user for approval (it does not support form elicitation)",
    );
    // The refusal keeps needs_approval visible, so a host can run an approval flow of its own.
    expect(refused._meta?.[DECISION_META_KEY]).toEqual({
      outcome: "needs_approval",
      rule: "/tools/update_model_version",
      reason: textOf(refused),
      cause: "not_approved",
    });
  });

  it("relays the server's own requests to the client (elicitation) and its progress notifications", async () => {
    const run = await proxy({
      env: { FIXTURE_ASK_ON: "get_experiments" },
      elicit: () => ({ action: "accept", content: {} }),
    });
    const asked = await run.client.callTool({ name: "get_experiments", arguments: {} });
    expect(textOf(asked)).toBe("the client answered accept");
    expect(run.elicitations).toEqual([
      expect.objectContaining({ message: "The server asks: really run get_experiments?" }),
    ]);
    const progress: unknown[] = [];
    const result = await run.client.callTool({ name: "get_run", arguments: { run_id: "r1" } }, undefined, {
      onprogress: (p) => progress.push(p),
    });
    expect(result).toEqual(echoResult("get_run", { run_id: "r1" }));
    expect(progress).toEqual([{ progress: 1, total: 2, message: "get_run halfway" }]);
  });

  it("gives two clients (two proxies on one policy) separate budgets", async () => {
    const [a, b] = await Promise.all([proxy(), proxy()]);
    for (const run of [a, b]) {
      expect((await run.client.callTool(tag)).isError).toBeUndefined();
      expect((await run.client.callTool(tag)).isError).toBeUndefined();
      expect((await run.client.callTool(tag)).isError).toBe(true);
    }
  });

  it("lists denied tools too with --show-denied, and still refuses them", async () => {
    const { client } = await proxy({}, ["--policy", policyFile, "--show-denied", ...upstream]);
    expect((await client.listTools()).tools).toHaveLength(mlflowTools.length);
    expect((await client.callTool({ name: "delete_run", arguments: { run_id: "r1" } })).isError).toBe(true);
  });

  it("exits 0 and stops the upstream server when the client disconnects", async () => {
    const run = await proxy();
    await run.client.listTools();
    expect(await eventually(() => Number.isInteger(upstreamPid(run)))).toBe(true);
    const pid = upstreamPid(run);
    expect(alive(pid)).toBe(true);
    await run.client.close();
    expect(await run.exited).toBe(0);
    expect(await eventually(() => !alive(pid))).toBe(true);
  });

  it("when the upstream crashes: the call in flight fails, the proxy says why and exits 1", async () => {
    const run = await proxy({ env: { FIXTURE_CRASH_ON: "get_run" } });
    const outcome = await run.client.callTool({ name: "get_run", arguments: { run_id: "r1" } }).then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    expect(outcome).toHaveProperty("error");
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toContain("mlflow fixture: crashing on get_run");
    expect(run.stderr()).toContain("toolgate proxy: the server exited; closing the connection to the client");
  });
});

describe("toolgate proxy at start-up", () => {
  it("prints its help with --help", async () => {
    const { status, stdout } = await runCli(["proxy", "--help"]);
    expect(status).toBe(0);
    expect(stdout).toMatch(/^Usage: toolgate proxy --policy <policy.json>/);
  });

  it("reports an invalid policy with line and column, exits 1, and does not start the server", async () => {
    const bad = writeTemp(
      "bad.json",
      '{\n  "version": "1",\n  "default": "deny",\n  "tools": { "get_run": { "rate_limits": {} } }\n}\n',
    );
    const { status, stderr, stdout } = await runCli(["proxy", "--policy", bad, ...upstream]);
    expect(status).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toContain(`toolgate proxy: ${bad} is not a valid policy; the server was not started:`);
    expect(stderr).toMatch(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:4:\\d+ /tools/get_run`));
    expect(stderr).not.toContain("mlflow fixture");
  });

  it("exits 2 on bad usage or an unreadable policy file", async () => {
    const noPolicy = await runCli(["proxy", ...upstream]);
    expect(noPolicy).toMatchObject({
      status: 2,
      stderr: "toolgate proxy: --policy <file> is required (see toolgate proxy --help)\n",
    });
    const noServer = await runCli(["proxy", "--policy", policyFile]);
    expect(noServer.status).toBe(2);
    expect(noServer.stderr).toContain('the server to run is missing: write its command after "--"');
    const missing = await runCli(["proxy", "--policy", "/nonexistent/policy.json", ...upstream]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^toolgate proxy: cannot read \/nonexistent\/policy.json/);
  });

  it("exits 1 with a clear message when the server cannot be started", async () => {
    const { status, stderr } = await runCli([
      "proxy",
      "--policy",
      policyFile,
      "--",
      "/nonexistent/mcp-server",
      "--flag",
    ]);
    expect(status).toBe(1);
    expect(stderr).toContain(
      'toolgate proxy: the server "/nonexistent/mcp-server --flag" could not be started: ' +
        "spawn /nonexistent/mcp-server ENOENT",
    );
  });
});
