import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ReadBuffer, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { ElicitRequestSchema, type ElicitResult, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

/** The built CLI, as users run it. */
export const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
/** The MLflow-shaped upstream server process. */
export const UPSTREAM = fileURLToPath(new URL("../fixtures/mcp/upstream.mjs", import.meta.url));

/** Writes `content` to a file in a fresh temporary directory; returns its path. */
export function writeTemp(name: string, content: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "toolgate-proxy-")), name);
  writeFileSync(file, content);
  return file;
}

/**
 * An SDK transport over a child process's stdin and stdout, like the SDK's own
 * StdioClientTransport but keeping the process, so tests can see its exit status and stderr.
 */
class ChildTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private readonly buffer = new ReadBuffer();

  constructor(private readonly child: ChildProcess) {}

  async start(): Promise<void> {
    // One message per turn of the event loop: the SDK's Client handles a progress notification
    // a microtask late, and drops it when the response came in the same chunk. Delivering them
    // apart keeps that client-side race out of what the proxy tests measure.
    let delivery = Promise.resolve();
    this.child.stdout?.on("data", (chunk: Buffer) => {
      this.buffer.append(chunk);
      for (let message = this.buffer.readMessage(); message !== null; message = this.buffer.readMessage()) {
        const m = message;
        delivery = delivery.then(
          () => new Promise<void>((resolve) => setImmediate(() => resolve(this.onmessage?.(m)))),
        );
      }
    });
    this.child.on("close", () => this.onclose?.());
  }

  async send(message: JSONRPCMessage): Promise<void> {
    this.child.stdin?.write(serializeMessage(message));
  }

  async close(): Promise<void> {
    this.child.stdin?.end();
  }
}

/** A running `toolgate proxy` with an SDK client connected to it. */
export interface ProxyRun {
  client: Client;
  child: ChildProcess;
  /** Everything the proxy wrote to stderr so far. */
  stderr: () => string;
  /** Resolves with the exit status. */
  exited: Promise<number | null>;
  /** The elicitation requests the client received. */
  elicitations: unknown[];
}

/** Spawns `node dist/cli.js proxy ...args` and connects a real SDK client to it. */
export async function startProxy(
  args: string[],
  options: { env?: Record<string, string>; elicit?: () => ElicitResult } = {},
): Promise<ProxyRun> {
  const child = spawn(process.execPath, [CLI, "proxy", ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, ...options.env },
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const elicitations: unknown[] = [];
  const client = new Client(
    { name: "proxy-test-client", version: "1.0.0" },
    { capabilities: options.elicit ? { elicitation: {} } : {} },
  );
  if (options.elicit) {
    const elicit = options.elicit;
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      elicitations.push(request.params);
      return elicit();
    });
  }
  try {
    await client.connect(new ChildTransport(child));
  } catch (e) {
    child.kill();
    throw new Error(`the proxy did not start: ${String(e)}\n${stderr}`, { cause: e });
  }
  return { client, child, stderr: () => stderr, exited, elicitations };
}

/** Runs the CLI to completion (for runs that never get to serve). */
export function runCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  child.stdin.end();
  return new Promise((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
}

/** Whether a process with this pid is alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `condition` every 20 ms until it holds or `ms` pass. */
export async function eventually(condition: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return condition();
}
