/**
 * Adversarial review of 0.2 (issue 11), issue 10 item 1 rerun: caches keyed by caller-chosen
 * strings stay bounded in bytes. Each attack runs in a child process with --expose-gc and a
 * timeout (a stall fails the test instead of hanging the suite) and reports the heap retained
 * after a full collection, with the policy and its store still alive.
 */

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface Measured {
  retainedMB: number;
  ms: number;
  outcomes: Record<string, number>;
}

/** Runs `body` (which defines `call(i)`) N times in a child and measures the retained heap. */
function measure(body: string, n: number, timeoutMs = 40_000): Measured {
  const code = `
    const { compilePolicy, MemoryStore } = await import("toolgate");
    // A flat, distinct string of n bytes on the V8 heap (not a rope over one shared buffer, and not
    // an external string, whose bytes heapUsed would not count).
    const flat = (i, n) => JSON.parse(JSON.stringify(Buffer.alloc(n, String(i) + "-").toString("latin1")));
    ${body}
    for (let i = 0; i < 200; i++) policy.decideSync(call(-1 - i));
    globalThis.gc(); globalThis.gc();
    const before = process.memoryUsage().heapUsed;
    const outcomes = {};
    const start = performance.now();
    for (let i = 0; i < ${n}; i++) {
      const d = policy.decideSync(call(i));
      outcomes[d.cause ?? d.outcome] = (outcomes[d.cause ?? d.outcome] ?? 0) + 1;
    }
    const ms = performance.now() - start;
    globalThis.gc(); globalThis.gc();
    const retainedMB = (process.memoryUsage().heapUsed - before) / 1e6;
    globalThis.keep = policy;
    console.log(JSON.stringify({ retainedMB, ms, outcomes }));`;
  const r = spawnSync(
    process.execPath,
    ["--expose-gc", "--max-old-space-size=512", "--input-type=module", "-e", code],
    {
      cwd: ROOT,
      encoding: "utf8",
      timeout: timeoutMs,
    },
  );
  if (r.status !== 0)
    throw new Error(`child failed (status ${r.status}, signal ${r.signal}): ${r.stderr.slice(0, 2000)}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Measured;
}

const patternPolicy = `
  const policy = compilePolicy({ version: "1", default: "deny", tools: {
    "read_*": { rate_limit: { max: 5, window: "1h" } },
    "*_admin_*": { action: "deny" },
    "attr_*": { rate_limit: { max: 5, window: "1h", per: "/user" } },
    "cond_*": { rules: [{ when: { session: { properties: { tag: { type: "string", pattern: "^[a-z0-9-]+$" } } },
      args: { properties: { q: { format: "email" } } } } }, { action: "deny" }] },
  } }, { clock: () => 0, store: new MemoryStore({ maxKeys: 1000 }) });`;

describe("attack: caches keyed by caller strings (child process, --expose-gc)", () => {
  it("10,000 distinct 128-character refused names through a pattern policy retain < 16 MB", () => {
    const m = measure(
      `${patternPolicy}
      const call = (i) => ({ tool: ("nope_" + i + "_").padEnd(128, "q" + (i % 10)), session: { id: "s" } });`,
      10_000,
    );
    expect(m.outcomes.policy).toBe(10_000);
    expect(m.retainedMB).toBeLessThan(16);
  });

  it("10,000 distinct 128-character names under read_* (allowed, each its own tool) retain < 16 MB", () => {
    const m = measure(
      `${patternPolicy}
      const call = (i) => ({ tool: ("read_" + i + "_").padEnd(128, "z"), session: { id: "s" + (i % 50) } });`,
      10_000,
    );
    expect(m.outcomes.allow).toBeGreaterThan(0);
    expect(m.retainedMB).toBeLessThan(16);
  });

  it("names of 129 characters and of 64 KB are malformed and retain nothing", () => {
    const m = measure(
      `${patternPolicy}
      const call = (i) => ({ tool: i % 2 ? flat(i, 129) : flat(i, 65_536), session: { id: "s" } });`,
      3_000,
    );
    expect(m.outcomes.malformed_call).toBe(3_000);
    expect(m.retainedMB).toBeLessThan(8);
  });

  // docs/spec.md section 2: "A budget's memory is proportional to the calls in its window"; the
  // project's bar: every cache keyed by caller-chosen strings is bounded in bytes as well as entries.
  // Before d6cf18a each budget kept its whole key, so a MemoryStore at its default maxKeys (100,000)
  // with 50 KB session ids would have held 5 GB (measured: 201 MB for 4,000 budgets).
  it("2,000 distinct 50 KB session ids in a 1,000-key store retain < 24 MB (was a BUG; fixed, d6cf18a)", () => {
    const m = measure(
      `${patternPolicy}
      const call = (i) => ({ tool: "read_x", session: { id: flat(i, 50_000) } });`,
      2_000,
    );
    expect(m.outcomes.allow).toBe(2_000);
    expect(m.retainedMB).toBeLessThan(24);
  });

  it("(was a BUG, fixed in d6cf18a) 2,000 distinct 50 KB attribute values (per: /user budgets) retain < 24 MB", () => {
    const m = measure(
      `${patternPolicy}
      const call = (i) => ({ tool: "attr_x", session: { id: "s", user: flat(i, 50_000) } });`,
      2_000,
    );
    expect(m.outcomes.allow ?? 0).toBeGreaterThan(0);
    expect(m.retainedMB).toBeLessThan(24);
  });

  it("2,000 distinct 50 KB strings through a pattern and a format in when retain < 16 MB", () => {
    const m = measure(
      `${patternPolicy}
      const call = (i) => ({ tool: "cond_" + (i % 7), args: { q: flat(i, 50_000) }, session: { id: "s",
          tag: flat(i + 1, 50_000) } });`,
      2_000,
    );
    expect(m.outcomes.policy).toBe(2_000);
    expect(m.retainedMB).toBeLessThan(16);
  });
});
