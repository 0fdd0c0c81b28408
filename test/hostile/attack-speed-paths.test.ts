/**
 * Attacks on the 0.2 speed work: MemoryStore's linked-list LRU and its direct path, the engine's
 * one-promise asynchronous decisions and their deadlines, and RedisStore's split batches, shared
 * shapes and appended string budgets (compared with MemoryStore against a real redis-server).
 */

import {
  compilePolicy,
  MemoryStore,
  type BudgetRequest,
  type ConsumeRequest,
  type ConsumeResult,
  type Decision,
  type DecisionEvent,
  type PolicyDocument,
  type RefundRequest,
  type Store,
  type SyncStore,
  type ToolCall,
} from "toolgate";
import type { Redis } from "ioredis";
import { RedisStore } from "toolgate/redis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
// The store's direct path is internal: the model test drives the source's MemoryStore through it
// (under the default config "toolgate" is the built package, whose class is another one).
import { directBudgetOf, MemoryStore as SourceMemoryStore } from "../../src/stores/memory.js";
import { rng, pick } from "../helpers/random.js";
import { closeClient, connectIORedis, describeWithRedis } from "../helpers/redis-server.js";

/** A one-unit, per-session, non-refundable budget of one call a minute. */
const unitBudget = (key: string): BudgetRequest => ({
  key,
  max: 1,
  windowMs: 60_000,
  cost: 1,
  refundable: false,
  shared: false,
});

const plain = (r: ConsumeResult) =>
  r.allowed
    ? r.entries === undefined
      ? { allowed: true, remaining: [...r.remaining] }
      : { allowed: true, remaining: [...r.remaining], entries: [...r.entries] }
    : { allowed: false, retryAfterMs: [...r.retryAfterMs] };

// ---------------------------------------------------------------------------------------------
// 1. MemoryStore: eviction, LRU lists, refunds after eviction, against a model of docs/stores.md
// ---------------------------------------------------------------------------------------------

interface ModelEntry {
  t: number;
  units: number;
}
interface ModelBudget {
  key: string;
  windowMs: number;
  shared: boolean;
  refundable: boolean;
  entries: ModelEntry[];
  last: number;
}
interface Ticket {
  key: string;
  entry: string;
  budget: ModelBudget;
  e: ModelEntry;
}

/**
 * docs/stores.md "Eviction", written as plainly as possible: a Map per class kept in use order
 * (delete + set), empty budgets first, then the least recently used per-session budget, shared only
 * for a new shared one, never a budget of the call (new or old); room for all of a call's new
 * budgets is made before anything is counted (drops made for the new shared ones first), and a call
 * that cannot have it throws having counted nothing.
 */
class ModelStore {
  readonly budgets = new Map<string, ModelBudget>();
  readonly sessions = new Map<string, ModelBudget>();
  readonly shared = new Map<string, ModelBudget>();
  constructor(readonly maxKeys: number) {}

  listOf(b: ModelBudget): Map<string, ModelBudget> {
    return b.shared ? this.shared : this.sessions;
  }

  use(r: BudgetRequest): ModelBudget | undefined {
    const b = this.budgets.get(r.key);
    if (b === undefined) return undefined;
    this.listOf(b).delete(b.key);
    b.windowMs = r.windowMs;
    b.shared = r.shared === true;
    b.refundable = r.refundable === true;
    this.listOf(b).set(b.key, b);
    return b;
  }

  unitsIn(b: ModelBudget, t: number): number {
    const edge = t - b.windowMs;
    let u = 0;
    for (const e of b.entries) if (e.t > edge) u += e.units;
    return u;
  }

  wait(b: ModelBudget, max: number, cost: number, now: number): number {
    const t = Math.max(now, b.last);
    const edge = t - b.windowMs;
    const live = b.entries.filter((e) => e.t > edge);
    let used = live.reduce((s, e) => s + e.units, 0);
    if (used + cost <= max) return 0;
    for (const e of live) {
      used -= e.units;
      if (used + cost <= max) return Math.max(1, Math.ceil(e.t + b.windowMs - now));
    }
    throw new Error("model: unreachable");
  }

  /** What the doc's eviction would drop for a new budget, or "throw". */
  victim(forShared: boolean, now: number, pinned: Set<ModelBudget>): ModelBudget | "throw" {
    for (const b of this.budgets.values()) if (!pinned.has(b) && b.last + b.windowMs <= now) return b;
    for (const b of this.sessions.values()) if (!pinned.has(b)) return b;
    if (forShared) for (const b of this.shared.values()) if (!pinned.has(b)) return b;
    return "throw";
  }

  drop(b: ModelBudget): void {
    this.budgets.delete(b.key);
    this.listOf(b).delete(b.key);
  }

  /** The store's `consume` as the doc describes it; "throw" where it must throw. */
  consume(rs: BudgetRequest[], now: number, dryRun: boolean): { result: ConsumeResult | "throw"; made: ModelEntry[] } {
    const found = rs.map((r) => this.use(r));
    const waits = rs.map((r, i) =>
      found[i] === undefined || r.cost === 0 ? 0 : this.wait(found[i], r.max, r.cost, now),
    );
    if (waits.some((w) => w > 0)) return { result: { allowed: false, retryAfterMs: waits }, made: [] };
    const remaining: number[] = new Array<number>(rs.length).fill(0);
    const made: ModelEntry[] = [];
    let entries: (string | null)[] | undefined;
    const pinned = new Set<ModelBudget>(found.filter((b): b is ModelBudget => b !== undefined));
    if (!dryRun) {
      const fresh = rs.filter((r, i) => found[i] === undefined && r.cost > 0);
      if (fresh.length > this.maxKeys) return { result: "throw", made: [] };
      let shared = fresh.filter((r) => r.shared === true).length;
      while (this.budgets.size + fresh.length > this.maxKeys) {
        const v = this.victim(shared > 0, now, pinned);
        if (v === "throw") return { result: "throw", made: [] };
        this.drop(v);
        if (shared > 0) shared--;
      }
    }
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < rs.length; i++) {
        const r = rs[i]!;
        let b = found[i];
        if ((b === undefined) !== (pass === 1)) continue;
        if (r.refundable === true && !dryRun) entries ??= new Array<string | null>(rs.length).fill(null);
        if (dryRun || r.cost === 0) {
          const u = b === undefined ? 0 : this.unitsIn(b, Math.max(now, b.last));
          remaining[i] = Math.max(0, r.max - u - r.cost);
          continue;
        }
        if (b === undefined) {
          b = {
            key: r.key,
            windowMs: r.windowMs,
            shared: r.shared === true,
            refundable: r.refundable === true,
            entries: [],
            last: now,
          };
          this.budgets.set(b.key, b);
          this.listOf(b).set(b.key, b);
          pinned.add(b);
        }
        const t = Math.max(now, b.last);
        // A count forgets, for good, what is at or before its window's edge (as the store trims).
        const edge = t - b.windowMs;
        for (const old of b.entries) if (old.t <= edge) old.units = 0;
        b.entries = b.entries.filter((old) => old.t > edge);
        const e = { t, units: r.cost };
        b.entries.push(e);
        b.last = t;
        made[i] = e;
        remaining[i] = r.max - this.unitsIn(b, t);
        if (entries !== undefined && r.refundable === true) entries[i] = "?";
      }
    }
    return {
      result: entries === undefined ? { allowed: true, remaining } : { allowed: true, remaining, entries },
      made,
    };
  }

  refund(t: Ticket, now: number): boolean {
    const b = this.budgets.get(t.key);
    if (b !== t.budget || !b.refundable || !b.entries.includes(t.e)) return false;
    const edge = Math.max(now, b.last) - b.windowMs;
    if (t.e.t <= edge || t.e.units === 0) return false;
    t.e.units = 0;
    return true;
  }

  /** Whether dropping some empty budget now is a choice the model cannot mirror exactly. */
  emptyChoice(now: number, pinned: Set<ModelBudget>): boolean {
    let n = 0;
    for (const b of this.budgets.values()) if (!pinned.has(b) && b.last + b.windowMs <= now) n++;
    return n > 1;
  }
}

describe("attack: MemoryStore eviction and LRU lists against a model of docs/stores.md", () => {
  it("never drops a budget of the call being counted, even one the call itself just made (Eviction rule 4)", () => {
    // maxKeys 2, one budget held (A). A call on A, B and C: A is counted first, then B is made
    // (room: 2), then C needs room: the only candidates are A and B, both the call's own.
    const store = new MemoryStore({ maxKeys: 2 });
    const req = unitBudget;
    expect(store.consume({ namespace: "n", dryRun: false, budgets: [req("A")], now: 0 }).allowed).toBe(true);
    let threw = false;
    let r: ConsumeResult | undefined;
    try {
      r = store.consume({
        namespace: "n",
        dryRun: false,
        budgets: [{ ...req("A"), max: 5 }, req("B"), req("C")],
        now: 1,
      });
    } catch {
      threw = true;
    }
    if (!threw) {
      // Allowed: then every budget of the call holds its unit, so a second call on B must wait.
      expect(r!.allowed).toBe(true);
      const again = store.consume({ namespace: "n", budgets: [req("B")], now: 2, dryRun: true });
      expect(plain(again), "B was counted by the call, then dropped for the call's C").toEqual({
        allowed: false,
        retryAfterMs: [59_999],
      });
    }
  });

  it("maxKeys 1: a call with two new budgets either fails or keeps both (it cannot keep both)", () => {
    const store = new MemoryStore({ maxKeys: 1 });
    const req = unitBudget;
    // Two budgets cannot be kept in a store of one: the call must be refused as a store failure,
    // never allowed with one of its budgets forgotten.
    let r: ConsumeResult | undefined;
    try {
      r = store.consume({ namespace: "n", dryRun: false, budgets: [req("X"), req("Y")], now: 0 });
    } catch {
      return; // the documented outcome
    }
    expect(r.allowed).toBe(true);
    const x = store.consume({ namespace: "n", budgets: [req("X")], now: 1, dryRun: true });
    expect(plain(x), "X was counted by the call, then dropped to make room for the call's Y").toEqual({
      allowed: false,
      retryAfterMs: [59_999],
    });
  });

  for (const maxKeys of [1, 2, 3, 5]) {
    it(`mixed calls, dry runs, refusals, moves and refunds match the model (maxKeys ${maxKeys})`, () => {
      for (let seed = 1; seed <= 60; seed++) {
        const r = rng(seed * 7919 + maxKeys);
        const store = new SourceMemoryStore({ maxKeys });
        const direct = directBudgetOf(store)!;
        const model = new ModelStore(maxKeys);
        const long = "L".repeat(300);
        const keys = ["a", "b", "c", "d", `${long}1`, `${long}2`];
        const tickets: Ticket[] = [];
        let now = 1_000;
        const log: string[] = [];
        for (let step = 0; step < 80; step++) {
          now += pick(r, [0, 0, 1, 5, 50, 400, 1_000]);
          const op = r();
          if (op < 0.15 && tickets.length > 0) {
            const t = pick(r, tickets);
            const copy = JSON.parse(JSON.stringify({ key: t.key, entry: t.entry })) as { key: string; entry: string };
            const want = model.refund(t, now);
            const got = store.refund({ namespace: "n", entries: [copy], now }).given[0];
            log.push(`refund ${t.key.slice(-3)}#${t.entry} @${now} -> ${got}`);
            expect(got, `seed ${seed}\n${log.join("\n")}`).toBe(want);
            continue;
          }
          if (op < 0.2) {
            store.clear();
            for (const b of [...model.budgets.values()]) model.drop(b);
            log.push("clear");
            continue;
          }
          const n = op < 0.75 ? 1 : op < 0.9 ? 2 : 3;
          const chosen = [...keys].sort(() => r() - 0.5).slice(0, n);
          const rs: BudgetRequest[] = chosen.map((key) => {
            // Most keys keep their window and class; now and then one moves group and list.
            const moved = r() < 0.1;
            const k = keys.indexOf(key);
            const max = pick(r, [1, 2, 3]);
            return {
              key,
              max,
              windowMs: moved ? pick(r, [500, 3_000]) : [500, 3_000, 3_000, 500, 3_000, 500][k]!,
              cost: Math.min(max, pick(r, [1, 1, 1, 0, 2])),
              shared: moved ? r() < 0.5 : k % 3 === 2,
              refundable: moved ? r() < 0.5 : k % 2 === 0,
            };
          });
          const dryRun = r() < 0.2;
          // Which empty budget goes first is the store's choice among several: skip the calls
          // where the model could not tell (they differ only in which empty budget is kept).
          const existing = new Set(rs.map((q) => model.budgets.get(q.key)).filter((b) => b !== undefined));
          const newOnes = rs.filter((q) => !model.budgets.has(q.key) && q.cost > 0 && !dryRun).length;
          if (newOnes > 0 && model.budgets.size >= maxKeys && model.emptyChoice(now, existing)) continue;
          const want = model.consume(rs, now, dryRun);
          let got: ConsumeResult | "throw";
          const viaDirect = n === 1 && r() < 0.5;
          try {
            if (viaDirect) {
              const q = rs[0]!;
              const v = direct.consume(
                q.key,
                q.max,
                q.windowMs,
                q.cost,
                q.shared === true,
                q.refundable === true,
                now,
                dryRun,
              );
              got =
                v < 0
                  ? { allowed: false, retryAfterMs: [-v] }
                  : q.refundable && !dryRun
                    ? { allowed: true, remaining: [v], entries: [q.cost > 0 ? direct.entry() : null] }
                    : { allowed: true, remaining: [v] };
            } else got = store.consume({ namespace: "n", budgets: rs, now, dryRun });
          } catch {
            got = "throw";
          }
          const show = (x: ConsumeResult | "throw") => {
            if (x === "throw" || !x.allowed || x.entries === undefined) return x === "throw" ? x : plain(x);
            return { ...plain(x), entries: x.entries.map((e) => (e === null ? null : "?")) };
          };
          log.push(
            `${viaDirect ? "direct" : "consume"} ` +
              JSON.stringify(rs.map((q) => [q.key.slice(-3), q.max, q.windowMs, q.cost, q.shared, q.refundable])) +
              ` dry=${dryRun} @${now} -> ${JSON.stringify(show(got))}`,
          );
          expect(show(got), `seed ${seed}\n${log.join("\n")}`).toEqual(show(want.result));
          expect(store.size).toBe(model.budgets.size);
          if (got !== "throw" && got.allowed && got.entries !== undefined) {
            got.entries.forEach((id, i) => {
              const e = want.made[i];
              if (id !== null && e !== undefined)
                tickets.push({ key: rs[i]!.key, entry: id, budget: model.budgets.get(rs[i]!.key)!, e });
            });
          }
        }
      }
    });
  }

  it("a ticket of an evicted budget never refunds the newer budget under the same key, nor after clear()", () => {
    const store = new MemoryStore({ maxKeys: 1 });
    const policy = compilePolicy(
      { version: "1", default: "allow", tools: { t: { rate_limit: { max: 1, window: "1h", refund: "on_error" } } } },
      { store, clock: () => 1_000 },
    );
    const a1 = policy.decideSync({ tool: "t", session: { id: "a" } });
    expect(a1.outcome).toBe("allow");
    // b evicts a; a comes back (evicting b) and is counted afresh.
    expect(policy.decideSync({ tool: "t", session: { id: "b" } }).outcome).toBe("allow");
    const a2 = policy.decideSync({ tool: "t", session: { id: "a" } });
    expect(a2.outcome).toBe("allow");
    return (async () => {
      expect(await policy.refund(JSON.parse(JSON.stringify(a1)))).toBe(false);
      expect(policy.decideSync({ tool: "t", session: { id: "a" } }).outcome).toBe("rate_limited");
      store.clear();
      const a3 = policy.decideSync({ tool: "t", session: { id: "a" } });
      expect(a3.outcome).toBe("allow");
      expect(await policy.refund(a2)).toBe(false);
      expect(policy.decideSync({ tool: "t", session: { id: "a" } }).outcome).toBe("rate_limited");
      expect(await policy.refund(a3)).toBe(true);
      expect(await policy.refund(a3)).toBe(false);
      expect(policy.decideSync({ tool: "t", session: { id: "a" } }).outcome).toBe("allow");
    })();
  });

  it("one store shared by two compiled policies: one LRU order across both, shared budgets kept", () => {
    const store = new MemoryStore({ maxKeys: 3 });
    let now = 0;
    const clock = () => now;
    const doc = (per: "session" | "global"): PolicyDocument => ({
      version: "1",
      default: "allow",
      tools: { t: { rate_limit: { max: 1, window: "1h", per } } },
    });
    const p1 = compilePolicy(doc("global"), { store, clock, namespace: "p1" });
    const p2 = compilePolicy(doc("session"), { store, clock, namespace: "p2" });
    expect(p1.decideSync({ tool: "t", session: { id: "x" } }).outcome).toBe("allow");
    now = 1;
    expect(p2.decideSync({ tool: "t", session: { id: "s1" } }).outcome).toBe("allow");
    now = 2;
    expect(p2.decideSync({ tool: "t", session: { id: "s2" } }).outcome).toBe("allow");
    now = 3;
    // s1 refused (a use): s2 becomes the least recently used per-session budget.
    expect(p2.decideSync({ tool: "t", session: { id: "s1" } }).outcome).toBe("rate_limited");
    now = 4;
    expect(p2.decideSync({ tool: "t", session: { id: "s3" } }).outcome).toBe("allow");
    expect(p2.decideSync({ tool: "t", session: { id: "s1" } }).outcome).toBe("rate_limited");
    expect(p1.decideSync({ tool: "t", session: { id: "y" } }).outcome).toBe("rate_limited");
    // s2 was dropped: it starts again (dropping s1, the least recently used now).
    expect(p2.decideSync({ tool: "t", session: { id: "s2" } }).outcome).toBe("allow");
    expect(store.size).toBe(3);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. The engine's direct path decides exactly as the general path
// ---------------------------------------------------------------------------------------------

/** A synchronous store that is not a MemoryStore: the engine asks it through request objects. */
function wrapper(inner: MemoryStore): SyncStore & { calls: number } {
  const w = {
    synchronous: true as const,
    calls: 0,
    consume: (r: ConsumeRequest) => {
      w.calls++;
      return inner.consume(r);
    },
    refund: (r: RefundRequest) => inner.refund(r),
  };
  return w;
}

type Fault = "none" | "throws" | "nan" | "string";

function faultyClock(state: { now: number; fault: Fault }): () => number {
  return () => {
    if (state.fault === "throws") throw new Error("clock down");
    if (state.fault === "nan") return Number.NaN;
    if (state.fault === "string") return "12" as unknown as number;
    return state.now;
  };
}

const DIRECT_DOCS: Record<string, PolicyDocument> = {
  session: {
    version: "1",
    default: "deny",
    tools: {
      t: { rate_limit: { max: 2, window: "1s" } },
      r: { rate_limit: { max: 2, window: "2s", refund: "on_error" }, reason: "slow down" },
      w: { rate_limit: { max: 5, window: "1s", cost: 2 } },
      z: { rate_limit: { max: 3, window: "1s", cost: 0, refund: "on_error" } },
    },
  },
  attribute: {
    version: "1",
    default: { rate_limit: { max: 3, window: 1.5, per: "/tenant" } },
    tools: {
      g: { rate_limit: { max: 2, window: "1s", per: "global", refund: "on_error" } },
      n: { rate_limit: { max: 2, window: "1s", per: "/org/id", cost: 0.5 } },
      s: { rate_limit: { max: 1, window: "1s" } },
    },
  },
  shared: {
    version: "1",
    default: "allow",
    tools: {
      q: { rate_limit: { max: 3, window: "1s", per: "/tenant", id: "quota", refund: "on_error" } },
      p: { rate_limit: { max: 3, window: "1s", per: "/tenant", id: "quota" } },
      m: {
        rate_limit: [
          { max: 2, window: "1s" },
          { max: 3, window: "1s", per: "/tenant", id: "quota" },
        ],
      },
    },
  },
};

const SESSIONS: Record<string, unknown>[] = [
  { id: "s1", tenant: "acme", org: { id: 1 } },
  { id: "s2", tenant: "globex", org: { id: "x" } },
  { id: "s3", tenant: 7 },
  { id: "s4" },
  { id: "s5", tenant: "", org: { id: Number.NaN } },
  { id: "x".repeat(300), tenant: "y".repeat(400), org: { id: "z".repeat(300) } },
];

describe("attack: the direct path decides exactly as the general path", () => {
  // A failed clock's event is dated by Date.now: frozen, so both paths' events can be compared.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"], now: 42 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  for (const [name, doc] of Object.entries(DIRECT_DOCS)) {
    for (const options of [
      { maxKeys: 1_000 },
      { maxKeys: 2 },
      { maxKeys: 2, failOpen: true },
      { maxKeys: 3, mode: "shadow" as const },
      { maxKeys: 1, mode: "shadow" as const, failOpen: true },
    ]) {
      it(`${name} policy, ${JSON.stringify(options)}: decisions, events, explain, peek, refunds`, async () => {
        const tools = Object.keys(doc.tools).concat(["other"]);
        for (let seed = 1; seed <= 12; seed++) {
          const r = rng(seed * 31 + options.maxKeys);
          const state = { now: 1_700_000_000_000.25, fault: "none" as Fault };
          const directStore = new MemoryStore({ maxKeys: options.maxKeys });
          const general = wrapper(new MemoryStore({ maxKeys: options.maxKeys }));
          const eventsD: DecisionEvent[] = [];
          const eventsG: DecisionEvent[] = [];
          const common = { clock: faultyClock(state), failOpen: options.failOpen, mode: options.mode };
          const pd = compilePolicy(doc, { ...common, store: directStore, onDecision: (e) => eventsD.push(e) });
          // Watched after compiling (the engine chose the direct path then): directStore's
          // consume must never be asked about a call of one limit.
          const asked = vi.spyOn(directStore, "consume");
          const pg = compilePolicy(doc, { ...common, store: general, onDecision: (e) => eventsG.push(e) });
          const decisionsD: Decision[] = [];
          const decisionsG: Decision[] = [];
          const trail: string[] = [];
          for (let step = 0; step < 60; step++) {
            state.now += pick(r, [0, 0.5, 1, 333.3, 999, 1_000, 1_500]);
            state.fault = r() < 0.08 ? pick(r, ["throws", "nan", "string"] as const) : "none";
            const call = { tool: pick(r, tools), session: pick(r, SESSIONS) } as ToolCall;
            const op = pick(r, ["sync", "sync", "decide", "peek", "explain", "refund", "refund"] as const);
            trail.push(`${op} ${call.tool} ${String(call.session.id).slice(0, 4)} @${state.now} ${state.fault}`);
            const at = `seed ${seed}\n${trail.join("\n")}`;
            if (op === "refund") {
              if (decisionsD.length === 0) continue;
              const i = Math.floor(r() * decisionsD.length);
              const copy = r() < 0.5;
              const d = copy ? (JSON.parse(JSON.stringify(decisionsD[i])) as Decision) : decisionsD[i]!;
              const g = copy ? (JSON.parse(JSON.stringify(decisionsG[i])) as Decision) : decisionsG[i]!;
              const [a, b] = await Promise.allSettled([pd.refund(d), pg.refund(g)]);
              expect(a.status, at).toBe(b.status);
              if (a.status === "fulfilled" && b.status === "fulfilled") expect(a.value, at).toBe(b.value);
            } else if (op === "explain") {
              const [a, b] = await Promise.all([pd.explain(call), pg.explain(call)]);
              expect(a, at).toEqual(b);
            } else if (op === "peek") {
              const [a, b] = await Promise.all([pd.peek(call), pg.peek(call)]);
              expect(a, at).toEqual(b);
            } else {
              const a = op === "sync" ? pd.decideSync(call) : await pd.decide(call);
              const b = op === "sync" ? pg.decideSync(call) : await pg.decide(call);
              expect(a, at).toEqual(b);
              decisionsD.push(a);
              decisionsG.push(b);
            }
            expect(eventsD, at).toEqual(eventsG);
          }
          for (const [request] of asked.mock.calls) expect(request.budgets.length).toBeGreaterThan(1);
          asked.mockRestore();
        }
      });
    }
  }

  it("an observed event's time is its decision's own clock reading, after direct peek and explain", async () => {
    let now = 1_000;
    let reads = 0;
    const events: DecisionEvent[] = [];
    const policy = compilePolicy(DIRECT_DOCS.session!, {
      clock: () => {
        reads++;
        return now;
      },
      onDecision: (e) => events.push(e),
    });
    const call = { tool: "t", session: { id: "s" } };
    await policy.peek(call);
    now = 2_000;
    policy.decideSync({ tool: "other", session: { id: "s" } }); // no store: the event reads the clock
    expect(events.at(-1)!.time).toBe(2_000);
    now = 3_000;
    await policy.explain(call);
    now = 4_000;
    await policy.decide({ tool: "other", session: { id: "s" } });
    expect(events.at(-1)!.time).toBe(4_000);
    now = 5_000;
    const d = policy.decideSync(call);
    expect(d.outcome).toBe("allow");
    expect(events.at(-1)!.time).toBe(5_000);
    now = 6_000;
    // A decision without observers' delivery (malformed) right after a direct one.
    policy.decideSync({ tool: 5 } as never);
    expect(events.at(-1)!.time).toBe(6_000);
    expect(reads).toBeGreaterThan(0);
  });

  it("a MemoryStore subclass that overrides consume is asked through it, and one that does not is direct", () => {
    class Counting extends MemoryStore {
      calls = 0;
      override consume(r: ConsumeRequest): ConsumeResult {
        this.calls++;
        return super.consume(r);
      }
    }
    class Refusing extends MemoryStore {
      override consume(r: ConsumeRequest): ConsumeResult {
        return { allowed: false, retryAfterMs: r.budgets.map(() => 7) };
      }
    }
    class Plain extends MemoryStore {}
    const counting = new Counting();
    const p = compilePolicy(DIRECT_DOCS.session!, { store: counting });
    p.decideSync({ tool: "t", session: { id: "s" } });
    p.decideSync({ tool: "t", session: { id: "s" } });
    expect(counting.calls).toBe(2);
    const refusing = compilePolicy(DIRECT_DOCS.session!, { store: new Refusing() });
    const d = refusing.decideSync({ tool: "t", session: { id: "s" } });
    expect(d.outcome).toBe("rate_limited");
    expect(d.outcome === "rate_limited" && d.retryAfterMs).toBe(7);
    const plain = new Plain();
    const plainPolicy = compilePolicy(DIRECT_DOCS.session!, { store: plain });
    // Watched after compiling: a subclass that keeps MemoryStore's consume takes the direct path.
    const asked = vi.spyOn(plain, "consume");
    expect(plainPolicy.decideSync({ tool: "t", session: { id: "s" } }).outcome).toBe("allow");
    expect(asked).not.toHaveBeenCalled();
  });

  it("a full store of live shared budgets refuses a new per-session budget as a store failure on both paths", () => {
    const doc: PolicyDocument = {
      version: "1",
      default: "allow",
      tools: {
        a: { rate_limit: { max: 5, window: "1h", per: "/tenant" } },
        b: { rate_limit: { max: 5, window: "1h" } },
      },
    };
    for (const failOpen of [false, true]) {
      const direct = compilePolicy(doc, { store: new MemoryStore({ maxKeys: 2 }), clock: () => 0, failOpen });
      const general = compilePolicy(doc, { store: wrapper(new MemoryStore({ maxKeys: 2 })), clock: () => 0, failOpen });
      for (const p of [direct, general]) {
        p.decideSync({ tool: "a", session: { id: "x", tenant: "t1" } });
        p.decideSync({ tool: "a", session: { id: "x", tenant: "t2" } });
      }
      const d = direct.decideSync({ tool: "b", session: { id: "new" } });
      const g = general.decideSync({ tool: "b", session: { id: "new" } });
      expect(d).toEqual(g);
      expect(d.outcome).toBe(failOpen ? "allow" : "deny");
      if (d.outcome === "deny") expect(d.cause).toBe("store_failure");
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Asynchronous decisions: one promise each, deadlines in a linked list
// ---------------------------------------------------------------------------------------------

const ASYNC_DOC: PolicyDocument = {
  version: "1",
  default: "allow",
  tools: { t: { rate_limit: { max: 5, window: "1m", refund: "on_error" } } },
};
const CALL = { tool: "t", session: { id: "s" } };

/** An asynchronous store whose consume answers whatever `answer` returns for the call. */
function asyncStore(answer: (r: ConsumeRequest, i: number) => unknown): Store {
  let i = 0;
  return {
    consume: (r: ConsumeRequest) => answer(r, i++) as Promise<ConsumeResult>,
    refund: () => Promise.resolve({ given: [true] }),
  };
}

/** Settles `p` into a record, so a test can see whether (and how) it settled. */
function track<T>(p: Promise<T>): { state: "pending" | "fulfilled" | "rejected"; value?: T; error?: unknown } {
  const t: { state: "pending" | "fulfilled" | "rejected"; value?: T; error?: unknown } = { state: "pending" };
  p.then(
    (v) => {
      t.state = "fulfilled";
      t.value = v;
    },
    (e: unknown) => {
      t.state = "rejected";
      t.error = e;
    },
  );
  return t;
}

describe("attack: asynchronous decisions and their deadlines", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("a store promise whose own then() throws: decide resolves to a store-failure deny, observed once", async () => {
    const events: DecisionEvent[] = [];
    const store = asyncStore(() => {
      const p = Promise.resolve({ allowed: true, remaining: [4], entries: ["1"] });
      void Object.defineProperty(p, "then", {
        value: () => {
          throw new Error("then exploded");
        },
      });
      return p;
    });
    vi.useFakeTimers();
    const policy = compilePolicy(ASYNC_DOC, { store, storeTimeoutMs: 100, onDecision: (e) => events.push(e) });
    const t = track(policy.decide(CALL));
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(500);
    expect(t.state, `decide rejected with ${String(t.error)}`).toBe("fulfilled");
    expect(t.value).toMatchObject({ outcome: "deny", cause: "store_failure" });
    expect(events.length).toBe(1);
    expect(events[0]!.decision).toEqual(t.value);
  });

  it("a store promise whose constructor getter throws: decide resolves to a store-failure deny, once", async () => {
    const events: DecisionEvent[] = [];
    const store = asyncStore(() => {
      const p = Promise.resolve({ allowed: true, remaining: [4], entries: ["1"] });
      void Object.defineProperty(p, "constructor", {
        get() {
          throw new Error("constructor exploded");
        },
      });
      return p;
    });
    vi.useFakeTimers();
    const policy = compilePolicy(ASYNC_DOC, { store, storeTimeoutMs: 100, onDecision: (e) => events.push(e) });
    const t = track(policy.decide(CALL));
    await vi.advanceTimersByTimeAsync(500);
    expect(t.state, `decide rejected with ${String(t.error)}`).toBe("fulfilled");
    expect(t.value).toMatchObject({ outcome: "deny", cause: "store_failure" });
    expect(
      events.map((e) => e.decision),
      "one event, for the decision the caller got",
    ).toEqual([t.value]);
  });

  it("never, late, non-Error rejections, throwing thenables: every decide settles once, rightly", async () => {
    vi.useFakeTimers();
    const late: ((v: unknown) => void)[] = [];
    const hostile = new Proxy(
      {},
      {
        getPrototypeOf() {
          throw new Error("trap");
        },
        get() {
          throw new Error("trap");
        },
      },
    );
    const kinds = [
      () => new Promise(() => {}), // never
      () => new Promise((resolve) => late.push(resolve)), // after the timeout
      () => Promise.reject(undefined), // eslint-disable-line @typescript-eslint/prefer-promise-reject-errors
      () => Promise.reject(42), // eslint-disable-line @typescript-eslint/prefer-promise-reject-errors
      () => Promise.reject(hostile), // eslint-disable-line @typescript-eslint/prefer-promise-reject-errors
      () => ({
        then() {
          throw new Error("thenable throws");
        },
      }),
      () => ({
        then(ok: (v: unknown) => void, fail: (e: unknown) => void) {
          ok({ allowed: true, remaining: [1], entries: ["7"] });
          fail(new Error("and then fails"));
          ok({ allowed: false, retryAfterMs: [5] });
        },
      }),
      () => Promise.resolve({ allowed: false, retryAfterMs: [1234] }),
      () => new Promise((resolve) => setTimeout(() => resolve({ allowed: true, remaining: [2], entries: [""] }), 50)),
      () => new Promise((resolve) => setTimeout(() => resolve({ allowed: true, remaining: [2], entries: ["9"] }), 99)),
    ];
    for (const failOpen of [false, true]) {
      const events: DecisionEvent[] = [];
      let observerCalls = 0;
      const store = asyncStore((_r, i) => kinds[i % kinds.length]!());
      const policy = compilePolicy(ASYNC_DOC, {
        store,
        storeTimeoutMs: 100,
        failOpen,
        onDecision: (e) => {
          observerCalls++;
          events.push(e);
          if (observerCalls % 3 === 0) throw new Error("observer throws");
        },
      });
      const tracked = Array.from({ length: 30 }, () => track(policy.decide(CALL)));
      await vi.advanceTimersByTimeAsync(99);
      await vi.advanceTimersByTimeAsync(1);
      await vi.advanceTimersByTimeAsync(1);
      for (const resolve of late.splice(0)) resolve({ allowed: true, remaining: [3], entries: ["5"] });
      await vi.advanceTimersByTimeAsync(1_000);
      const outcomes = tracked.map((t, i) => {
        expect(t.state, `call ${i} (kind ${i % kinds.length}): ${String(t.error)}`).toBe("fulfilled");
        return t.value!;
      });
      tracked.forEach((t, i) => {
        const d = t.value!;
        const kind = i % kinds.length;
        if (kind === 7) expect(d).toMatchObject({ outcome: "rate_limited", retryAfterMs: 1234 });
        else if (kind === 6) expect(d).toMatchObject({ outcome: "allow", remaining: 1 });
        else if (kind === 9) expect(d).toMatchObject({ outcome: "allow", remaining: 2 });
        else if (kind === 8)
          expect(d.outcome).toBe(failOpen ? "allow" : "deny"); // entry "" is ill-formed
        else if (failOpen) expect(d).toMatchObject({ outcome: "allow", failedOpen: true });
        else expect(d).toMatchObject({ outcome: "deny", cause: "store_failure" });
      });
      expect(observerCalls).toBe(30);
      // Observed in the order they settled: the same decisions, each once.
      const sorted = (ds: Decision[]) => ds.map((d) => JSON.stringify(d)).sort();
      expect(sorted(events.map((e) => e.decision))).toEqual(sorted(outcomes));
    }
  });

  it("a refund whose store rejects with a hostile object settles (rejects) instead of hanging", async () => {
    vi.useFakeTimers();
    const hostile = new Proxy(
      {},
      {
        getPrototypeOf() {
          throw new Error("trap");
        },
      },
    );
    const store: Store = {
      consume: () => Promise.resolve({ allowed: true, remaining: [4], entries: ["1"] }),
      refund: () => Promise.reject(hostile), // eslint-disable-line @typescript-eslint/prefer-promise-reject-errors
    };
    const policy = compilePolicy(ASYNC_DOC, { store, storeTimeoutMs: 100 });
    const d = await policy.decide(CALL);
    expect(d.outcome === "allow" && d.refund !== undefined).toBe(true);
    const t = track(policy.refund(d));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.state, "policy.refund is still pending long after storeTimeoutMs").toBe("rejected");
  });

  it("storeTimeoutMs expiry: a burst of never-answering calls all time out on time, none early", async () => {
    vi.useFakeTimers();
    const policy = compilePolicy(ASYNC_DOC, { store: asyncStore(() => new Promise(() => {})), storeTimeoutMs: 250 });
    const first = Array.from({ length: 5 }, () => track(policy.decide(CALL)));
    await vi.advanceTimersByTimeAsync(100);
    const second = Array.from({ length: 5 }, () => track(policy.peek(CALL)));
    await vi.advanceTimersByTimeAsync(149);
    expect(first.every((t) => t.state === "pending")).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(first.every((t) => t.state === "fulfilled")).toBe(true);
    expect(second.every((t) => t.state === "pending")).toBe(true);
    await vi.advanceTimersByTimeAsync(99);
    expect(second.every((t) => t.state === "pending")).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(second.every((t) => t.state === "fulfilled")).toBe(true);
    for (const t of [...first, ...second]) expect(t.value).toMatchObject({ outcome: "deny", cause: "store_failure" });
  });
});

// ---------------------------------------------------------------------------------------------
// 4. RedisStore against MemoryStore on a real redis-server (engine clock)
// ---------------------------------------------------------------------------------------------

/** Entry ids differ in form between the stores: compare whether there is one. */
const shape = (r: ConsumeResult) =>
  r.allowed
    ? r.entries === undefined
      ? { allowed: true, remaining: [...r.remaining] }
      : { allowed: true, remaining: [...r.remaining], entries: r.entries.map((e) => e !== null) }
    : { allowed: false, retryAfterMs: [...r.retryAfterMs] };

interface KeySpec {
  key: string;
  max: number;
  windowMs: number;
  refundable: boolean;
  /** Costs other than 1 (and 0) are used only on weighted keys. */
  weighted: boolean;
}

describeWithRedis("attack: RedisStore's split batches, shared shapes and appended strings", (server) => {
  let io: Redis;
  let run = 0;
  beforeAll(async () => {
    io = await connectIORedis(server());
  });
  afterAll(async () => {
    await closeClient(io);
  });

  it("concurrent rounds of mixed shapes answer exactly as MemoryStore on the same call order", async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const r = rng(seed * 104_729);
      const namespace = `split-${Date.now()}-${++run}`;
      const redis = new RedisStore({ client: io, clock: "engine" });
      const memory = new MemoryStore();
      const specs: KeySpec[] = [
        { key: "u1", max: 3, windowMs: 10_000, refundable: false, weighted: false },
        { key: "u2", max: 200, windowMs: 20_000, refundable: false, weighted: false },
        { key: "u3", max: 140, windowMs: 10_000, refundable: false, weighted: false },
        { key: "w1", max: 7, windowMs: 10_000, refundable: false, weighted: true },
        { key: "r1", max: 5, windowMs: 20_000, refundable: true, weighted: false },
        { key: "r2", max: 9, windowMs: 10_000, refundable: true, weighted: true },
      ];
      let now = 1_700_000_000_000 + seed / 8;
      const tickets: { m: { key: string; entry: string }; r: { key: string; entry: string } }[] = [];
      const trail: string[] = [];
      for (let round = 0; round < 25; round++) {
        now += pick(r, [0, 0.5, 1, 999.75, 5_000, 9_999.5, 10_000, 10_001, 20_000]);
        const calls = pick(r, [1, 2, 15, 16, 17, 33, 64, 300]);
        const requests: ConsumeRequest[] = [];
        for (let c = 0; c < calls; c++) {
          now += pick(r, [0, 0, 0.25, 1, 7]);
          const n = r() < 0.7 ? 1 : pick(r, [2, 3]);
          const chosen = [...specs].sort(() => r() - 0.5).slice(0, n);
          // Busy string budgets: mostly the one-unit keys, so they cross 128 entries while others leave.
          if (n === 1 && r() < 0.5) chosen[0] = specs[pick(r, [1, 2])]!;
          requests.push({
            namespace,
            now,
            dryRun: r() < 0.15,
            budgets: chosen.map((k) => ({
              key: k.key,
              max: k.max,
              windowMs: k.windowMs,
              cost: k.weighted ? pick(r, [0, 1, 2, 3]) : pick(r, [1, 1, 1, 1, 0]),
              refundable: k.refundable,
              shared: false,
            })),
          });
        }
        const got = await Promise.all(requests.map((q) => redis.consume(q)));
        for (const [i, q] of requests.entries()) {
          const want = memory.consume(q);
          const at =
            `seed ${seed} round ${round} call ${i}/${calls}: ${JSON.stringify(q)}\n` + trail.slice(-5).join("\n");
          expect(shape(got[i]!), at).toEqual(shape(want));
          const g = got[i]!;
          if (want.allowed && g.allowed && want.entries !== undefined && g.entries !== undefined) {
            q.budgets.forEach((b, j) => {
              const me = want.entries![j];
              const re = g.entries![j];
              if (me !== null && me !== undefined && re !== null && re !== undefined)
                tickets.push({ m: { key: b.key, entry: me }, r: { key: b.key, entry: re } });
            });
          }
        }
        trail.push(`round ${round}: ${calls} calls to ${now}`);
        // Refunds between rounds, some twice.
        for (let k = 0; k < 3 && tickets.length > 0; k++) {
          const t = pick(r, tickets);
          const m = memory.refund({ namespace, entries: [t.m], now }).given;
          const g = (await redis.refund({ namespace, entries: [t.r], now })).given;
          expect(g, `seed ${seed} round ${round}: refund ${JSON.stringify(t)}`).toEqual(m);
        }
      }
    }
  }, 120_000);

  it("a call with 1024 budgets (some busy, some new) answers as MemoryStore, batched with small calls", async () => {
    const namespace = `wide-${Date.now()}-${++run}`;
    const redis = new RedisStore({ client: io, clock: "engine" });
    const memory = new MemoryStore();
    let now = 5_000.5;
    const wide = (cost: number, dryRun: boolean): ConsumeRequest => ({
      namespace,
      now,
      dryRun,
      budgets: Array.from({ length: 1024 }, (_, i) => ({
        key: `k${i}`,
        max: 2 + (i % 5),
        windowMs: 10_000 + (i % 3) * 10_000,
        cost: i % 7 === 0 ? cost : 1,
        refundable: i % 11 === 0,
        shared: false,
      })),
    });
    const small = (i: number): ConsumeRequest => ({
      namespace,
      now,
      dryRun: false,
      budgets: [
        {
          key: `k${i}`,
          max: 2 + (i % 5),
          windowMs: 10_000 + (i % 3) * 10_000,
          cost: 1,
          refundable: i % 11 === 0,
          shared: false,
        },
      ],
    });
    for (let step = 0; step < 8; step++) {
      now += step % 3 === 0 ? 10_000 : 1.25;
      const qs = [small(step), wide(step % 3, step % 4 === 3), small(1023 - step), wide(1, false), small(step * 7)];
      const got = await Promise.all(qs.map((q) => redis.consume(q)));
      qs.forEach((q, i) => expect(shape(got[i]!), `step ${step} call ${i}`).toEqual(shape(memory.consume(q))));
    }
    await expect(
      redis.consume({
        ...wide(1, false),
        budgets: [
          ...wide(1, false).budgets,
          { key: "x", max: 1, windowMs: 1, cost: 1, refundable: false, shared: false },
        ],
      }),
    ).rejects.toThrow(RangeError);
  }, 60_000);

  it("a one-unit string budget crossing 128 entries as entries leave answers as MemoryStore; PTTL", async () => {
    const namespace = `strings-${Date.now()}-${++run}`;
    const prefix = `${namespace}:`;
    const redis = new RedisStore({ client: io, clock: "engine", prefix });
    const memory = new MemoryStore();
    const windowMs = 30_000;
    let now = 1_000_000;
    for (let i = 0; i < 700; i++) {
      // Bursts at one instant and gaps that let many leave at once, steps that land on the edge.
      now += i % 50 < 40 ? pick(rng(i), [0, 0.5, 100, 199.5]) : pick(rng(i), [windowMs / 3, 1_000, windowMs - 1]);
      const max = i < 350 ? 200 : 130;
      const dryRun = i % 13 === 0;
      const q: ConsumeRequest = {
        namespace,
        now,
        dryRun,
        budgets: [{ key: "busy", max, windowMs, cost: 1, refundable: false, shared: false }],
      };
      const [got, want] = [await redis.consume(q), memory.consume(q)];
      expect(shape(got), `call ${i} at ${now}`).toEqual(shape(want));
    }
    const mine = await io.keys(`${prefix}*`);
    expect(mine.length).toBe(1);
    const pttl = await io.pttl(mine[0]!);
    expect(pttl).toBeGreaterThan(windowMs - 5_000);
    expect(pttl).toBeLessThanOrEqual(windowMs);
  }, 60_000);

  it("after an APPEND the PTTL covers the newest entry's window, even with the engine clock stepped back", async () => {
    const namespace = `ttl-${Date.now()}-${++run}`;
    const prefix = `${namespace}:`;
    const redis = new RedisStore({ client: io, clock: "engine", prefix });
    const windowMs = 20_000;
    const q = (now: number): ConsumeRequest => ({
      namespace,
      now,
      dryRun: false,
      budgets: [{ key: "t", max: 50, windowMs, cost: 1, refundable: false, shared: false }],
    });
    // A string budget: the first count SETs, the next ones APPEND (few entries have left).
    expect((await redis.consume(q(100_000))).allowed).toBe(true);
    expect((await redis.consume(q(100_010))).allowed).toBe(true);
    const [key] = await io.keys(`${prefix}*`);
    if (key === undefined) throw new Error("no key written");
    expect(await io.type(key)).toBe("string");
    expect(await io.strlen(key)).toBe(16);
    // An engine clock 15 s behind: the entry is stamped at the budget's latest time (100,010), so
    // the key must live until that entry leaves: 100,010 + 20,000 - 85,000 = 35,010 ms from now.
    expect((await redis.consume(q(85_000))).allowed).toBe(true);
    expect(await io.strlen(key)).toBe(24);
    const pttl = await io.pttl(key);
    expect(pttl).toBeGreaterThan(35_010 - 5_000);
    expect(pttl).toBeLessThanOrEqual(35_010);
    // Entries that left stay at the head until they are 32 or as many as those inside: then a rewrite.
    let now = 200_000;
    for (let i = 0; i < 40; i++) await redis.consume(q((now += 1)));
    now += windowMs; // all 43 are out: the next count rewrites to one entry
    expect((await redis.consume(q(now))).allowed).toBe(true);
    expect(await io.strlen(key)).toBe(8);
    const pttl2 = await io.pttl(key);
    expect(pttl2).toBeGreaterThan(windowMs - 5_000);
    expect(pttl2).toBeLessThanOrEqual(windowMs);
  }, 30_000);

  it("after SCRIPT FLUSH, a burst split into two batches is decided in call order (NOSCRIPT retries)", async () => {
    for (const calls of [16, 17, 64, 600]) {
      const namespace = `noscript-${Date.now()}-${++run}`;
      const redis = new RedisStore({ client: io });
      await io.script("FLUSH");
      const max = Math.floor(calls / 3);
      const got = await Promise.all(
        Array.from({ length: calls }, (_, i) =>
          redis.consume({
            namespace,
            now: 0,
            dryRun: false,
            // Two shapes, so every call carries its own argument.
            budgets: [{ key: "k", max, windowMs: 60_000, cost: 1, refundable: i % 2 === 0, shared: false }],
          }),
        ),
      );
      expect(
        got.map((r) => r.allowed),
        `${calls} calls`,
      ).toEqual(Array.from({ length: calls }, (_, i) => i < max));
    }
  }, 30_000);
});
