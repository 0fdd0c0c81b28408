import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describePolicyCases } from "toolgate/vitest";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

// The example's cases, one test each, exactly as a user's suite would register them.
describePolicyCases("examples/ci policy", join(ROOT, "examples", "ci", "policy.cases.json"));

describePolicyCases("inline cases", {
  policy: {
    version: "1",
    default: "deny",
    tools: { get_run: {}, create_run: { rate_limit: { max: 1, window: "1s" } } },
  },
  cases: [
    { name: "read", call: { tool: "get_run", session: { id: "s" } }, expect: "allow" },
    { name: "create", call: { tool: "create_run", session: { id: "s" } }, expect: { outcome: "allow", remaining: 0 } },
    {
      name: "create again",
      call: { tool: "create_run", session: { id: "s" } },
      at: 400,
      expect: { outcome: "rate_limited", retryAfterMs: 600 },
    },
  ],
});

describe("describePolicyCases failures", () => {
  it("fail the case's test with the expected and the actual decision", () => {
    // A user's suite with a wrong expectation, run by vitest in a child process.
    const dir = mkdtempSync(join(tmpdir(), "toolgate-describe-"));
    dirs.push(dir);
    mkdirSync(join(dir, "test"));
    writeFileSync(
      join(dir, "test", "policy.test.ts"),
      `import { describePolicyCases } from "toolgate/vitest";
describePolicyCases("user suite", {
  policy: { version: "1", default: { action: "deny", reason: "Not listed" }, tools: { get_run: {} } },
  cases: [
    { name: "read", call: { tool: "get_run", session: { id: "s" } }, expect: "allow" },
    {
      name: "drop is allowed",
      call: { tool: "drop", session: { id: "s" } },
      expect: { outcome: "allow", rule: "/tools/drop" },
    },
    {
      name: "drop is denied",
      call: { tool: "drop", session: { id: "s" } },
      expect: { outcome: "deny", cause: "policy" },
    },
  ],
});
`,
    );
    const r = spawnSync(
      process.execPath,
      [
        join(ROOT, "node_modules", "vitest", "vitest.mjs"),
        "run",
        "--root",
        dir,
        "--config",
        join(ROOT, "vitest.config.ts"),
        "--no-color",
      ],
      {
        encoding: "utf8",
        timeout: 60_000,
        env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
      },
    );
    const output = r.stdout + r.stderr;
    expect(r.status).toBe(1);
    expect(output).toContain("1 failed");
    expect(output).toContain("2 passed");
    expect(output).toContain(
      "drop is allowed (/cases/1, at 0 ms): expected allow rule=/tools/drop, " +
        'got deny rule=/default cause=policy reason="Not listed"',
    );
  });
});
