import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { ElicitRequestSchema, type ElicitRequest, type ElicitResult } from "@modelcontextprotocol/sdk/types.js";

/** The MLflow policy the MCP tests enforce. */
export const mlflowPolicy = {
  version: "1",
  name: "mlflow-mcp-test",
  default: "deny",
  tools: {
    "get_*": {},
    health: {},
    search_experiments: {},
    set_run_tag: { rate_limit: { max: 2, window: "1m" } },
    "delete_*": { action: "deny", reason: "Destructive operations are blocked" },
    update_model_version: {
      action: "require_approval",
      reason: "Changes model metadata",
      rate_limit: { max: 1, window: "1h" },
    },
    transition_model_version_stage: { action: "require_approval", reason: "Moves a model between stages" },
  },
} as const;

/** A connected SDK client, and the elicitation requests it received. */
export interface TestClient {
  client: Client;
  elicitations: ElicitRequest["params"][];
}

/**
 * Connects a real SDK Client to `server` over an in-memory pair. With `elicit`, the client
 * declares the elicitation capability and answers with it; `authInfo` is attached to every
 * message the client sends, as an authenticating HTTP transport would; `sessionId` is the
 * server-side transport's session id.
 */
export async function connectClient(
  server: McpServer | Server,
  options: {
    elicit?: (params: ElicitRequest["params"]) => ElicitResult | Promise<ElicitResult>;
    authInfo?: AuthInfo;
    sessionId?: string;
  } = {},
): Promise<TestClient> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  // As a Streamable HTTP transport names its session.
  if (options.sessionId !== undefined) serverSide.sessionId = options.sessionId;
  if (options.authInfo !== undefined) {
    const send = clientSide.send.bind(clientSide);
    const authInfo = options.authInfo;
    clientSide.send = (message, sendOptions) => send(message, { ...sendOptions, authInfo });
  }
  const elicitations: ElicitRequest["params"][] = [];
  const client = new Client(
    { name: "test-client", version: "1.0.0" },
    { capabilities: options.elicit ? { elicitation: {} } : {} },
  );
  if (options.elicit) {
    const elicit = options.elicit;
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      elicitations.push(request.params);
      return elicit(request.params);
    });
  }
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  return { client, elicitations };
}

/** The text of a tool result's first content block. */
export function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  const first = content[0];
  if (first === undefined || first.type !== "text" || first.text === undefined)
    throw new Error(`no text in ${JSON.stringify(result)}`);
  return first.text;
}
