/**
 * The store half of issue 12's refund property on Redis: RedisStore (clock: "engine", on ioredis
 * and node-redis) answers every generated sequence of calls and refunds exactly as the reference
 * model of the store contract does (test/stores/model.ts), and so as MemoryStore does
 * (test/stores/refunds.property.test.ts). Windows are long in real time, since keys expire in
 * Redis's clock while the sequence moves the engine's.
 */

import fc from "fast-check";
import { RedisStore } from "toolgate/redis";
import { expect, it } from "vitest";
import { bothClients, describeWithRedis } from "../helpers/redis-server.js";
import { params } from "../property/arbitraries.js";
import { budgetSpecs, opsArb, runBoth } from "../stores/model.js";

const WINDOWS = [10_000, 20_000, 60_000] as const;

describeWithRedis("RedisStore against the reference model of the store contract", (server) => {
  const clients = bothClients(server);
  let runs = 0;

  it.each(["io", "node"] as const)(
    "answers as the model, with refunds interleaved with calls, on %s clients",
    async (kind) => {
      const store = new RedisStore({ client: clients[kind](), clock: "engine", prefix: `model-${kind}:` });
      await fc.assert(
        fc.asyncProperty(
          budgetSpecs(WINDOWS).chain((specs) => fc.tuple(fc.constant(specs), opsArb(WINDOWS, specs.length, 30))),
          async ([specs, ops]) => {
            const { got, want, ok } = await runBoth(store, `run-${++runs}`, specs, ops, 1_000_000);
            expect(got).toEqual(want);
            expect(ok).toBe(true);
          },
        ),
        params(60),
      );
    },
    300_000,
  );
});
