/**
 * `toolgate proxy --listen` as a real process for the gateway tests, and SDK clients of both
 * lines connected to it over Streamable HTTP. Every process started here is stopped by
 * {@link stopAll} (called in each suite's afterAll).
 */

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client as Client2, StreamableHTTPClientTransport as Transport2 } from "@modelcontextprotocol/client";
import { Client as Client1 } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as Transport1 } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

/** The built CLI, as users run it. */
export const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
/** The MLflow-shaped upstream server process. */
export const UPSTREAM = fileURLToPath(new URL("../fixtures/mcp/upstream.mjs", import.meta.url));

/** An upstream with a "slow" tool (answers after `ms`) and "echo". */
export const SLOW_UPSTREAM = fileURLToPath(new URL("./fixtures/slow-upstream.mjs", import.meta.url));

const dirs: string[] = [];
const running = new Set<ChildProcess>();

/** A fresh temporary directory, removed by {@link stopAll}. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "toolgate-gateway-"));
  dirs.push(dir);
  return dir;
}

/** Writes `content` to `name` in a fresh temporary directory; returns the path. */
export function writeTemp(name: string, content: string): string {
  const file = join(tempDir(), name);
  writeFileSync(file, content);
  return file;
}

/** A running gateway. */
export interface Gateway {
  child: ChildProcess;
  url: URL;
  port: number;
  stderr: () => string;
  exited: Promise<number | null>;
  /** SIGTERM, then the exit status. */
  stop: () => Promise<number | null>;
}

/** Starts `node dist/cli.js proxy --listen 127.0.0.1:0 ...args` and waits for its startup line. */
export async function startGateway(
  args: string[],
  options: { env?: Record<string, string>; upstream?: string[]; port?: number } = {},
): Promise<Gateway> {
  const upstream = options.upstream ?? ["--", process.execPath, UPSTREAM];
  const child = spawn(
    process.execPath,
    [CLI, "proxy", "--listen", `127.0.0.1:${options.port ?? 0}`, ...args, ...upstream],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, ...options.env },
    },
  );
  running.add(child);
  let stderr = "";
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\/mcp/.exec(stderr);
      if (m !== null) resolve(Number(m[1]));
    });
    void exited.then((code) => reject(new Error(`the gateway exited (${code}) before listening:\n${stderr}`)));
  });
  return {
    child,
    port,
    url: new URL(`http://127.0.0.1:${port}/mcp`),
    stderr: () => stderr,
    exited,
    stop: async () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

/** Registers a process started elsewhere, so {@link stopAll} stops it. */
export function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

/** Runs `node ...args` to its end; resolves with its status and output. */
export function runNode(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = track(
      spawn(process.execPath, args, {
        cwd: options.cwd,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, ...options.env },
      }),
    );
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr?.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs the CLI to its end (for start-up errors); resolves with its status and output. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    running.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr?.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("exit", (code) => {
      running.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/** An SDK 2.x client negotiating its era (`auto`: 2026-07-28 against this gateway). */
export async function client2(url: URL, token?: string): Promise<Client2> {
  const client = new Client2({ name: "gateway-test-2", version: "1" }, { versionNegotiation: { mode: "auto" } });
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  await client.connect(new Transport2(url, { requestInit: { headers } }));
  return client;
}

/** An SDK 1.x client (the 2025 era, with a protocol session). */
export async function client1(url: URL, token?: string): Promise<Client1> {
  const client = new Client1({ name: "gateway-test-1", version: "1" });
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  await client.connect(new Transport1(url, { requestInit: { headers } }));
  return client;
}

/** The outcome of one tools/call: "allow" or the refusal's outcome. */
export function outcomeOf(result: unknown): string {
  const r = result as { isError?: boolean; _meta?: Record<string, { outcome?: string }> };
  return r._meta?.["toolgate/decision"]?.outcome ?? (r.isError === true ? "error" : "allow");
}

/** Stops every process this module started and removes its temporary directories. */
export async function stopAll(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
