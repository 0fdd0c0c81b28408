/**
 * Real redis-server instances for the Redis tests: found (or installed with apt-get when missing
 * and running as root) by scripts/redis-server.mjs, started on a free loopback port with
 * persistence off, stopped after the suite. Where redis-server can be neither found nor
 * installed the suites are skipped with a notice, except under CI (CI=true), where that fails.
 */

import { Redis, type RedisOptions } from "ioredis";
import { createClient, type RedisClientOptions } from "redis";
import { afterAll, beforeAll, describe, it } from "vitest";
import { ensureRedisServer, startRedisServer, type RedisServerHandle } from "../../scripts/redis-server.mjs";

export type { RedisServerHandle };

const found = await ensureRedisServer({ log: (m) => console.warn(`[toolgate tests] ${m}`) });

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
    const reason = found.reason ?? "redis-server is not installed";
    if (process.env.CI === "true") {
      describe(name, () => {
        it("has a redis-server to run against (required under CI)", () => {
          throw new Error(`redis-server is unavailable: ${reason}`);
        });
      });
    } else {
      console.warn(`\n[toolgate tests] SKIPPED "${name}": ${reason}. Install redis-server to run the Redis tests.\n`);
      // A visible, reasoned skip: there is no server to test against on this machine.
      describe.skip(`${name} (skipped: ${reason})`, () => {
        it("needs redis-server", () => {
          throw new Error("unreachable");
        });
      });
    }
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
export async function closeClient(client: { disconnect?: () => unknown; destroy?: () => unknown } | undefined): Promise<void> {
  if (client === undefined) return;
  try {
    if (typeof client.destroy === "function") client.destroy();
    else if (typeof client.disconnect === "function") client.disconnect();
  } catch {
    // already closed
  }
}
