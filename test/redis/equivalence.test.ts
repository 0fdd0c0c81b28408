// MemoryStore and RedisStore (on the engine's clock) must give identical answers to the same
// generated call sequences: decisions through compilePolicy, and raw consume results with
// weighted costs and dry runs. Times move forward in steps that land on window edges
// (±1 ms) often. Scale up with TOOLGATE_FUZZ_SEQUENCES (replay with TOOLGATE_FUZZ_SEED).

import fc from "fast-check";
import {
  compilePolicy,
  MemoryStore,
  type BudgetRequest,
  type ConsumeResult,
  type LimitDocument,
  type PolicyDocument,
} from "toolgate";
import { RedisStore } from "toolgate/redis";
import { expect, it } from "vitest";
import { bothClients, describeWithRedis } from "../helpers/redis-server.js";

function fuzzParams(fallback: number): { numRuns: number; seed?: number } {
  const raw = process.env.TOOLGATE_FUZZ_SEQUENCES ?? process.env.TOOLGATE_FUZZ_RUNS ?? "";
  const numRuns = raw === "" ? fallback : Number(raw);
  if (!Number.isInteger(numRuns) || numRuns < 1)
    throw new Error(`TOOLGATE_FUZZ_SEQUENCES must be a positive integer, got ${raw}`);
  const seed = process.env.TOOLGATE_FUZZ_SEED;
  return seed === undefined || seed === "" ? { numRuns } : { numRuns, seed: Number(seed) };
}

// Long fuzz runs (npm run fuzz) take as long as they need: about 250 ms a sequence at worst.
const TIMEOUT_MS = Math.max(300_000, fuzzParams(100).numRuns * 250);

// Windows of whole seconds: the keys expire in Redis's real time, so a window must outlast the
// real time a sequence takes, while the fake clock jumps across it.
const WINDOWS_S = [10, 20, 60] as const;
const STEPS_MS = [0, 0, 1, 999, 1_000, 5_000, 9_999, 10_000, 10_001, 19_999, 20_000, 60_000];

const limit: fc.Arbitrary<LimitDocument> = fc.record({
  max: fc.integer({ min: 1, max: 4 }),
  window: fc.constantFrom(...WINDOWS_S),
  per: fc.constantFrom("session", "global", "/user"),
});
const limits = fc.array(limit, { minLength: 0, maxLength: 2 });

const policyDoc: fc.Arbitrary<PolicyDocument> = fc
  .record({ a: limits, b: limits, d: limits, global: limits })
  .map(({ a, b, d, global }) => ({
    version: "1",
    default: d.length === 0 ? "allow" : { rate_limit: d },
    limits: global,
    tools: {
      a: a.length === 0 ? {} : { rate_limit: a },
      "b*": b.length === 0 ? {} : { rate_limit: b },
    },
  }));

const step = fc.record({
  dt: fc.constantFrom(...STEPS_MS),
  tool: fc.constantFrom("a", "b", "bb", "c"),
  id: fc.constantFrom("s1", "s2", "{s}:1"),
  user: fc.constantFrom<unknown>("u1", "u2", 7, "7", undefined),
  peek: fc.boolean(),
});

const budgetSpec = fc.record({
  max: fc.integer({ min: 1, max: 6 }),
  windowMs: fc.constantFrom(10_000, 20_000, 60_000),
});
const consumeStep = fc.record({
  dt: fc.constantFrom(...STEPS_MS),
  keys: fc.uniqueArray(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 3 }),
  cost: fc.integer({ min: 1, max: 3 }),
  dryRun: fc.boolean(),
});

const plain = (r: ConsumeResult) =>
  r.allowed
    ? { allowed: true, remaining: Array.from(r.remaining) }
    : { allowed: false, retryAfterMs: Array.from(r.retryAfterMs) };

describeWithRedis("MemoryStore and RedisStore decide alike", (server) => {
  const clients = bothClients(server);

  let sequences = 0;

  it(
    "gives identical decisions through compilePolicy on generated call sequences",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          policyDoc,
          fc.array(step, { minLength: 1, maxLength: 40 }),
          fc.boolean(),
          async (doc, steps, useNode) => {
            let now = 1_700_000_000_000;
            const clock = () => now;
            const namespace = `equivalence-${Date.now()}-${++sequences}`;
            const memory = compilePolicy(doc, { store: new MemoryStore(), clock, namespace });
            const redis = compilePolicy(doc, {
              store: new RedisStore({ client: useNode ? clients.node() : clients.io(), clock: "engine" }),
              clock,
              namespace,
              storeTimeoutMs: 10_000,
            });
            for (const [i, s] of steps.entries()) {
              now += s.dt;
              const session = s.user === undefined ? { id: s.id } : { id: s.id, user: s.user };
              const call = { tool: s.tool, session };
              const [m, r] = s.peek
                ? await Promise.all([memory.peek(call), redis.peek(call)])
                : [await memory.decide(call), await redis.decide(call)];
              expect(r, `step ${i}: ${JSON.stringify({ ...s, now })}`).toEqual(m);
            }
          },
        ),
        fuzzParams(100),
      );
    },
    TIMEOUT_MS,
  );

  it(
    "gives identical consume results on long budgets, filled and emptied in bursts",
    async () => {
      // Budgets of up to 120 units, filled in bursts at one instant, so that lists outgrow the
      // script's head read and whole bursts leave the window at once.
      const burst = fc.record({
        dt: fc.constantFrom(0, 1, 4_999, 5_000, 9_999, 10_000, 10_001, 20_000),
        calls: fc.integer({ min: 1, max: 45 }),
        keys: fc.uniqueArray(fc.integer({ min: 0, max: 1 }), { minLength: 1, maxLength: 2 }),
        cost: fc.constantFrom(1, 1, 1, 2, 3),
        dryRun: fc.boolean(),
      });
      const spec = fc.record({ max: fc.integer({ min: 30, max: 120 }), windowMs: fc.constantFrom(10_000, 20_000) });
      await fc.assert(
        fc.asyncProperty(
          fc.array(spec, { minLength: 2, maxLength: 2 }),
          fc.array(burst, { minLength: 1, maxLength: 12 }),
          async (specs, bursts) => {
            let now = 50_000;
            const namespace = `long-equivalence-${Date.now()}-${++sequences}`;
            const memory = new MemoryStore();
            const redis = new RedisStore({ client: clients.node(), clock: "engine" });
            for (const [i, s] of bursts.entries()) {
              now += s.dt;
              const budgets: BudgetRequest[] = s.keys.map((k) => ({
                key: `${namespace}/k${k}`,
                max: specs[k]!.max,
                windowMs: specs[k]!.windowMs,
                cost: s.cost,
                refundable: false,
                shared: k === 0,
              }));
              for (let c = 0; c < s.calls; c++) {
                const request = { namespace, budgets, now: now + Math.floor(c / 10), dryRun: s.dryRun };
                const m = plain(memory.consume(request));
                const r = plain(await redis.consume(request));
                expect(r, `burst ${i}, call ${c}: ${JSON.stringify(request)}`).toEqual(m);
              }
              now += 5;
            }
          },
        ),
        { ...fuzzParams(100), numRuns: Math.max(1, Math.ceil(fuzzParams(100).numRuns / 4)) },
      );
    },
    TIMEOUT_MS,
  );

  it(
    "gives identical consume results on one busy one-unit budget, whose string keeps entries that have left",
    async () => {
      // One budget of one-unit calls (the script's string form): steady calls well inside a
      // window, so entries leave one or a few at a time and wait at the string's head until
      // the count that rewrites it; the first one inside the window is found by bisection.
      const tick = fc.record({
        dt: fc.constantFrom(0, 1, 100, 250, 999, 1_000, 2_500, 9_999, 10_000),
        half: fc.boolean(),
        dryRun: fc.constantFrom(false, false, false, true),
        cost: fc.constantFrom(1, 1, 1, 0),
      });
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 5, max: 60 }),
          fc.array(tick, { minLength: 20, maxLength: 150 }),
          async (max, ticks) => {
            let now = 100_000;
            const namespace = `busy-equivalence-${Date.now()}-${++sequences}`;
            const memory = new MemoryStore();
            const redis = new RedisStore({ client: clients.io(), clock: "engine" });
            const key = `${namespace}/busy`;
            for (const [i, t] of ticks.entries()) {
              now += t.dt;
              const budgets: BudgetRequest[] = [
                { key, max, windowMs: 10_000, cost: t.cost, refundable: false, shared: false },
              ];
              const request = { namespace, budgets, now: t.half ? now + 0.5 : now, dryRun: t.dryRun };
              const m = plain(memory.consume(request));
              const r = plain(await redis.consume(request));
              expect(r, `tick ${i}: ${JSON.stringify(request)}`).toEqual(m);
            }
          },
        ),
        { ...fuzzParams(100), numRuns: Math.max(1, Math.ceil(fuzzParams(100).numRuns / 2)) },
      );
    },
    TIMEOUT_MS,
  );

  it(
    "gives identical consume results, with costs and dry runs, on generated request sequences",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(budgetSpec, { minLength: 3, maxLength: 3 }),
          fc.array(consumeStep, { minLength: 1, maxLength: 40 }),
          async (specs, steps) => {
            let now = 1_000;
            const namespace = `consume-equivalence-${Date.now()}-${++sequences}`;
            const memory = new MemoryStore();
            const redis = new RedisStore({ client: clients.io(), clock: "engine" });
            for (const [i, s] of steps.entries()) {
              now += s.dt;
              const budgets: BudgetRequest[] = s.keys.map((k) => ({
                key: `${namespace}/k${k}`,
                max: specs[k]!.max,
                windowMs: specs[k]!.windowMs,
                cost: Math.min(s.cost, specs[k]!.max),
                refundable: false,
                shared: false,
              }));
              const request = { namespace, budgets, now, dryRun: s.dryRun };
              const m = plain(memory.consume(request));
              const r = plain(await redis.consume(request));
              expect(r, `step ${i}: ${JSON.stringify(request)}`).toEqual(m);
            }
          },
        ),
        fuzzParams(100),
      );
    },
    TIMEOUT_MS,
  );
});
