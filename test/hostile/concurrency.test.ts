/**
 * Issue 7 item 6: thousands of concurrent `decide` calls on one budget never allow more than
 * `max` in any window — through MemoryStore (directly and behind an asynchronous store that
 * answers in random order), and through RedisStore on a real redis-server, from one policy and
 * from two replicas sharing the budget. (RedisStore runs on the Redis server's clock here: on the
 * engine's clock its keys would still expire in real time, so a window of a few engine
 * milliseconds could empty early on a loaded machine; the Redis engineer's equivalence test covers
 * the engine clock with long windows.)
 */

import type { Redis } from "ioredis";
import { compilePolicy, MemoryStore, type ConsumeRequest, type ConsumeResult, type Decision, type Store } from "toolgate";
import { RedisStore } from "toolgate/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeClient, connectIORedis, describeWithRedis, FAIL_FAST_IOREDIS } from "../helpers/redis-server.js";

const CALLS = 5_000;

const globalLimit = (max: number, window: string) => ({
  version: "1",
  default: "deny",
  tools: { "t*": { rate_limit: { max, window, per: "global" } } },
});

/** Calls `decide` `n` times at once, across tools and sessions that share the one budget. */
function burst(decide: (call: { tool: string; session: { id: string } }) => Promise<Decision>, n: number): Promise<Decision[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => decide({ tool: `t${i % 7}`, session: { id: `s${i % 13}` } })));
}

/** Sorted times put more than `max` in some [t, t + windowMs)? */
function overfull(times: number[], max: number, windowMs: number): boolean {
  const sorted = [...times].sort((a, b) => a - b);
  for (let i = 0; i + max < sorted.length; i++) if (sorted[i + max]! - sorted[i]! < windowMs) return true;
  return false;
}

/** An asynchronous store around a MemoryStore that answers after a random delay. */
function shuffled(inner: MemoryStore, counted: number[]): Store {
  return {
    consume: (r: ConsumeRequest) =>
      new Promise<ConsumeResult>((resolve) => {
        const answer = () => {
          const result = inner.consume(r);
          if (result.allowed && !r.dryRun) counted.push(r.now);
          resolve(result);
        };
        if (Math.random() < 0.5) queueMicrotask(answer);
        else setTimeout(answer, Math.floor(Math.random() * 3));
      }),
  };
}

describe("MemoryStore under concurrent decide", () => {
  it(`allows exactly max of ${CALLS} simultaneous calls on one budget`, async () => {
    const policy = compilePolicy(globalLimit(100, "1h"), { store: new MemoryStore({ maxKeys: 100 }) });
    const decisions = await burst((c) => policy.decide(c), CALLS);
    expect(decisions.filter((d) => d.outcome === "allow")).toHaveLength(100);
    expect(decisions.filter((d) => d.outcome === "rate_limited")).toHaveLength(CALLS - 100);
  });

  it("never puts more than max in a window while the clock moves during the burst", async () => {
    let now = 0;
    const counted: number[] = [];
    const policy = compilePolicy(globalLimit(10, "50ms"), { store: shuffled(new MemoryStore({ maxKeys: 100 }), counted), clock: () => now++, storeTimeoutMs: 60_000 });
    const decisions = await burst((c) => policy.decide(c), CALLS);
    const allowed = decisions.filter((d) => d.outcome === "allow").length;
    expect(allowed).toBe(counted.length);
    expect(allowed).toBeGreaterThanOrEqual(10);
    expect(overfull(counted, 10, 50)).toBe(false);
  });

  it("keeps several limits all-or-nothing under concurrency", async () => {
    const policy = compilePolicy(
      { version: "1", default: "deny", tools: { t: { rate_limit: [{ max: 30, window: "1h", per: "global" }, { max: 3, window: "1h" }] } }, limits: [{ max: 50, window: "1h", per: "global" }] },
      { store: new MemoryStore({ maxKeys: 1_000 }) },
    );
    const decisions = await Promise.all(Array.from({ length: 3_000 }, (_, i) => policy.decide({ tool: "t", session: { id: `s${i % 20}` } })));
    expect(decisions.filter((d) => d.outcome === "allow")).toHaveLength(30);
    // The policy limit was charged exactly for the 30 allowed calls: 20 more fit in it.
    const other = compilePolicy({ version: "1", default: "allow", tools: {}, limits: [{ max: 50, window: "1h", per: "global" }] }, { store: new MemoryStore({ maxKeys: 10 }) });
    expect(other.decideSync({ tool: "x", session: { id: "a" } })).toMatchObject({ remaining: 49 });
  });
});

describeWithRedis("RedisStore under concurrent decide", (server) => {
  let a: Redis;
  let b: Redis;
  beforeAll(async () => {
    a = await connectIORedis(server(), FAIL_FAST_IOREDIS);
    b = await connectIORedis(server(), FAIL_FAST_IOREDIS);
  });
  afterAll(async () => {
    await closeClient(a);
    await closeClient(b);
  });

  it(`allows exactly max of ${CALLS} simultaneous calls on one budget`, async () => {
    const policy = compilePolicy(globalLimit(100, "1h"), { store: new RedisStore({ client: a, prefix: "conc1:" }), namespace: "conc1", storeTimeoutMs: 30_000 });
    const decisions = await burst((c) => policy.decide(c), CALLS);
    expect(decisions.filter((d) => d.outcome === "deny")).toEqual([]);
    expect(decisions.filter((d) => d.outcome === "allow")).toHaveLength(100);
  });

  it("allows exactly max across two replicas with their own clients", async () => {
    const doc = globalLimit(77, "1h");
    const one = compilePolicy(doc, { store: new RedisStore({ client: a, prefix: "conc2:" }), storeTimeoutMs: 30_000 });
    const two = compilePolicy(JSON.parse(JSON.stringify(doc)), { store: new RedisStore({ client: b, prefix: "conc2:" }), storeTimeoutMs: 30_000 });
    expect(one.namespace).toBe(two.namespace);
    const decisions = await burst((c) => (Number(c.session.id.slice(1)) % 2 === 0 ? one : two).decide(c), 4_000);
    expect(decisions.filter((d) => d.outcome === "deny")).toEqual([]);
    expect(decisions.filter((d) => d.outcome === "allow")).toHaveLength(77);
  });
});
