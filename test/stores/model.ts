/**
 * A simple reference model of the store contract (src/store.ts), written for clarity, not speed:
 * every entry ever counted is kept, and every answer is computed from the definitions — units
 * inside `(t - window, t]` at `t = max(now, latest counted time)`, waits until enough units have
 * left, refunds of an entry at most once while it is inside its window. The property tests
 * drive MemoryStore and RedisStore and this model with the same operations and compare.
 */

import fc from "fast-check";
import type { BudgetRequest, ConsumeRequest, ConsumeResult, RefundRequest, RefundResult, Store } from "toolgate";

interface Entry {
  readonly time: number;
  readonly units: number;
  readonly id: string;
  given: boolean;
}

interface ModelBudget {
  last: number;
  readonly entries: Entry[];
}

export class ModelStore {
  readonly budgets = new Map<string, ModelBudget>();
  #ids = 0;

  consume(request: ConsumeRequest): ConsumeResult {
    const { budgets, now, dryRun } = request;
    const used = budgets.map((r) => this.#used(r, now));
    const waits = budgets.map((r, i) => (r.cost > 0 && used[i]! + r.cost > r.max ? this.#wait(r, now, used[i]!) : 0));
    if (waits.some((w) => w > 0)) return { allowed: false, retryAfterMs: waits };
    const remaining = budgets.map((r, i) => Math.max(0, r.max - used[i]! - r.cost));
    if (dryRun) return { allowed: true, remaining };
    const entries = budgets.map((r) => {
      if (r.cost === 0) return null;
      let b = this.budgets.get(r.key);
      if (b === undefined) {
        b = { last: now, entries: [] };
        this.budgets.set(r.key, b);
      }
      const t = Math.max(now, b.last);
      const id = String(this.#ids++);
      b.entries.push({ time: t, units: r.cost, id, given: false });
      b.last = t;
      return r.refundable ? id : null;
    });
    return budgets.some((r) => r.refundable) ? { allowed: true, remaining, entries } : { allowed: true, remaining };
  }

  /** Refunds need each budget's window; the model is told it per key. */
  refund(request: RefundRequest, windows: ReadonlyMap<string, number>): RefundResult {
    return {
      given: request.entries.map(({ key, entry }) => {
        const b = this.budgets.get(key);
        const e = b?.entries.find((x) => x.id === entry);
        if (b === undefined || e === undefined || e.given) return false;
        const t = Math.max(request.now, b.last);
        if (e.time <= t - windows.get(key)!) return false;
        e.given = true;
        return true;
      }),
    };
  }

  #live(r: BudgetRequest, now: number): Entry[] {
    const b = this.budgets.get(r.key);
    if (b === undefined) return [];
    const t = Math.max(now, b.last);
    return b.entries.filter((e) => !e.given && e.time > t - r.windowMs);
  }

  #used(r: BudgetRequest, now: number): number {
    return this.#live(r, now).reduce((sum, e) => sum + e.units, 0);
  }

  #wait(r: BudgetRequest, now: number, used: number): number {
    let left = used;
    for (const e of this.#live(r, now)) {
      left -= e.units;
      if (left + r.cost <= r.max) return Math.max(1, Math.ceil(e.time + r.windowMs - now));
    }
    throw new Error("model: a cost above max reached the wait");
  }

  /** The sliding-window guarantee, checked on everything counted and not given back. */
  windowsHold(budgets: readonly BudgetRequest[]): boolean {
    for (const r of budgets) {
      const entries = (this.budgets.get(r.key)?.entries ?? []).filter((e) => !e.given);
      for (const start of entries) {
        const inWindow = entries.filter((e) => e.time >= start.time && e.time < start.time + r.windowMs);
        if (inWindow.reduce((sum, e) => sum + e.units, 0) > r.max) return false;
      }
    }
    return true;
  }
}

/** One operation of a generated sequence. */
export type Op =
  | { kind: "consume"; dt: number; budgets: number[]; costs: number[]; dryRun: boolean }
  | { kind: "refund"; dt: number; picks: { op: number; budget: number; bogus: boolean }[] };

/** The budgets a sequence draws on: a few keys, one-unit, weighted and micro-unit. */
export function budgetSpecs(windows: readonly number[]): fc.Arbitrary<Omit<BudgetRequest, "cost">[]> {
  const spec = fc.record({
    max: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constantFrom(1_000_000, 2_500_000)),
    windowMs: fc.constantFrom(...windows),
    refundable: fc.boolean(),
    shared: fc.boolean(),
  });
  return fc
    .array(spec, { minLength: 1, maxLength: 3 })
    .map((specs) => specs.map((s, i) => ({ key: `b${i}:${s.max}`, ...s })));
}

/** Time steps: forward (often onto window edges, sometimes fractional), sometimes back. */
export function stepArb(windows: readonly number[]): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(0, 0, 1, 7.5, ...windows.flatMap((w) => [w - 1, w, w + 1, w / 2])) },
    { weight: 1, arbitrary: fc.integer({ min: -2_000, max: -1 }) },
    { weight: 1, arbitrary: fc.double({ min: 0, max: 3, noNaN: true }) },
  );
}

const ANY_COST = fc.oneof(fc.constantFrom(0, 1, 1, 1, 2), fc.constantFrom(100_000, 300_000, 700_000, 1_000_000));

export function opsArb(
  windows: readonly number[],
  budgetCount: number,
  length: number,
  cost: fc.Arbitrary<number> = ANY_COST,
  refunds = true,
): fc.Arbitrary<Op[]> {
  const consume = fc.record({
    kind: fc.constant("consume" as const),
    dt: stepArb(windows),
    budgets: fc.uniqueArray(fc.integer({ min: 0, max: budgetCount - 1 }), { minLength: 1, maxLength: budgetCount }),
    costs: fc.array(cost, { minLength: 3, maxLength: 3 }),
    dryRun: fc.boolean(),
  });
  const refund = fc.record({
    kind: fc.constant("refund" as const),
    dt: stepArb(windows),
    picks: fc.array(fc.record({ op: fc.nat(), budget: fc.nat({ max: 2 }), bogus: fc.boolean() }), {
      minLength: 1,
      maxLength: 3,
    }),
  });
  const op = refunds ? fc.oneof({ weight: 3, arbitrary: consume }, { weight: 1, arbitrary: refund }) : consume;
  return fc.array(op, { minLength: 1, maxLength: length });
}

/** What one step answered, comparable across stores (entry ids are each store's own). */
export type Answer = { consume: ConsumeResult & { entries?: (string | null)[] } } | { refund: boolean[] };

/**
 * Runs a sequence against a store and the model side by side; returns both stores' answers,
 * with entry ids replaced by whether there is one, and whether the window guarantee held.
 */
export async function runBoth(
  store: Store,
  namespace: string,
  specs: Omit<BudgetRequest, "cost">[],
  ops: Op[],
  start: number,
) {
  const model = new ModelStore();
  const windows = new Map(specs.map((s) => [s.key, s.windowMs]));
  const storeIds: (readonly (string | null)[] | undefined)[] = [];
  const modelIds: (readonly (string | null)[] | undefined)[] = [];
  const got: unknown[] = [];
  const want: unknown[] = [];
  let now = start;
  let ok = true;
  for (const op of ops) {
    now = Math.max(0, now + op.dt);
    if (op.kind === "consume") {
      const budgets = op.budgets.map((b, i) => {
        const s = specs[b]!;
        // A cost never above max: one-unit budgets get small costs, micro-unit ones any.
        const raw = op.costs[i]!;
        const cost = s.max < 100 ? Math.min(raw, s.max, 2) : Math.min(raw, s.max);
        return { ...s, cost };
      });
      const request = { namespace, budgets, now, dryRun: op.dryRun };
      const a = await store.consume(request);
      const m = model.consume(request);
      storeIds.push(a.allowed && !op.dryRun ? a.entries : undefined);
      modelIds.push(m.allowed && !op.dryRun ? m.entries : undefined);
      got.push(plain(a, budgets));
      want.push(plain(m, budgets));
      ok &&= model.windowsHold(budgets);
    } else {
      const entries: { key: string; entry: string }[] = [];
      const modelEntries: { key: string; entry: string }[] = [];
      for (const p of op.picks) {
        const index = storeIds.length === 0 ? -1 : p.op % storeIds.length;
        const consumed = ops.filter((o) => o.kind === "consume")[index];
        const budgetIndex =
          consumed?.kind === "consume" ? consumed.budgets[p.budget % consumed.budgets.length] : undefined;
        const key = budgetIndex === undefined ? specs[0]!.key : specs[budgetIndex]!.key;
        const position = consumed?.kind === "consume" ? p.budget % consumed.budgets.length : 0;
        const sid = index < 0 ? null : (storeIds[index]?.[position] ?? null);
        const mid = index < 0 ? null : (modelIds[index]?.[position] ?? null);
        entries.push({ key, entry: p.bogus || sid === null ? `bogus-${p.op}` : sid });
        modelEntries.push({ key, entry: p.bogus || mid === null ? "none" : mid });
      }
      const a = await store.refund!({ namespace, entries, now });
      const m = model.refund({ namespace, entries: modelEntries, now }, windows);
      got.push({ refund: Array.from(a.given) });
      want.push({ refund: m.given });
    }
  }
  return { got, want, ok };
}

function plain(r: ConsumeResult, budgets: readonly BudgetRequest[]): unknown {
  if (!r.allowed) return { allowed: false, retryAfterMs: Array.from(r.retryAfterMs) };
  const anyRefundable = budgets.some((b) => b.refundable);
  const entries = r.entries === undefined ? budgets.map(() => null) : Array.from(r.entries);
  return {
    allowed: true,
    remaining: Array.from(r.remaining),
    // Ids are each store's own: compare where there is one.
    entries: anyRefundable ? entries.map((e) => typeof e === "string" && e.length > 0) : undefined,
  };
}
