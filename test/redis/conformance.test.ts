import { describeStoreConformance } from "toolgate/vitest";
import { RedisStore } from "toolgate/redis";
import { bothClients, describeWithRedis } from "../helpers/redis-server.js";

// The suite moves time by hand, so the store takes the engine's clock.
describeWithRedis("RedisStore passes the store conformance suite", (server) => {
  const clients = bothClients(server);
  describeStoreConformance(
    "RedisStore on ioredis (clock: engine)",
    () => new RedisStore({ client: clients.io(), clock: "engine" }),
  );
  describeStoreConformance(
    "RedisStore on node-redis (clock: engine)",
    () => new RedisStore({ client: clients.node(), clock: "engine", prefix: "nr:" }),
  );
});
