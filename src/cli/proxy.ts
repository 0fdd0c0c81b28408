/**
 * `toolgate proxy`: a policy in front of any MCP server that speaks stdio, with no code
 * (docs/spec.md, sections 8 and 9).
 *
 * The proxy starts the upstream server as a child process at once (so a command that cannot
 * run is an error at start), then waits for its own client's `initialize` (this process's stdin
 * and stdout): the upstream is told the client can do exactly what the client declared, and
 * the client is offered exactly what the upstream offers. The SDK is loaded only when the proxy
 * runs, so the other commands work without it.
 */

import { compilePolicy, PolicyError, type Policy, type Session } from "toolgate";
import { ToolPins } from "../mcp/pins.js";
import { loadSdk, relayClientCapabilities, relayServer } from "../mcp/relay.js";
import { isPlainObject } from "../shared/objects.js";
import { errorMessage } from "../shared/text.js";
import { parseCommand, sessionOption } from "./args.js";
import { EXIT_FINDINGS, EXIT_OK, UsageError } from "./errors.js";
import { readText } from "./files.js";
import { issueLines } from "./issues.js";

const HELP = `Usage: toolgate proxy --policy <policy.json> [options] -- <command> [args...]
       toolgate proxy --policy <policy.json> [options] --command <command> [--arg <a>]...

Runs an MCP server (the command after "--", or --command with its --arg values) over stdio
and serves it on this process's stdin and stdout, enforcing the policy: every tools/call is
decided first; refused calls get an error result with the reason and the decision in _meta;
tools the session can never call are left out of tools/list. Everything else the server
offers (resources, prompts, completions, logging, tasks, and its requests for sampling,
elicitation and roots, as far as the client declared them) is relayed unchanged. A call that
needs approval is put to the user through the client's elicitation, when the client supports it.

The first definition seen of each tool is pinned: a tool whose description, input schema or
annotations change later is hidden and its calls are refused (cause "tool_changed"), with a
message on standard error saying what changed.

Options:
  --policy <file>           the policy file (JSON, version "1"); required
  --session <json>          the session: {"id": "...", attributes...}, for per and when.session
                            (default: a random id for this connection, no attributes)
  --show-denied             list every tool in tools/list, even those the policy always denies
  --accept-tool-changes     do not pin tool definitions: pass changed tools on
  --start-timeout <ms>      how long the server may take to start and answer (default 60000)
  --approval-timeout <ms>   how long a person may take to answer an approval (default 600000)
  --command <command>       the server's command (instead of "--"), with each --arg <a>
  -h, --help                show this help

The server's stderr passes through to this process's stderr. The proxy stops the server and
exits when its client disconnects or is told to stop (SIGINT, SIGTERM), and exits when the
server does.

Example (an MCP client's configuration):
  "command": "npx",
  "args": ["toolgate", "proxy", "--policy", "policy.json", "--", "uvx", "mlflow-mcp"]

Exit status: 0 the client disconnected; 1 the policy is invalid, or the server could not
start or exited; 2 bad usage or an unreadable policy file.`;

/** Grace for in-flight replies to reach the client after the upstream server went away. */
const FLUSH_MS = 50;
/** After SIGTERM, how long the upstream may take before it is killed. */
const KILL_AFTER_MS = 1000;

/** The proxy's settings, as parsed and checked. */
interface ProxySettings {
  policy: Policy;
  command: [string, ...string[]];
  session: Session | undefined;
  showDenied: boolean;
  acceptToolChanges: boolean;
  startTimeoutMs: number;
  approvalTimeoutMs: number;
}

/**
 * Runs `toolgate proxy`; resolves with the exit status when the session is over. Bad usage and
 * an unreadable policy file throw a `UsageError` (exit status 2, printed by the CLI).
 */
export async function runProxy(args: string[]): Promise<number> {
  const split = args.indexOf("--");
  const own = split === -1 ? args : args.slice(0, split);
  const afterDashes = split === -1 ? [] : args.slice(split + 1);
  const parsed = parseCommand(
    "proxy",
    own,
    {
      policy: { type: "string" },
      session: { type: "string" },
      "show-denied": { type: "boolean" },
      "accept-tool-changes": { type: "boolean" },
      "start-timeout": { type: "string" },
      "approval-timeout": { type: "string" },
      command: { type: "string" },
      arg: { type: "string", multiple: true },
    },
    false,
  );
  if (parsed.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }
  const v = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const file = v.policy;
  if (typeof file !== "string") throw new UsageError("--policy <file> is required (see toolgate proxy --help)");
  const command = upstreamCommand(v.command, v.arg, afterDashes, file);
  const startTimeoutMs = msOption("start-timeout", v["start-timeout"], 60_000);
  const approvalTimeoutMs = msOption("approval-timeout", v["approval-timeout"], 600_000);
  const session = typeof v.session === "string" ? sessionOption(v.session) : undefined;
  let policy: Policy;
  try {
    policy = compilePolicy(readText(file));
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    process.stderr.write(`toolgate proxy: ${file} is not a valid policy; the server was not started:\n`);
    for (const line of issueLines(file, e.issues)) process.stderr.write(`  ${line}\n`);
    return EXIT_FINDINGS;
  }
  const missing = missingSessionAttributes(policy.document, session ?? { id: "" });
  if (missing.length > 0) {
    process.stderr.write(
      `toolgate proxy: warning: the policy reads session attributes that this proxy's session does not have: ${missing.join(", ")}; ` +
        `give them with --session '{"id": "...", ...}' (calls those rules or limits decide are denied or never match)\n`,
    );
  }
  try {
    return await serve({
      policy,
      command,
      session,
      showDenied: v["show-denied"] === true,
      acceptToolChanges: v["accept-tool-changes"] === true,
      startTimeoutMs,
      approvalTimeoutMs,
    });
  } catch (e) {
    process.stderr.write(`toolgate proxy: ${errorMessage(e)}\n`);
    return EXIT_FINDINGS;
  }
}

function upstreamCommand(command: unknown, args: unknown, afterDashes: string[], file: string): [string, ...string[]] {
  const extra = Array.isArray(args) ? (args as string[]) : [];
  if (typeof command === "string") {
    if (afterDashes.length > 0) throw new UsageError('give the server either after "--" or with --command, not both');
    if (command === "") throw new UsageError("--command needs the server's command");
    return [command, ...extra];
  }
  if (extra.length > 0) throw new UsageError("--arg is for the arguments of --command <command>");
  if (afterDashes.length === 0 || afterDashes[0] === "") {
    throw new UsageError(
      `the server to run is missing: write its command after "--" (or use --command), e.g. toolgate proxy --policy ${file} -- node server.js`,
    );
  }
  return afterDashes as [string, ...string[]];
}

function msOption(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === "string" && /^[0-9]{1,10}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 2_147_000_000) throw new UsageError(`--${name} must be a whole number of milliseconds from 1 to 2147000000`);
  return n;
}

/**
 * The session attributes the policy reads (`per` pointers of limits, `when.session`
 * properties) that `session` lacks, each with where the policy reads it.
 */
export function missingSessionAttributes(document: unknown, session: Session): string[] {
  const found: string[] = [];
  const doc = isPlainObject(document) ? document : {};
  const limitsAt = (value: unknown, at: string) => {
    const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
    list.forEach((limit, i) => {
      if (!isPlainObject(limit) || typeof limit.per !== "string" || !limit.per.startsWith("/")) return;
      if (resolvePointer(session, limit.per) === undefined) found.push(`${JSON.stringify(limit.per)} (${Array.isArray(value) ? `${at}/${i}` : at}, per)`);
    });
  };
  const whenAt = (rule: unknown, at: string) => {
    if (!isPlainObject(rule) || !isPlainObject(rule.when) || !isPlainObject(rule.when.session)) return;
    const schema = rule.when.session;
    const names = new Set<string>(isPlainObject(schema.properties) ? Object.keys(schema.properties) : []);
    if (Array.isArray(schema.required)) for (const k of schema.required) if (typeof k === "string") names.add(k);
    for (const name of names) if (!Object.hasOwn(session, name)) found.push(`${JSON.stringify(name)} (${at}, when.session)`);
  };
  const ruleAt = (rule: unknown, at: string) => {
    if (!isPlainObject(rule)) return;
    limitsAt(rule.rate_limit, `${at}/rate_limit`);
    if (Array.isArray(rule.rules)) {
      rule.rules.forEach((r, i) => {
        whenAt(r, `${at}/rules/${i}`);
        if (isPlainObject(r)) limitsAt(r.rate_limit, `${at}/rules/${i}/rate_limit`);
      });
    }
  };
  if (isPlainObject(doc.tools)) for (const [key, rule] of Object.entries(doc.tools)) ruleAt(rule, `/tools/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`);
  ruleAt(doc.default, "/default");
  limitsAt(doc.limits, "/limits");
  return [...new Set(found)];
}

function resolvePointer(value: unknown, pointer: string): unknown {
  let at = value;
  for (const part of pointer.split("/").slice(1)) {
    const key = part.replace(/~1/g, "/").replace(/~0/g, "~");
    if (!isPlainObject(at) || !Object.hasOwn(at, key)) return undefined;
    at = at[key];
  }
  return at;
}

type Sdk = Awaited<ReturnType<typeof loadSdk>>;
type Transport = InstanceType<Sdk["StdioServerTransport"]>;
type JsonMessage = Parameters<NonNullable<Transport["onmessage"]>>[0];

/**
 * A started transport whose messages are held until its real user connects: the proxy reads
 * its client's `initialize` before it builds the server that answers it.
 */
class HeldTransport {
  onmessage?: (message: JsonMessage, extra?: unknown) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  private held: { message: JsonMessage; extra?: unknown }[] = [];
  private delivering = false;
  private first: Promise<JsonMessage | undefined>;

  constructor(private readonly inner: Transport) {
    let resolveFirst: (m: JsonMessage | undefined) => void = () => {};
    this.first = new Promise((resolve) => (resolveFirst = resolve));
    inner.onmessage = (message: JsonMessage) => {
      resolveFirst(message);
      if (this.delivering) this.onmessage?.(message);
      else this.held.push({ message });
    };
    inner.onclose = () => {
      resolveFirst(undefined);
      this.onclose?.();
    };
    inner.onerror = (error) => this.onerror?.(error);
  }

  /** Starts reading now (the SDK's `start` later only delivers what was held). */
  open(): Promise<void> {
    return this.inner.start();
  }

  /** The first message the client sent, or `undefined` when it went away first. */
  firstMessage(): Promise<JsonMessage | undefined> {
    return this.first;
  }

  async start(): Promise<void> {
    this.delivering = true;
    for (const { message, extra } of this.held.splice(0)) this.onmessage?.(message, extra);
  }

  send(message: JsonMessage, options?: unknown): Promise<void> {
    return (this.inner.send as (m: JsonMessage, o?: unknown) => Promise<void>)(message, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

async function serve(settings: ProxySettings): Promise<number> {
  const sdk = await loadSdk();
  const [command, ...commandArgs] = settings.command;
  const shown = JSON.stringify(settings.command.join(" "));
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;

  const upstreamTransport = new sdk.StdioClientTransport({ command, args: commandArgs, env, stderr: "inherit" });
  try {
    await upstreamTransport.start();
  } catch (e) {
    throw new Error(`the server ${shown} could not be started: ${errorMessage(e)}`);
  }
  // Started here: the client's connect must not start it again.
  upstreamTransport.start = async () => {};
  const upstreamPid = upstreamTransport.pid;
  let upstreamExited = false;
  const stopUpstream = async (): Promise<void> => {
    // Promptly: the client that closed us may kill this process two seconds from now, and an
    // upstream left behind would linger. Its stdin is closed, then it is asked to stop, then made to.
    const closing = upstreamTransport.close().catch(() => {});
    if (upstreamPid !== null && !upstreamExited) {
      signal(upstreamPid, "SIGTERM");
      const killer = setTimeout(() => signal(upstreamPid, "SIGKILL"), KILL_AFTER_MS);
      await closing;
      clearTimeout(killer);
    }
    await closing;
  };

  try {
    return await relay(sdk, settings, upstreamTransport, stopUpstream, () => (upstreamExited = true), shown);
  } catch (e) {
    await stopUpstream();
    throw e;
  }
}

/** Serves the client once the upstream process runs. */
async function relay(
  sdk: Sdk,
  settings: ProxySettings,
  upstreamTransport: InstanceType<Sdk["StdioClientTransport"]>,
  stopUpstream: () => Promise<void>,
  markExited: () => void,
  shown: string,
): Promise<number> {
  const upstreamPid = upstreamTransport.pid;
  const downstream = new HeldTransport(new sdk.StdioServerTransport());
  await downstream.open();
  try {
    return await relayTo(downstream, sdk, settings, upstreamTransport, stopUpstream, markExited, shown, upstreamPid);
  } catch (e) {
    await downstream.close().catch(() => {});
    throw e;
  }
}

async function relayTo(
  downstream: HeldTransport,
  sdk: Sdk,
  settings: ProxySettings,
  upstreamTransport: InstanceType<Sdk["StdioClientTransport"]>,
  stopUpstream: () => Promise<void>,
  markExited: () => void,
  shown: string,
  upstreamPid: number | null,
): Promise<number> {
  const stdin = process.stdin;
  const clientGone = new Promise<void>((resolve) => {
    stdin.once("end", () => resolve());
    stdin.once("close", () => resolve());
  });
  const first = await Promise.race([downstream.firstMessage(), clientGone.then(() => undefined)]);
  if (first === undefined) {
    await Promise.allSettled([stopUpstream(), downstream.close()]);
    return EXIT_OK;
  }
  const init = first as { method?: unknown; params?: { capabilities?: unknown } };
  const declared = init.method === "initialize" ? init.params?.capabilities : undefined;

  const clientCapabilities = relayClientCapabilities(declared);
  const client = new sdk.Client({ name: "toolgate-proxy", version: "1" }, { capabilities: clientCapabilities });
  const exitedEarly = new Promise<never>((_, reject) => {
    upstreamTransport.onclose = () => reject(new Error(`the server ${shown} exited before it finished starting (its standard error is above)`));
  });
  // Only a start that is still under way fails on it; a later exit is handled as an exit.
  exitedEarly.catch(() => {});
  try {
    await Promise.race([client.connect(upstreamTransport, { timeout: settings.startTimeoutMs }), exitedEarly]);
  } catch (e) {
    await stopUpstream();
    const timedOut = /timed? ?out/i.test(errorMessage(e));
    throw new Error(
      timedOut
        ? `the server ${shown} did not answer the MCP handshake within ${settings.startTimeoutMs} ms (see --start-timeout)`
        : /exited before/.test(errorMessage(e))
          ? errorMessage(e)
          : `the server ${shown} could not be started: ${errorMessage(e)}`,
    );
  }

  const pins = settings.acceptToolChanges
    ? undefined
    : new ToolPins({
        onChange: (tool, fields) =>
          process.stderr.write(
            `toolgate proxy: the server changed the ${fields.join(", ")} of the tool ${JSON.stringify(tool)} since it was first listed; ` +
              `the tool is hidden and its calls are refused (--accept-tool-changes allows changes)\n`,
          ),
      });
  const fixed = settings.session;
  const server = relayServer(
    sdk,
    client,
    settings.policy,
    {
      hideDenied: !settings.showDenied,
      approvalTimeoutMs: settings.approvalTimeoutMs,
      ...(fixed === undefined ? {} : { session: () => fixed }),
    },
    pins === undefined ? { clientCapabilities } : { pins, clientCapabilities },
  );

  return await new Promise<number>((resolve) => {
    let ending = false;
    const end = (status: number, why?: string) => {
      if (ending) return;
      ending = true;
      if (why !== undefined) process.stderr.write(`toolgate proxy: ${why}\n`);
      void Promise.allSettled([stopUpstream(), server.close(), client.close()]).then(() => {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        resolve(status);
      });
    };
    const onSignal = () => {
      // A second signal while stopping: stop the upstream now and go.
      if (ending && upstreamPid !== null) signal(upstreamPid, "SIGKILL");
      end(EXIT_OK);
    };
    // The upstream went away: replies already failing for the calls in flight get a moment to
    // reach the client before the downstream side closes.
    client.onclose = () => {
      markExited();
      setTimeout(() => end(EXIT_FINDINGS, "the server exited; closing the connection to the client"), FLUSH_MS);
    };
    server.onclose = () => end(EXIT_OK);
    void clientGone.then(() => end(EXIT_OK));
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    server.connect(downstream as unknown as Transport).catch((e: unknown) => {
      end(EXIT_FINDINGS, `the client connection failed: ${errorMessage(e)}`);
    });
  });
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}
