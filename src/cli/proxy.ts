/**
 * `toolgate proxy`: a policy in front of any MCP server that speaks stdio, with no code.
 *
 * The proxy starts the upstream server as a child process and talks to it with the SDK's
 * Client; it talks to its own client (the process's stdin and stdout) with the SDK's Server,
 * and relays between them what the upstream offers, enforcing the policy on tools. The SDK is
 * loaded only when the proxy runs, so the other commands work without it.
 */

import { compilePolicy, PolicyError, type Policy } from "toolgate";
import { loadSdk, relayServer, RELAY_CLIENT_CAPABILITIES } from "../mcp/relay.js";
import { parseCommand } from "./args.js";
import { EXIT_FINDINGS, EXIT_OK, UsageError } from "./errors.js";
import { readText } from "./files.js";
import { issueLines } from "./issues.js";

const HELP = `Usage: toolgate proxy --policy <policy.json> [--show-denied] -- <command> [args...]

Runs an MCP server (the command after "--") over stdio and serves it on this process's
stdin and stdout, enforcing the policy: every tools/call is decided first; refused calls get
an error result with the reason; tools the session can never call are left out of tools/list.
Everything else the server offers (resources, prompts, completions, logging, and its requests
for sampling, elicitation and roots) is relayed unchanged. A call that needs approval is put
to the user through the client's elicitation, when the client supports it.

Options:
  --policy <file>   the policy file (JSON, version "1"); required
  --show-denied     list every tool in tools/list, even those the policy always denies
  -h, --help        show this help

The server's stderr passes through to this process's stderr. The proxy stops when its client
disconnects or the server exits.

Example (an MCP client's configuration):
  "command": "npx",
  "args": ["toolgate", "proxy", "--policy", "policy.json", "--", "uvx", "mlflow-mcp"]

Exit status: 0 the client disconnected; 1 the policy is invalid, or the server could not
start or exited; 2 bad usage or an unreadable policy file.`;

/** Grace for in-flight replies to reach the client after the upstream server went away. */
const FLUSH_MS = 50;

/**
 * Runs `toolgate proxy`; resolves with the exit status when the session is over. Bad usage and
 * an unreadable policy file throw a `UsageError` (exit status 2, printed by the CLI).
 */
export async function runProxy(args: string[]): Promise<number> {
  const split = args.indexOf("--");
  const own = split === -1 ? args : args.slice(0, split);
  const upstream = split === -1 ? [] : args.slice(split + 1);
  const parsed = parseCommand("proxy", own, { policy: { type: "string" }, "show-denied": { type: "boolean" } }, false);
  if (parsed.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }
  const file = parsed.values.policy;
  if (typeof file !== "string") throw new UsageError("--policy <file> is required (see toolgate proxy --help)");
  if (upstream.length === 0 || upstream[0] === "") {
    throw new UsageError(`the server to run is missing: write its command after "--", e.g. toolgate proxy --policy ${file} -- node server.js`);
  }
  let policy: Policy;
  try {
    policy = compilePolicy(readText(file));
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    process.stderr.write(`toolgate proxy: ${file} is not a valid policy; the server was not started:\n`);
    for (const line of issueLines(file, e.issues)) process.stderr.write(`  ${line}\n`);
    return EXIT_FINDINGS;
  }
  try {
    return await serve(policy, upstream as [string, ...string[]], parsed.values["show-denied"] === true);
  } catch (e) {
    process.stderr.write(`toolgate proxy: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT_FINDINGS;
  }
}

async function serve(policy: Policy, [command, ...commandArgs]: [string, ...string[]], showDenied: boolean): Promise<number> {
  const sdk = await loadSdk();
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;

  const client = new sdk.Client({ name: "toolgate-proxy", version: "1" }, { capabilities: RELAY_CLIENT_CAPABILITIES });
  const upstreamTransport = new sdk.StdioClientTransport({ command, args: commandArgs, env, stderr: "inherit" });
  try {
    await client.connect(upstreamTransport);
  } catch (e) {
    await client.close().catch(() => {});
    throw new Error(`the server ${JSON.stringify([command, ...commandArgs].join(" "))} could not be started: ${e instanceof Error ? e.message : String(e)}`);
  }

  const server = relayServer(sdk, client, policy, { hideDenied: !showDenied });
  const stdin = process.stdin;

  return await new Promise<number>((resolve) => {
    let ending = false;
    const end = (status: number, why?: string) => {
      if (ending) return;
      ending = true;
      if (why !== undefined) process.stderr.write(`toolgate proxy: ${why}\n`);
      stdin.off("end", onClientGone);
      stdin.off("close", onClientGone);
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      void Promise.allSettled([server.close(), client.close()]).then(() => resolve(status));
    };
    const onClientGone = () => end(EXIT_OK);
    const onSignal = () => end(EXIT_OK);
    // The upstream went away: replies already failing for the calls in flight get a moment to
    // reach the client before the downstream side closes.
    client.onclose = () => setTimeout(() => end(EXIT_FINDINGS, "the server exited; closing the connection to the client"), FLUSH_MS);
    server.onclose = () => end(EXIT_OK);
    stdin.once("end", onClientGone);
    stdin.once("close", onClientGone);
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    server.connect(new sdk.StdioServerTransport()).catch((e: unknown) => {
      end(EXIT_FINDINGS, `the client connection failed: ${e instanceof Error ? e.message : String(e)}`);
    });
  });
}
