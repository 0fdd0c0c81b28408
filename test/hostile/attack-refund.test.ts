/**
 * Adversarial review of 0.2 (issue 11): `policy.refund` with forged, copied, replayed,
 * cross-namespace, huge and hostile tickets, refunds racing with calls, and stores whose refund
 * throws or hangs. docs/spec.md section 5, "Refunds": refund never rejects for a bad argument, gives
 * back at most once per counted call, and only entries that this namespace counted.
 */

import { compilePolicy, MemoryStore, type Decision, type PolicyDocument, type Store } from "toolgate";
import { describe, expect, it } from "vitest";

const S = { id: "s" };
const doc: PolicyDocument = {
  version: "1",
  name: "attack-refund",
  default: "deny",
  tools: {
    w: { rate_limit: { id: "b", max: 3, window: "1m", refund: "on_error" } },
    e: { rate_limit: { id: "b", max: 3, window: "1m", cost: 2 } },
  },
};

function ticketOf(d: Decision): { namespace: string; entries: { key: string; entry: string }[] } {
  if (d.outcome !== "allow" || d.refund === undefined) throw new Error(`no ticket: ${JSON.stringify(d)}`);
  return d.refund;
}

describe("attack: refund tickets", () => {
  it("a copy refunds once; the original, a second copy and a replay after new calls give nothing", async () => {
    const p = compilePolicy(doc, { clock: () => 0 });
    const d = await p.decide({ tool: "w", session: S });
    const copy = JSON.parse(JSON.stringify(d)) as Decision;
    expect(await p.refund(copy)).toBe(true);
    expect(await p.refund(d)).toBe(false);
    expect(await p.refund(JSON.parse(JSON.stringify(d)))).toBe(false);
    await p.decide({ tool: "w", session: S });
    await p.decide({ tool: "w", session: S });
    expect(await p.refund(copy)).toBe(false);
    expect(await p.peek({ tool: "w", session: S })).toMatchObject({ outcome: "allow", remaining: 0 });
  });

  it("forged entry ids, forged keys and swapped namespaces give nothing back", async () => {
    const store = new MemoryStore();
    const p = compilePolicy(doc, { store, clock: () => 0 });
    const q = compilePolicy(doc, { store, clock: () => 0, namespace: "other" });
    const d = await p.decide({ tool: "w", session: S });
    const t = ticketOf(d);
    const forge = (refund: unknown) => ({ outcome: "allow", rule: "/tools/w", refund });
    const key = t.entries[0]!.key;
    const entry = t.entries[0]!.entry;
    expect(await p.refund(forge({ namespace: t.namespace, entries: [{ key, entry: entry + "0" }] }))).toBe(false);
    expect(await p.refund(forge({ namespace: t.namespace, entries: [{ key: key + "x", entry }] }))).toBe(false);
    expect(await q.refund(d)).toBe(false);
    expect(await q.refund(forge({ namespace: "other", entries: [{ key, entry }] }))).toBe(false);
    expect(
      await q.refund(
        forge({ namespace: "other", entries: [{ key: key.replace('"attack-refund"', '"other"'), entry }] }),
      ),
    ).toBe(false);
    // The genuine ticket still works after every forgery.
    expect(await p.refund(d)).toBe(true);
  });

  it("one ticket naming the same entry 1,000 times gives back one unit", async () => {
    const p = compilePolicy(doc, { clock: () => 0 });
    const d1 = await p.decide({ tool: "w", session: S });
    await p.decide({ tool: "w", session: S });
    await p.decide({ tool: "w", session: S });
    const t = ticketOf(d1);
    const dup = {
      ...d1,
      refund: { namespace: t.namespace, entries: Array.from({ length: 1000 }, () => t.entries[0]!) },
    };
    // Refusing the whole forged ticket or giving back its one real unit are both within the contract.
    await p.refund(dup);
    const after = [await p.decide({ tool: "w", session: S }), await p.decide({ tool: "w", session: S })];
    expect(after[1]).toMatchObject({ outcome: "rate_limited" });
  });

  it("hostile arguments resolve false in bounded time and never throw or leak", async () => {
    const p = compilePolicy(doc, { clock: () => 0 });
    const real = ticketOf(await p.decide({ tool: "w", session: S }));
    const ns = p.namespace;
    const thrower = (): never => {
      throw new Error("MARKER");
    };
    const hostile: unknown[] = [
      null,
      undefined,
      1,
      "x",
      [],
      { refund: null },
      { refund: {} },
      { refund: { namespace: ns, entries: "x" } },
      { refund: { namespace: ns, entries: [null, 1, "x", { key: 1, entry: 2 }] } },
      {
        refund: {
          namespace: ns,
          entries: Array.from({ length: 10_000 }, (_, i) => ({ key: `k${i}`, entry: String(i) })),
        },
      },
      { refund: { namespace: ns, entries: Array.from({ length: 1_000_000 }, () => ({ key: "k", entry: "0" })) } },
      { refund: { namespace: ns, entries: [{ key: "x".repeat(1_000_000), entry: "y".repeat(1_000_000) }] } },
      { refund: { namespace: "x".repeat(10_000_000), entries: [] } },
      Object.defineProperty({}, "refund", { get: thrower, enumerable: true }),
      { refund: Object.defineProperty({ entries: [] }, "namespace", { get: thrower }) },
      new Proxy({}, { get: thrower, ownKeys: thrower, getOwnPropertyDescriptor: thrower, getPrototypeOf: thrower }),
      { refund: new Proxy({}, { get: thrower, getOwnPropertyDescriptor: thrower }) },
      { refund: { namespace: ns, entries: new Proxy([], { get: (_t, k) => (k === "length" ? 1e9 : thrower()) }) } },
      { refund: { namespace: ns, entries: [new Proxy({}, { get: thrower, getOwnPropertyDescriptor: thrower })] } },
      { refund: { namespace: ns, entries: { length: 1, 0: real.entries[0] } } },
      Object.create({ outcome: "allow", refund: real }),
      { outcome: "allow", refund: Object.create(real) },
      JSON.parse(`{"outcome":"allow","refund":{"namespace":"${ns}","entries":[],"__proto__":{"entries":[1]}}}`),
    ];
    for (const h of hostile) {
      const start = performance.now();
      const r = await p.refund(h);
      expect(r).toBe(false);
      expect(performance.now() - start).toBeLessThan(5_000);
    }
    // Nothing above gave back the real unit, which is still counted.
    expect(await p.peek({ tool: "w", session: S })).toMatchObject({ remaining: 1 });
    // The ticket is the host's data (docs/spec.md section 5): it refunds wherever it is carried.
    expect(await p.refund({ outcome: "deny", refund: JSON.parse(JSON.stringify(real)) })).toBe(true);
  });
});

describe("attack: refunds racing with calls", () => {
  it("on a slow asynchronous store, interleaved calls and refunds never exceed max in the window", async () => {
    const inner = new MemoryStore();
    const delay = () => new Promise<void>((r) => setTimeout(r, Math.floor(Math.random() * 3)));
    const store: Store = {
      async consume(req) {
        await delay();
        return inner.consume(req);
      },
      async refund(req) {
        await delay();
        return inner.refund(req);
      },
    };
    const p = compilePolicy(doc, { store, clock: () => 0 });
    let allowed = 0;
    let given = 0;
    const work: Promise<void>[] = [];
    for (let i = 0; i < 400; i++) {
      work.push(
        (async () => {
          const d = await p.decide({ tool: "w", session: S });
          if (d.outcome !== "allow") return;
          allowed++;
          if (i % 2 === 0) {
            const both = await Promise.all([p.refund(d), p.refund(JSON.parse(JSON.stringify(d)))]);
            expect(both.filter(Boolean)).toHaveLength(1);
            given++;
          }
        })(),
      );
    }
    await Promise.all(work);
    // The store's count is exactly what was allowed and not given back, and never more than max.
    expect(allowed - given).toBeLessThanOrEqual(3);
    const left = await p.peek({ tool: "w", session: S });
    expect(left.outcome === "allow" ? 3 - 1 - left.remaining! : 3).toBe(allowed - given);
  });
});

describe("attack: stores whose refund fails", () => {
  it("a throwing refund rejects with an error that names no store text", async () => {
    const inner = new MemoryStore();
    const store: Store = {
      synchronous: true,
      consume: (r) => inner.consume(r),
      refund() {
        throw new Error("MARKER redis://admin:hunter2@db");
      },
    };
    const p = compilePolicy(doc, { store });
    const d = await p.decide({ tool: "w", session: S });
    const err = await p.refund(d).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).toMatch(/store/);
    expect(String((err as Error).message)).not.toContain("hunter2");
  });

  it("a hanging refund rejects after storeTimeoutMs, and a garbage answer rejects too", async () => {
    const inner = new MemoryStore();
    const hang: Store = { consume: (r) => inner.consume(r), refund: () => new Promise(() => {}) };
    const p = compilePolicy(doc, { store: hang, storeTimeoutMs: 50 });
    const d = await p.decide({ tool: "w", session: S });
    const start = performance.now();
    await expect(p.refund(d)).rejects.toThrow(/store/);
    expect(performance.now() - start).toBeLessThan(5_000);
    for (const answer of [null, {}, { given: "yes" }, { given: [] }, { given: [1] }, { given: [true, true] }]) {
      const g: Store = { consume: (r) => inner.consume(r), refund: () => answer as never };
      const q = compilePolicy(doc, { store: g, namespace: `g${JSON.stringify(answer)}` });
      const dq = await q.decide({ tool: "w", session: S });
      await expect(q.refund(dq)).rejects.toThrow(/store/);
    }
  });

  it("a refundable limit on a store without refund is a TypeError naming the limit", () => {
    const inner = new MemoryStore();
    expect(() => compilePolicy(doc, { store: { consume: (r) => inner.consume(r) } })).toThrow(/\/tools\/w\/rate_limit/);
  });
});
