import { describe, expect, it } from "vitest";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  ListToolsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { compilePolicy, MemoryStore } from "toolgate";
import { DECISION_META_KEY, guardServer } from "toolgate/mcp";
import {
  createLowLevelMlflowServer,
  createMlflowServer,
  echoResult,
  mlflowTools,
  registerMlflowTools,
  type RecordedCall,
} from "../fixtures/mcp/mlflow.mjs";
import { connectClient, mlflowPolicy, textOf } from "./helpers.js";

const accept = () => ({ action: "accept" as const, content: {} });

describe("guardServer on an McpServer, with a real SDK client", () => {
  it("allows a call: the tool runs and its result comes back unchanged", async () => {
    const calls: RecordedCall[] = [];
    const server = guardServer(createMlflowServer({ calls }), compilePolicy(mlflowPolicy));
    const { client } = await connectClient(server);
    const result = await client.callTool({ name: "get_run", arguments: { run_id: "r1" } });
    expect(result).toEqual(echoResult("get_run", { run_id: "r1" }));
    expect(calls).toEqual([{ tool: "get_run", args: { run_id: "r1" } }]);
  });

  it("denies a call: an isError result with the reason, the decision in _meta, and the tool does not run", async () => {
    const calls: RecordedCall[] = [];
    const server = guardServer(createMlflowServer({ calls }), compilePolicy(mlflowPolicy));
    const { client } = await connectClient(server);
    const result = await client.callTool({ name: "delete_run", arguments: { run_id: "r1" } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe("Destructive operations are blocked");
    expect(result._meta?.[DECISION_META_KEY]).toEqual({
      outcome: "deny",
      rule: "/tools/delete_*",
      reason: "Destructive operations are blocked",
      cause: "policy",
    });
    expect(calls).toEqual([]);
  });

  it("denies a tool that no rule allows (the policy default)", async () => {
    const calls: RecordedCall[] = [];
    const { client } = await connectClient(guardServer(createMlflowServer({ calls }), compilePolicy(mlflowPolicy)));
    const result = await client.callTool({
      name: "register_model",
      arguments: { model_name: "m", model_uri: "runs:/r1/model" },
    });
    expect(result.isError).toBe(true);
    expect((result._meta?.[DECISION_META_KEY] as { rule: string }).rule).toBe("/default");
    expect(calls).toEqual([]);
  });

  it("rate-limits a call: the reason says when to retry and _meta carries retryAfterMs and the limit", async () => {
    let now = 1_000_000;
    const calls: RecordedCall[] = [];
    const policy = compilePolicy(mlflowPolicy, { clock: () => now });
    const { client } = await connectClient(guardServer(createMlflowServer({ calls }), policy));
    const tag = { name: "set_run_tag", arguments: { run_id: "r1", key: "k", value: "v" } };
    expect((await client.callTool(tag)).isError).toBeUndefined();
    now += 10_000;
    expect((await client.callTool(tag)).isError).toBeUndefined();
    now += 5_000;
    const refused = await client.callTool(tag);
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/retry/i);
    expect(refused._meta?.[DECISION_META_KEY]).toMatchObject({
      outcome: "rate_limited",
      rule: "/tools/set_run_tag/rate_limit",
      retryAfterMs: 45_000,
      limit: { max: 2, windowMs: 60_000, per: "session" },
    });
    expect(calls).toHaveLength(2);
    now += 45_000;
    expect((await client.callTool(tag)).isError).toBeUndefined();
    expect(calls).toHaveLength(3);
  });

  it("a rule's own reason for a rate limit gets when to retry appended", async () => {
    const policy = compilePolicy({
      version: "1",
      default: "deny",
      tools: { health: { reason: "Health checks are throttled", rate_limit: { max: 1, window: 30 } } },
    });
    const { client } = await connectClient(guardServer(createMlflowServer(), policy));
    await client.callTool({ name: "health" });
    const refused = await client.callTool({ name: "health" });
    expect(textOf(refused)).toBe("Health checks are throttled Retry in 30s.");
  });

  describe("a call that needs approval", () => {
    const update = { name: "update_model_version", arguments: { name: "churn", version: "3", description: "better" } };

    it("is asked through elicitation; accepted, the tool runs and the call is counted", async () => {
      const calls: RecordedCall[] = [];
      const { client, elicitations } = await connectClient(
        guardServer(createMlflowServer({ calls }), compilePolicy(mlflowPolicy)),
        { elicit: accept },
      );
      const result = await client.callTool(update);
      expect(result).toEqual(echoResult("update_model_version", update.arguments));
      expect(elicitations).toHaveLength(1);
      const message = elicitations[0]?.message ?? "";
      expect(message).toContain('"update_model_version"');
      expect(message).toContain("Changes model metadata");
      expect(message).toContain('  "description": "better"');
      expect(elicitations[0]).toMatchObject({ requestedSchema: { type: "object", properties: {} } });

      // The approved call used the one call of its limit: the next is refused without asking.
      const again = await client.callTool(update);
      expect(again.isError).toBe(true);
      expect(again._meta?.[DECISION_META_KEY]).toMatchObject({
        outcome: "rate_limited",
        rule: "/tools/update_model_version/rate_limit",
      });
      expect(elicitations).toHaveLength(1);
      expect(calls).toHaveLength(1);
    });

    it("declined, the call is refused with a reason that says so", async () => {
      const calls: RecordedCall[] = [];
      const { client, elicitations } = await connectClient(
        guardServer(createMlflowServer({ calls }), compilePolicy(mlflowPolicy)),
        {
          elicit: () => ({ action: "decline" }),
        },
      );
      const result = await client.callTool(update);
      expect(result.isError).toBe(true);
      expect(textOf(result)).toBe('The user declined the call to "update_model_version".');
      expect(result._meta?.[DECISION_META_KEY]).toEqual({
        outcome: "needs_approval",
        rule: "/tools/update_model_version",
        reason: textOf(result),
        cause: "not_approved",
      });
      expect(elicitations).toHaveLength(1);
      expect(calls).toEqual([]);
      // Nothing was counted: once accepted, the one call of the limit is still there.
    });

    it("cancelled, the call is refused with its own reason", async () => {
      const calls: RecordedCall[] = [];
      const { client } = await connectClient(guardServer(createMlflowServer({ calls }), compilePolicy(mlflowPolicy)), {
        elicit: () => ({ action: "cancel" }),
      });
      const result = await client.callTool(update);
      expect(result.isError).toBe(true);
      expect(textOf(result)).toBe(
        'The user dismissed the approval request for "update_model_version" without approving it; ' +
          "the call was not made.",
      );
      expect(calls).toEqual([]);
    });

    it("is refused with the reason when the client cannot elicit", async () => {
      const calls: RecordedCall[] = [];
      const { client } = await connectClient(guardServer(createMlflowServer({ calls }), compilePolicy(mlflowPolicy)));
      const result = await client.callTool(update);
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain("Changes model metadata");
      expect(textOf(result)).toContain(
        "The client cannot ask its user for approval (it does not support form elicitation)",
      );
      expect(calls).toEqual([]);
    });

    it("is refused when the client takes only URL elicitations", async () => {
      const calls: RecordedCall[] = [];
      const server = guardServer(createMlflowServer({ calls }), compilePolicy(mlflowPolicy));
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      const client = new Client({ name: "url-only", version: "1.0.0" }, { capabilities: { elicitation: { url: {} } } });
      await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
      const result = await client.callTool(update);
      expect(textOf(result)).toContain("it does not support form elicitation");
      expect(calls).toEqual([]);
    });

    it("declined calls use no budget, and a look first keeps a human from being asked in vain", async () => {
      let answer: "decline" | "accept" = "decline";
      const calls: RecordedCall[] = [];
      const { client, elicitations } = await connectClient(
        guardServer(createMlflowServer({ calls }), compilePolicy(mlflowPolicy)),
        {
          elicit: () => (answer === "accept" ? accept() : { action: "decline" }),
        },
      );
      expect((await client.callTool(update)).isError).toBe(true);
      answer = "accept";
      expect((await client.callTool(update)).isError).toBeUndefined();
      expect(elicitations).toHaveLength(2);
      const third = await client.callTool(update);
      expect(third._meta?.[DECISION_META_KEY]).toMatchObject({ outcome: "rate_limited" });
      expect(elicitations).toHaveLength(2);
      expect(calls).toHaveLength(1);
    });

    it("is refused when the user does not answer within approvalTimeoutMs", async () => {
      const calls: RecordedCall[] = [];
      const server = guardServer(createMlflowServer({ calls }), compilePolicy(mlflowPolicy), {
        approvalTimeoutMs: 200,
      });
      const { client, elicitations } = await connectClient(server, { elicit: () => new Promise(() => {}) });
      const result = await client.callTool(update);
      expect(result.isError).toBe(true);
      expect(textOf(result)).toBe(
        'Nobody answered the approval request for "update_model_version" in time; the call was not made.',
      );
      expect(result._meta?.[DECISION_META_KEY]).toMatchObject({ outcome: "needs_approval", cause: "not_approved" });
      expect(elicitations).toHaveLength(1);
      expect(calls).toEqual([]);
    });

    it("uses options.approval instead of elicitation, with the call and the decision", async () => {
      const asked: unknown[] = [];
      const calls: RecordedCall[] = [];
      const server = guardServer(createMlflowServer({ calls }), compilePolicy(mlflowPolicy), {
        approval: (request, extra) => {
          asked.push({
            call: request.call,
            decision: request.decision,
            hasSignal: extra.signal instanceof AbortSignal,
          });
          return request.call.args.stage === "Staging"
            ? true
            : { approved: false, reason: "Only Staging transitions are approved here" };
        },
      });
      const { client, elicitations } = await connectClient(server, { elicit: accept });
      const toStaging = {
        name: "transition_model_version_stage",
        arguments: { name: "churn", version: "3", stage: "Staging" },
      };
      expect(await client.callTool(toStaging)).toEqual(
        echoResult("transition_model_version_stage", toStaging.arguments),
      );
      const toProduction = await client.callTool({
        ...toStaging,
        arguments: { ...toStaging.arguments, stage: "Production" },
      });
      expect(textOf(toProduction)).toBe("Only Staging transitions are approved here");
      expect(elicitations).toEqual([]);
      expect(calls).toHaveLength(1);
      expect(asked[0]).toEqual({
        call: {
          tool: "transition_model_version_stage",
          args: toStaging.arguments,
          session: { id: expect.stringMatching(/^mcp-/) },
          annotations: { readOnlyHint: false, destructiveHint: true },
        },
        decision: {
          outcome: "needs_approval",
          rule: "/tools/transition_model_version_stage",
          reason: "Moves a model between stages",
        },
        hasSignal: true,
      });
    });
  });

  describe("tools/list", () => {
    it("leaves out the tools the session can never call", async () => {
      const { client } = await connectClient(guardServer(createMlflowServer(), compilePolicy(mlflowPolicy)));
      const names = (await client.listTools()).tools.map((t) => t.name);
      const expected = mlflowTools
        .map((t) => t.name)
        .filter(
          (n) =>
            n.startsWith("get_") ||
            [
              "health",
              "search_experiments",
              "set_run_tag",
              "update_model_version",
              "transition_model_version_stage",
            ].includes(n),
        );
      expect(names.sort()).toEqual(expected.sort());
      expect(names).not.toContain("delete_run");
      expect(names).not.toContain("register_model");
    });

    it("lists every tool with hideDenied: false, and still enforces the calls", async () => {
      const { client } = await connectClient(
        guardServer(createMlflowServer(), compilePolicy(mlflowPolicy), { hideDenied: false }),
      );
      const tools = (await client.listTools()).tools;
      expect(tools).toHaveLength(mlflowTools.length);
      expect((await client.callTool({ name: "delete_run", arguments: { run_id: "r1" } })).isError).toBe(true);
    });

    it("passes the server's own annotations to the decision, for listing and for calls", async () => {
      const readOnly = compilePolicy({
        version: "1",
        default: {
          rules: [
            { when: { annotations: { properties: { readOnlyHint: { const: true } }, required: ["readOnlyHint"] } } },
            { action: "deny", reason: "Only read-only tools" },
          ],
        },
        tools: {},
      });
      const calls: RecordedCall[] = [];
      const { client } = await connectClient(guardServer(createMlflowServer({ calls }), readOnly));
      // Called before any tools/list: the guard reads the annotations itself.
      expect((await client.callTool({ name: "get_run", arguments: { run_id: "r1" } })).isError).toBeUndefined();
      const refused = await client.callTool({ name: "set_run_tag", arguments: { run_id: "r1", key: "k", value: "v" } });
      expect(textOf(refused)).toBe("Only read-only tools");
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names.sort()).toEqual(
        mlflowTools
          .filter((t) => t.annotations?.readOnlyHint === true)
          .map((t) => t.name)
          .sort(),
      );
      expect(calls).toEqual([{ tool: "get_run", args: { run_id: "r1" } }]);
    });

    it("sees annotations changed after the first call (the server announces the change)", async () => {
      const readOnly = compilePolicy({
        version: "1",
        default: {
          rules: [
            { when: { annotations: { properties: { readOnlyHint: { const: true } }, required: ["readOnlyHint"] } } },
            { action: "deny" },
          ],
        },
        tools: {},
      });
      const server = createMlflowServer({ register: false });
      const health = server.registerTool("health", { annotations: { readOnlyHint: true } }, async () =>
        echoResult("health", {}),
      );
      const { client } = await connectClient(guardServer(server, readOnly));
      expect((await client.callTool({ name: "health" })).isError).toBeUndefined();
      health.update({ annotations: { readOnlyHint: false } });
      expect((await client.callTool({ name: "health" })).isError).toBe(true);
    });
  });

  describe("cannot be bypassed by the order of registration or a later handler", () => {
    it("guards tools registered after guardServer (McpServer installs its handlers lazily)", async () => {
      const calls: RecordedCall[] = [];
      const server = createMlflowServer({ register: false });
      guardServer(server, compilePolicy(mlflowPolicy));
      registerMlflowTools(server, calls);
      const { client } = await connectClient(server);
      expect((await client.callTool({ name: "delete_run", arguments: { run_id: "r1" } })).isError).toBe(true);
      expect((await client.callTool({ name: "get_run", arguments: { run_id: "r1" } })).isError).toBeUndefined();
      expect((await client.listTools()).tools.map((t) => t.name)).not.toContain("delete_run");
      expect(calls).toEqual([{ tool: "get_run", args: { run_id: "r1" } }]);
    });

    it("guards a tools/call handler installed after guardServer with setRequestHandler", async () => {
      const calls: RecordedCall[] = [];
      const server = createMlflowServer({ calls });
      guardServer(server, compilePolicy(mlflowPolicy));
      server.server.removeRequestHandler("tools/call");
      server.server.setRequestHandler(CallToolRequestSchema, async (request) => {
        calls.push({ tool: request.params.name, args: request.params.arguments });
        return echoResult(request.params.name, request.params.arguments);
      });
      const { client } = await connectClient(server);
      expect((await client.callTool({ name: "delete_run", arguments: { run_id: "r1" } })).isError).toBe(true);
      expect(calls).toEqual([]);
    });

    it("guards tools registered after connect (tools capability declared up front)", async () => {
      const calls: RecordedCall[] = [];
      const server = new McpServer({ name: "late", version: "1.0.0" }, { capabilities: { tools: {} } });
      guardServer(server, compilePolicy(mlflowPolicy));
      const { client } = await connectClient(server);
      registerMlflowTools(server, calls);
      expect((await client.callTool({ name: "delete_experiment", arguments: { experiment_id: "1" } })).isError).toBe(
        true,
      );
      expect(calls).toEqual([]);
    });

    it("refuses to have the handler map swapped for an unguarded one", () => {
      const server = guardServer(createMlflowServer(), compilePolicy(mlflowPolicy));
      expect(() => {
        (server.server as unknown as { _requestHandlers: unknown })._requestHandlers = new Map();
      }).toThrow(TypeError);
    });

    it("guards the fallback request handler when no tools/call handler is installed", async () => {
      const calls: string[] = [];
      const server = new Server({ name: "fallback", version: "1.0.0" }, { capabilities: { tools: {} } });
      server.fallbackRequestHandler = async (request) => {
        calls.push(request.method);
        return echoResult("fallback", {});
      };
      guardServer(server, compilePolicy(mlflowPolicy));
      const { client } = await connectClient(server);
      expect((await client.callTool({ name: "delete_run", arguments: { run_id: "r1" } })).isError).toBe(true);
      // The fallback may serve the guard's own read of the tool list, but never the refused call.
      expect(calls).not.toContain("tools/call");
    });
  });

  describe("sessions", () => {
    it("gives two clients of one policy separate budgets (one session per connection)", async () => {
      const policy = compilePolicy(mlflowPolicy, { store: new MemoryStore() });
      const a = await connectClient(guardServer(createMlflowServer(), policy));
      const b = await connectClient(guardServer(createMlflowServer(), policy));
      const tag = { name: "set_run_tag", arguments: { run_id: "r1", key: "k", value: "v" } };
      expect((await a.client.callTool(tag)).isError).toBeUndefined();
      expect((await a.client.callTool(tag)).isError).toBeUndefined();
      expect((await a.client.callTool(tag)).isError).toBe(true);
      expect((await b.client.callTool(tag)).isError).toBeUndefined();
      expect((await b.client.callTool(tag)).isError).toBeUndefined();
      expect((await b.client.callTool(tag)).isError).toBe(true);
    });

    it("uses the transport's session id when it has one", async () => {
      const policy = compilePolicy(mlflowPolicy);
      const seen: string[] = [];
      const options = {
        approval: ({ call }: { call: { session: { id: string } } }) => (seen.push(call.session.id), false),
      };
      const first = await connectClient(guardServer(createMlflowServer(), policy, options), {
        sessionId: "http-session-1",
      });
      const again = await connectClient(guardServer(createMlflowServer(), policy, options), {
        sessionId: "http-session-1",
      });
      const other = await connectClient(guardServer(createMlflowServer(), policy, options), {
        sessionId: "http-session-2",
      });
      const tag = { name: "set_run_tag", arguments: { run_id: "r1", key: "k", value: "v" } };
      expect((await first.client.callTool(tag)).isError).toBeUndefined();
      expect((await again.client.callTool(tag)).isError).toBeUndefined();
      expect((await first.client.callTool(tag)).isError).toBe(true);
      expect((await other.client.callTool(tag)).isError).toBeUndefined();
      await first.client.callTool({
        name: "transition_model_version_stage",
        arguments: { name: "m", version: "1", stage: "Staging" },
      });
      expect(seen).toEqual(["http-session-1"]);
    });

    it("starts a new session when a server is connected again on a new transport", async () => {
      const server = guardServer(createMlflowServer(), compilePolicy(mlflowPolicy));
      const tag = { name: "set_run_tag", arguments: { run_id: "r1", key: "k", value: "v" } };
      const first = await connectClient(server);
      await first.client.callTool(tag);
      await first.client.callTool(tag);
      expect((await first.client.callTool(tag)).isError).toBe(true);
      await first.client.close();
      await server.close();
      const second = await connectClient(server);
      expect((await second.client.callTool(tag)).isError).toBeUndefined();
    });

    it("keys sessions by the authenticated user with options.session and extra.authInfo", async () => {
      const policy = compilePolicy(mlflowPolicy);
      const bySubject = {
        session: (extra: { authInfo?: { clientId: string } }) => ({
          id: `user:${extra.authInfo?.clientId ?? "anonymous"}`,
        }),
      };
      const alice = { token: "t1", clientId: "alice", scopes: [] };
      const a1 = await connectClient(guardServer(createMlflowServer(), policy, bySubject), { authInfo: alice });
      const a2 = await connectClient(guardServer(createMlflowServer(), policy, bySubject), {
        authInfo: { ...alice, token: "t2" },
      });
      const bob = await connectClient(guardServer(createMlflowServer(), policy, bySubject), {
        authInfo: { token: "t3", clientId: "bob", scopes: [] },
      });
      const tag = { name: "set_run_tag", arguments: { run_id: "r1", key: "k", value: "v" } };
      expect((await a1.client.callTool(tag)).isError).toBeUndefined();
      expect((await a2.client.callTool(tag)).isError).toBeUndefined();
      expect((await a1.client.callTool(tag)).isError).toBe(true);
      expect((await bob.client.callTool(tag)).isError).toBeUndefined();
    });

    it("denies the call when options.session throws", async () => {
      const calls: RecordedCall[] = [];
      const server = guardServer(createMlflowServer({ calls }), compilePolicy(mlflowPolicy), {
        session: () => {
          throw new Error("no token");
        },
      });
      const { client } = await connectClient(server);
      const result = await client.callTool({ name: "get_run", arguments: { run_id: "r1" } });
      expect(textOf(result)).toBe(
        "The session of this call could not be determined (the host's session function failed), " +
          "so the call was refused.",
      );
      expect(result._meta?.[DECISION_META_KEY]).toEqual({
        outcome: "deny",
        rule: "",
        reason: textOf(result),
        cause: "host_failure",
      });
      // The listing agrees: no tool is offered that every call of would be refused.
      expect((await client.listTools()).tools).toEqual([]);
      expect(calls).toEqual([]);
    });

    it("denies the call when options.session returns no valid session", async () => {
      const calls: RecordedCall[] = [];
      const server = guardServer(createMlflowServer({ calls }), compilePolicy(mlflowPolicy), {
        session: () => ({ id: "" }),
      });
      const { client } = await connectClient(server);
      const result = await client.callTool({ name: "get_run", arguments: { run_id: "r1" } });
      expect(result.isError).toBe(true);
      expect((result._meta?.[DECISION_META_KEY] as { rule: string }).rule).toBe("");
      expect(calls).toEqual([]);
    });
  });

  it("guards a low-level Server, registered before or after, with annotations from its own list", async () => {
    const calls: RecordedCall[] = [];
    const server = guardServer(createLowLevelMlflowServer({ calls }), compilePolicy(mlflowPolicy));
    const { client } = await connectClient(server, { elicit: accept });
    expect(
      (await client.callTool({ name: "delete_model_version", arguments: { name: "m", version: "1" } })).isError,
    ).toBe(true);
    expect(await client.callTool({ name: "get_run", arguments: { run_id: "r1" } })).toEqual(
      echoResult("get_run", { run_id: "r1" }),
    );
    expect((await client.listTools()).tools.map((t) => t.name)).not.toContain("delete_model_version");
    expect(calls).toEqual([{ tool: "get_run", args: { run_id: "r1" } }]);

    const later = new Server({ name: "later", version: "1.0.0" }, { capabilities: { tools: {} } });
    guardServer(later, compilePolicy(mlflowPolicy));
    const laterCalls: string[] = [];
    later.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: mlflowTools }));
    later.setRequestHandler(CallToolRequestSchema, async (request) => {
      laterCalls.push(request.params.name);
      return echoResult(request.params.name, request.params.arguments);
    });
    const second = await connectClient(later);
    expect((await second.client.callTool({ name: "delete_run", arguments: { run_id: "r1" } })).isError).toBe(true);
    expect((await second.client.callTool({ name: "health" })).isError).toBeUndefined();
    expect(laterCalls).toEqual(["health"]);
  });

  it("dispatches the arguments the policy decided on", async () => {
    const seen: unknown[] = [];
    const policy = compilePolicy({
      version: "1",
      default: "deny",
      tools: {
        search_experiments: {
          rules: [
            { when: { args: { properties: { max_results: { maximum: 100 } } } } },
            { action: "deny", reason: "too many" },
          ],
        },
      },
    });
    const server = new Server({ name: "s", version: "1.0.0" }, { capabilities: { tools: {} } });
    server.setRequestHandler(CallToolRequestSchema, async (request) => {
      seen.push(request.params.arguments);
      return echoResult(request.params.name, request.params.arguments);
    });
    guardServer(server, policy);
    const { client } = await connectClient(server);
    // In memory the server reads the client's own object: a getter that answers differently on
    // a second read must not show the tool something other than what the policy saw.
    let reads = 0;
    const args = {
      get max_results() {
        reads += 1;
        return reads === 1 ? 10 : 5000;
      },
    };
    await client.callTool({ name: "search_experiments", arguments: args });
    expect(reads).toBe(1);
    expect(seen).toEqual([{ max_results: 10 }]);
  });

  it("denies raw requests whose name or arguments are not what MCP says, without running anything", async () => {
    const calls: RecordedCall[] = [];
    const { client } = await connectClient(guardServer(createMlflowServer({ calls }), compilePolicy(mlflowPolicy)));
    const raw = (params: unknown) => client.request({ method: "tools/call", params } as never, CallToolResultSchema);
    for (const params of [
      { name: "get_run", arguments: "r1" },
      { name: "get_run", arguments: [1] },
      { name: 42 },
      { name: "get_run", arguments: null },
    ]) {
      const result = await raw(params);
      expect(result.isError).toBe(true);
      expect(result._meta?.[DECISION_META_KEY] as { outcome: string; rule: string }).toMatchObject({
        outcome: "deny",
        rule: "",
      });
    }
    expect(calls).toEqual([]);
  });

  describe("options", () => {
    it("rejects unknown and malformed options, and a second guard on one server", () => {
      const policy = compilePolicy(mlflowPolicy);
      expect(() => guardServer(createMlflowServer(), policy, { hideDenid: false } as never)).toThrow(
        'guardServer: unknown option "hideDenid"',
      );
      expect(() => guardServer(createMlflowServer(), policy, { hideDenied: "no" } as never)).toThrow(
        "guardServer: options.hideDenied must be a boolean",
      );
      expect(() => guardServer(createMlflowServer(), policy, { approvalTimeoutMs: 0 })).toThrow(
        "guardServer: options.approvalTimeoutMs must be a positive whole number of milliseconds",
      );
      expect(() => guardServer(createMlflowServer(), policy, { session: "s1" } as never)).toThrow(
        "guardServer: options.session must be a function",
      );
      expect(() => guardServer({} as never, policy)).toThrow(
        "guardServer: server must be an McpServer or a Server of @modelcontextprotocol/sdk",
      );
      expect(() => guardServer(createMlflowServer(), {} as never)).toThrow(
        "guardServer: policy must be a compiled policy (from compilePolicy)",
      );
      const server = guardServer(createMlflowServer(), policy);
      expect(() => guardServer(server, policy)).toThrow("guardServer: this server is already guarded");
    });
  });
});
