#!/usr/bin/env node
/**
 * `npm run fuzz`: the long differential fuzz, not run in CI.
 *
 * 1. The engine against the reference evaluator (test/property/differential.test.ts) on
 *    1,000,000 cases. A case is one generated (policy, call sequence) pair; each sequence has
 *    1–30 steps (calls, with refunds of earlier decisions interleaved; costs, shared ids and
 *    fractional clock readings in the policies and calls). Set TOOLGATE_FUZZ_CASES to change it.
 *    The same file checks `peek` against the reference's dry run on a hundredth as many cases.
 * 2. The exact-window properties (test/property/window.test.ts) on 100,000 scenarios each: in
 *    calls, and in units with costs and refunds interleaved.
 * 3. MemoryStore against RedisStore (test/redis/equivalence.test.ts, when present) on 10,000
 *    sequences (TOOLGATE_FUZZ_SEQUENCES).
 *
 * One seed drives every step: TOOLGATE_FUZZ_SEED to replay, else a random one, printed first.
 * TOOLGATE_FUZZ_AVOID (see test/property/arbitraries.ts) is passed through and printed.
 * Builds first unless called with --no-build.
 */

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

function positive(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`${name} must be a positive integer, got ${raw}`);
    process.exit(2);
  }
  return n;
}

const seed = process.env.TOOLGATE_FUZZ_SEED
  ? Number(process.env.TOOLGATE_FUZZ_SEED)
  : Math.floor(Math.random() * 2 ** 31);
if (!Number.isInteger(seed)) {
  console.error(`TOOLGATE_FUZZ_SEED must be an integer, got ${process.env.TOOLGATE_FUZZ_SEED}`);
  process.exit(2);
}
const cases = positive("TOOLGATE_FUZZ_CASES", 1_000_000);
const windows = positive("TOOLGATE_FUZZ_WINDOW_CASES", 100_000);
const sequences = positive("TOOLGATE_FUZZ_SEQUENCES", 10_000);
const avoid = process.env.TOOLGATE_FUZZ_AVOID ?? "";

console.log(`toolgate fuzz: seed ${seed}${avoid ? `, avoiding ${avoid}` : ""}`);
console.log(`replay with: TOOLGATE_FUZZ_SEED=${seed}${avoid ? ` TOOLGATE_FUZZ_AVOID=${avoid}` : ""} npm run fuzz`);

function run(label, file, env) {
  const started = Date.now();
  console.log(`\n== ${label}`);
  const result = spawnSync("npx", ["vitest", "run", file, "--testTimeout=0", "--reporter=verbose"], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, TOOLGATE_FUZZ_SEED: String(seed), ...env },
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const ok = result.status === 0;
  console.log(`== ${label}: ${ok ? "passed" : "FAILED"} in ${seconds}s (seed ${seed})`);
  return ok;
}

if (!process.argv.includes("--no-build")) {
  const build = spawnSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

const results = [
  run(
    `engine vs reference: ${cases.toLocaleString("en")} (policy, sequence) cases`,
    "test/property/differential.test.ts",
    {
      TOOLGATE_FUZZ_RUNS: String(cases),
    },
  ),
  run(
    `exact sliding window, in calls and in units: ${windows.toLocaleString("en")} scenarios each`,
    "test/property/window.test.ts",
    { TOOLGATE_FUZZ_RUNS: String(windows) },
  ),
];
if (existsSync(new URL("../test/redis/equivalence.test.ts", import.meta.url))) {
  const env = { TOOLGATE_FUZZ_SEQUENCES: String(sequences) };
  results.push(
    run(
      `MemoryStore vs RedisStore: ${sequences.toLocaleString("en")} sequences`,
      "test/redis/equivalence.test.ts",
      env,
    ),
  );
}
console.log(`\ntoolgate fuzz: ${results.every(Boolean) ? "all passed" : "FAILURES above"} (seed ${seed})`);
process.exit(results.every(Boolean) ? 0 : 1);
