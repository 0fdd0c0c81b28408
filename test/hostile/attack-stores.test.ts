/**
 * Adversarial review of 0.2 (issue 11), issue 10 items 4 and 9 and the weak defaults rerun through
 * the public API: a fractional clock under failOpen, eviction after a backward clock step in a full
 * MemoryStore, shared budgets under session churn, a synchronous store's ill-formed answers, and
 * failOpen with a burst beyond RedisStore's maxPending against a real redis-server.
 */

import { compilePolicy, MemoryStore, type Decision, type PolicyDocument, type Store } from "toolgate";
import { RedisStore } from "toolgate/redis";
import { describe, expect, it } from "vitest";
import { closeClient, connectIORedis, describeWithRedis } from "../helpers/redis-server.js";

const S = { id: "s" };
const count = (ds: Decision[], outcome: string) => ds.filter((d) => d.outcome === outcome).length;

describe("attack: clocks", () => {
  const doc: PolicyDocument = {
    version: "1",
    default: "allow",
    tools: { t: { rate_limit: { max: 3, window: "1m" } } },
  };

  it("fractional clock under failOpen: max allowed, whole-ms waits, never failedOpen (issue 10 item 4)", () => {
    let t = 1_700_000_000_000.123;
    const p = compilePolicy(doc, { clock: () => (t += 0.37), failOpen: true });
    const ds = Array.from({ length: 20 }, () => p.decideSync({ tool: "t", session: S }));
    expect(count(ds, "allow")).toBe(3);
    expect(ds.some((d) => d.outcome === "allow" && d.failedOpen === true)).toBe(false);
    for (const d of ds)
      if (d.outcome === "rate_limited") expect(Number.isInteger(d.retryAfterMs) && d.retryAfterMs >= 1).toBe(true);
  });

  it("the SPEC's stepped-back example: {max 1, window 1s}, a call at 1000, then at 500 waits 1500", () => {
    let t = 1000;
    const p = compilePolicy(
      { version: "1", default: "allow", tools: { t: { rate_limit: { max: 1, window: 1 } } } },
      { clock: () => t },
    );
    expect(p.decideSync({ tool: "t", session: S }).outcome).toBe("allow");
    t = 500;
    expect(p.decideSync({ tool: "t", session: S })).toMatchObject({ outcome: "rate_limited", retryAfterMs: 1500 });
    t = 1999;
    expect(p.decideSync({ tool: "t", session: S })).toMatchObject({ outcome: "rate_limited", retryAfterMs: 1 });
    t = 2000;
    expect(p.decideSync({ tool: "t", session: S }).outcome).toBe("allow");
  });

  it("a clock that returns -Infinity, 1e308, a string or an object is a store failure, never an allow", () => {
    for (const v of [Number.NEGATIVE_INFINITY, "5", { valueOf: () => 5 }, null, undefined, 10n]) {
      const p = compilePolicy(doc, { clock: () => v as never, failOpen: true });
      expect(p.decideSync({ tool: "t", session: S }), String(v)).toMatchObject({
        outcome: "deny",
        cause: "store_failure",
      });
    }
    // Huge but finite times are times.
    const q = compilePolicy(doc, { clock: () => 8.64e15 });
    expect(q.decideSync({ tool: "t", session: S }).outcome).toBe("allow");
  });

  it("a synchronous store's ill-formed answers are denied, never failed open", () => {
    const answers: unknown[] = [
      null,
      {},
      { allowed: "yes" },
      { allowed: true },
      { allowed: true, remaining: [0.5] },
      { allowed: true, remaining: [-1] },
      { allowed: true, remaining: [1, 2] },
      { allowed: false, retryAfterMs: [0] },
      { allowed: false, retryAfterMs: [0.5] },
      { allowed: false, retryAfterMs: [Number.NaN] },
      { allowed: true, remaining: [Number.MAX_SAFE_INTEGER + 2] },
      { then: (r: (v: unknown) => void) => r({ allowed: true, remaining: [1] }) },
    ];
    for (const a of answers) {
      const store = { synchronous: true, consume: () => a } as unknown as Store;
      const p = compilePolicy(doc, { store, failOpen: true });
      const d = p.decideSync({ tool: "t", session: S });
      expect(d, JSON.stringify(a)).toMatchObject({ outcome: "deny", cause: "store_failure" });
    }
  });
});

describe("attack: MemoryStore under pressure", () => {
  it("eviction after a backward clock step drops an empty budget before a live one (issue 10 item 9)", () => {
    let t = 100_000;
    const store = new MemoryStore({ maxKeys: 3 });
    const p = compilePolicy(
      {
        version: "1",
        default: "allow",
        tools: { long: { rate_limit: { max: 1, window: "1h" } }, short: { rate_limit: { max: 5, window: 1 } } },
      },
      { store, clock: () => t },
    );
    expect(p.decideSync({ tool: "long", session: { id: "live" } }).outcome).toBe("allow");
    expect(p.decideSync({ tool: "short", session: { id: "empty" } }).outcome).toBe("allow");
    t = 200_000; // "empty"'s window is long over; "live" still counts.
    expect(p.decideSync({ tool: "short", session: { id: "x" } }).outcome).toBe("allow");
    t = 150_000; // the clock steps back, to a time after "empty"'s window and within "live"'s
    expect(p.decideSync({ tool: "short", session: { id: "y" } }).outcome).toBe("allow");
    t = 200_500;
    expect(p.decideSync({ tool: "long", session: { id: "live" } }).outcome).toBe("rate_limited");
  });

  it("100,000 one-call sessions never refill a per: global '5 a day' budget (issue 10 weak default)", () => {
    let t = 0;
    const store = new MemoryStore({ maxKeys: 1_000 });
    const p = compilePolicy(
      {
        version: "1",
        default: "allow",
        limits: [{ max: 5, window: "1d", per: "global" }],
        tools: {
          churn: { rate_limit: { max: 1, window: "1d" } },
          other: { rate_limit: { max: 1_000_000, window: "1d" } },
        },
      },
      { store, clock: () => t },
    );
    for (let i = 0; i < 5; i++) expect(p.decideSync({ tool: "other", session: { id: `g${i}` } }).outcome).toBe("allow");
    let refused = 0;
    for (let i = 0; i < 100_000; i++) {
      t++;
      const d = p.decideSync({ tool: "churn", session: { id: `c${i}` } });
      if (d.outcome === "allow") throw new Error(`call ${i} was allowed past the global budget`);
      refused++;
    }
    expect(refused).toBe(100_000);
    // The shared budget was never dropped: still full.
    expect(p.decideSync({ tool: "other", session: { id: "late" } })).toMatchObject({
      outcome: "rate_limited",
      rule: "/limits/0",
    });
  });

  it("session churn that does count (global budget with room) keeps the global budget exact", () => {
    let t = 0;
    const store = new MemoryStore({ maxKeys: 100 });
    const p = compilePolicy(
      {
        version: "1",
        default: "allow",
        limits: [{ max: 5_000, window: "1d", per: "global" }],
        tools: { churn: { rate_limit: { max: 1, window: "1d" } } },
      },
      { store, clock: () => t },
    );
    let allowed = 0;
    for (let i = 0; i < 20_000; i++) {
      t++;
      if (p.decideSync({ tool: "churn", session: { id: `c${i}` } }).outcome === "allow") allowed++;
    }
    expect(allowed).toBe(5_000);
  });

  it("per-attribute budgets are shared: 50,000 sessions of one org stay within the org's max", () => {
    const store = new MemoryStore({ maxKeys: 500 });
    const p = compilePolicy(
      { version: "1", default: "allow", tools: { t: { rate_limit: { max: 10, window: "1h", per: "/org" } } } },
      { store, clock: () => 0 },
    );
    let allowed = 0;
    for (let i = 0; i < 50_000; i++)
      if (p.decideSync({ tool: "t", session: { id: `s${i}`, org: "acme" } }).outcome === "allow") allowed++;
    expect(allowed).toBe(10);
    // 7 and "7" are different values.
    expect(p.decideSync({ tool: "t", session: { id: "a", org: 7 } }).outcome).toBe("allow");
    expect(p.decideSync({ tool: "t", session: { id: "a", org: "7" } })).toMatchObject({
      outcome: "allow",
      remaining: 9,
    });
  });
});

describeWithRedis("attack: RedisStore with a real redis-server", (server) => {
  it("failOpen, a burst beyond maxPending: the overflow is refused, never allowed (issue 10)", async () => {
    const client = await connectIORedis(server());
    try {
      const store = new RedisStore({ client, maxPending: 10, prefix: `attack:${Date.now()}:` });
      const p = compilePolicy(
        {
          version: "1",
          name: "attack-burst",
          default: "allow",
          tools: { t: { rate_limit: { max: 10, window: "1h" } } },
        },
        { store, failOpen: true },
      );
      const ds = await Promise.all(Array.from({ length: 2_000 }, () => p.decide({ tool: "t", session: S })));
      expect(count(ds, "allow")).toBe(10);
      expect(ds.some((d) => d.outcome === "allow" && d.failedOpen === true)).toBe(false);
      const busy = ds.filter((d) => d.outcome === "deny");
      for (const d of busy) expect(d).toMatchObject({ cause: "store_failure" });
    } finally {
      await closeClient(client);
    }
  });

  it("a paused server under failOpen: calls fail open after storeTimeoutMs, marked, and in bounded time", async () => {
    const client = await connectIORedis(server());
    try {
      const store = new RedisStore({ client, prefix: `attack-pause:${Date.now()}:` });
      const p = compilePolicy(
        {
          version: "1",
          name: "attack-pause",
          default: "allow",
          tools: { t: { rate_limit: { max: 1, window: "1h" } } },
        },
        { store, failOpen: true, storeTimeoutMs: 200 },
      );
      server().pause();
      try {
        const start = performance.now();
        const ds = await Promise.all(Array.from({ length: 20 }, () => p.decide({ tool: "t", session: S })));
        expect(performance.now() - start).toBeLessThan(10_000);
        for (const d of ds) expect(d).toMatchObject({ outcome: "allow", failedOpen: true });
      } finally {
        server().resume();
      }
    } finally {
      await closeClient(client);
    }
  });

  it("a refund through RedisStore of a forged or cross-namespace ticket gives nothing back", async () => {
    const client = await connectIORedis(server());
    try {
      const prefix = `attack-refund:${Date.now()}:`;
      const doc: PolicyDocument = {
        version: "1",
        name: "attack-redis-refund",
        default: "allow",
        tools: { t: { rate_limit: { max: 2, window: "1h", refund: "on_error" } } },
      };
      const p = compilePolicy(doc, { store: new RedisStore({ client, prefix }) });
      const q = compilePolicy(doc, { store: new RedisStore({ client, prefix }), namespace: "other" });
      const d = await p.decide({ tool: "t", session: S });
      expect(d.outcome).toBe("allow");
      expect(await q.refund(d)).toBe(false);
      const t = (d as { refund: { namespace: string; entries: { key: string; entry: string }[] } }).refund;
      const forged = {
        refund: { namespace: t.namespace, entries: [{ key: t.entries[0]!.key, entry: `${t.entries[0]!.entry}9` }] },
      };
      expect(await p.refund(forged)).toBe(false);
      const lua = {
        refund: { namespace: t.namespace, entries: [{ key: "x']) redis.call('FLUSHALL') --", entry: "1" }] },
      };
      expect(await p.refund(lua)).toBe(false);
      expect(await p.refund(d)).toBe(true);
      expect(await p.refund(d)).toBe(false);
      expect(await client.dbsize()).toBeGreaterThan(0);
    } finally {
      await closeClient(client);
    }
  });
});
