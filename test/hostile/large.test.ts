/**
 * Issue 7 item 1, size: a valid document of 200,000 tools (about 9 MB of JSON text: exact names,
 * prefix, suffix and infix patterns) compiles from JSON text within seconds and decides
 * correctly.
 */

import { compilePolicy, type Policy } from "toolgate";
import { describe, expect, it } from "vitest";
import { timed } from "./guards.js";

const TOOLS = 200_000;

function bigDocument(n: number): Record<string, unknown> {
  const tools: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    switch (i % 4) {
      case 0:
        tools[`tool_${i}`] = { rate_limit: { max: 10, window: "1m" } };
        break;
      case 1:
        tools[`prefix_${i}_*`] = { action: "deny", reason: `no ${i}` };
        break;
      case 2:
        tools[`*_suffix_${i}`] = { action: "require_approval" };
        break;
      default:
        tools[`mid_${i}_*_x`] = {};
    }
  }
  return { version: "1", name: "big", default: "deny", tools };
}

describe("a 200,000-tool document", () => {
  it("compiles from JSON text in seconds and decides by the right keys", async () => {
    const text = JSON.stringify(bigDocument(TOOLS));
    expect(text.length).toBeGreaterThan(8_000_000);
    const { value: policy, ms } = await timed<Policy>(() => compilePolicy(text));
    // Seconds on a quiet machine; the bound leaves room for a loaded two-core CI runner.
    expect(ms).toBeLessThan(60_000);
    const s = { id: "s" };
    expect(policy.decideSync({ tool: "tool_0", session: s })).toEqual({
      outcome: "allow",
      rule: "/tools/tool_0",
      remaining: 9,
    });
    expect(policy.decideSync({ tool: `tool_${TOOLS - 4}`, session: s }).rule).toBe(`/tools/tool_${TOOLS - 4}`);
    expect(policy.decideSync({ tool: "prefix_1_anything", session: s })).toEqual({
      outcome: "deny",
      rule: "/tools/prefix_1_*",
      reason: "no 1",
      cause: "policy",
    });
    expect(policy.decideSync({ tool: "a_suffix_199998", session: s })).toMatchObject({
      outcome: "needs_approval",
      rule: "/tools/*_suffix_199998",
    });
    expect(policy.decideSync({ tool: "mid_3_abc_x", session: s }).rule).toBe("/tools/mid_3_*_x");
    expect(policy.decideSync({ tool: "tool_1", session: s }).rule).toBe("/default");
    const { ms: decideMs } = await timed(() => {
      for (let i = 0; i < 1_000; i++) policy.decideSync({ tool: `unknown_${i}`, session: s });
    });
    expect(decideMs).toBeLessThan(30_000);
  }, 180_000);
});
