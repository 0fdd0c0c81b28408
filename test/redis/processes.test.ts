// Budgets shared across OS processes and clients: several processes deciding on one session at
// once, on one Redis, get exactly `max` allows between them.

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { compilePolicy } from "toolgate";
import { RedisStore } from "toolgate/redis";
import { expect, it } from "vitest";
import { bothClients, describeWithRedis, type RedisServerHandle } from "../helpers/redis-server.js";

const WORKER = fileURLToPath(new URL("./fixtures/decide-worker.mjs", import.meta.url));

interface Worker {
  ready: Promise<void>;
  result: Promise<Record<string, number>>;
  go(): void;
}

function startWorker(server: RedisServerHandle, env: Record<string, string>): Worker {
  const child = spawn(process.execPath, [WORKER], {
    env: { ...process.env, PORT: String(server.port), ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    if (out.startsWith("ready\n")) onReady();
  });
  child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const result = new Promise<Record<string, number>>((resolve, reject) => {
    child.on("exit", (code) => {
      const line = out.split("\n").filter(Boolean).pop() ?? "";
      if (code !== 0) reject(new Error(`worker exited with ${code}: ${err.trim()}`));
      else resolve(JSON.parse(line) as Record<string, number>);
    });
  });
  return { ready, result, go: () => child.stdin.end("go\n") };
}

describeWithRedis("RedisStore shared across processes and clients", (server) => {
  const clients = bothClients(server);

  it("gives exactly max allows to two OS processes deciding 250 calls each at once (max 50)", async () => {
    const namespace = `processes-${Date.now()}`;
    const workers = [
      startWorker(server(), { NAMESPACE: namespace, CALLS: "250", MAX: "50", CLIENT: "ioredis" }),
      startWorker(server(), { NAMESPACE: namespace, CALLS: "250", MAX: "50", CLIENT: "node-redis" }),
    ];
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.go();
    const counts = await Promise.all(workers.map((w) => w.result));
    const total = (outcome: string) => counts.reduce((sum, c) => sum + (c[outcome] ?? 0), 0);
    expect(total("allow")).toBe(50);
    expect(total("rate_limited")).toBe(450);
    expect(total("deny")).toBe(0);
  }, 60_000);

  it(
    "gives exactly max allows to 500 concurrent calls on one session over both clients, " + "on the server's clock",
    async () => {
      const namespace = `in-process-${Date.now()}`;
      const doc = { version: "1", default: "deny", tools: { t: { rate_limit: { max: 50, window: "1h" } } } } as const;
      const policies = [clients.io(), clients.node()].map((client) =>
        compilePolicy(doc, { store: new RedisStore({ client }), namespace, storeTimeoutMs: 10_000 }),
      );
      const decisions = await Promise.all(
        Array.from({ length: 500 }, (_, i) => policies[i % 2]!.decide({ tool: "t", session: { id: "s" } })),
      );
      expect(decisions.filter((d) => d.outcome === "allow")).toHaveLength(50);
      expect(decisions.filter((d) => d.outcome === "rate_limited")).toHaveLength(450);
    },
  );

  it("lets replicas whose clocks disagree by hours share exact windows (time from Redis)", async () => {
    const namespace = `skew-${Date.now()}`;
    const doc = { version: "1", default: "deny", tools: { t: { rate_limit: { max: 2, window: "1m" } } } } as const;
    const ahead = compilePolicy(doc, {
      store: new RedisStore({ client: clients.io() }),
      namespace,
      clock: () => Date.now() + 3_600_000,
    });
    const behind = compilePolicy(doc, {
      store: new RedisStore({ client: clients.node() }),
      namespace,
      clock: () => Date.now() - 3_600_000,
    });
    const call = { tool: "t", session: { id: "s" } };
    expect(await ahead.decide(call)).toMatchObject({ outcome: "allow", remaining: 1 });
    expect(await behind.decide(call)).toMatchObject({ outcome: "allow", remaining: 0 });
    const refused = await ahead.decide(call);
    expect(refused.outcome).toBe("rate_limited");
    if (refused.outcome === "rate_limited") {
      expect(refused.retryAfterMs).toBeGreaterThan(55_000);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
    }
  });

  it("expires keys with their window, in Redis", async () => {
    const namespace = `expiry-${Date.now()}`;
    const policy = compilePolicy(
      { version: "1", default: "deny", tools: { t: { rate_limit: { max: 1, window: "300ms" } } } },
      { store: new RedisStore({ client: clients.io(), prefix: "expiry:" }), namespace },
    );
    expect(await policy.decide({ tool: "t", session: { id: "s" } })).toMatchObject({ outcome: "allow" });
    const keys = await clients.io().keys("expiry:*");
    expect(keys).toHaveLength(1);
    const ttl = await clients.io().pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300);
    expect(await policy.decide({ tool: "t", session: { id: "s" } })).toMatchObject({ outcome: "rate_limited" });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await clients.io().exists(keys[0]!)).toBe(0);
    expect(await policy.decide({ tool: "t", session: { id: "s" } })).toMatchObject({ outcome: "allow" });
  });
});
