import { describe, expect, it } from "vitest";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { compilePolicy } from "toolgate";
import { DECISION_META_KEY, guardServer } from "toolgate/mcp";
import { echoResult, mlflowTools } from "../fixtures/mcp/mlflow.mjs";
import { connectClient } from "./helpers.js";

const meta = (result: unknown) => (result as { _meta?: Record<string, unknown> })._meta?.[DECISION_META_KEY];

/** A 1.x low-level server with the MLflow tools whose listed tools fail as asked, on their first call only. */
function countingServer(calls: string[], failing: Record<string, "error" | "throw">) {
  const failed = new Set<string>();
  const server = new Server({ name: "failing", version: "1.0.0" }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: mlflowTools }));
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const name = request.params.name;
    calls.push(name);
    const failure = failed.has(name) ? undefined : failing[name];
    failed.add(name);
    if (failure === "throw") throw new Error("the tool broke");
    if (failure === "error") return { content: [{ type: "text", text: "failed" }], isError: true };
    return echoResult(request.params.name, request.params.arguments);
  });
  return { server };
}

describe("refunds when an allowed tool fails", () => {
  const refundPolicy = () =>
    compilePolicy({
      version: "1",
      default: "deny",
      tools: {
        get_run: { rate_limit: { max: 1, window: "1h", refund: "on_error" } },
        set_run_tag: { rate_limit: { max: 1, window: "1h" } },
      },
    });

  for (const failure of ["error", "throw"] as const) {
    it(
      `a tool that ${failure === "error" ? "answers isError" : "throws"} gives its units back (refund: "on_error"); ` +
        `the failure still reaches the client`,
      async () => {
        const calls: string[] = [];
        const { server } = countingServer(calls, { get_run: failure, set_run_tag: failure });
        const { client } = await connectClient(guardServer(server, refundPolicy()));
        const outcome = await client.callTool({ name: "get_run", arguments: { run_id: "r1" } }).then(
          (r) => r.isError,
          () => "rejected",
        );
        expect(outcome).toBe(failure === "error" ? true : "rejected");
        // Given back: the one call of the limit is there again.
        expect(meta(await client.callTool({ name: "get_run", arguments: { run_id: "r1" } }))).toBeUndefined();
        // Without refund: "on_error", a failure still counts.
        await client
          .callTool({ name: "set_run_tag", arguments: { run_id: "r1", key: "k", value: "v" } })
          .catch(() => {});
        expect(
          meta(await client.callTool({ name: "set_run_tag", arguments: { run_id: "r1", key: "k", value: "v" } })),
        ).toMatchObject({ outcome: "rate_limited" });
        expect(calls).toEqual(["get_run", "get_run", "set_run_tag"]);
      },
    );
  }
});
