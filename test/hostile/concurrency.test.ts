/**
 * Issue 7 item 6: thousands of concurrent `decide` calls on one budget never allow more than
 * `max` in any window — through MemoryStore (which answers each call synchronously, so a burst
 * is decided in call order; and behind an asynchronous store that answers in random order, so
 * calls, refunds and a moving clock really interleave), and through RedisStore on a real
 * redis-server, from one policy and from two replicas sharing the budget. (RedisStore runs on
 * the Redis server's clock here: on the engine's clock its keys would still expire in real time,
 * so a window of a few engine milliseconds could empty early on a loaded machine; the Redis
 * engineer's equivalence test covers the engine clock with long windows.)
 */

import type { Redis } from "ioredis";
import {
  compilePolicy,
  MemoryStore,
  type ConsumeRequest,
  type ConsumeResult,
  type Decision,
  type Store,
} from "toolgate";
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
function burst(
  decide: (call: { tool: string; session: { id: string } }) => Promise<Decision>,
  n: number,
): Promise<Decision[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => decide({ tool: `t${i % 7}`, session: { id: `s${i % 13}` } })));
}

/** Sorted times put more than `max` in some [t, t + windowMs)? */
function overfull(times: number[], max: number, windowMs: number): boolean {
  const sorted = [...times].sort((a, b) => a - b);
  for (let i = 0; i + max < sorted.length; i++) if (sorted[i + max]! - sorted[i]! < windowMs) return true;
  return false;
}

/** Runs `answer` after a random delay: a microtask, or a timer of 0–2 ms. */
function later<T>(answer: () => T): Promise<T> {
  return new Promise<T>((resolve) => {
    const run = () => resolve(answer());
    if (Math.random() < 0.5) queueMicrotask(run);
    else setTimeout(run, Math.floor(Math.random() * 3));
  });
}

/**
 * An asynchronous store around a MemoryStore that answers after a random delay, recording the
 * time each counted call counts at: the later of its `now` and the latest counted time, since
 * calls reach the store out of order (time never runs backwards within a budget).
 */
function shuffled(inner: MemoryStore, counted: number[]): Store {
  let latest = Number.NEGATIVE_INFINITY;
  return {
    consume: (r: ConsumeRequest) =>
      later<ConsumeResult>(() => {
        const result = inner.consume(r);
        if (result.allowed && !r.dryRun) {
          latest = Math.max(latest, r.now);
          counted.push(latest);
        }
        return result;
      }),
  };
}

describe("MemoryStore under concurrent decide", () => {
  it(`allows exactly max of ${CALLS} calls made at once (each answered synchronously, in call order)`, async () => {
    const policy = compilePolicy(globalLimit(100, "1h"), { store: new MemoryStore({ maxKeys: 100 }) });
    const decisions = await burst((c) => policy.decide(c), CALLS);
    expect(decisions.filter((d) => d.outcome === "allow")).toHaveLength(100);
    expect(decisions.filter((d) => d.outcome === "rate_limited")).toHaveLength(CALLS - 100);
  });

  it("never puts more than max in a window while the clock moves during the burst", async () => {
    let now = 0;
    const counted: number[] = [];
    const policy = compilePolicy(globalLimit(10, "50ms"), {
      store: shuffled(new MemoryStore({ maxKeys: 100 }), counted),
      clock: () => now++,
      storeTimeoutMs: 60_000,
    });
    const decisions = await burst((c) => policy.decide(c), CALLS);
    const allowed = decisions.filter((d) => d.outcome === "allow").length;
    expect(allowed).toBe(counted.length);
    expect(allowed).toBeGreaterThanOrEqual(10);
    expect(overfull(counted, 10, 50)).toBe(false);
  });

  it("keeps several limits all-or-nothing under concurrency", async () => {
    const store = new MemoryStore({ maxKeys: 1_000 });
    const policy = compilePolicy(
      {
        version: "1",
        default: "deny",
        tools: {
          t: {
            rate_limit: [
              { max: 30, window: "1h", per: "global" },
              { max: 3, window: "1h" },
            ],
          },
        },
        limits: [{ max: 50, window: "1h", per: "global" }],
      },
      { store },
    );
    const decisions = await Promise.all(
      Array.from({ length: 3_000 }, (_, i) => policy.decide({ tool: "t", session: { id: `s${i % 20}` } })),
    );
    expect(decisions.filter((d) => d.outcome === "allow")).toHaveLength(30);
    // The policy limit was charged exactly for the 30 allowed calls: a policy sharing its budget
    // (same store, namespace and limit) finds 20 left, and takes one.
    const other = compilePolicy(
      { version: "1", default: "allow", tools: {}, limits: [{ max: 50, window: "1h", per: "global" }] },
      { store, namespace: policy.namespace },
    );
    expect(other.decideSync({ tool: "x", session: { id: "a" } })).toMatchObject({ outcome: "allow", remaining: 19 });
  });

  it("stays exact while calls and refunds interleave in random order on a moving clock", async () => {
    const inner = new MemoryStore({ maxKeys: 100 });
    const budgets = [{ key: "hot", max: 10, windowMs: 50, cost: 1, refundable: true, shared: true }];
    // Entry id → the time it counts at (the later of its now and the latest counted time).
    const kept = new Map<string, number>();
    let latest = Number.NEGATIVE_INFINITY;
    let given = 0;
    let allowed = 0;
    for (let wave = 0; wave < 60; wave++) {
      const now = wave * 7;
      await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const r = await later(() => {
            const answer = inner.consume({ namespace: "n", budgets, now: now + (i % 3), dryRun: false });
            if (answer.allowed) {
              latest = Math.max(latest, now + (i % 3));
              kept.set(answer.entries![0]!, latest);
            }
            return answer;
          });
          if (!r.allowed) return;
          allowed++;
          // A third of the allowed calls fail and are refunded, while other calls are in flight.
          if (i % 3 !== 0) return;
          const entry = r.entries![0]!;
          const back = await later(() =>
            inner.refund({ namespace: "n", entries: [{ key: "hot", entry }], now: now + 3 }),
          );
          if (back.given[0]) {
            given++;
            kept.delete(entry);
          }
        }),
      );
    }
    expect(given).toBeGreaterThan(0);
    // Refunds made room: more calls fitted than the windows alone allow...
    expect(allowed).toBeGreaterThan(given);
    // ...and of what stays counted, no window of 50 ms holds more than 10.
    expect(overfull([...kept.values()], 10, 50)).toBe(false);
    expect(kept.size).toBe(allowed - given);
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
    const policy = compilePolicy(globalLimit(100, "1h"), {
      store: new RedisStore({ client: a, prefix: "conc1:" }),
      namespace: "conc1",
      storeTimeoutMs: 30_000,
    });
    const decisions = await burst((c) => policy.decide(c), CALLS);
    expect(decisions.filter((d) => d.outcome === "deny")).toEqual([]);
    expect(decisions.filter((d) => d.outcome === "allow")).toHaveLength(100);
  });

  it("allows exactly max across two replicas with their own clients", async () => {
    const doc = globalLimit(77, "1h");
    const one = compilePolicy(doc, { store: new RedisStore({ client: a, prefix: "conc2:" }), storeTimeoutMs: 30_000 });
    const two = compilePolicy(JSON.parse(JSON.stringify(doc)), {
      store: new RedisStore({ client: b, prefix: "conc2:" }),
      storeTimeoutMs: 30_000,
    });
    expect(one.namespace).toBe(two.namespace);
    const decisions = await burst((c) => (Number(c.session.id.slice(1)) % 2 === 0 ? one : two).decide(c), 4_000);
    expect(decisions.filter((d) => d.outcome === "deny")).toEqual([]);
    expect(decisions.filter((d) => d.outcome === "allow")).toHaveLength(77);
  });
});
