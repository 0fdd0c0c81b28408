// The benchmark's policies and calls. Everything is generated from a fixed seed, so every run
// decides the same calls against the same policies.
//
// Calls are pre-generated into rings of distinct objects (distinct call, args and, per
// workload, session objects) and cycled through: no contender can profit from a cache keyed
// by object identity. Tool names repeat, as they do in real traffic.

import { readFileSync } from "node:fs";

/** A small seeded PRNG (mulberry32): the same sequence on every run. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const readJson = (rel) => JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8"));

/** The 40 tools of the MLflow MCP server (name, annotations). */
export const mlflowTools = readJson("../test/fixtures/mlflow-mcp-tools.json").tools;

/** Workload (a): the MLflow policy, static (no limits, no conditions). */
export const staticPolicy = readJson("./policies/mlflow-static.json");

/** Workload (b): the MLflow policy with `args` conditions on three tools. */
export const argsPolicy = readJson("./policies/mlflow-args.json");

/** Names no key of the MLflow policies matches: what a confused or hostile agent sends. */
export const unknownNames = [
  "drop_database",
  "exec_shell",
  "read_file",
  "write_file",
  "http_request",
  "run_python",
  "create_experiment",
  "log_metric",
  "list_buckets",
  "fetch_url",
  "restore_run",
  "rename_registered_model",
];

/** Distinct session objects, as a host keeps one per connected agent. */
export function sessions(n, prefix = "agent-") {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i.toString(36).padStart(4, "0")}` }));
}

/** Plausible arguments for an MLflow tool, distinct per call. */
function argsFor(tool, k) {
  if (tool.includes("run")) return { run_id: `run-${k}` };
  if (tool.includes("experiment")) return { experiment_id: String(1000 + (k % 977)) };
  if (tool.includes("model")) return { name: `model-${k % 311}`, version: String(1 + (k % 9)) };
  return {};
}

/** `n` rounded up to a power of two (the harness cycles rings with a mask). */
function pow2(n) {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Workload (a) calls: 85% the server's own 40 tools (listed keys and pattern-matched names),
 * 15% names no key matches; distinct call and args objects over 256 sessions.
 */
export function staticCalls(size = 4096, seed = 1) {
  const r = rng(seed);
  const ss = sessions(256);
  return Array.from({ length: pow2(size) }, (_, k) => {
    const tool =
      r() < 0.85
        ? mlflowTools[Math.floor(r() * mlflowTools.length)].name
        : unknownNames[Math.floor(r() * unknownNames.length)];
    return { tool, args: argsFor(tool, k), session: ss[k % ss.length] };
  });
}

/**
 * Workload (b) calls: the three tools with `args` conditions, with page sizes inside the
 * bound, above it, absent, or of the wrong type (a string), so the conditions decide both ways.
 */
export function argsCalls(size = 4096, seed = 2) {
  const r = rng(seed);
  const ss = sessions(256);
  const tools = [
    ["search_experiments", "max_results", 1000],
    ["get_runs", "limit", 100],
    ["query_runs", "limit", 100],
  ];
  return Array.from({ length: pow2(size) }, (_, k) => {
    const [tool, field, bound] = tools[Math.floor(r() * tools.length)];
    const args = { experiment_id: String(1000 + (k % 977)) };
    const p = r();
    if (p < 0.6) args[field] = 1 + Math.floor(r() * bound);
    else if (p < 0.8) args[field] = bound + 1 + Math.floor(r() * 100_000);
    else if (p < 0.9) args[field] = "ten";
    return { tool, args, session: ss[k % ss.length] };
  });
}

/**
 * Workload (c) calls: one rate-limited tool, 10,000 sessions (every one of them used), each call
 * a distinct object. Consecutive calls come from different sessions, as concurrent agents interleave.
 */
export function rateCalls(sessionCount = 10_000, size = 16_384) {
  const ss = sessions(sessionCount, "s");
  // A stride coprime with the session count visits every session, in a scattered order.
  return Array.from({ length: pow2(size) }, (_, k) => ({
    tool: "create_run",
    args: { experiment_id: String(k % 977) },
    session: ss[(k * 7919) % ss.length],
  }));
}

/** The (c) policy: one per-session limit on `create_run`, default deny. */
export function ratePolicy(max, window) {
  return {
    version: "1",
    name: "bench-rate",
    default: "deny",
    tools: { create_run: { rate_limit: { max, window } } },
  };
}

/** Name of the i-th generated exact tool. */
export const exactName = (i) => `tool_${String(i).padStart(5, "0")}`;

/**
 * A large policy: `tools` exact keys (80% allow, 10% deny, 10% approval) and `patterns`
 * pattern keys of the shape `shape(i)`, half allow, half deny, default deny. Exact names and
 * pattern literals are disjoint, so "most specific wins" and "any allow wins" agree, which
 * lets peers without specificity express the same policy.
 */
export function bigPolicy(tools, patterns, shape = prefixPattern) {
  const entries = {};
  for (let i = 0; i < tools; i++) {
    const m = i % 10;
    entries[exactName(i)] =
      m === 8 ? { action: "deny", reason: "retired" } : m === 9 ? { action: "require_approval", reason: "writes" } : {};
  }
  for (let i = 0; i < patterns; i++)
    entries[shape(i)] = i % 2 === 0 ? {} : { action: "deny", reason: "blocked namespace" };
  return { version: "1", name: `bench-big-${tools}-${patterns}`, default: "deny", tools: entries };
}

/** `ns0042_*`: a namespace prefix, the common shape of MCP tool-name patterns. */
export const prefixPattern = (i) => `ns${String(i).padStart(4, "0")}_*`;

/** Prefix, suffix and infix patterns in the ratio 7:2:1. */
export const mixedPattern = (i) => {
  const s = String(i).padStart(4, "0");
  const m = i % 10;
  if (m < 7) return `ns${s}_*`;
  if (m < 9) return `*_v${s}`;
  return `x${s}_*_y${s}`;
};

/** A name matched by the pattern `pattern` (its stars replaced by `fill`). */
export const nameFor = (pattern, fill) => pattern.replaceAll("*", fill);

/**
 * Workload (d) calls, a realistic mix: a server's 64 names, repeated — 40 exact keys of the
 * policy, 16 names under its patterns and 8 unknown names.
 */
export function bigCalls(tools, patterns, shape = prefixPattern, size = 4096, seed = 4) {
  const r = rng(seed);
  const names = [];
  for (let i = 0; i < 40; i++) names.push(exactName(Math.floor(r() * tools)));
  for (let i = 0; i < 16; i++) names.push(nameFor(shape(Math.floor(r() * patterns)), `op${i}`));
  for (let i = 0; i < 8; i++) names.push(`unknown_tool_${i}`);
  const ss = sessions(256);
  return Array.from({ length: pow2(size) }, (_, k) => ({
    tool: names[Math.floor(r() * names.length)],
    args: { id: `x-${k}` },
    session: ss[k % ss.length],
  }));
}

/** Calls whose names are drawn from `names`, one distinct call object each (the scaling curves). */
export function callsOver(names, size = 4096, seed = 5) {
  const r = rng(seed);
  const ss = sessions(256);
  return Array.from({ length: pow2(size) }, (_, k) => ({
    tool: names[Math.floor(r() * names.length)],
    args: { id: `x-${k}` },
    session: ss[k % ss.length],
  }));
}
