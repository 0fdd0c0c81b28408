// Memory of MemoryStore: bytes per tracked session budget after 1,000,000 of them, and the
// proof that `maxKeys` bounds it. Needs `--expose-gc` (run.mjs starts it that way, in its own
// process, so the heap holds nothing but this measurement):
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

// 2. The bound: 1,000,000 live sessions (none of their windows ends) through a store of
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
  samples.map((s) => [s.sessions.toLocaleString("en"), s.size.toLocaleString("en"), `${(s.heap / 2 ** 20).toFixed(1)} MiB`]),
  md,
);
const bounded = samples.every((s) => s.size <= BOUND);
const full = samples.filter((s) => s.sessions >= BOUND * 2);
const plateau = full.length === 0 ? true : Math.max(...full.map((s) => s.heap)) <= 1.15 * Math.min(...full.map((s) => s.heap)) + 2 ** 20;
console.log(`RESULT ${JSON.stringify({ keys: KEYS, bytesPerKey, bound: BOUND, bounded, plateau, maxSize: Math.max(...samples.map((s) => s.size)) })}`);
