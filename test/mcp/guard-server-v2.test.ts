import { describe, expect, it } from "vitest";
import { McpServer, Server } from "@modelcontextprotocol/server";
import { compilePolicy, MemoryStore } from "toolgate";
import { DECISION_META_KEY, guardServer } from "toolgate/mcp";
import { echoResult, mlflowTools } from "../fixtures/mcp/mlflow.mjs";
import {
  createLowLevelMlflowServerV2,
  createMlflowServerV2,
  registerMlflowToolsV2,
} from "../fixtures/mcp/mlflow-v2.mjs";
import { mlflowPolicy } from "./helpers.js";
import { connectLegacyV2, connectModern, textOfV2 as textOf } from "./helpers-v2.js";

type RecordedCall = { tool: string; args: unknown };
const accept = () => ({ action: "accept" as const, content: {} });
const tag = { name: "set_run_tag", arguments: { run_id: "r1", key: "k", value: "v" } };
const update = { name: "update_model_version", arguments: { name: "churn", version: "3", description: "better" } };
const meta = (result: unknown) => (result as { _meta?: Record<string, unknown> })._meta?.[DECISION_META_KEY];

describe("guardServer on SDK 2.x (@modelcontextprotocol/server), 2025 era, with a 2.x client", () => {
  const kinds = [
    [
      "McpServer, guarded after registering",
      (calls: RecordedCall[]) => guardServer(createMlflowServerV2({ calls }), compilePolicy(mlflowPolicy)),
    ],
    [
      "McpServer, guarded before registering",
      (calls: RecordedCall[]) => {
        const server = guardServer(new McpServer({ name: "late", version: "2.0.0" }), compilePolicy(mlflowPolicy));
        return registerMlflowToolsV2(server, calls);
      },
    ],
    [
      "low-level Server, guarded after",
      (calls: RecordedCall[]) => guardServer(createLowLevelMlflowServerV2({ calls }), compilePolicy(mlflowPolicy)),
    ],
    [
      "low-level Server, guarded before",
      (calls: RecordedCall[]) => {
        const server = guardServer(
          new Server({ name: "early", version: "2.0.0" }, { capabilities: { tools: {} } }),
          compilePolicy(mlflowPolicy),
        );
        server.setRequestHandler("tools/list", async () => ({ tools: mlflowTools as never }));
        server.setRequestHandler("tools/call", async (request) => {
          calls.push({ tool: request.params.name, args: request.params.arguments });
          return echoResult(request.params.name, request.params.arguments);
        });
        return server;
      },
    ],
  ] as const;

  for (const [kind, make] of kinds) {
    it(
      `${kind}: allows, denies with a cause, ` + `rate-limits with retryAfterMs, asks for approval, filters the list`,
      async () => {
        const calls: RecordedCall[] = [];
        const { client, elicitations } = await connectLegacyV2(make(calls), { elicit: accept });
        expect(await client.callTool({ name: "get_run", arguments: { run_id: "r1" } })).toMatchObject(
          echoResult("get_run", { run_id: "r1" }),
        );
        const denied = await client.callTool({ name: "delete_run", arguments: { run_id: "r1" } });
        expect(denied.isError).toBe(true);
        expect(textOf(denied)).toBe("Destructive operations are blocked");
        expect(meta(denied)).toEqual({
          outcome: "deny",
          rule: "/tools/delete_*",
          reason: "Destructive operations are blocked",
          cause: "policy",
        });
        expect((await client.callTool(tag)).isError).toBeFalsy();
        expect((await client.callTool(tag)).isError).toBeFalsy();
        const limited = await client.callTool(tag);
        expect(limited.isError).toBe(true);
        expect(meta(limited)).toMatchObject({
          outcome: "rate_limited",
          rule: "/tools/set_run_tag/rate_limit",
          retryAfterMs: expect.any(Number),
        });
        expect(await client.callTool(update)).toMatchObject(echoResult("update_model_version", update.arguments));
        expect(elicitations).toHaveLength(1);
        expect(elicitations[0]?.message).toContain('  "description": "better"');
        const names = (await client.listTools()).tools.map((t) => t.name);
        expect(names).toContain("get_run");
        expect(names).not.toContain("delete_run");
        expect(calls.map((c) => c.tool)).toEqual(["get_run", "set_run_tag", "set_run_tag", "update_model_version"]);
      },
    );
  }

  it("a declined approval keeps needs_approval visible in _meta, with cause not_approved", async () => {
    const calls: RecordedCall[] = [];
    const { client } = await connectLegacyV2(
      guardServer(createMlflowServerV2({ calls }), compilePolicy(mlflowPolicy)),
      { elicit: () => ({ action: "decline" }) },
    );
    const result = await client.callTool(update);
    expect(meta(result)).toEqual({
      outcome: "needs_approval",
      rule: "/tools/update_model_version",
      reason: 'The user declined the call to "update_model_version".',
      cause: "not_approved",
    });
    expect(calls).toEqual([]);
  });

  it("a client that cannot elicit gets needs_approval with cause not_approved, and a reason saying so", async () => {
    const { client } = await connectLegacyV2(guardServer(createMlflowServerV2(), compilePolicy(mlflowPolicy)));
    const result = await client.callTool(update);
    expect(textOf(result)).toContain("The client cannot ask its user for approval");
    expect(meta(result)).toMatchObject({ outcome: "needs_approval", cause: "not_approved" });
  });
});

describe("guardServer on SDK 2.x, 2026-07-28 (createMcpHandler, a fresh server per request)", () => {
  const policyWith = () => compilePolicy(mlflowPolicy, { store: new MemoryStore() });

  it("enforces every outcome, with the cause in _meta", async () => {
    const policy = policyWith();
    const calls: RecordedCall[] = [];
    const { client } = await connectModern(() => guardServer(createMlflowServerV2({ calls }), policy));
    expect(await client.callTool({ name: "get_run", arguments: { run_id: "r1" } })).toMatchObject(
      echoResult("get_run", { run_id: "r1" }),
    );
    expect(meta(await client.callTool({ name: "delete_run", arguments: { run_id: "r1" } }))).toMatchObject({
      outcome: "deny",
      cause: "policy",
    });
    await client.callTool(tag);
    await client.callTool(tag);
    expect(meta(await client.callTool(tag))).toMatchObject({
      outcome: "rate_limited",
      retryAfterMs: expect.any(Number),
    });
    expect((await client.listTools()).tools.map((t) => t.name)).not.toContain("delete_run");
    expect(calls.map((c) => c.tool)).toEqual(["get_run", "set_run_tag", "set_run_tag"]);
  });

  it("stateless requests share one anonymous session: a new client gets no fresh budget", async () => {
    const policy = policyWith();
    const factory = () => guardServer(createMlflowServerV2(), policy);
    const first = await connectModern(factory);
    await first.client.callTool(tag);
    await first.client.callTool(tag);
    await first.client.close();
    // The agent drops its connection and comes back as a new client: still the same budget.
    const again = await connectModern(factory);
    expect(meta(await again.client.callTool(tag))).toMatchObject({ outcome: "rate_limited" });
  });

  it(
    "an authenticated request's session is its principal (sub, else clientId): " + "reconnecting keeps the budget",
    async () => {
      const policy = policyWith();
      const seen: string[] = [];
      const factory = () =>
        guardServer(createMlflowServerV2(), policy, {
          approval: ({ call }) => {
            seen.push(call.session.id);
            return false;
          },
        });
      const alice = { token: "t1", clientId: "app", scopes: [], expiresAt: 2e9, extra: { sub: "alice" } };
      const a1 = await connectModern(factory, { authInfo: alice });
      await a1.client.callTool(tag);
      await a1.client.callTool(tag);
      await a1.client.close();
      const a2 = await connectModern(factory, { authInfo: { ...alice, token: "t2" } });
      expect(meta(await a2.client.callTool(tag))).toMatchObject({ outcome: "rate_limited" });
      const bob = await connectModern(factory, {
        authInfo: { token: "t3", clientId: "bob-app", scopes: [], expiresAt: 2e9 },
      });
      expect((await bob.client.callTool(tag)).isError).toBeFalsy();
      await a2.client.callTool({
        name: "transition_model_version_stage",
        arguments: { name: "m", version: "1", stage: "Staging" },
      });
      await bob.client.callTool({
        name: "transition_model_version_stage",
        arguments: { name: "m", version: "1", stage: "Staging" },
      });
      expect(seen).toEqual(["alice", "bob-app"]);
    },
  );

  it("asks for approval with input_required; the SDK client answers and retries; the tool runs once", async () => {
    const policy = policyWith();
    const calls: RecordedCall[] = [];
    const { client, elicitations } = await connectModern(() => guardServer(createMlflowServerV2({ calls }), policy), {
      elicit: accept,
    });
    expect(await client.callTool(update)).toMatchObject(echoResult("update_model_version", update.arguments));
    expect(elicitations).toHaveLength(1);
    expect(elicitations[0]?.message).toContain(
      'Allow the tool "update_model_version" to run with these arguments, this once?',
    );
    expect(calls).toHaveLength(1);
    // The approved call used the limit's one call: the next is refused without asking.
    expect(meta(await client.callTool(update))).toMatchObject({ outcome: "rate_limited" });
    expect(elicitations).toHaveLength(1);
  });

  describe("a client that lies in the retried call", () => {
    const question = async () => {
      const policy = compilePolicy({
        version: "1",
        default: "deny",
        tools: {
          delete_run: { action: "require_approval", reason: "Deletes a run" },
          delete_experiment: { action: "require_approval" },
        },
      });
      const calls: RecordedCall[] = [];
      const { client } = await connectModern(() => guardServer(createMlflowServerV2({ calls }), policy), {
        elicit: accept,
      });
      const first = (await client.callTool(
        { name: "delete_run", arguments: { run_id: "harmless" } },
        { allowInputRequired: true },
      )) as unknown as {
        resultType: string;
        inputRequests: Record<string, { params: { message: string } }>;
        requestState: string;
      };
      expect(first.resultType).toBe("input_required");
      expect(first.inputRequests["toolgate/approval"]?.params.message).toContain('"run_id": "harmless"');
      const retry = (name: string, args: Record<string, unknown>, state = first.requestState, action = "accept") =>
        client.request({
          method: "tools/call",
          params: {
            name,
            arguments: args,
            requestState: state,
            inputResponses: { "toolgate/approval": { action, content: {} } },
          },
        });
      return { calls, retry, state: first.requestState };
    };

    it("accepts, then alters the arguments: refused, the tool does not run", async () => {
      const { calls, retry } = await question();
      const result = await retry("delete_run", { run_id: "production" });
      expect(textOf(result)).toMatch(/^The approval sent with this call to "delete_run" is not valid for it/);
      expect(meta(result)).toMatchObject({
        outcome: "needs_approval",
        rule: "/tools/delete_run",
        cause: "not_approved",
      });
      expect(calls).toEqual([]);
    });

    it("accepts, then sends the state with another tool: refused", async () => {
      const { calls, retry } = await question();
      expect(meta(await retry("delete_experiment", { run_id: "harmless" }))).toMatchObject({ cause: "not_approved" });
      expect(calls).toEqual([]);
    });

    it("a forged or tampered state is refused", async () => {
      const { calls, retry, state } = await question();
      const tampered = `${state.slice(0, -3)}${state.endsWith("A") ? "B" : "A"}xx`;
      expect(meta(await retry("delete_run", { run_id: "harmless" }, tampered))).toMatchObject({
        cause: "not_approved",
      });
      expect(meta(await retry("delete_run", { run_id: "harmless" }, "toolgate.approval.v1.e30.AAAA"))).toMatchObject({
        cause: "not_approved",
      });
      expect(calls).toEqual([]);
    });

    it("the approval works once, for exactly the call asked about; a replay is refused", async () => {
      const { calls, retry } = await question();
      expect(await retry("delete_run", { run_id: "harmless" })).toMatchObject(
        echoResult("delete_run", { run_id: "harmless" }),
      );
      const replay = await retry("delete_run", { run_id: "harmless" });
      expect(textOf(replay)).toBe(
        'The approval sent with this call to "delete_run" was already used; an approval applies to one call only.',
      );
      expect(calls).toEqual([{ tool: "delete_run", args: { run_id: "harmless" } }]);
    });

    it("a declined answer with a valid state is refused", async () => {
      const { calls, retry, state } = await question();
      expect(textOf(await retry("delete_run", { run_id: "harmless" }, state, "decline"))).toBe(
        'The user declined the call to "delete_run".',
      );
      expect(calls).toEqual([]);
    });
  });
});
