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

import { randomUUID } from "node:crypto";
import { compilePolicy, decisionLog, DEFAULT_STORE_TIMEOUT_MS, MemoryStore, PolicyError, type Session } from "toolgate";
import { ToolPins } from "../mcp/pins.js";
import { loadSdk, relayClientCapabilities, relayServer } from "../mcp/relay.js";
import { isPlainObject } from "../shared/objects.js";
import { errorMessage } from "../shared/text.js";
import { parseCommand, sessionOption } from "./args.js";
import { EXIT_FINDINGS, EXIT_OK, UsageError } from "./errors.js";
import { readText } from "./files.js";
import { issueLines } from "./issues.js";
import { tokenSettings, TokenVerifier } from "./proxy-auth.js";
import { listen } from "./proxy-listen.js";
import { LivePolicy, LogFile, visibleToolsChanged, listedTools, type ListedTool } from "./proxy-policy.js";
import { connectRedis, redisUrl, type SharedState } from "./proxy-store.js";
import { httpUpstream, signal, stdioUpstream, upstreamUrl, type Upstream } from "./proxy-upstream.js";

const HELP = `Usage: toolgate proxy --policy <policy.json> [options] -- <command> [args...]
       toolgate proxy --policy <policy.json> [options] --command <command> [--arg <a>]...
       toolgate proxy --policy <policy.json> --listen [host:]port [options] (-- <command> | --url <url>)

Runs an MCP server (the command after "--", or --command with its --arg values) over stdio, or
connects to one at --url over Streamable HTTP, and serves it, enforcing the policy: on this
process's stdin and stdout by default, or over Streamable HTTP at /mcp with --listen, for many
clients at once (both protocol eras: 2025-11-25 and before, and 2026-07-28). Every tools/call
is decided first; refused calls get an error result with the reason and the decision in _meta;
tools the session can never call are left out of tools/list. Everything else the server offers
(resources, prompts, completions, logging, tasks, and over stdio its requests for sampling,
elicitation and roots, as far as the client declared them) is relayed unchanged. A call that
needs approval is put to the user through the client's elicitation, when the client supports it.

The first definition seen of each tool is pinned: a tool whose description, input schema or
annotations change later is hidden and its calls are refused (cause "tool_changed"), with a
message on standard error saying what changed.

Options:
  --policy <file>           the policy file (JSON, version "1"); required
  --session <json>          the session of the stdio client: {"id": "...", attributes...}, for per
                            and when.session (default: a random id, no attributes); not with --listen
  --show-denied             list every tool in tools/list, even those the policy always denies
  --accept-tool-changes     do not pin tool definitions: pass changed tools on
  --start-timeout <ms>      how long the server may take to start and answer (default 60000)
  --approval-timeout <ms>   how long a person may take to answer an approval (default 600000)
  --command <command>       the server's command (instead of "--"), with each --arg <a>
  --url <url>               the server is a Streamable HTTP server at this URL (instead of a command)
                              e.g. --url https://mcp.example.com/mcp

Serving over HTTP:
  --listen <[host:]port>    serve Streamable HTTP at http://host:port/mcp (host default 127.0.0.1;
                            port 0 picks a free one), and /healthz; e.g. --listen 127.0.0.1:8080
  --auth-jwks <url>         require a bearer JWT on every /mcp request, verified with this JWKS
                              e.g. --auth-jwks https://login.example.com/.well-known/jwks.json
  --auth-secret-env <NAME>  ... or verified with the HS256 secret in this environment variable
                            (at least 32 bytes), e.g. --auth-secret-env TOOLGATE_JWT_SECRET
  --auth-issuer <iss>       the tokens' required issuer, e.g. --auth-issuer https://login.example.com/
  --auth-audience <aud>     the tokens' required audience, e.g. --auth-audience toolgate
  --max-sessions <n>        the most 2025-era HTTP sessions open at once (default 1000)

Budgets, logging, reloading:
  --redis <url>             keep budgets (and approval nonces and key) in Redis, shared by every
                            proxy with the same policy namespace, e.g. --redis redis://127.0.0.1:6379
  --store-timeout <ms>      how long a decision waits for Redis before it is refused (default 1000)
  --fail-open               allow calls (marked failedOpen) while Redis fails, instead of refusing
  --log <file>              append one JSON line per decision to this file (no arguments by default)
  --log-args <how>          omit (default), hmac (HMAC-SHA256 under $TOOLGATE_LOG_KEY) or clear
  --shadow                  shadow mode: every well-formed call is allowed; the log says what the
                            policy would have done
  --watch                   reload the policy file when it changes (and on SIGHUP, always): an
                            invalid file is reported and the running policy stays
  -h, --help                show this help

With a command, the server's stderr passes through to this process's stderr. Over stdio the
proxy stops the server and exits when its client disconnects; with --listen it serves until it
is told to stop (SIGINT, SIGTERM: calls in flight finish first). It exits when the server does.
A line on stderr says at start what listens where, the upstream, the store and the namespace.

Examples:
  an MCP client's configuration (stdio):
    "command": "npx",
    "args": ["toolgate", "proxy", "--policy", "policy.json", "--", "uvx", "mlflow-mcp"]
  a gateway for several agents, with tokens and shared budgets:
    TOOLGATE_JWT_SECRET=... toolgate proxy --policy policy.json --listen 127.0.0.1:8080 \\
      --auth-secret-env TOOLGATE_JWT_SECRET --redis redis://127.0.0.1:6379 --log decisions.jsonl \\
      -- npx @modelcontextprotocol/server-everything

Exit status: 0 the client disconnected or the proxy was stopped; 1 the policy is invalid, or
the server could not start or exited; 2 bad usage or an unreadable policy file.`;

/** Grace for in-flight replies to reach the client after the upstream server went away. */
const FLUSH_MS = 50;
/** After SIGTERM, how long the upstream may take before it is killed. */
const KILL_AFTER_MS = 1000;

/** The proxy's settings, as parsed and checked. */
interface ProxySettings {
  live: LivePolicy;
  command: [string, ...string[]];
  session: Session | undefined;
  showDenied: boolean;
  acceptToolChanges: boolean;
  startTimeoutMs: number;
  approvalTimeoutMs: number;
  shared: SharedState | undefined;
  watch: boolean;
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
      url: { type: "string" },
      listen: { type: "string" },
      "auth-jwks": { type: "string" },
      "auth-secret-env": { type: "string" },
      "auth-issuer": { type: "string" },
      "auth-audience": { type: "string" },
      "max-sessions": { type: "string" },
      redis: { type: "string" },
      "store-timeout": { type: "string" },
      "fail-open": { type: "boolean" },
      log: { type: "string" },
      "log-args": { type: "string" },
      shadow: { type: "boolean" },
      watch: { type: "boolean" },
    },
    false,
  );
  if (parsed.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }
  const v = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const str = (name: string) => (typeof v[name] === "string" ? v[name] : undefined);
  const file = v.policy;
  if (typeof file !== "string") throw new UsageError("--policy <file> is required (see toolgate proxy --help)");
  const url = str("url");
  if (url !== undefined && (v.command !== undefined || afterDashes.length > 0 || v.arg !== undefined)) {
    throw new UsageError('give the server either as a command (after "--" or --command) or with --url, not both');
  }
  const command = url === undefined ? upstreamCommand(v.command, v.arg, afterDashes, file) : undefined;
  const upstreamAt = url === undefined ? undefined : upstreamUrl(url);
  const startTimeoutMs = msOption("start-timeout", v["start-timeout"], 60_000);
  const approvalTimeoutMs = msOption("approval-timeout", v["approval-timeout"], 600_000);
  const storeTimeoutMs = msOption("store-timeout", v["store-timeout"], DEFAULT_STORE_TIMEOUT_MS);
  const listenAt = str("listen") === undefined ? undefined : listenAddress(str("listen") as string);
  const session = typeof v.session === "string" ? sessionOption(v.session) : undefined;
  if (listenAt !== undefined && session !== undefined) {
    throw new UsageError(
      "--session is for a stdio client; with --listen the session comes from the protocol session or the token",
    );
  }
  const tokens = tokenSettings({
    jwks: str("auth-jwks"),
    secretEnv: str("auth-secret-env"),
    issuer: str("auth-issuer"),
    audience: str("auth-audience"),
    env: process.env,
  });
  if (tokens !== undefined && listenAt === undefined)
    throw new UsageError("--auth-jwks and --auth-secret-env are for --listen (HTTP clients)");
  if (upstreamAt !== undefined && listenAt === undefined) {
    // Over stdio the proxy waits for its client's initialize before it connects; a remote
    // upstream is for the gateway.
    throw new UsageError("--url needs --listen (a remote server is served over HTTP)");
  }
  const maxSessions = str("max-sessions") === undefined ? 1000 : countOption("max-sessions", str("max-sessions"));
  if (str("max-sessions") !== undefined && listenAt === undefined)
    throw new UsageError("--max-sessions is for --listen");
  const redis = str("redis") === undefined ? undefined : redisUrl(str("redis") as string);
  if (v["fail-open"] === true && redis === undefined)
    throw new UsageError("--fail-open is for --redis (a memory store does not fail)");
  const logArgs = str("log-args") ?? "omit";
  if (logArgs !== "omit" && logArgs !== "hmac" && logArgs !== "clear")
    throw new UsageError(`--log-args must be omit, hmac or clear, got ${JSON.stringify(logArgs)}`);
  if (str("log-args") !== undefined && str("log") === undefined) throw new UsageError("--log-args needs --log <file>");
  const logKey = process.env.TOOLGATE_LOG_KEY;
  if (logArgs === "hmac" && (logKey === undefined || logKey === "")) {
    throw new UsageError(
      "--log-args hmac takes its key from the environment variable TOOLGATE_LOG_KEY, which is not set",
    );
  }

  // The file is checked before anything starts: an invalid policy starts nothing.
  try {
    compilePolicy(readText(file));
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    process.stderr.write(`toolgate proxy: ${file} is not a valid policy; the server was not started:\n`);
    for (const line of issueLines(file, e.issues)) process.stderr.write(`  ${line}\n`);
    return EXIT_FINDINGS;
  }
  const report = (line: string) => process.stderr.write(`${line}\n`);
  // In shadow mode every call is allowed, so the model is shown every tool, as it will be asked.
  const showDenied = v["show-denied"] === true || v.shadow === true;
  let log: LogFile | undefined;
  let shared: SharedState | undefined;
  let upstream: Upstream | undefined;
  try {
    if (str("log") !== undefined) {
      try {
        log = new LogFile(str("log") as string, report);
      } catch (e) {
        throw new UsageError(`--log ${str("log")}: the file cannot be opened for appending (${errorMessage(e)})`);
      }
    }
    const namespace = compilePolicy(readText(file)).namespace;
    if (redis !== undefined) shared = await connectRedis(redis, namespace, storeTimeoutMs);
    const onDecision =
      log === undefined
        ? undefined
        : decisionLog(
            logArgs === "hmac"
              ? { write: (l) => log?.write(l), args: "hmac", key: logKey }
              : { write: (l) => log?.write(l), args: logArgs },
          );
    const live = LivePolicy.load(
      file,
      {
        store: shared?.store ?? new MemoryStore(),
        storeTimeoutMs,
        failOpen: v["fail-open"] === true,
        mode: v.shadow === true ? "shadow" : "enforce",
        ...(onDecision === undefined ? {} : { onDecision }),
      },
      report,
    );
    if (listenAt === undefined) {
      const missing = missingSessionAttributes(live.current.document, session ?? { id: "" });
      if (missing.length > 0) {
        report(
          "toolgate proxy: warning: the policy reads session attributes that this proxy's session does not have: " +
            `${missing.join(", ")}; give them with --session '{"id": "...", ...}' ` +
            "(calls those rules or limits decide are denied or never match)",
        );
      }
      return await serve({
        live,
        command: command as [string, ...string[]],
        session,
        showDenied,
        acceptToolChanges: v["accept-tool-changes"] === true,
        startTimeoutMs,
        approvalTimeoutMs,
        shared,
        watch: v.watch === true,
      });
    }
    const sdk = await loadSdk();
    upstream =
      upstreamAt === undefined
        ? await stdioUpstream(sdk, command as [string, ...string[]], startTimeoutMs)
        : await httpUpstream(sdk, upstreamAt, startTimeoutMs);
    return await listen(sdk, upstream, {
      host: listenAt.host,
      port: listenAt.port,
      live,
      shared,
      verifier: tokens === undefined ? undefined : new TokenVerifier(tokens),
      showDenied,
      acceptToolChanges: v["accept-tool-changes"] === true,
      approvalTimeoutMs,
      maxSessions,
      watch: v.watch === true,
      describeStore: shared?.describe ?? "memory (this process only)",
    });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    await upstream?.stop();
    process.stderr.write(`toolgate proxy: ${errorMessage(e)}\n`);
    return EXIT_FINDINGS;
  } finally {
    await shared?.close().catch(() => {});
    await log?.close().catch(() => {});
  }
}

/** Parses `--listen`: `port`, `host:port` or `[v6]:port`; the host defaults to 127.0.0.1. */
export function listenAddress(value: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):)?([0-9]{1,5})$/.exec(value);
  const port = m === null ? Number.NaN : Number(m[2]);
  if (m === null || !(port >= 0 && port <= 65535)) {
    throw new UsageError(
      `--listen must be [host:]port, e.g. 127.0.0.1:8080 or 8080, got ${JSON.stringify(value.slice(0, 200))}`,
    );
  }
  const host = m[1] === undefined ? "127.0.0.1" : m[1].replace(/^\[(.*)\]$/, "$1");
  return { host, port };
}

function countOption(name: string, value: unknown): number {
  const n = typeof value === "string" && /^[0-9]{1,7}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number from 1 to 9999999`);
  return n;
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
      'the server to run is missing: write its command after "--" (or use --command), ' +
        `e.g. toolgate proxy --policy ${file} -- node server.js`,
    );
  }
  return afterDashes as [string, ...string[]];
}

function msOption(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === "string" && /^[0-9]{1,10}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 2_147_000_000)
    throw new UsageError(`--${name} must be a whole number of milliseconds from 1 to 2147000000`);
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
      if (resolvePointer(session, limit.per) === undefined)
        found.push(`${JSON.stringify(limit.per)} (${Array.isArray(value) ? `${at}/${i}` : at}, per)`);
    });
  };
  const whenAt = (rule: unknown, at: string) => {
    if (!isPlainObject(rule) || !isPlainObject(rule.when) || !isPlainObject(rule.when.session)) return;
    const schema = rule.when.session;
    const names = new Set<string>(isPlainObject(schema.properties) ? Object.keys(schema.properties) : []);
    if (Array.isArray(schema.required)) for (const k of schema.required) if (typeof k === "string") names.add(k);
    for (const name of names)
      if (!Object.hasOwn(session, name)) found.push(`${JSON.stringify(name)} (${at}, when.session)`);
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
  if (isPlainObject(doc.tools))
    for (const [key, rule] of Object.entries(doc.tools))
      ruleAt(rule, `/tools/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`);
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
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- the SDK's overloads need it
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
    throw new Error(`the server ${shown} could not be started: ${errorMessage(e)}`, { cause: e });
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
    upstreamTransport.onclose = () =>
      reject(new Error(`the server ${shown} exited before it finished starting (its standard error is above)`));
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
        ? `the server ${shown} did not answer the MCP handshake within ${settings.startTimeoutMs} ms ` +
            "(see --start-timeout)"
        : /exited before/.test(errorMessage(e))
          ? errorMessage(e)
          : `the server ${shown} could not be started: ${errorMessage(e)}`,
      { cause: e },
    );
  }

  const pins = settings.acceptToolChanges
    ? undefined
    : new ToolPins({
        onChange: (tool, fields) =>
          process.stderr.write(
            `toolgate proxy: the server changed the ${fields.join(", ")} of the tool ${JSON.stringify(tool)} ` +
              "since it was first listed; " +
              `the tool is hidden and its calls are refused (--accept-tool-changes allows changes)\n`,
          ),
      });
  // One session for this one connection: the one given, else a random id (section 8 rule 2).
  const fixed = settings.session ?? { id: `mcp-${randomUUID()}` };
  let lastTools: ListedTool[] = [];
  const server = relayServer(
    sdk,
    client,
    settings.live.view,
    {
      hideDenied: !settings.showDenied,
      approvalTimeoutMs: settings.approvalTimeoutMs,
      session: () => fixed,
      ...(settings.shared === undefined
        ? {}
        : { approvalKey: settings.shared.approvalKey, approvalNonces: settings.shared.nonces }),
    },
    {
      clientCapabilities,
      onToolList: (tools) => (lastTools = listedTools(tools)),
      ...(pins === undefined ? {} : { pins }),
    },
  );
  const onSwap = (
    previous: Parameters<typeof visibleToolsChanged>[0],
    next: Parameters<typeof visibleToolsChanged>[1],
  ) => {
    if (visibleToolsChanged(previous, next, lastTools, [fixed])) void server.sendToolListChanged().catch(() => {});
  };
  if (settings.watch) settings.live.watch(onSwap);
  const onHup = () => settings.live.reload(onSwap);
  process.on("SIGHUP", onHup);

  return new Promise<number>((resolve) => {
    let ending = false;
    const end = (status: number, why?: string) => {
      if (ending) return;
      ending = true;
      if (why !== undefined) process.stderr.write(`toolgate proxy: ${why}\n`);
      settings.live.stop();
      process.off("SIGHUP", onHup);
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
