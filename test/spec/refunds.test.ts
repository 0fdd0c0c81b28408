/**
 * docs/spec.md §5 "Refunds" and "Store contract" (engine side): `refund: "on_error"` tickets as
 * plain JSON, `policy.refund` exactly once per counted call even for copies, `false` for anything
 * it cannot give back, a rejection only when the store fails, tickets of another namespace that
 * give nothing, the room that comes back while the budget's latest counted time stays, and a
 * refundable limit on a store without `refund` as a TypeError naming the limit.
 */

import { compilePolicy, MemoryStore, type Decision, type RefundEvent, type Store } from "toolgate";
import { describe, expect, it } from "vitest";
import { call, Clock, compile, doc } from "./helpers.js";

const refundable = doc(
  {
    t: { rate_limit: { max: 1, window: 1, refund: "on_error" } },
    plain: { rate_limit: { max: 1, window: 1 } },
    mixed: {
      rate_limit: [
        { max: 1, window: 1, refund: "on_error" },
        { max: 5, window: 1 },
      ],
    },
    weighed: { rate_limit: { max: 1, window: 1, cost: "/n", refund: "on_error" } },
    open: {},
  },
  { name: "refunds" },
);

function allowed(d: Decision): Extract<Decision, { outcome: "allow" }> {
  expect(d.outcome).toBe("allow");
  return d as Extract<Decision, { outcome: "allow" }>;
}

describe("tickets", () => {
  it("are carried by allows that counted in a refundable budget, as plain JSON data", () => {
    const policy = compile(refundable);
    const d = allowed(policy.decideSync(call("t")));
    expect(d.refund).toEqual({
      namespace: "refunds",
      entries: [{ key: expect.any(String), entry: expect.any(String) }],
    });
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
    expect(Object.getPrototypeOf(d.refund)).toBe(Object.prototype);
  });

  it("are absent where nothing refundable was counted", () => {
    const policy = compile(refundable);
    expect(policy.decideSync(call("plain"))).toEqual({ outcome: "allow", rule: "/tools/plain", remaining: 0 });
    expect(policy.decideSync(call("open"))).toEqual({ outcome: "allow", rule: "/tools/open" });
    expect(policy.decideSync(call("weighed", { args: { n: 0 } }))).toEqual({
      outcome: "allow",
      rule: "/tools/weighed",
      remaining: 1,
    });
    // Refusals carry no ticket.
    policy.decideSync(call("t"));
    expect(policy.decideSync(call("t"))).not.toHaveProperty("refund");
  });

  it("name only the refundable budgets of a call", () => {
    const policy = compile(refundable);
    const d = allowed(policy.decideSync(call("mixed")));
    expect(d.refund?.entries).toHaveLength(1);
  });
});

describe("policy.refund", () => {
  it("gives back exactly what the decision counted, once, even for copies", async () => {
    const policy = compile(refundable);
    const d = allowed(policy.decideSync(call("mixed")));
    const copy = JSON.parse(JSON.stringify(d)) as Decision;
    expect(policy.decideSync(call("mixed")).outcome).toBe("rate_limited");
    await expect(policy.refund(copy)).resolves.toBe(true);
    await expect(policy.refund(copy)).resolves.toBe(false);
    await expect(policy.refund(d)).resolves.toBe(false);
    // The refundable budget has its room back; the other one still counts the call.
    expect(policy.decideSync(call("mixed"))).toMatchObject({ outcome: "allow", remaining: 0 });
    expect(policy.decideSync(call("mixed"))).toMatchObject({
      outcome: "rate_limited",
      rule: "/tools/mixed/rate_limit/0",
    });
  });

  it("gives back at most once when copies are refunded at the same time", async () => {
    const policy = compile(refundable);
    const d = allowed(policy.decideSync(call("t")));
    const copies = Array.from({ length: 10 }, () => structuredClone(d));
    const given = await Promise.all(copies.map((c) => policy.refund(c)));
    expect(given.filter(Boolean)).toHaveLength(1);
  });

  it.each([
    ["in units", { cost: 0.5 }, 0.5],
    ["in calls", {}, 0],
  ])(
    "gives back a call's units in a budget that another tool's unrefundable calls share (%s)",
    async (_, cost, left) => {
      const clock = new Clock();
      clock.now = 1_000;
      const policy = compile(
        doc({
          a: { rate_limit: { id: "x", max: 2, window: "10ms", refund: "on_error", ...cost } },
          b: { rate_limit: { id: "x", max: 2, window: "10ms" } },
        }),
        clock,
      );
      const d = policy.decideSync(call("a"));
      clock.now = 1_001;
      expect(policy.decideSync(call("b"))).toMatchObject({ outcome: "allow", remaining: left });
      await expect(policy.refund(d)).resolves.toBe(true);
      expect(policy.decideSync(call("b"))).toMatchObject({ outcome: "allow", remaining: 0 });
    },
  );

  it("gives back a weighed call's units", async () => {
    const policy = compile(refundable);
    const d = policy.decideSync(call("weighed", { args: { n: 0.75 } }));
    expect(policy.decideSync(call("weighed", { args: { n: 0.5 } })).outcome).toBe("rate_limited");
    await expect(policy.refund(d)).resolves.toBe(true);
    expect(policy.decideSync(call("weighed", { args: { n: 1 } }))).toMatchObject({ outcome: "allow", remaining: 0 });
  });

  it("resolves false, never rejects, for anything it cannot give back", async () => {
    const policy = compile(refundable);
    const good = allowed(policy.decideSync(call("t")));
    const ticket = good.refund!;
    const cyclic: Record<string, unknown> = { outcome: "allow" };
    cyclic.refund = cyclic;
    const hostile: unknown[] = [
      undefined,
      null,
      0,
      "ticket",
      Symbol("x"),
      () => good,
      [],
      [good],
      {},
      { outcome: "allow", rule: "/tools/open" },
      { outcome: "deny", rule: "/tools/t", reason: "no", cause: "policy" },
      { refund: null },
      { refund: "x" },
      { refund: { namespace: "refunds" } },
      { refund: { namespace: "refunds", entries: "x" } },
      { refund: { namespace: "refunds", entries: [] } },
      { refund: { namespace: "refunds", entries: [null] } },
      { refund: { namespace: "refunds", entries: [{ key: 1, entry: "0" }] } },
      { refund: { namespace: "refunds", entries: [{ key: ticket.entries[0]!.key, entry: "no such entry" }] } },
      { refund: { namespace: "refunds", entries: [{ key: ticket.entries[0]!.key, entry: "" }] } },
      { refund: { namespace: "refunds", entries: [{ key: "x".repeat(1_000_000), entry: "1" }] } },
      { refund: { namespace: "refunds", entries: Array.from({ length: 100_000 }, () => ticket.entries[0]) } },
      { refund: { ...ticket, namespace: "other" } },
      { refund: { namespace: "refunds", entries: [{ key: '["other",', entry: ticket.entries[0]!.entry }] } },
      cyclic,
      new Proxy(
        {},
        {
          get: () => {
            throw new Error("trap");
          },
          getPrototypeOf: () => {
            throw new Error("trap");
          },
        },
      ),
      {
        get refund() {
          throw new Error("getter");
        },
      },
      Object.create({ refund: ticket }),
    ];
    for (const [i, input] of hostile.entries()) expect(await policy.refund(input), `input ${i}`).toBe(false);
    // None of that gave anything back, and the real ticket still works once.
    expect(policy.decideSync(call("t")).outcome).toBe("rate_limited");
    await expect(policy.refund(good)).resolves.toBe(true);
    expect(policy.decideSync(call("t")).outcome).toBe("allow");
  });

  it("gives nothing for a ticket of another namespace on the same store", async () => {
    const store = new MemoryStore({ maxKeys: 100 });
    const clock = new Clock();
    const a = compilePolicy(refundable, { store, clock: clock.read, namespace: "a" });
    const b = compilePolicy(refundable, { store, clock: clock.read, namespace: "b" });
    const d = a.decideSync(call("t"));
    await expect(b.refund(d)).resolves.toBe(false);
    // Rewriting the namespace does not help: the keys belong to "a".
    const forged = structuredClone(d) as { refund: { namespace: string } };
    forged.refund.namespace = "b";
    await expect(b.refund(forged)).resolves.toBe(false);
    expect(a.decideSync(call("t")).outcome).toBe("rate_limited");
    await expect(a.refund(d)).resolves.toBe(true);
  });

  it("resolves false once every counted unit has left the window (judged as counting judges it)", async () => {
    const clock = new Clock();
    const policy = compile(refundable, clock);
    const early = policy.decideSync(call("t"));
    clock.now = 1_000;
    await expect(policy.refund(early)).resolves.toBe(false);
    const late = policy.decideSync(call("t"));
    clock.now = 1_999;
    await expect(policy.refund(late)).resolves.toBe(true);
  });

  it("gives the room back while the budget's latest counted time stays", async () => {
    const clock = new Clock();
    const policy = compile(refundable, clock);
    clock.now = 1_000;
    const d = policy.decideSync(call("t"));
    await expect(policy.refund(d)).resolves.toBe(true);
    // The clock steps back: the call counts at 1000, the budget's latest counted time, not at 500.
    clock.now = 500;
    expect(policy.decideSync(call("t")).outcome).toBe("allow");
    clock.now = 1_500;
    expect(policy.decideSync(call("t"))).toMatchObject({ outcome: "rate_limited", retryAfterMs: 500 });
    clock.now = 2_000;
    expect(policy.decideSync(call("t")).outcome).toBe("allow");
  });

  it("rejects with an error that says so when the store fails, and only then", async () => {
    const inner = new MemoryStore({ maxKeys: 10 });
    let fail = false;
    const store: Store = {
      synchronous: true,
      consume: (r) => inner.consume(r),
      refund: (r) => {
        if (fail) throw new Error("connection to 10.0.0.7 lost");
        return inner.refund(r);
      },
    };
    const policy = compilePolicy(refundable, { store });
    const d = policy.decideSync(call("t"));
    fail = true;
    const error = await policy.refund(d).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/store/);
    expect((error as Error).message).toMatch(/refund/);
    fail = false;
    await expect(policy.refund(d)).resolves.toBe(true);
    await expect(policy.refund({})).resolves.toBe(false);
  });

  it("rejects when the store answers a refund with garbage or rejects", async () => {
    for (const answer of [
      () => undefined,
      () => ({ given: "yes" }),
      () => ({ given: [] }),
      () => Promise.reject(new Error("x")),
    ]) {
      const inner = new MemoryStore({ maxKeys: 10 });
      const store: Store = { consume: (r) => inner.consume(r), refund: answer as never };
      const policy = compilePolicy(refundable, { store, storeTimeoutMs: 100 });
      const d = await policy.decide(call("t"));
      await expect(policy.refund(d)).rejects.toThrow(/store/);
    }
  });

  it("tells onRefund observers what was handed in and whether anything was given", async () => {
    const events: RefundEvent[] = [];
    const clock = new Clock();
    clock.now = 42;
    const policy = compilePolicy(refundable, {
      store: new MemoryStore(),
      clock: clock.read,
      onRefund: (e) => events.push(e),
    });
    const d = allowed(policy.decideSync(call("t")));
    await policy.refund(d);
    await policy.refund(d);
    expect(events).toEqual([
      { time: 42, namespace: "refunds", refund: d.refund, given: true },
      { time: 42, namespace: "refunds", refund: d.refund, given: false },
    ]);
    const throwing = compilePolicy(refundable, {
      onRefund: () => {
        throw new Error("observer");
      },
    });
    await expect(throwing.refund(throwing.decideSync(call("t")))).resolves.toBe(true);
  });
});

describe("dry runs of refundable limits", () => {
  // docs/spec.md §2: peek answers what decide would answer, counting nothing (so with no ticket:
  // nothing was counted to give back); explain is the same dry run. The store contract lets a dry
  // run answer without entry ids.
  it("peek and explain answer as decide would, without a ticket", async () => {
    const policy = compile(refundable);
    expect(await policy.peek(call("t"))).toEqual({ outcome: "allow", rule: "/tools/t", remaining: 0 });
    expect((await policy.explain(call("mixed"))).decision).toEqual({
      outcome: "allow",
      rule: "/tools/mixed",
      remaining: 0,
    });
    expect(policy.decideSync(call("t"))).toMatchObject({ outcome: "allow", refund: expect.any(Object) });
    expect(await policy.peek(call("t"))).toMatchObject({ outcome: "rate_limited", rule: "/tools/t/rate_limit" });
  });
});

describe("a refundable limit needs a store that refunds", () => {
  const noRefund: Store = { synchronous: true, consume: (r) => ({ allowed: true, remaining: r.budgets.map(() => 0) }) };
  it.each([
    ["a rule's limit", doc({ t: { rate_limit: { max: 1, window: 1, refund: "on_error" } } }), "/tools/t/rate_limit"],
    [
      "a conditional rule's limit",
      doc({
        t: {
          rules: [
            {
              rate_limit: [
                { max: 1, window: 1 },
                { max: 1, window: 1, refund: "on_error" },
              ],
            },
          ],
        },
      }),
      "/tools/t/rules/0/rate_limit/1",
    ],
    [
      "the default's limit",
      doc({}, { default: { rate_limit: { max: 1, window: 1, refund: "on_error" } } }),
      "/default/rate_limit",
    ],
    ["a policy limit", doc({ t: {} }, { limits: [{ max: 1, window: 1, refund: "on_error" }] }), "/limits/0"],
  ])("is a TypeError naming %s", (_, document, pointer) => {
    let error: unknown;
    try {
      compilePolicy(document, { store: noRefund });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain(pointer);
  });

  it('is fine with refund: "never" and without refund', () => {
    expect(() =>
      compilePolicy(doc({ t: { rate_limit: { max: 1, window: 1, refund: "never" } } }), { store: noRefund }),
    ).not.toThrow();
  });
});
