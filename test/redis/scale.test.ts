// The Redis work of a decision must not grow with the budget: a full global budget of thousands
// of calls is refused, and counted into, with a handful of commands each, never a read of the
// whole log. Counted from Redis's own statistics (INFO commandstats counts the commands that
// scripts run), so the test does not depend on timing.

import type { Redis } from "ioredis";
import { RedisStore } from "toolgate/redis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { closeClient, connectIORedis, describeWithRedis } from "../helpers/redis-server.js";

async function commandsRun(admin: Redis): Promise<Map<string, number>> {
  const info = await admin.info("commandstats");
  const counts = new Map<string, number>();
  for (const m of info.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)) counts.set(m[1]!, Number(m[2]));
  return counts;
}

describeWithRedis("RedisStore work per decision", (server) => {
  let io: Redis | undefined;
  beforeAll(async () => {
    io = await connectIORedis(server());
  });
  afterAll(async () => {
    await closeClient(io);
  });

  it.each([1, 2])("stays a few commands per decision on a budget of 5,000 calls (cost %i)", async (cost) => {
    const store = new RedisStore({ client: io!, clock: "engine", prefix: `scale${cost}:` });
    const budgets = [{ key: "global", max: 5_000, windowMs: 3_600_000, cost, refundable: false, shared: true }];
    let now = 1_000;
    for (let filled = 0; filled < 5_000; filled += 500) {
      await Promise.all(
        Array.from({ length: 500 / cost }, () =>
          store.consume({ namespace: "scale", budgets, now: now++, dryRun: false }),
        ),
      );
    }
    expect(await store.consume({ namespace: "scale", budgets, now, dryRun: false })).toMatchObject({ allowed: false });
    expect(await io!.llen((await io!.keys(`scale${cost}:*`))[0]!)).toBeGreaterThanOrEqual(5_000 / cost);

    await io!.config("RESETSTAT");
    for (let i = 0; i < 100; i++) {
      expect(await store.consume({ namespace: "scale", budgets, now: now + i, dryRun: false })).toMatchObject({
        allowed: false,
      });
    }
    // One hour later every call has left: counted, with the whole log trimmed in one LTRIM.
    expect(await store.consume({ namespace: "scale", budgets, now: now + 3_600_000, dryRun: false })).toMatchObject({
      allowed: true,
    });
    const counts = await commandsRun(io!);
    const scripts = (counts.get("evalsha") ?? 0) + (counts.get("eval") ?? 0);
    expect(scripts).toBe(101);
    let inScripts = 0;
    for (const [name, calls] of counts)
      if (name !== "evalsha" && name !== "eval" && !name.startsWith("config")) inScripts += calls;
    // GET (a list answers it WRONGTYPE), LRANGE, LLEN and LINDEX (the last entry, and the oldest
    // for the wait) per decision.
    expect(inScripts / scripts).toBeLessThanOrEqual(5);
  });

  it("keeps a small one-unit budget as one string: GET and APPEND per counted call, GET per refusal", async () => {
    const store = new RedisStore({ client: io!, clock: "engine", prefix: "small:" });
    const budgets = [{ key: "s", max: 100, windowMs: 3_600_000, cost: 1, refundable: false, shared: false }];
    await io!.config("RESETSTAT");
    for (let i = 0; i < 100; i++)
      expect(await store.consume({ namespace: "small", budgets, now: 1_000 + i, dryRun: false })).toMatchObject({
        allowed: true,
      });
    expect(await store.consume({ namespace: "small", budgets, now: 2_000, dryRun: false })).toMatchObject({
      allowed: false,
      retryAfterMs: [3_599_000],
    });
    const counts = await commandsRun(io!);
    expect(counts.get("get")).toBe(101);
    // The first count makes the string; the others append to it and move its expiry.
    expect(counts.get("set")).toBe(1);
    expect(counts.get("append")).toBe(99);
    expect(counts.get("pexpire")).toBe(99);
    const [key] = await io!.keys("small:*");
    expect(await io!.type(key!)).toBe("string");
    expect(await io!.strlen(key!)).toBe(800);
    expect(await io!.pttl(key!)).toBeGreaterThan(3_500_000);
  });

  it("rewrites a string budget without the entries that have left once they are as many as those inside", async () => {
    const store = new RedisStore({ client: io!, clock: "engine", prefix: "dead:" });
    // A call every 100 ms under a 1 s window: 10 entries inside it once it is full.
    const budgets = [{ key: "d", max: 100, windowMs: 1_000, cost: 1, refundable: false, shared: false }];
    await io!.config("RESETSTAT");
    let longest = 0;
    for (let i = 0; i < 200; i++) {
      expect(await store.consume({ namespace: "dead", budgets, now: 1_000 + 100 * i, dryRun: false })).toEqual({
        allowed: true,
        remaining: [100 - Math.min(i + 1, 10)],
      });
      const [key] = await io!.keys("dead:*");
      longest = Math.max(longest, await io!.strlen(key!));
    }
    // At most 10 inside, 10 that have left, and the new one.
    expect(longest).toBeLessThanOrEqual(8 * 21);
    const counts = await commandsRun(io!);
    // A rewrite once 9 have left (9 earlier calls are inside the window at each count).
    expect(counts.get("set")).toBeLessThanOrEqual(1 + Math.ceil(200 / 9));
    expect((counts.get("set") ?? 0) + (counts.get("append") ?? 0)).toBe(200);
  });

  it("moves a budget from a string to a list once it holds 128 entries, and keeps counting exactly", async () => {
    const store = new RedisStore({ client: io!, clock: "engine", prefix: "grow:" });
    const budgets = [{ key: "g", max: 1_000, windowMs: 3_600_000, cost: 1, refundable: false, shared: false }];
    for (let i = 0; i < 300; i++) {
      expect(await store.consume({ namespace: "grow", budgets, now: 1_000 + i, dryRun: false })).toEqual({
        allowed: true,
        remaining: [999 - i],
      });
    }
    const [key] = await io!.keys("grow:*");
    expect(await io!.type(key!)).toBe("list");
    expect(await io!.llen(key!)).toBe(300);
    expect(await io!.lindex(key!, 0)).toBe("1000");
  });
});
