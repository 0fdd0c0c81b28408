// RedisStore without a server: option checks, request checks, the NOSCRIPT fallback, replies
// that are not what the script returns, the bound on waiting calls (StoreBusyError), batching of
// the calls waiting at one moment into one script run per shard, refund requests, and key
// layout — all against stand-in clients that record what the store sends.

import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { compilePolicy, StoreBusyError, type ConsumeRequest, type Store } from "toolgate";
import { RedisStore } from "toolgate/redis";
import { describe, expect, it } from "vitest";

interface Sent {
  command: "evalsha" | "eval";
  head: string;
  keys: string[];
  args: string[];
}

/** An ioredis-shaped client answering `reply` (or calling it) for every script call. */
function ioLike(reply: (sent: Sent) => unknown) {
  const sent: Sent[] = [];
  const call =
    (command: Sent["command"]) =>
    async (head: string, numKeys: number, ...rest: string[]) => {
      const s = { command, head, keys: rest.slice(0, numKeys), args: rest.slice(numKeys) };
      sent.push(s);
      return reply(s);
    };
  return { client: { evalsha: call("evalsha"), eval: call("eval") }, sent };
}

/** A node-redis-shaped client, likewise. */
function nodeLike(reply: (sent: Sent) => unknown) {
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
  budgets: [{ key: "k", max: 10, windowMs: 1_000, cost: 1, refundable: false, shared: false }],
  now: 5,
  dryRun: false,
  ...over,
});

describe("RedisStore options", () => {
  const client = ioLike(() => [1, 0]).client;

  it.each([
    [undefined, "RedisStore: options must be a plain object, got nothing"],
    [null, "RedisStore: options must be a plain object, got null"],
    ["redis://x", 'RedisStore: options must be a plain object, got "redis://x"'],
    [[], "RedisStore: options must be a plain object, got an array"],
    [{}, "RedisStore: client is required: pass an ioredis client or a node-redis (v4+) client"],
    [{ client: null }, "RedisStore: client is required: pass an ioredis client or a node-redis (v4+) client"],
    [
      { client: {} },
      "RedisStore: client must be an ioredis client or a node-redis (v4+) client: it has neither evalsha nor evalSha",
    ],
    [
      { client: "redis://x" },
      "RedisStore: client must be an ioredis client or a node-redis (v4+) client: it has neither evalsha nor evalSha",
    ],
    [{ client, ttl: 5 }, 'RedisStore: unknown option "ttl"'],
    [{ client, maxPendin: 5 }, 'RedisStore: unknown option "maxPendin" (did you mean "maxPending"?)'],
    [{ client, constructor: 1 }, 'RedisStore: unknown option "constructor"'],
    [{ client, prefix: 5 }, "RedisStore: prefix must be a string, got 5"],
    [
      { client, prefix: "a{" },
      'RedisStore: prefix must not contain "{" or "}" (they set the Redis Cluster hash slot), got "a{"',
    ],
    [
      { client, prefix: "}" },
      'RedisStore: prefix must not contain "{" or "}" (they set the Redis Cluster hash slot), got "}"',
    ],
    [{ client, clock: "server" }, 'RedisStore: clock must be "redis" or "engine", got "server"'],
    [{ client, clock: null }, 'RedisStore: clock must be "redis" or "engine", got null'],
    [{ client, maxPending: 0 }, "RedisStore: maxPending must be an integer >= 1, got 0"],
    [{ client, maxPending: 1.5 }, "RedisStore: maxPending must be an integer >= 1, got 1.5"],
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
    [
      { budgets: [{ key: 1, max: 1, windowMs: 1, cost: 1 }] },
      new TypeError("RedisStore: budgets[0].key must be a string, got 1"),
    ],
    [{ budgets: [null] }, new TypeError("RedisStore: budgets[0] must be an object, got null")],
    [
      { budgets: [{ key: "k", max: 0, windowMs: 1, cost: 1 }] },
      new TypeError("RedisStore: budgets[0].max must be a safe integer >= 1, got 0"),
    ],
    [
      { budgets: [{ key: "k", max: 2 ** 53, windowMs: 1, cost: 1 }] },
      new TypeError("RedisStore: budgets[0].max must be a safe integer >= 1, got 9007199254740992"),
    ],
    [
      { budgets: [{ key: "k", max: 1, windowMs: 0.5, cost: 1 }] },
      new TypeError("RedisStore: budgets[0].windowMs must be a safe integer >= 1, got 0.5"),
    ],
    [
      { budgets: [{ key: "k", max: 1, windowMs: 1, cost: "1" }] },
      new TypeError('RedisStore: budgets[0].cost must be a safe integer >= 0, got "1"'),
    ],
    [
      { budgets: [{ key: "k", max: 1, windowMs: 1, cost: -1 }] },
      new TypeError("RedisStore: budgets[0].cost must be a safe integer >= 0, got -1"),
    ],
    [
      {
        budgets: [
          { key: "k", max: 1, windowMs: 1, cost: 1 },
          { key: "k", max: 1, windowMs: 1, cost: 1 },
        ],
      },
      new RangeError("RedisStore: budgets[1].key repeats budgets[0].key"),
    ],
    [
      { budgets: [{ key: "k", max: 2, windowMs: 1, cost: 3 }] },
      new RangeError("RedisStore: budgets[0].cost (3) is greater than its max (2): the call can never fit"),
    ],
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
      // ARGV: calls in the batch, distinct shapes, whether each call has its own argument; the
      // shapes (dry-run flag, budget count, then per budget max, window, cost and refundable
      // flag); then per call its shape and, on the engine's clock, its time.
      expect(sent.map((s) => s.args)).toEqual([
        ["1", "1", "0", "0 1 10 1000 1 0"],
        ["1", "1", "1", "1 1 10 1000 1 0", "1@1234.5"],
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
      const budgets = [
        { key: "a", max: 5, windowMs: 10, cost: 1, refundable: false, shared: false },
        { key: "b", max: 7, windowMs: 10, cost: 1, refundable: false, shared: true },
      ];
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
    ["OK"],
    [null],
    [[]],
    [[1]],
    [[2, 0]],
    [[1, -1]],
    [[1, 1.5]],
    [[0, 0]],
    [[1, "3"]],
    [["1", 3]],
    [[1, 3, 4]],
    [{ 0: 1, 1: 2 }],
  ])("rejects the reply %j, which the script never gives", async (reply) => {
    const { client } = ioLike(() => reply);
    await expect(new RedisStore({ client }).consume(request())).rejects.toThrow(
      /^RedisStore: unexpected reply from Redis: /,
    );
  });

  it("turns a reply it cannot read into a deny, or an allow marked failedOpen", async () => {
    const { client } = nodeLike(() => ["garbage"]);
    const doc = { version: "1", default: "deny", tools: { t: { rate_limit: { max: 1, window: 60 } } } };
    const call = { tool: "t", session: { id: "s" } };
    const closed = await compilePolicy(doc, { store: new RedisStore({ client }) }).decide(call);
    // The reason never carries the store's text (it goes to observers): only that the store failed.
    expect(closed).toMatchObject({ outcome: "deny", rule: "/tools/t" });
    expect(closed.outcome === "deny" && closed.reason).not.toContain("garbage");
    const open = await compilePolicy(doc, { store: new RedisStore({ client }), failOpen: true }).decide(call);
    expect(open).toEqual({ outcome: "allow", rule: "/tools/t", failedOpen: true });
  });

  it("rejects at once beyond maxPending calls waiting on Redis, and counts them down as they finish", async () => {
    const waiting: Array<(v: unknown) => void> = [];
    const { client } = ioLike(() => new Promise((resolve) => waiting.push(resolve)));
    const store = new RedisStore({ client, maxPending: 3 });
    const first = [store.consume(request()), store.consume(request()), store.consume(request())];
    expect(store.pending).toBe(3);
    const refused = store.consume(request());
    await expect(refused).rejects.toThrow(
      new StoreBusyError("RedisStore: 3 calls are already waiting for Redis (maxPending)"),
    );
    await expect(refused).rejects.toBeInstanceOf(StoreBusyError);
    await expect(
      store.refund({ namespace: "ns", entries: [{ key: "k", entry: "0:1" }], now: 0 }),
    ).rejects.toBeInstanceOf(StoreBusyError);
    // The three calls of that moment went to Redis as one script run.
    expect(waiting).toHaveLength(1);
    waiting[0]!([1, 1, 1, 1, 1, 1]);
    await Promise.all(first);
    expect(store.pending).toBe(0);
    const again = store.consume(request());
    expect(store.pending).toBe(1);
    await Promise.resolve();
    waiting[1]!([0, 7]);
    await expect(again).resolves.toEqual({ allowed: false, retryAfterMs: [7] });
  });

  it("sends the calls waiting at one moment as one script run per shard, and answers each its own part", async () => {
    const { client, sent } = ioLike((s) => {
      if (s.args[0] === "3") return [1, 4, "0:1", 0, 7, 2, "ERR boom"];
      return [1, 9];
    });
    const store = new RedisStore({ client, clock: "engine" });
    const refundable = { key: "r", max: 5, windowMs: 10, cost: 1, refundable: true, shared: false };
    const answers = Promise.allSettled([
      store.consume(request({ budgets: [refundable] })),
      store.consume(request({ now: 6 })),
      store.consume(
        request({ now: 7, budgets: [{ key: "x", max: 3, windowMs: 10, cost: 2, refundable: false, shared: true }] }),
      ),
      store.consume(request({ namespace: "elsewhere" })),
    ]);
    const [a, b, c, d] = await answers;
    expect(a).toEqual({ status: "fulfilled", value: { allowed: true, remaining: [4], entries: ["0:1"] } });
    expect(b).toEqual({ status: "fulfilled", value: { allowed: false, retryAfterMs: [7] } });
    expect(c.status === "rejected" && String(c.reason)).toBe(
      "Error: RedisStore: Redis failed the call's script: ERR boom",
    );
    expect(d).toEqual({ status: "fulfilled", value: { allowed: true, remaining: [9] } });
    expect(sent).toHaveLength(2);
    expect(sent[0]!.keys).toHaveLength(3);
    expect(sent[0]!.args).toEqual([
      "3",
      "3",
      "1",
      "0 1 5 10 1 1",
      "0 1 10 1000 1 0",
      "0 1 3 10 2 0",
      "1@5",
      "2@6",
      "3@7",
    ]);
    expect(store.pending).toBe(0);
  });

  it("splits one moment's calls into two script runs when nothing is in flight, and gathers the rest", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const { client, sent } = ioLike(async (s) => {
      await gate;
      return Array.from({ length: Number(s.args[0]) }, () => [1, 3]).flat();
    });
    const store = new RedisStore({ client, clock: "engine" });
    const calls = (n: number, from: number) =>
      Array.from({ length: n }, (_, i) =>
        store.consume(
          request({
            budgets: [{ key: `k${from + i}`, max: 5, windowMs: 10, cost: 1, refundable: false, shared: false }],
          }),
        ),
      );
    // 40 calls at one moment, nothing in flight: 20 and 20, so Redis runs the second while this
    // process reads the first one's reply.
    const first = calls(40, 0);
    await new Promise((r) => setImmediate(r));
    expect(sent.map((s) => s.keys.length)).toEqual([20, 20]);
    // Two in flight: the next calls wait, and go as one run when a place frees.
    const second = calls(10, 40);
    await new Promise((r) => setImmediate(r));
    expect(sent).toHaveLength(2);
    release();
    const answers = await Promise.all([...first, ...second]);
    expect(answers.every((a) => a.allowed && a.remaining[0] === 3)).toBe(true);
    expect(sent.map((s) => s.keys.length)).toEqual([20, 20, 10]);
    // Fewer than 16 at once with nothing in flight: one run.
    await Promise.all(calls(15, 100));
    expect(sent.slice(3).map((s) => s.keys.length)).toEqual([15]);
    expect(store.pending).toBe(0);
  });

  it("fails every call of a batch whose reply cannot be read, and keeps deciding afterwards", async () => {
    let reply: unknown = [1, 4, 1];
    const { client } = ioLike(() => reply);
    const store = new RedisStore({ client });
    const both = await Promise.allSettled([store.consume(request()), store.consume(request())]);
    expect(both.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    reply = [1, 4, 1, 3];
    expect(await Promise.all([store.consume(request()), store.consume(request())])).toEqual([
      { allowed: true, remaining: [4] },
      { allowed: true, remaining: [3] },
    ]);
  });

  it("rejects a Redis failure for every call of the batch, and frees their places", async () => {
    const { client } = ioLike(() => Promise.reject(new Error("ECONNRESET")));
    const store = new RedisStore({ client, maxPending: 2 });
    const both = await Promise.allSettled([store.consume(request()), store.consume(request())]);
    expect(both.every((r) => r.status === "rejected" && String(r.reason).includes("ECONNRESET"))).toBe(true);
    expect(store.pending).toBe(0);
  });
});

describe("RedisStore refunds", () => {
  it("sends one refund script run for a request, and reads its answer", async () => {
    for (const make of [ioLike, nodeLike]) {
      const { client, sent } = make(() => [1, 0]);
      const store = new RedisStore({ client, clock: "engine" });
      const given = await store.refund({
        namespace: "ns",
        entries: [
          { key: "a", entry: "3:10" },
          { key: "b", entry: "x" },
        ],
        now: 12.5,
      });
      expect(given).toEqual({ given: [true, false] });
      expect(sent).toHaveLength(1);
      expect(sent[0]!.args).toEqual(["12.5", "3:10", "x"]);
      expect(await store.refund({ namespace: "ns", entries: [], now: 1 })).toEqual({ given: [] });
      expect(sent).toHaveLength(1);
    }
  });

  it.each([
    [null, "RedisStore: refund request must be a plain object, got null"],
    [{ namespace: 1, entries: [], now: 0 }, "RedisStore: namespace must be a string, got 1"],
    [{ namespace: "n", entries: {}, now: 0 }, "RedisStore: refund entries must be an array, got an object"],
    [
      { namespace: "n", entries: [{ key: "k" }], now: 0 },
      "RedisStore: refund entries[0] must be { key: string, entry: string }",
    ],
    [
      { namespace: "n", entries: [null], now: 0 },
      "RedisStore: refund entries[0] must be { key: string, entry: string }",
    ],
    [
      { namespace: "n", entries: [], now: Number.POSITIVE_INFINITY },
      "RedisStore: now must be a finite number, got Infinity",
    ],
  ])("rejects the refund request %j before sending anything", async (req, message) => {
    const { client, sent } = ioLike(() => []);
    await expect(new RedisStore({ client, clock: "engine" }).refund(req as never)).rejects.toThrow(
      new TypeError(message),
    );
    expect(sent).toHaveLength(0);
  });

  it.each([[null], [[1]], [[1, 2]], [["1", 0]], [[true, 0]]])("rejects the refund reply %j", async (reply) => {
    const { client } = ioLike(() => reply);
    const store = new RedisStore({ client });
    await expect(
      store.refund({
        namespace: "n",
        entries: [
          { key: "a", entry: "0:1" },
          { key: "b", entry: "0:1" },
        ],
        now: 0,
      }),
    ).rejects.toThrow(/^RedisStore: unexpected reply from Redis: /);
  });
});

describe("RedisStore keys", () => {
  /** Every key one decide call sends, for a policy touching session, attribute and global budgets. */
  async function keysOf(
    namespace: string,
    session: { id: string; [k: string]: unknown },
    prefix?: string,
  ): Promise<string[]> {
    const { client, sent } = ioLike((s) => [1, ...Array.from({ length: s.keys.length }, () => 0)]);
    const policy = compilePolicy(
      {
        version: "1",
        default: "deny",
        limits: [{ max: 100, window: "1h", per: "global" }],
        tools: {
          t: {
            rate_limit: [
              { max: 5, window: "1m" },
              { max: 50, window: "1m", per: "/org" },
            ],
          },
        },
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
