// RedisStore without a server: option checks, request checks, the NOSCRIPT fallback, replies
// that are not what the script returns, the bound on waiting calls, and key layout — all
// against stand-in clients that record what the store sends.

import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { compilePolicy, type ConsumeRequest, type Store } from "toolgate";
import { RedisStore } from "toolgate/redis";
import { describe, expect, it } from "vitest";

interface Sent {
  command: "evalsha" | "eval";
  head: string;
  keys: string[];
  args: string[];
}

/** An ioredis-shaped client answering `reply` (or calling it) for every script call. */
function ioLike(reply: (sent: Sent) => unknown | Promise<unknown>) {
  const sent: Sent[] = [];
  const call = (command: Sent["command"]) => async (head: string, numKeys: number, ...rest: string[]) => {
    const s = { command, head, keys: rest.slice(0, numKeys), args: rest.slice(numKeys) };
    sent.push(s);
    return reply(s);
  };
  return { client: { evalsha: call("evalsha"), eval: call("eval") }, sent };
}

/** A node-redis-shaped client, likewise. */
function nodeLike(reply: (sent: Sent) => unknown | Promise<unknown>) {
  const sent: Sent[] = [];
  const call = (command: Sent["command"]) => async (head: string, options: { keys: string[]; arguments: string[] }) => {
    const s = { command, head, keys: options.keys, args: options.arguments };
    sent.push(s);
    return reply(s);
  };
  return { client: { evalSha: call("evalsha"), eval: call("eval") }, sent };
}

const request = (over: Partial<ConsumeRequest> = {}): ConsumeRequest => ({
  namespace: "ns",
  budgets: [{ key: "k", max: 10, windowMs: 1_000, cost: 1 }],
  now: 5,
  dryRun: false,
  ...over,
});

describe("RedisStore options", () => {
  const client = ioLike(() => [1, 0]).client;

  it.each([
    [undefined, "RedisStore: options must be an object, got undefined"],
    [null, "RedisStore: options must be an object, got null"],
    ["redis://x", 'RedisStore: options must be an object, got "redis://x"'],
    [{}, "RedisStore: client is required: pass an ioredis client or a node-redis (v4+) client"],
    [{ client: null }, "RedisStore: client is required: pass an ioredis client or a node-redis (v4+) client"],
    [{ client: {} }, "RedisStore: client must be an ioredis client or a node-redis (v4+) client: it has neither evalsha nor evalSha"],
    [{ client: "redis://x" }, "RedisStore: client must be an ioredis client or a node-redis (v4+) client: it has neither evalsha nor evalSha"],
    [{ client, ttl: 5 }, 'RedisStore: unknown option "ttl"'],
    [{ client, prefix: 5 }, "RedisStore: prefix must be a string, got 5"],
    [{ client, prefix: "a{" }, 'RedisStore: prefix must not contain "{" or "}" (they set the Redis Cluster hash slot), got "a{"'],
    [{ client, prefix: "}" }, 'RedisStore: prefix must not contain "{" or "}" (they set the Redis Cluster hash slot), got "}"'],
    [{ client, clock: "server" }, 'RedisStore: clock must be "redis" or "engine", got "server"'],
    [{ client, clock: null }, 'RedisStore: clock must be "redis" or "engine", got null'],
    [{ client, maxPending: 0 }, "RedisStore: maxPending must be a positive integer, got 0"],
    [{ client, maxPending: 1.5 }, "RedisStore: maxPending must be a positive integer, got 1.5"],
  ])("rejects %j", (options, message) => {
    expect(() => new RedisStore(options as never)).toThrow(new TypeError(message));
  });

  it("has documented defaults and is not synchronous", () => {
    const store = new RedisStore({ client });
    expect(store.prefix).toBe("toolgate:");
    expect(store.clock).toBe("redis");
    expect(store.maxPending).toBe(10_000);
    expect((store as Store).synchronous).toBeUndefined();
    expect(store.pending).toBe(0);
  });

  it("accepts real ioredis and node-redis clients, unconnected", () => {
    const io = new Redis({ lazyConnect: true });
    const node = createClient();
    expect(new RedisStore({ client: io }).clock).toBe("redis");
    expect(new RedisStore({ client: node, clock: "engine", prefix: "" }).prefix).toBe("");
    io.disconnect();
  });
});

describe("RedisStore requests", () => {
  it.each([
    [{ budgets: [] }, new TypeError("RedisStore: budgets must be a non-empty array")],
    [{ namespace: 7 }, new TypeError("RedisStore: namespace must be a string, got 7")],
    [{ budgets: [{ key: 1, max: 1, windowMs: 1, cost: 1 }] }, new TypeError("RedisStore: budgets[0].key must be a string")],
    [{ budgets: [{ key: "k", max: 0, windowMs: 1, cost: 1 }] }, new TypeError("RedisStore: budgets[0].max must be a positive integer, got 0")],
    [{ budgets: [{ key: "k", max: 1, windowMs: 0.5, cost: 1 }] }, new TypeError("RedisStore: budgets[0].windowMs must be a positive integer, got 0.5")],
    [{ budgets: [{ key: "k", max: 1, windowMs: 1, cost: "1" }] }, new TypeError('RedisStore: budgets[0].cost must be a positive integer, got "1"')],
    [{ budgets: [{ key: "k", max: 2, windowMs: 1, cost: 3 }] }, new RangeError("RedisStore: budgets[0].cost (3) is greater than its max (2): the call can never fit")],
    [{ now: Number.NaN }, new TypeError("RedisStore: now must be a finite number, got NaN")],
  ])("rejects %j before sending anything", async (over, error) => {
    const { client, sent } = ioLike(() => [1, 0]);
    const store = new RedisStore({ client, clock: "engine" });
    await expect(store.consume(request(over as Partial<ConsumeRequest>))).rejects.toThrow(error);
    expect(sent).toHaveLength(0);
  });

  it("sends the server's clock as an empty time, the engine's as a number, and the dry-run flag", async () => {
    for (const make of [ioLike, nodeLike]) {
      const { client, sent } = make(() => [1, 9]);
      await new RedisStore({ client }).consume(request({ now: 1234.5 }));
      await new RedisStore({ client, clock: "engine" }).consume(request({ now: 1234.5, dryRun: true }));
      expect(sent.map((s) => s.args)).toEqual([
        ["", "0", "10", "1000", "1"],
        ["1234.5", "1", "10", "1000", "1"],
      ]);
    }
  });

  it("runs the script by the SHA-1 of its text, and sends the text when Redis answers NOSCRIPT", async () => {
    for (const make of [ioLike, nodeLike]) {
      const { client, sent } = make((s) => {
        if (s.command === "evalsha") throw new Error("NOSCRIPT No matching script. Please use EVAL.");
        return [1, 4, 6];
      });
      const store = new RedisStore({ client });
      const budgets = [{ key: "a", max: 5, windowMs: 10, cost: 1 }, { key: "b", max: 7, windowMs: 10, cost: 1 }];
      await expect(store.consume(request({ budgets }))).resolves.toEqual({ allowed: true, remaining: [4, 6] });
      expect(sent.map((s) => s.command)).toEqual(["evalsha", "eval"]);
      expect(sent[0]!.head).toBe(createHash("sha1").update(sent[1]!.head).digest("hex"));
      expect(sent[1]!.keys).toEqual(sent[0]!.keys);
      expect(sent[1]!.args).toEqual(sent[0]!.args);
    }
  });

  it("passes any other error on, without sending the script again", async () => {
    const { client, sent } = ioLike(() => {
      throw new Error("READONLY You can't write against a read only replica.");
    });
    await expect(new RedisStore({ client }).consume(request())).rejects.toThrow("READONLY");
    expect(sent).toHaveLength(1);
  });

  it.each([
    ["OK"], [null], [[]], [[1]], [[2, 0]], [[1, -1]], [[1, 1.5]], [[0, 0]], [[1, "3"]], [["1", 3]], [[1, 3, 4]], [{ 0: 1, 1: 2 }],
  ])("rejects the reply %j, which the script never gives", async (reply) => {
    const { client } = ioLike(() => reply);
    await expect(new RedisStore({ client }).consume(request())).rejects.toThrow(/^RedisStore: unexpected reply from Redis: /);
  });

  it("turns a reply it cannot read into a deny, or an allow marked failedOpen", async () => {
    const { client } = nodeLike(() => ["garbage"]);
    const doc = { version: "1", default: "deny", tools: { t: { rate_limit: { max: 1, window: 60 } } } };
    const call = { tool: "t", session: { id: "s" } };
    const closed = await compilePolicy(doc, { store: new RedisStore({ client }) }).decide(call);
    expect(closed).toMatchObject({ outcome: "deny", rule: "/tools/t" });
    expect(closed.outcome === "deny" && closed.reason).toContain("unexpected reply from Redis");
    const open = await compilePolicy(doc, { store: new RedisStore({ client }), failOpen: true }).decide(call);
    expect(open).toEqual({ outcome: "allow", rule: "/tools/t", failedOpen: true });
  });

  it("rejects at once beyond maxPending calls waiting on Redis, and counts them down as they finish", async () => {
    const waiting: Array<(v: unknown) => void> = [];
    const { client } = ioLike(() => new Promise((resolve) => waiting.push(resolve)));
    const store = new RedisStore({ client, maxPending: 3 });
    const first = [store.consume(request()), store.consume(request()), store.consume(request())];
    expect(store.pending).toBe(3);
    await expect(store.consume(request())).rejects.toThrow("RedisStore: 3 calls are already waiting for Redis (maxPending)");
    for (const resolve of waiting) resolve([1, 1]);
    await Promise.all(first);
    expect(store.pending).toBe(0);
    const again = store.consume(request());
    expect(store.pending).toBe(1);
    waiting[3]!([0, 7]);
    await expect(again).resolves.toEqual({ allowed: false, retryAfterMs: [7] });
  });
});

describe("RedisStore keys", () => {
  /** Every key one decide call sends, for a policy touching session, attribute and global budgets. */
  async function keysOf(namespace: string, session: { id: string; [k: string]: unknown }, prefix?: string): Promise<string[]> {
    const { client, sent } = ioLike((s) => [1, ...Array.from({ length: s.keys.length }, () => 0)]);
    const policy = compilePolicy(
      {
        version: "1",
        default: "deny",
        limits: [{ max: 100, window: "1h", per: "global" }],
        tools: { t: { rate_limit: [{ max: 5, window: "1m" }, { max: 50, window: "1m", per: "/org" }] } },
      },
      { store: new RedisStore({ client, ...(prefix === undefined ? {} : { prefix }) }), namespace },
    );
    expect(await policy.decide({ tool: "t", session })).toMatchObject({ outcome: "allow" });
    return sent[0]!.keys;
  }

  /** What Redis Cluster hashes: the text between the first "{" and the next "}". */
  const hashTag = (key: string) => key.slice(key.indexOf("{") + 1, key.indexOf("}", key.indexOf("{") + 1));

  it("gives every key of a namespace one hash tag, whatever the session holds", async () => {
    const keys = await keysOf("mlflow", { id: "}{weird}:{", org: "{acme}" });
    expect(keys).toHaveLength(3);
    const tags = new Set(keys.map(hashTag));
    expect(tags.size).toBe(1);
    const other = await keysOf("mlflow", { id: "plain", org: "x" });
    expect(new Set(other.map(hashTag))).toEqual(tags);
    expect(keys.every((k) => k.startsWith("toolgate:{"))).toBe(true);
  });

  it("spreads namespaces over tags, and puts the prefix first", async () => {
    const a = await keysOf("a", { id: "s", org: "o" }, "app1:");
    const b = await keysOf("b", { id: "s", org: "o" }, "app1:");
    expect(hashTag(a[0]!)).not.toBe(hashTag(b[0]!));
    expect([...a, ...b].every((k) => k.startsWith("app1:{"))).toBe(true);
  });

  it("keeps keys apart that UTF-8 would merge (lone surrogates)", async () => {
    const lone = await keysOf("n", { id: "\uD800", org: "o" });
    const replaced = await keysOf("n", { id: "\uFFFD", org: "o" });
    const bytes = (keys: string[]) => keys.map((k) => Buffer.from(k, "utf8").toString("hex"));
    expect(bytes(lone)[0]).not.toBe(bytes(replaced)[0]);
  });
});
