#!/usr/bin/env node
// Finds (or installs) a real redis-server and runs throwaway instances of it on loopback ports,
// for the Redis tests and the Redis benchmark. Persistence is off, so nothing is left on disk
// but a temporary working directory that `stop()` removes.
//
// As a command:
//   node scripts/redis-server.mjs ensure   find redis-server, installing it with apt-get when it
//                                          is missing and we run as root; print its path, or
//                                          say why not and exit 1
//   node scripts/redis-server.mjs run      start one instance in the foreground (Ctrl-C stops it)

import { execFileSync, spawn } from "node:child_process";
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, rmdirSync, statSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

const HOST = "127.0.0.1";
const INSTALL_LOCK = join(tmpdir(), "toolgate-redis-install.lock");

// Servers this process started: killed when it exits, however it exits, so a crashed test run
// leaves no redis-server behind.
const running = new Set();
process.once("exit", () => {
  for (const proc of running) {
    try {
      proc.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** The path of an executable named `name` on PATH (or in the sbin directories), or null. */
export function which(name) {
  const dirs = (process.env.PATH ?? "").split(delimiter).concat(["/usr/bin", "/usr/sbin", "/usr/local/bin"]);
  for (const dir of dirs) {
    if (dir === "") continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return null;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs apt-get under a lock directory, so test files starting in parallel do not race for
 * dpkg's lock: the first installs, the others wait for it and then look again.
 */
async function installWithApt(log) {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(INSTALL_LOCK);
      break;
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
      // A lock left by a process that died while installing: no install takes this long.
      try {
        if (Date.now() - statSync(INSTALL_LOCK).mtimeMs > 5 * 60_000) rmdirSync(INSTALL_LOCK);
      } catch {
        // removed meanwhile by its owner
      }
      if (Date.now() > deadline) throw new Error(`gave up waiting for ${INSTALL_LOCK}`, { cause: error });
      await sleep(500);
      if (which("redis-server") !== null) return;
    }
  }
  try {
    if (which("redis-server") !== null) return;
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    log("redis-server not found: installing it with apt-get (apt-get update, apt-get install -y redis-server)");
    execFileSync("apt-get", ["update"], { stdio: ["ignore", "ignore", "inherit"], env });
    execFileSync("apt-get", ["install", "-y", "--no-install-recommends", "redis-server"], {
      stdio: ["ignore", "ignore", "inherit"],
      env,
    });
  } finally {
    rmdirSync(INSTALL_LOCK);
  }
}

/**
 * Finds redis-server and redis-cli; when they are missing and this process runs as root with
 * apt-get at hand, installs Debian's redis-server package first.
 *
 * @returns `{ server, cli }` paths, or `{ server: null, reason }` saying why there is none.
 */
export async function ensureRedisServer({ install = true, log = (m) => process.stderr.write(`${m}\n`) } = {}) {
  let server = which("redis-server");
  if (server === null && install) {
    const root = typeof process.getuid === "function" && process.getuid() === 0;
    if (!root)
      return {
        server: null,
        cli: null,
        reason: "redis-server is not installed and this process is not root, so it cannot install it",
      };
    if (which("apt-get") === null)
      return { server: null, cli: null, reason: "redis-server is not installed and apt-get is not available" };
    try {
      await installWithApt(log);
    } catch (error) {
      return { server: null, cli: null, reason: `installing redis-server with apt-get failed: ${error.message}` };
    }
    server = which("redis-server");
  }
  if (server === null) return { server: null, cli: null, reason: "redis-server is not installed" };
  return { server, cli: which("redis-cli") };
}

/** A free TCP port on the loopback interface (free now; the server binds it right after). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves true once something on `port` answers PING with PONG, false if it never does in time. */
export async function waitForPong(port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const socket = createConnection({ host: HOST, port });
      let reply = "";
      const done = (value) => {
        socket.destroy();
        resolve(value);
      };
      socket.setTimeout(500, () => done(false));
      socket.on("error", () => done(false));
      socket.on("connect", () => socket.write("PING\r\n"));
      socket.on("data", (chunk) => {
        reply += chunk.toString("latin1");
        if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
      });
    });
    if (ok) return true;
    await sleep(25);
  }
  return false;
}

/**
 * Starts a redis-server on a free loopback port: no persistence, DEBUG allowed from loopback
 * (so tests can `DEBUG SLEEP`), its own temporary working directory.
 *
 * @param {{ bin: string, port?: number, args?: string[] }} options
 * @returns a handle: `port`, `pid`, `stop()`, `restart()` (same port), `pause()` / `resume()`
 *          (SIGSTOP / SIGCONT, a stalled server).
 */
export async function startRedisServer({ bin, port, args = [] }) {
  const dir = mkdtempSync(join(tmpdir(), "toolgate-redis-"));
  let child = null;
  let chosen = port;

  const launch = async (p) => {
    const proc = spawn(
      bin,
      [
        "--port",
        String(p),
        "--bind",
        HOST,
        "--save",
        "",
        "--appendonly",
        "no",
        "--enable-debug-command",
        "local",
        "--dir",
        dir,
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
        ...args,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    proc.stderr.on("data", (c) => (stderr += c));
    running.add(proc);
    const exited = new Promise((resolve) =>
      proc.once("exit", (code, signal) => {
        running.delete(proc);
        resolve({ code, signal });
      }),
    );
    const ready = waitForPong(p);
    const first = await Promise.race([ready.then((ok) => ({ ok })), exited.then((e) => ({ exited: e }))]);
    if (first.ok === true) return proc;
    proc.kill("SIGKILL");
    throw new Error(
      `redis-server did not start on port ${p}: ${stderr.trim() || JSON.stringify(first.exited ?? "no PONG")}`,
    );
  };

  // The port was free a moment ago; another process may take it first, so try a few.
  let lastError;
  for (let attempt = 0; attempt < 5 && child === null; attempt++) {
    const p = chosen ?? (await freePort());
    try {
      child = await launch(p);
      chosen = p;
    } catch (error) {
      lastError = error;
      if (port !== undefined) break;
    }
  }
  if (child === null) {
    rmSync(dir, { recursive: true, force: true });
    throw lastError;
  }

  const stopChild = async (proc) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGCONT");
    proc.kill("SIGKILL");
    await gone;
  };

  return {
    host: HOST,
    get port() {
      return chosen;
    },
    get pid() {
      return child.pid;
    },
    get url() {
      return `redis://${HOST}:${chosen}`;
    },
    /** Kills the server (its data is gone) and removes its directory. */
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
    /** Kills the server and starts a new, empty one on the same port. */
    async restart() {
      await stopChild(child);
      child = await launch(chosen);
    },
    /** Kills the server and leaves the port closed until `start()`. */
    async kill() {
      await stopChild(child);
    },
    /** Starts the server again on the same port after `kill()`. */
    async start() {
      child = await launch(chosen);
    },
    /** Freezes the server process: connections stay open, nothing is answered. */
    pause() {
      child.kill("SIGSTOP");
    },
    /** Lets a paused server run again. */
    resume() {
      child.kill("SIGCONT");
    },
  };
}

/**
 * Starts a Redis Cluster of `masters` nodes (no replicas) on free loopback ports and waits until
 * every node reports `cluster_state:ok`.
 *
 * @param {{ bin: string, cli: string, masters?: number }} options
 * @returns `{ nodes, ports, stop() }`
 */
export async function startRedisCluster({ bin, cli, masters = 3 }) {
  const nodes = [];
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(
        await startRedisServer({
          bin,
          args: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"],
        }),
      );
    }
    execFileSync(
      cli,
      ["--cluster", "create", ...nodes.map((n) => `${HOST}:${n.port}`), "--cluster-replicas", "0", "--cluster-yes"],
      {
        stdio: ["ignore", "ignore", "pipe"],
        timeout: 30_000,
      },
    );
    const deadline = Date.now() + 30_000;
    for (const node of nodes) {
      for (;;) {
        const info = execFileSync(cli, ["-h", HOST, "-p", String(node.port), "cluster", "info"], {
          encoding: "utf8",
          timeout: 5_000,
        });
        if (info.includes("cluster_state:ok")) break;
        if (Date.now() > deadline) throw new Error(`cluster node ${node.port} never reached cluster_state:ok`);
        await sleep(100);
      }
    }
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw error;
  }
  return {
    nodes,
    ports: nodes.map((n) => n.port),
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}

async function main(command) {
  if (command === "ensure") {
    const found = await ensureRedisServer();
    if (found.server === null) {
      process.stderr.write(`redis-server unavailable: ${found.reason}\n`);
      process.exit(1);
    }
    process.stdout.write(`${found.server}\n`);
    return;
  }
  if (command === "run") {
    const found = await ensureRedisServer();
    if (found.server === null) {
      process.stderr.write(`redis-server unavailable: ${found.reason}\n`);
      process.exit(1);
    }
    const server = await startRedisServer({ bin: found.server });
    process.stdout.write(`redis-server listening on ${server.url} (pid ${server.pid}); Ctrl-C stops it\n`);
    const stop = () => server.stop().then(() => process.exit(0));
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    return;
  }
  process.stderr.write("usage: node scripts/redis-server.mjs ensure|run\n");
  process.exit(2);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main(process.argv[2]);
}
