// Scaling: decision time as the policy grows (tools 10 → 10,000; patterns 1 → 1,000), and the
// compile time of the largest policy. All sizes of one curve are contenders of one comparison,
// interleaved in rounds like the workloads, so the curve is not bent by a noisy minute.

import { compilePolicy } from "toolgate";
import { bigPolicy, callsOver, exactName, mixedPattern, nameFor, rng } from "./data.mjs";
import { compare, medianMs } from "./harness.mjs";
import { fmtNs, fmtOps, printTable } from "./report.mjs";

const TOOL_SIZES = [10, 100, 1_000, 10_000];
const PATTERN_SIZES = [1, 10, 100, 1_000];

/** Calls whose 64 names are exact tools of the `n`-tool policy (fewer when `n` < 64), repeated. */
export function repeatedToolCalls(n) {
  const r = rng(50 + n);
  const names = Array.from({ length: Math.min(64, n) }, () => exactName(Math.floor(r() * n)));
  return callsOver(names, 16_384, 60 + n);
}

/** Calls over every exact tool of a policy of `n` tools, uniformly: the worst case for caches. */
export function toolCalls(n) {
  return callsOver(
    Array.from({ length: n }, (_, i) => exactName(i)),
    16_384,
    10 + n,
  );
}

/** Calls whose 64 names fall under random patterns of the `p`-pattern policy, repeated. */
export function repeatedPatternCalls(p) {
  const r = rng(20 + p);
  const names = Array.from({ length: 64 }, (_, i) => nameFor(mixedPattern(Math.floor(r() * p)), `op${i}`));
  return callsOver(names, 4096, 30 + p);
}

/**
 * Calls whose names are all different (16,384 of them, twice the name cache), each under a
 * random pattern: every lookup is a cache miss, the worst case an attacker can choose.
 */
export function uniquePatternCalls(p) {
  const r = rng(40 + p);
  const names = Array.from({ length: 16_384 }, (_, i) => nameFor(mixedPattern(Math.floor(r() * p)), `u${i}`));
  return names.map((tool, k) => ({ tool, args: { id: `x-${k}` }, session: { id: `agent-${k % 256}` } }));
}

/**
 * Runs the curves and prints them.
 * @returns {Promise<{ toolsRepeated: number[], toolsUniform: number[], patternsRepeated: number[],
 *   patternsUnique: number[], compileMs: number, compileTextMs: number }>}
 */
export async function runScaling(opts, md) {
  const toolContenders = [];
  for (const n of TOOL_SIZES) {
    const policy = compilePolicy(bigPolicy(n, 0));
    const uniform = toolCalls(n);
    const m = new Map(Array.from({ length: n }, (_, i) => [exactName(i), "allow"]));
    toolContenders.push({ name: `repeated ${n}`, fn: (c) => policy.decideSync(c), inputs: repeatedToolCalls(n) });
    toolContenders.push({ name: `uniform ${n}`, fn: (c) => policy.decideSync(c), inputs: uniform });
    toolContenders.push({ name: `Map.get ${n}`, fn: (c) => m.get(c.tool), inputs: uniform });
  }
  const tr = await compare(toolContenders, toolContenders[0].inputs, opts);
  const toolTitle =
    "Scaling: exact tools (toolgate decideSync; a server's 64 names repeated, and calls spread over every tool)";
  console.log(md ? `#### ${toolTitle}\n` : `== ${toolTitle}`);
  printTable(
    [
      "tools",
      "64 names, repeated",
      "ops/s",
      "uniform over all tools",
      "ops/s",
      "Map.get, uniform",
      "uniform vs Map.get",
    ],
    TOOL_SIZES.map((n, i) => {
      const [r, u, f] = tr.slice(3 * i, 3 * i + 3);
      return [
        n.toLocaleString("en"),
        fmtNs(r.nsPerOp),
        fmtOps(r.opsPerSec),
        fmtNs(u.nsPerOp),
        fmtOps(u.opsPerSec),
        fmtNs(f.nsPerOp),
        `${(u.nsPerOp / f.nsPerOp).toFixed(2)}×`,
      ];
    }),
    md,
  );

  const patternContenders = [];
  for (const p of PATTERN_SIZES) {
    const policy = compilePolicy(bigPolicy(10, p, mixedPattern));
    const policyCold = compilePolicy(bigPolicy(10, p, mixedPattern));
    patternContenders.push({ name: `repeated ${p}`, fn: (c) => policy.decideSync(c), inputs: repeatedPatternCalls(p) });
    patternContenders.push({ name: `unique ${p}`, fn: (c) => policyCold.decideSync(c), inputs: uniquePatternCalls(p) });
  }
  const pr = await compare(patternContenders, patternContenders[0].inputs, opts);
  const title = "Scaling: patterns (70% prefix `ns0042_*`, 20% suffix `*_v0042`, 10% infix `x0042_*_y0042`)";
  console.log(md ? `#### ${title}\n` : `== ${title}`);
  printTable(
    ["patterns", "64 names, repeated", "ops/s", "every name new (cache misses)", "ops/s"],
    PATTERN_SIZES.map((p, i) => {
      const a = pr[2 * i];
      const b = pr[2 * i + 1];
      return [p.toLocaleString("en"), fmtNs(a.nsPerOp), fmtOps(a.opsPerSec), fmtNs(b.nsPerOp), fmtOps(b.opsPerSec)];
    }),
    md,
  );

  const big = bigPolicy(10_000, 1_000);
  const text = JSON.stringify(big, null, 2);
  const runs = opts.rounds >= 10 ? 7 : 2;
  const compileMs = medianMs(() => compilePolicy(big), runs);
  const compileTextMs = medianMs(() => compilePolicy(text), runs);
  console.log(md ? "#### Compile time\n" : "== Compile time");
  printTable(
    ["policy", "compilePolicy (median)"],
    [
      ["10,000 tools + 1,000 patterns, as an object", `${compileMs.toFixed(1)} ms`],
      [
        `the same as JSON text (${(text.length / 1024).toFixed(0)} KiB; duplicate-key and line/column tracking)`,
        `${compileTextMs.toFixed(1)} ms`,
      ],
    ],
    md,
  );
  return {
    toolsRepeated: tr.filter((_, i) => i % 3 === 0).map((r) => r.nsPerOp),
    toolsUniform: tr.filter((_, i) => i % 3 === 1).map((r) => r.nsPerOp),
    patternsRepeated: pr.filter((_, i) => i % 2 === 0).map((r) => r.nsPerOp),
    patternsUnique: pr.filter((_, i) => i % 2 === 1).map((r) => r.nsPerOp),
    compileMs,
    compileTextMs,
  };
}
