/**
 * Real redis-server instances for the Redis tests: found (or installed with apt-get when missing
 * and running as root) by scripts/redis-server.mjs, started on a free loopback port with
 * persistence off, stopped after the suite. Where redis-server can be neither found nor
 * installed the suites are skipped with a notice, except under CI (CI=true), where that fails.
 */

import { Redis, type RedisOptions } from "ioredis";
import { createClient, type RedisClientOptions } from "redis";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  ensureRedisServer,
  startRedisCluster,
  startRedisServer,
  type RedisServerHandle,
} from "../../scripts/redis-server.mjs";

export type { RedisServerHandle };

// TOOLGATE_NO_REDIS=1 runs the suite as on a machine without Redis (the Redis tests skip, or
// fail under CI), without looking for or installing redis-server.
const found =
  process.env.TOOLGATE_NO_REDIS === "1"
    ? { server: null, cli: null, reason: "TOOLGATE_NO_REDIS=1 is set" }
    : await ensureRedisServer({ log: (m) => console.warn(`[toolgate tests] ${m}`) });

/** The redis-server binary, or null when there is none. */
export const redisServerBinary: string | null = found.server;
/** The redis-cli binary, or null. */
export const redisCliBinary: string | null = found.cli;

/**
 * A describe block whose tests get one redis-server of their own (`server()` inside tests and
 * hooks), started before them and stopped after them.
 */
export function describeWithRedis(name: string, body: (server: () => RedisServerHandle) => void): void {
  const bin = found.server;
  if (bin === null) {
    describeUnavailable(name, found.reason ?? "redis-server is not installed");
    return;
  }
  describe(name, () => {
    let server: RedisServerHandle | undefined;
    beforeAll(async () => {
      server = await startRedisServer({ bin });
    });
    afterAll(async () => {
      await server?.stop();
    });
    body(() => {
      if (server === undefined) throw new Error("redis-server did not start (see beforeAll)");
      return server;
    });
  });
}

/** Stands in for a suite that has no server: a visible skip, or a failure under CI. */
function describeUnavailable(name: string, reason: string): void {
  if (process.env.CI === "true") {
    describe(name, () => {
      it("has a redis-server to run against (required under CI)", () => {
        throw new Error(`redis-server is unavailable: ${reason}`);
      });
    });
    return;
  }
  console.warn(`\n[toolgate tests] SKIPPED "${name}": ${reason}. Install redis-server to run the Redis tests.\n`);
  // A visible, reasoned skip: there is no server to test against on this machine.
  describe.skip(`${name} (skipped: ${reason})`, () => {
    it("needs redis-server", () => {
      throw new Error("unreachable");
    });
  });
}

/** A running Redis Cluster of three masters on loopback ports. */
export interface RedisClusterHandle {
  readonly ports: number[];
}

/**
 * A describe block whose tests share one Redis Cluster (three masters, no replicas), created
 * with redis-cli before them and stopped after them. Skipped like {@link describeWithRedis}.
 */
export function describeWithRedisCluster(name: string, body: (cluster: () => RedisClusterHandle) => void): void {
  const bin = found.server;
  const cli = found.cli;
  if (bin === null || cli === null) {
    describeUnavailable(name, found.reason ?? "redis-cli is not installed (it creates the cluster)");
    return;
  }
  describe(name, () => {
    let cluster: Awaited<ReturnType<typeof startRedisCluster>> | undefined;
    beforeAll(async () => {
      cluster = await startRedisCluster({ bin, cli });
    }, 90_000);
    afterAll(async () => {
      await cluster?.stop();
    });
    body(() => {
      if (cluster === undefined) throw new Error("the Redis Cluster did not start (see beforeAll)");
      return cluster;
    });
  });
}

/** Options that make ioredis fail fast while Redis is away, as the README recommends. */
export const FAIL_FAST_IOREDIS: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1 };

/** An ioredis client on `server`, ready for commands. */
export async function connectIORedis(server: RedisServerHandle, options: RedisOptions = {}): Promise<Redis> {
  const client = new Redis({ host: server.host, port: server.port, lazyConnect: true, ...options });
  // Connection errors during outages are expected; the tests look at decisions, not at logs.
  client.on("error", () => {});
  await client.connect();
  return client;
}

/** A node-redis client on `server`, connected. */
export async function connectNodeRedis(server: RedisServerHandle, options: RedisClientOptions = {}) {
  const client = createClient({ url: server.url, ...options });
  // node-redis emits "error" on every lost connection; without a listener Node would crash.
  client.on("error", () => {});
  await client.connect();
  return client;
}

/** Closes a client whatever state it is in. */
export async function closeClient(
  client: { disconnect?: () => unknown; destroy?: () => unknown } | undefined,
): Promise<void> {
  if (client === undefined) return;
  try {
    if (typeof client.destroy === "function") client.destroy();
    else if (typeof client.disconnect === "function") client.disconnect();
  } catch {
    // already closed
  }
}

/** A node-redis client as connectNodeRedis returns it. */
export type NodeRedisClient = Awaited<ReturnType<typeof connectNodeRedis>>;

/**
 * One ioredis and one node-redis client on the suite's server, connected before its tests and
 * closed after them. Call inside a describe body; read the clients inside tests.
 */
export function bothClients(server: () => RedisServerHandle): { io: () => Redis; node: () => NodeRedisClient } {
  let io: Redis | undefined;
  let node: NodeRedisClient | undefined;
  beforeAll(async () => {
    io = await connectIORedis(server());
    node = await connectNodeRedis(server());
  });
  afterAll(async () => {
    await closeClient(io);
    await closeClient(node);
  });
  return { io: () => io!, node: () => node! };
}
