// What `toolgate proxy` adds to a tools/call (issue 15, item 7), measured in one run against the
// floor — a bare pass-through relay on the same SDKs with no policy (bench/proxy-relay.mjs) — and
// against calling the server directly, over stdio and over Streamable HTTP, with 1 and 32 clients.
// The server is the reference `everything` server; the call is its `echo`.
//
//   node bench/proxy.mjs            full run (about a minute on 2 cores); npm run bench runs it
//   node bench/proxy.mjs --smoke    a few calls each, no targets judged (CI, so it never rots)
//
// Latency is wall time per call at the client (p50, p99), in rounds that interleave the
// contenders so drift on a shared machine falls on all of them alike. "32 clients" is 32 calls in
// flight at once: over stdio on the one connection a stdio proxy serves, over HTTP from 32 client
// connections. CPU per call is that of the process the client talks to (the server itself for
// "direct", else the relay or the proxy): user + system time from /proc/<pid>/stat over the calls.
// Targets are printed PASS or MISS and never fail the run.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Client as Client2, StreamableHTTPClientTransport as Transport2 } from "@modelcontextprotocol/client";

const argv = process.argv.slice(2);
for (const a of argv) {
  if (a !== "--smoke") {
    console.error(`bench/proxy.mjs: unknown option ${a} (options: --smoke)`);
    process.exit(2);
  }
}
const smoke = argv.includes("--smoke");
const ROUNDS = smoke ? 1 : 5;
const CALLS_1 = smoke ? 30 : 600; // per round, one client
const CALLS_32 = smoke ? 2 : 25; // per client per round, 32 clients
const WARMUP = smoke ? 10 : 300;

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const require = createRequire(import.meta.url);
const EVERYTHING = require.resolve("@modelcontextprotocol/server-everything/dist/index.js");
const CLI = here("../dist/cli.js");
if (!existsSync(CLI)) {
  console.error("bench/proxy.mjs: dist/cli.js is missing; run npm run build first");
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), "toolgate-bench-proxy-"));
const POLICY = join(dir, "policy.json");
// A policy that does a policy's work on every call: a rule, a per-session limit far from its max.
writeFileSync(
  POLICY,
  JSON.stringify({
    version: "1",
    name: "bench-proxy",
    default: "deny",
    tools: { echo: { rate_limit: { max: 1e9, window: "1h" } } },
  }),
);
const children = new Set();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** CPU time of a process so far, in microseconds (Linux), or undefined. */
function cpuMicros(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
  } catch {
    return undefined;
  }
}

/** Starts a process that listens and prints its port on stderr; resolves with { port, child }. */
function startListening(args, pattern, env = {}) {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } });
  children.add(child);
  let err = "";
  return new Promise((resolve, reject) => {
    child.stderr.setEncoding("utf8").on("data", (d) => {
      err += d;
      const m = pattern.exec(err);
      if (m) resolve({ port: Number(m[1]), child });
    });
    child.on("exit", (code) => reject(new Error(`${args.join(" ")} exited (${code}):\n${err}`)));
  });
}

/** A loopback port that is free now. */
function freePort() {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

const echo = (client) => client.callTool({ name: "echo", arguments: { message: "hello" } });

/**
 * A contender: `connect(n)` opens n clients; `pid()` is the relaying process (for CPU), if any.
 * Over stdio one connection is opened and shared (a stdio server serves one client).
 */
async function stdioContender(name, command, args) {
  const transport = new StdioClientTransport({ command, args, stderr: "ignore" });
  const client = new Client({ name: "bench", version: "1" });
  await client.connect(transport);
  return {
    name,
    clients: (n) => Array.from({ length: n }, () => client),
    pid: () => transport.pid,
    close: () => client.close(),
  };
}

async function httpContender(name, url, child, era, owns = true) {
  const open = [];
  const connect = async () => {
    const client =
      era === "modern"
        ? new Client2({ name: "bench", version: "1" }, { versionNegotiation: { mode: "auto" } })
        : new Client({ name: "bench", version: "1" });
    await client.connect(era === "modern" ? new Transport2(url) : new StreamableHTTPClientTransport(url));
    open.push(client);
    return client;
  };
  const pool = [await connect()];
  return {
    name,
    clients: (n) => pool.slice(0, n),
    grow: async (n) => {
      while (pool.length < n) pool.push(await connect());
    },
    pid: () => child?.pid,
    close: async () => {
      await Promise.all(open.map((c) => c.close().catch(() => {})));
      if (owns) child?.kill("SIGTERM");
    },
  };
}

/** Runs `perClient` sequential calls on each of `clients` at once; returns every call's ms. */
async function batch(clients, perClient) {
  const times = [];
  await Promise.all(
    clients.map(async (client) => {
      for (let i = 0; i < perClient; i++) {
        const t = performance.now();
        const r = await echo(client);
        times.push(performance.now() - t);
        if (r.isError) throw new Error(`echo was refused: ${JSON.stringify(r).slice(0, 300)}`);
      }
    }),
  );
  return times;
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** Measures every contender for one (transport, clients) cell, interleaved by rounds. */
async function measure(contenders, n) {
  const perClient = n === 1 ? CALLS_1 : CALLS_32;
  for (const c of contenders) {
    await c.grow?.(n);
    await batch(c.clients(n), Math.ceil(WARMUP / n));
  }
  const times = new Map(contenders.map((c) => [c.name, []]));
  const cpu = new Map(contenders.map((c) => [c.name, { micros: 0, calls: 0 }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of contenders) {
      const pid = c.pid();
      const before = pid === undefined || pid === null ? undefined : cpuMicros(pid);
      const t = await batch(c.clients(n), perClient);
      const after = before === undefined ? undefined : cpuMicros(pid);
      times.get(c.name).push(...t);
      if (before !== undefined && after !== undefined) {
        const entry = cpu.get(c.name);
        entry.micros += after - before;
        entry.calls += t.length;
      }
    }
  }
  return contenders.map((c) => {
    const t = times.get(c.name);
    const u = cpu.get(c.name);
    return {
      name: c.name,
      p50: quantile(t, 0.5),
      p99: quantile(t, 0.99),
      cpu: u.calls > 0 ? u.micros / u.calls : undefined,
    };
  });
}

const fmt = (ms) => `${ms.toFixed(3)} ms`;
function table(title, rows, direct) {
  console.log(`\n-- ${title}`);
  console.log(
    `${"contender".padEnd(42)} ${"p50".padStart(10)} ${"p99".padStart(10)} ` +
      `${"added p50".padStart(11)} ${"CPU/call".padStart(15)}`,
  );
  for (const r of rows) {
    const added = direct === undefined || r.name === direct.name ? "" : fmt(r.p50 - direct.p50);
    const cpu = r.cpu === undefined ? "" : `${r.cpu.toFixed(0)} µs`;
    console.log(
      `${r.name.padEnd(42)} ${fmt(r.p50).padStart(10)} ${fmt(r.p99).padStart(10)} ` +
        `${added.padStart(11)} ${cpu.padStart(15)}`,
    );
  }
}

const targets = [];
const target = (name, pass, detail) => targets.push({ name, pass, detail });

console.log(
  "== toolgate proxy: latency added per tools/call " +
    `(everything's echo; ${ROUNDS} rounds × ${CALLS_1} calls for 1 client, ` +
    `× ${CALLS_32} per client for 32)${smoke ? " [smoke: no targets]" : ""}`,
);

// stdio
{
  const direct = await stdioContender("direct (stdio)", process.execPath, [EVERYTHING]);
  const floor = await stdioContender("bare relay, no policy (stdio)", process.execPath, [
    here("proxy-relay.mjs"),
    "stdio",
    "--",
    process.execPath,
    EVERYTHING,
  ]);
  const proxy = await stdioContender("toolgate proxy (stdio)", process.execPath, [
    CLI,
    "proxy",
    "--policy",
    POLICY,
    "--",
    process.execPath,
    EVERYTHING,
  ]);
  const all = [direct, floor, proxy];
  for (const n of [1, 32]) {
    const rows = await measure(all, n);
    table(`stdio, ${n} client${n === 1 ? "" : "s (calls in flight on one connection)"}`, rows, rows[0]);
    if (n === 1) {
      const [d, f, p] = rows;
      target("stdio: added p50 ≤ 0.2 ms (1 client)", p.p50 - d.p50 <= 0.2, `added ${fmt(p.p50 - d.p50)}`);
      target(
        "stdio: proxy within 1.1× of the bare relay (p50, 1 client)",
        p.p50 <= 1.1 * f.p50,
        `${(p.p50 / f.p50).toFixed(2)}×`,
      );
    }
  }
  await Promise.all(all.map((c) => c.close()));
}

// Streamable HTTP
{
  const everything = await startListening([EVERYTHING, "streamableHttp"], /listening on port (\d+)/, {
    PORT: String(await freePort()),
  }).catch(() => undefined);
  const floorProc = await startListening(
    [here("proxy-relay.mjs"), "http", "--", process.execPath, EVERYTHING],
    /listening (\d+)/,
  );
  const gwProc = await startListening(
    [CLI, "proxy", "--policy", POLICY, "--listen", "127.0.0.1:0", "--", process.execPath, EVERYTHING],
    /listening on http:\/\/127\.0\.0\.1:(\d+)\/mcp/,
  );
  const url = (port) => new URL(`http://127.0.0.1:${port}/mcp`);
  const all = [];
  if (everything !== undefined)
    all.push(await httpContender("direct (HTTP, 2025)", url(everything.port), everything.child, "legacy"));
  all.push(await httpContender("bare relay, no policy (HTTP, 2025)", url(floorProc.port), floorProc.child, "legacy"));
  all.push(await httpContender("toolgate proxy (HTTP, 2025)", url(gwProc.port), gwProc.child, "legacy"));
  all.push(
    await httpContender(
      "bare relay, no policy (HTTP, 2026-07-28)",
      url(floorProc.port),
      floorProc.child,
      "modern",
      false,
    ),
  );
  all.push(await httpContender("toolgate proxy (HTTP, 2026-07-28)", url(gwProc.port), gwProc.child, "modern", false));
  for (const n of [1, 32]) {
    const rows = await measure(all, n);
    table(`HTTP, ${n} client${n === 1 ? "" : "s"}`, rows, everything === undefined ? undefined : rows[0]);
    if (n === 1) {
      const by = (name) => rows.find((r) => r.name === name);
      const ratio = (era) => by(`toolgate proxy (HTTP, ${era})`).p50 / by(`bare relay, no policy (HTTP, ${era})`).p50;
      target(
        "HTTP 2025: proxy within 1.1× of the bare relay (p50, 1 client)",
        ratio("2025") <= 1.1,
        `${ratio("2025").toFixed(2)}×`,
      );
      target(
        "HTTP 2026-07-28: proxy within 1.1× of the bare relay (p50, 1 client)",
        ratio("2026-07-28") <= 1.1,
        `${ratio("2026-07-28").toFixed(2)}×`,
      );
    }
  }
  if (everything === undefined)
    console.log("(the everything server's own HTTP transport did not start: no direct row)");
  await Promise.all(all.map((c) => c.close()));
}

console.log("\n-- targets");
for (const t of targets) console.log(`${smoke ? "----" : t.pass ? "PASS" : "MISS"}  ${t.name}: ${t.detail}`);
process.exit(0);
