import type { Redis } from "ioredis";
import { describeStoreConformance } from "toolgate/testing";
import { RedisStore } from "toolgate/redis";
import { afterAll, beforeAll } from "vitest";
import { closeClient, connectIORedis, connectNodeRedis, describeWithRedis } from "../helpers/redis-server.js";

// The suite moves time by hand, so the store takes the engine's clock.
describeWithRedis("RedisStore passes the store conformance suite", (server) => {
  let io: Redis | undefined;
  let node: Awaited<ReturnType<typeof connectNodeRedis>> | undefined;
  beforeAll(async () => {
    io = await connectIORedis(server());
    node = await connectNodeRedis(server());
  });
  afterAll(async () => {
    await closeClient(io);
    await closeClient(node);
  });
  describeStoreConformance("RedisStore on ioredis (clock: engine)", () => new RedisStore({ client: io!, clock: "engine" }));
  describeStoreConformance("RedisStore on node-redis (clock: engine)", () => new RedisStore({ client: node!, clock: "engine", prefix: "nr:" }));
});
