// RedisStore on a real Redis Cluster (three masters): the script's keys must share a slot, so
// every key of a namespace carries the namespace's hash tag; namespaces spread over shards.

import { Cluster } from "ioredis";
import { createCluster } from "redis";
import { compilePolicy } from "toolgate";
import { RedisStore } from "toolgate/redis";
import { describeStoreConformance } from "toolgate/vitest";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithRedisCluster } from "../helpers/redis-server.js";

/**
 * A node-redis cluster client. Typed by what this returns, not `ReturnType<typeof createCluster>`:
 * that type's default arguments differ from the inferred ones, and relating the two cost the type
 * checker (and so the lint) about ten seconds.
 */
function nodeCluster(url: string) {
  return createCluster({ rootNodes: [{ url }] });
}

describeWithRedisCluster("RedisStore on Redis Cluster", (cluster) => {
  let io: Cluster | undefined;
  let node: ReturnType<typeof nodeCluster> | undefined;
  beforeAll(async () => {
    const [port] = cluster().ports;
    io = new Cluster([{ host: "127.0.0.1", port: port! }], { enableOfflineQueue: true, lazyConnect: true });
    io.on("error", () => {});
    await io.connect();
    node = nodeCluster(`redis://127.0.0.1:${port}`);
    node.on("error", () => {});
    await node.connect();
  });
  afterAll(async () => {
    io?.disconnect();
    node?.destroy();
  });

  describeStoreConformance(
    "RedisStore on an ioredis Cluster (clock: engine)",
    () => new RedisStore({ client: io!, clock: "engine" }),
  );
  describeStoreConformance(
    "RedisStore on a node-redis cluster (clock: engine)",
    () => new RedisStore({ client: node!, clock: "engine" }),
  );

  it(
    "decides calls that touch session, attribute and global budgets at once, " + "for namespaces on every shard",
    async () => {
      const doc = {
        version: "1",
        default: "deny",
        limits: [{ max: 3, window: "1h", per: "global" }],
        tools: {
          t: {
            rate_limit: [
              { max: 2, window: "1h" },
              { max: 3, window: "1h", per: "/org" },
            ],
          },
        },
      } as const;
      const namespaces = Array.from({ length: 24 }, (_, i) => `cluster-${Date.now()}-${i}`);
      for (const [i, namespace] of namespaces.entries()) {
        const policy = compilePolicy(doc, { store: new RedisStore({ client: i % 2 === 0 ? io! : node! }), namespace });
        const call = { tool: "t", session: { id: "{s}", org: "}o{" } };
        expect(await policy.decide(call)).toMatchObject({ outcome: "allow", remaining: 1 });
        expect(await policy.decide(call)).toMatchObject({ outcome: "allow", remaining: 0 });
        expect(await policy.decide(call)).toMatchObject({ outcome: "rate_limited", rule: "/tools/t/rate_limit/0" });
      }
      // Every master holds some namespaces' budgets: a namespace's budgets share one slot, not
      // the whole store.
      const sizes = await Promise.all(io!.nodes("master").map((m) => m.dbsize()));
      expect(sizes).toHaveLength(3);
      for (const size of sizes) expect(size).toBeGreaterThan(0);
    },
  );
});
