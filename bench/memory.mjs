// Memory of MemoryStore: bytes per tracked session budget after 1,000,000 of them (target:
// ≤ 250 B), bytes per call inside a window (target: ≤ 16 B, one-unit calls; weighted calls keep
// a running total too and are shown beside), and the proof that `maxKeys` bounds it. Needs
// `--expose-gc` (run.mjs starts it that way, in its own process, so the heap holds nothing but
// this measurement):
//
//   node --expose-gc bench/memory.mjs [--smoke] [--md]
//
// Prints its tables, then one last line `RESULT <json>` for run.mjs.

import { compilePolicy, MemoryStore } from "toolgate";
import { printTable } from "./report.mjs";

const smoke = process.argv.includes("--smoke");
const md = process.argv.includes("--md");
if (typeof globalThis.gc !== "function") {
  console.error("bench/memory.mjs needs --expose-gc: node --expose-gc bench/memory.mjs");
  process.exit(2);
}

const KEYS = smoke ? 100_000 : 1_000_000;
const BOUND = smoke ? 10_000 : 100_000;
const STEP = KEYS / 10;

const doc = {
  version: "1",
  name: "bench-memory",
  default: "deny",
  tools: { create_run: { rate_limit: { max: 10, window: "1h" } } },
};

function heap() {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
}

/** Decides one call for each of `count` new sessions (call objects are not kept). */
function track(policy, from, count) {
  for (let i = from; i < from + count; i++) {
    const d = policy.decideSync({ tool: "create_run", session: { id: `session-${i}` } });
    if (d.outcome !== "allow") throw new Error(`bench memory: expected allow, got ${JSON.stringify(d)}`);
  }
}

// 1. Bytes per budget: a store large enough to keep every one.
let now = 1_700_000_000_000;
const clock = () => now;

function bytesPerBudget() {
  const store = new MemoryStore({ maxKeys: KEYS });
  const policy = compilePolicy(doc, { store, clock });
  const before = heap();
  track(policy, 0, KEYS);
  const after = heap();
  const perKey = (after - before) / KEYS;
  console.log(md ? `#### MemoryStore: memory per tracked session\n` : `== MemoryStore: memory per tracked session`);
  // `store.size` is read after the second measurement, so the store is alive when it is taken.
  printTable(
    ["budgets held", "heap growth", "bytes per budget"],
    [[store.size.toLocaleString("en"), `${((after - before) / 2 ** 20).toFixed(1)} MiB`, perKey.toFixed(0)]],
    md,
  );
  return perKey;
}
const bytesPerKey = bytesPerBudget();

// 2. Bytes per call inside the window: one budget holding CALLS calls (the log grows with use),
//    through the engine for one-unit calls and through the store alone for weighted ones.
const CALLS = smoke ? 100_000 : 1_000_000;
function bytesPerCall() {
  const store = new MemoryStore();
  const policy = compilePolicy(
    {
      version: "1",
      name: "bench-memory-calls",
      default: "deny",
      tools: { t: { rate_limit: { max: CALLS * 2, window: "1h", per: "global" } } },
    },
    { store, clock },
  );
  const weighted = new MemoryStore();
  const budgets = [{ key: "w", max: CALLS * 10, windowMs: 3_600_000, cost: 3, refundable: false, shared: true }];
  const call = { tool: "t", session: { id: "s" } };
  const before = heap();
  for (let i = 0; i < CALLS; i++) {
    if (policy.decideSync(call).outcome !== "allow") throw new Error("bench memory: expected allow");
  }
  const mid = heap();
  for (let i = 0; i < CALLS; i++) weighted.consume({ namespace: "n", budgets, now: now + i, dryRun: false });
  const after = heap();
  const unit = (mid - before) / CALLS;
  const weight = (after - mid) / CALLS;
  console.log(
    md
      ? `#### MemoryStore: memory per call inside the window\n`
      : `\n== MemoryStore: memory per call inside the window`,
  );
  printTable(
    ["calls in one budget's window", "one-unit calls (decideSync)", "weighted calls (consume)"],
    [[CALLS.toLocaleString("en"), `${unit.toFixed(1)} B per call`, `${weight.toFixed(1)} B per call`]],
    md,
  );
  // Both stores stay alive until the measurement is taken.
  if (store.size + weighted.size !== 2) throw new Error("bench memory: expected one budget in each store");
  return { unit, weight };
}
const perCall = bytesPerCall();

// 3. The bound: 1,000,000 live sessions (none of their windows ends) through a store of
//    `maxKeys` budgets. The least recently used budgets are dropped; size and heap plateau.
const store = new MemoryStore({ maxKeys: BOUND });
const policy = compilePolicy(doc, { store, clock });
const base = heap();
const samples = [];
for (let done = 0; done < KEYS; done += STEP) {
  track(policy, KEYS + done, STEP);
  now += 1;
  samples.push({ sessions: done + STEP, size: store.size, heap: heap() - base });
}
console.log(
  md
    ? `#### MemoryStore({ maxKeys: ${BOUND.toLocaleString("en")} }) fed ${KEYS.toLocaleString("en")} live sessions\n`
    : `== MemoryStore({ maxKeys: ${BOUND.toLocaleString("en")} }) fed ${KEYS.toLocaleString("en")} live sessions`,
);
printTable(
  ["sessions seen", "budgets held", "heap above empty store"],
  samples.map((s) => [
    s.sessions.toLocaleString("en"),
    s.size.toLocaleString("en"),
    `${(s.heap / 2 ** 20).toFixed(1)} MiB`,
  ]),
  md,
);
const bounded = samples.every((s) => s.size <= BOUND);
const full = samples.filter((s) => s.sessions >= BOUND * 2);
const plateau =
  full.length === 0
    ? true
    : Math.max(...full.map((s) => s.heap)) <= 1.15 * Math.min(...full.map((s) => s.heap)) + 2 ** 20;
const result = {
  keys: KEYS,
  bytesPerKey,
  bytesPerCall: perCall.unit,
  bytesPerWeightedCall: perCall.weight,
  bound: BOUND,
  bounded,
  plateau,
  maxSize: Math.max(...samples.map((s) => s.size)),
};
console.log(`RESULT ${JSON.stringify(result)}`);
