/**
 * The gateway's upstream (docs/spec.md, section 9): a command run over stdio, or a Streamable
 * HTTP server at `--url`. Either is connected before the listener opens, so one that cannot
 * start is an error at start. A remote upstream that fails or disconnects is an error to the
 * client (never an allow), and is connected again, with backoff, until it is back.
 */

import type { Sdk } from "../mcp/relay.js";
import { errorMessage } from "../shared/text.js";
import { UsageError } from "./errors.js";

/** After SIGTERM, how long the upstream process may take before it is killed. */
const KILL_AFTER_MS = 1000;
/** Reconnection backoff for a remote upstream. */
const RETRY_FIRST_MS = 200;
const RETRY_MAX_MS = 5000;

type Client = InstanceType<Sdk["Client"]>;

/** A connected upstream. */
export interface Upstream {
  client: Client;
  /** For the startup line: the command or the URL (never credentials). */
  describe: string;
  /** Stops it: closes the connection, and stops the process of a command. */
  stop(): Promise<void>;
  /** Called once when the upstream is gone for good (a command's process exited). */
  onGone(listener: (why: string) => void): void;
  /** Called each time a remote upstream was connected again (on a new transport). */
  onReconnect(listener: () => void): void;
}

/** Starts `command` and connects to it; rejects with a message that says what went wrong. */
export async function stdioUpstream(
  sdk: Sdk,
  command: [string, ...string[]],
  startTimeoutMs: number,
): Promise<Upstream> {
  const [cmd, ...args] = command;
  const shown = JSON.stringify(command.join(" "));
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  const transport = new sdk.StdioClientTransport({ command: cmd, args, env, stderr: "inherit" });
  try {
    await transport.start();
  } catch (e) {
    throw new Error(`the server ${shown} could not be started: ${errorMessage(e)}`, { cause: e });
  }
  transport.start = async () => {};
  const pid = transport.pid;
  let exited = false;
  const stop = async () => {
    const closing = transport.close().catch(() => {});
    if (pid !== null && !exited) {
      signal(pid, "SIGTERM");
      const killer = setTimeout(() => signal(pid, "SIGKILL"), KILL_AFTER_MS);
      await closing;
      clearTimeout(killer);
    }
    await closing;
  };
  const client = new sdk.Client({ name: "toolgate-proxy", version: "1" }, { capabilities: {} });
  const early = new Promise<never>((_, reject) => {
    transport.onclose = () =>
      reject(new Error(`the server ${shown} exited before it finished starting (its standard error is above)`));
  });
  early.catch(() => {});
  try {
    await Promise.race([client.connect(transport, { timeout: startTimeoutMs }), early]);
  } catch (e) {
    await stop();
    const message = errorMessage(e);
    if (/timed? ?out/i.test(message))
      throw new Error(
        `the server ${shown} did not answer the MCP handshake within ${startTimeoutMs} ms (see --start-timeout)`,
        { cause: e },
      );
    throw new Error(/exited before/.test(message) ? message : `the server ${shown} could not be started: ${message}`, {
      cause: e,
    });
  }
  const gone: ((why: string) => void)[] = [];
  client.onclose = () => {
    exited = true;
    for (const listener of gone) listener("the server exited; the proxy stops");
  };
  return { client, describe: `${shown} (stdio)`, stop, onGone: (l) => gone.push(l), onReconnect: () => {} };
}

/**
 * Connects to a Streamable HTTP server at `url`. Afterwards a request that fails for want of the
 * server (a refused connection, an unknown session after its restart) is answered with that
 * error and the connection is made again in the background; requests made meanwhile fail at once.
 */
export async function httpUpstream(sdk: Sdk, url: URL, startTimeoutMs: number): Promise<Upstream> {
  const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
  const shown = shownUrl(url);
  const client = new sdk.Client({ name: "toolgate-proxy", version: "1" }, { capabilities: {} });
  const connect = () =>
    client.connect(new StreamableHTTPClientTransport(url, { reconnectionOptions: noSseRetries() }), {
      timeout: startTimeoutMs,
    });
  try {
    await connect();
  } catch (e) {
    await client.close().catch(() => {});
    throw new Error(`the server at ${shown} could not be reached: ${errorMessage(e)}`, { cause: e });
  }
  const reconnected: (() => void)[] = [];
  let stopped = false;
  let down: Promise<void> | undefined;
  let downSince = "";
  const reconnect = (why: string) => {
    if (down !== undefined || stopped) return;
    downSince = why;
    process.stderr.write(`toolgate proxy: the server at ${shown} failed (${why}); connecting again\n`);
    down = (async () => {
      let wait = RETRY_FIRST_MS;
      while (!stopped) {
        await client.close().catch(() => {});
        try {
          await connect();
          process.stderr.write(`toolgate proxy: the server at ${shown} is connected again\n`);
          for (const listener of reconnected) listener();
          return;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, wait).unref());
          wait = Math.min(wait * 2, RETRY_MAX_MS);
        }
      }
    })().finally(() => (down = undefined));
  };
  const McpError = sdk.types.McpError;
  const request = client.request.bind(client) as (...args: unknown[]) => Promise<unknown>;
  (client as unknown as { request: (...args: unknown[]) => Promise<unknown> }).request = async (...args: unknown[]) => {
    // The client's own initialize, while connecting again, goes through.
    const initializing = (args[0] as { method?: unknown } | undefined)?.method === "initialize";
    if (down !== undefined && !initializing)
      throw new McpError(-32603, `The upstream server is unreachable (${downSince}); the proxy is connecting again.`);
    try {
      return await request(...args);
    } catch (e) {
      // A JSON-RPC error is the server's answer; anything else means the server is not there.
      if (!initializing && (!(e instanceof McpError) || /session/i.test(errorMessage(e))))
        reconnect(errorMessage(e).slice(0, 200));
      throw e;
    }
  };
  return {
    client,
    describe: `${shown} (Streamable HTTP)`,
    stop: async () => {
      stopped = true;
      await client.close().catch(() => {});
    },
    onGone: () => {},
    onReconnect: (l) => reconnected.push(l),
  };
}

/** Checks `--url`: an http(s) URL. */
export function upstreamUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--url must be an http(s) URL, got ${JSON.stringify(value.slice(0, 200))}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new UsageError(`--url must be an http(s) URL, got ${JSON.stringify(url.protocol)}`);
  return url;
}

function shownUrl(url: URL): string {
  const copy = new URL(url.href);
  copy.username = "";
  copy.password = "";
  copy.search = copy.search === "" ? "" : "?…";
  return copy.href;
}

/** The SDK's own SSE stream retries are not needed: a failed request reconnects the whole client. */
function noSseRetries() {
  return {
    initialReconnectionDelay: 1000,
    maxReconnectionDelay: 5000,
    reconnectionDelayGrowFactor: 1.5,
    maxRetries: 0,
  };
}

/** Sends `name` to `pid`; a process already gone is not an error. */
export function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}
