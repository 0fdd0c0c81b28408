/**
 * Issue 7 item 5: stores that throw, reject, hang, answer late or answer garbage. Every such
 * call is denied with a reason (or allowed marked `failedOpen` under `failOpen`), `decide` never
 * rejects, and a process-level `unhandledRejection` listener proves no promise is left to fail
 * unobserved — including stores that reject or throw after the timeout has already answered.
 */

import fc from "fast-check";
import { compilePolicy, MemoryStore, type ConsumeRequest, type Store } from "toolgate";
import { RedisStore } from "toolgate/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { params } from "../property/arbitraries.js";

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => {
  process.on("unhandledRejection", onUnhandled);
});
afterAll(async () => {
  // Late answers (after the timeouts below) have all settled by now.
  await new Promise((r) => setTimeout(r, 300));
  process.off("unhandledRejection", onUnhandled);
  expect(unhandled).toEqual([]);
});

const doc = {
  version: "1",
  default: "deny",
  tools: {
    t: {
      rate_limit: [
        { max: 5, window: 1 },
        { max: 9, window: 60, per: "global" },
      ],
    },
  },
};
const call = { tool: "t", session: { id: "s" } };

/** Whether `answer` is a well-formed answer for a request of `n` budgets. */
function wellFormed(answer: unknown, n: number): boolean {
  if (typeof answer !== "object" || answer === null) return false;
  const a = answer as Record<string, unknown>;
  const nums = (v: unknown) =>
    Array.isArray(v) && v.length === n && v.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0);
  if (a.allowed === true) return nums(a.remaining);
  if (a.allowed === false) return nums(a.retryAfterMs) && (a.retryAfterMs as number[]).some((x) => x >= 1);
  return false;
}

describe("garbage answers", () => {
  it("deny (or fail open) for any answer that is not a well-formed result", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.anything({
          withBigInt: true,
          withDate: true,
          withMap: true,
          withSet: true,
          withTypedArray: true,
          withNullPrototype: true,
        }),
        fc.boolean(),
        fc.boolean(),
        async (answer, async, failOpen) => {
          fc.pre(!wellFormed(answer, 2));
          const store: Store = {
            synchronous: !async,
            consume: () => (async ? Promise.resolve(answer) : answer) as never,
          };
          const policy = compilePolicy(doc, { store, failOpen, storeTimeoutMs: 100 });
          const d = async ? await policy.decide(call) : policy.decideSync(call);
          // failOpen covers an asynchronous store's failures, never an ill-formed answer from a
          // synchronous store (a bug, not an outage): docs/spec.md section 3, step 6.
          if (failOpen && async) expect(d).toEqual({ outcome: "allow", rule: "/tools/t", failedOpen: true });
          else expect(d).toMatchObject({ outcome: "deny", rule: "/tools/t", cause: "store_failure" });
        },
      ),
      params(1_000),
    );
  });

  it("deny for well-shaped answers with wrong lengths or impossible numbers", async () => {
    const answers: unknown[] = [
      { allowed: true, remaining: [0] },
      { allowed: true, remaining: [0, 0, 0] },
      { allowed: true, remaining: [0, 1.5] },
      { allowed: true, remaining: [0, Number.POSITIVE_INFINITY] },
      { allowed: true, remaining: [0, "1"] },
      { allowed: false, retryAfterMs: [0, 0] },
      { allowed: false, retryAfterMs: [1] },
      { allowed: false, retryAfterMs: [Number.NaN, 1] },
      { allowed: false, retryAfterMs: [Number.POSITIVE_INFINITY, 0] },
      { allowed: 1, remaining: [0, 0] },
      new Proxy(
        {},
        {
          get() {
            throw new Error("trap");
          },
        },
      ),
      {
        get allowed() {
          throw new Error("getter");
        },
      },
    ];
    for (const [i, answer] of answers.entries()) {
      const policy = compilePolicy(doc, { store: { synchronous: true, consume: () => answer as never } });
      expect(policy.decideSync(call), `answer ${i}`).toMatchObject({ outcome: "deny", rule: "/tools/t" });
      expect((await policy.decide(call)).outcome).toBe("deny");
    }
  });
});

describe("misbehaving asynchronous stores", () => {
  const cases: [string, () => unknown][] = [
    ["rejects with an Error", () => Promise.reject(new Error("down"))],
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the case under test
    ["rejects with undefined", () => Promise.reject(undefined)],
    [
      "throws synchronously though async",
      () => {
        throw new TypeError("sync throw");
      },
    ],
    ["hangs forever", () => new Promise(() => {})],
    ["rejects after the timeout", () => new Promise((_, reject) => setTimeout(() => reject(new Error("late")), 80))],
    [
      "resolves after the timeout",
      () => new Promise((resolve) => setTimeout(() => resolve({ allowed: true, remaining: [0, 0] }), 80)),
    ],
    [
      "returns a thenable that calls both callbacks",
      () => ({
        then(ok: (v: unknown) => void, bad: (e: unknown) => void) {
          bad(new Error("first"));
          ok({ allowed: true, remaining: [0, 0] });
        },
      }),
    ],
    [
      "returns a thenable that throws after resolving",
      () => ({
        then(ok: (v: unknown) => void) {
          ok({ allowed: true, remaining: [4, 8] });
          throw new Error("after");
        },
      }),
    ],
    ["returns a thenable that never settles", () => ({ then() {} })],
    [
      "returns a thenable whose then getter throws",
      () => ({
        get then() {
          throw new Error("then getter");
        },
      }),
    ],
  ];

  it.each(cases)("%s: the decision is a deny or a correct allow, never a rejection", async (_, answer) => {
    const policy = compilePolicy(doc, { store: { consume: answer as never }, storeTimeoutMs: 30 });
    const started = Date.now();
    const d = await policy.decide(call);
    expect(Date.now() - started).toBeLessThan(2_000);
    if (d.outcome === "allow") expect(d).toEqual({ outcome: "allow", rule: "/tools/t", remaining: expect.any(Number) });
    else expect(d).toMatchObject({ outcome: "deny", rule: "/tools/t" });
    const open = compilePolicy(doc, { store: { consume: answer as never }, storeTimeoutMs: 30, failOpen: true });
    expect((await open.decide(call)).outcome).toBe("allow");
  });

  it("denies every one of many calls while the store is down, and recovers when it is back", async () => {
    let down = true;
    const inner = new MemoryStore({ maxKeys: 10 });
    const store: Store = {
      consume: (r: ConsumeRequest) => (down ? Promise.reject(new Error("down")) : Promise.resolve(inner.consume(r))),
    };
    const policy = compilePolicy(doc, { store, storeTimeoutMs: 50 });
    const during = await Promise.all(Array.from({ length: 1_000 }, () => policy.decide(call)));
    expect(during.every((d) => d.outcome === "deny")).toBe(true);
    down = false;
    expect(await policy.decide(call)).toEqual({ outcome: "allow", rule: "/tools/t", remaining: 4 });
  });

  it("never lets a store see or change the call's arguments", async () => {
    const args = { path: "/tmp/x" };
    const store: Store = {
      synchronous: true,
      consume: (r) => {
        expect(JSON.stringify(r)).not.toContain("/tmp/x");
        (r as unknown as Record<string, unknown>).now = -1;
        return { allowed: true, remaining: r.budgets.map(() => 0) };
      },
    };
    const policy = compilePolicy(doc, { store });
    expect(policy.decideSync({ ...call, args })).toEqual({ outcome: "allow", rule: "/tools/t", remaining: 0 });
    expect(args).toEqual({ path: "/tmp/x" });
  });
});

/**
 * The stores' own entry points, called directly with hostile requests (a custom engine, a test
 * double, a bug): each answers correctly or throws a clear TypeError or RangeError, in bounded
 * time, and a bad request counts nothing.
 */
describe("MemoryStore and RedisStore entry points under hostile requests", () => {
  const ok = { key: "k", max: 2, windowMs: 1_000, cost: 1, refundable: true, shared: false };
  const requests: [string, unknown][] = [
    ["null", null],
    ["a string", "consume"],
    ["no budgets", { namespace: "n", now: 0, dryRun: false }],
    ["empty budgets", { namespace: "n", budgets: [], now: 0, dryRun: false }],
    ["budgets as an object", { namespace: "n", budgets: { 0: ok, length: 1 }, now: 0, dryRun: false }],
    ["a null budget", { namespace: "n", budgets: [null], now: 0, dryRun: false }],
    ["a numeric key", { namespace: "n", budgets: [{ ...ok, key: 7 }], now: 0, dryRun: false }],
    ["max NaN", { namespace: "n", budgets: [{ ...ok, max: Number.NaN }], now: 0, dryRun: false }],
    ["max Infinity", { namespace: "n", budgets: [{ ...ok, max: Number.POSITIVE_INFINITY }], now: 0, dryRun: false }],
    ["max beyond 2^53", { namespace: "n", budgets: [{ ...ok, max: 2 ** 53 }], now: 0, dryRun: false }],
    ["a fractional cost", { namespace: "n", budgets: [{ ...ok, cost: 0.5 }], now: 0, dryRun: false }],
    ["a negative cost", { namespace: "n", budgets: [{ ...ok, cost: -1 }], now: 0, dryRun: false }],
    ["a cost above max", { namespace: "n", budgets: [{ ...ok, cost: 3 }], now: 0, dryRun: false }],
    ["a zero window", { namespace: "n", budgets: [{ ...ok, windowMs: 0 }], now: 0, dryRun: false }],
    ["now NaN", { namespace: "n", budgets: [ok], now: Number.NaN, dryRun: false }],
    ["now as text", { namespace: "n", budgets: [ok], now: "0", dryRun: false }],
    ["a repeated budget", { namespace: "n", budgets: [ok, ok], now: 0, dryRun: false }],
    [
      "a budget whose getters throw",
      {
        namespace: "n",
        budgets: [
          new Proxy(
            {},
            {
              get() {
                throw new Error("trap");
              },
            },
          ),
        ],
        now: 0,
        dryRun: false,
      },
    ],
  ];

  it.each(requests)(
    "MemoryStore refuses %s with a TypeError, RangeError or the getter's own error, counting nothing",
    (_, request) => {
      const store = new MemoryStore();
      expect(() => store.consume(request as never)).toThrow(Error);
      expect(store.size).toBe(0);
      expect(store.consume({ namespace: "n", budgets: [ok], now: 0, dryRun: false })).toEqual({
        allowed: true,
        remaining: [1],
        entries: ["0"],
      });
    },
  );

  it("takes any key as an opaque string: prototype names, a megabyte, lone surrogates", () => {
    const store = new MemoryStore();
    for (const key of ["__proto__", "constructor", "hasOwnProperty", "x".repeat(1 << 20), "\uD800", ""]) {
      expect(store.consume({ namespace: "n", budgets: [{ ...ok, key }], now: 0, dryRun: false })).toMatchObject({
        allowed: true,
        remaining: [1],
      });
      expect(store.consume({ namespace: "n", budgets: [{ ...ok, key }], now: 1, dryRun: false })).toMatchObject({
        allowed: true,
        remaining: [0],
      });
      expect(store.consume({ namespace: "n", budgets: [{ ...ok, key }], now: 2, dryRun: false })).toEqual({
        allowed: false,
        retryAfterMs: [998],
      });
    }
    expect(store.size).toBe(6);
  });

  it("decides a request of 20,000 budgets, and 100,000 bogus refunds, in bounded time", () => {
    const store = new MemoryStore({ maxKeys: 50_000 });
    const budgets = Array.from({ length: 20_000 }, (_, i) => ({ ...ok, key: `k${i}` }));
    const started = performance.now();
    const answer = store.consume({ namespace: "n", budgets, now: 0, dryRun: false });
    expect(answer.allowed && answer.remaining.every((r) => r === 1)).toBe(true);
    const entries = Array.from({ length: 100_000 }, (_, i) => ({
      key: `k${i % 20_000}`,
      entry: i % 2 === 0 ? `${i}${"9".repeat(20)}` : "-1",
    }));
    expect(store.refund({ namespace: "n", entries, now: 1 }).given.every((g) => !g)).toBe(true);
    // Linear work: well under a second even on a loaded machine (a quadratic check would take minutes).
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it.each(requests)("RedisStore rejects %s before sending anything", async (_, request) => {
    const sent: unknown[] = [];
    const client = { evalsha: async (...a: unknown[]) => sent.push(a), eval: async (...a: unknown[]) => sent.push(a) };
    const store = new RedisStore({ client, clock: "engine" });
    await expect(store.consume(request as never)).rejects.toThrow(Error);
    expect(sent).toEqual([]);
    expect(store.pending).toBe(0);
  });

  it(
    "RedisStore turns a client that lies (a reply for other calls, a reply that never ends) " +
      "into failures, never an allow",
    async () => {
      const replies: unknown[] = [[1, 0, 1, 0], [1], "OK", { length: 3, 0: 1 }, [1, 2 ** 53, "0:1"], [0, 0], [2, 7]];
      for (const reply of replies) {
        const store = new RedisStore({
          client: { evalsha: async () => reply, eval: async () => reply },
          clock: "engine",
        });
        await expect(store.consume({ namespace: "n", budgets: [ok], now: 0, dryRun: false })).rejects.toThrow(
          /^RedisStore: /,
        );
      }
    },
  );
});
