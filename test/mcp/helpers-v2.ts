import {
  Client,
  StreamableHTTPClientTransport,
  type ElicitRequest,
  type ElicitResult,
} from "@modelcontextprotocol/client";
import {
  createMcpHandler,
  InMemoryTransport,
  type AuthInfo,
  type McpServer,
  type Server,
} from "@modelcontextprotocol/server";

/** A 2.x client connected to a 2.x server, and the elicitation requests it received. */
export interface TestClientV2 {
  client: Client;
  elicitations: ElicitRequest["params"][];
}

type Elicit = (params: ElicitRequest["params"]) => ElicitResult | Promise<ElicitResult>;

function newClient(elicit: Elicit | undefined, modern: boolean): TestClientV2 {
  const elicitations: ElicitRequest["params"][] = [];
  const client = new Client(
    { name: "test-client-v2", version: "2.0.0" },
    {
      capabilities: elicit ? { elicitation: { form: {} } } : {},
      ...(modern ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {}),
    },
  );
  if (elicit) {
    client.setRequestHandler("elicitation/create", async (request) => {
      elicitations.push(request.params);
      return elicit(request.params);
    });
  }
  return { client, elicitations };
}

/** Connects a 2.x client to `server` in memory: the 2025 era (an `initialize` handshake). */
export async function connectLegacyV2(
  server: McpServer | Server,
  options: { elicit?: Elicit } = {},
): Promise<TestClientV2> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const test = newClient(options.elicit, false);
  await Promise.all([server.connect(serverSide), test.client.connect(clientSide)]);
  return test;
}

/**
 * Serves `factory` with the SDK's own 2026-07-28 entry (`createMcpHandler`, a fresh server per
 * request, no protocol session) and connects a 2.x client pinned to 2026-07-28 to it, over a
 * fetch that calls the handler directly (no socket). `authInfo` is what a verifying gateway in
 * front would hand the handler for every request.
 */
export async function connectModern(
  factory: () => McpServer | Server,
  options: { elicit?: Elicit; authInfo?: AuthInfo } = {},
): Promise<TestClientV2 & { handler: ReturnType<typeof createMcpHandler> }> {
  const handler = createMcpHandler(factory);
  const test = newClient(options.elicit, true);
  const authInfo = options.authInfo;
  const fetch = (url: string | URL, init?: RequestInit) =>
    handler.fetch(new Request(url, init), authInfo === undefined ? undefined : { authInfo });
  await test.client.connect(new StreamableHTTPClientTransport(new URL("http://toolgate.test/mcp"), { fetch }));
  return { ...test, handler };
}

/** The text of a tool result's first content block. */
export function textOfV2(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  const first = content[0];
  if (first === undefined || first.type !== "text" || first.text === undefined)
    throw new Error(`no text in ${JSON.stringify(result)}`);
  return first.text;
}
