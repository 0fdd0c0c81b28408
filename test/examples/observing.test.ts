/**
 * examples/observing: the runnable part of docs/observing.md's worked example. The script runs a
 * policy in shadow mode with a decision log (through the built package), replays the log against
 * a stricter policy with the built CLI, then enforces. Its log is checked line by line, its replay
 * against an independent decision of every logged call under the stricter policy, and the output
 * that docs/observing.md shows against what it prints.
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compilePolicy, MemoryStore, type ToolCall } from "toolgate";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SCRIPT = join(ROOT, "examples", "observing", "run.mjs");
const dir = mkdtempSync(join(tmpdir(), "toolgate-observing-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runExample(args: string[] = []) {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("examples/observing", () => {
  const log = join(dir, "decisions.jsonl");
  const run = runExample([log]);
  const printed = run.stdout.split("\n");

  it("runs the policy in shadow mode: every call allowed, every decision logged with its arguments", () => {
    expect(run.status, run.stderr).toBe(0);
    const lines = readFileSync(log, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(36);
    for (const l of lines) {
      expect(l).toMatchObject({ policy: "support-agent", shadow: true });
      expect(l).toHaveProperty("args");
      expect(l).toHaveProperty("attributes");
    }
    const refused = lines.filter((l) => l.outcome !== "allow");
    expect(refused.map((l) => l.outcome).sort()).toEqual(["deny", ...Array<string>(6).fill("needs_approval")]);
    expect(printed).toContain(`shadow mode: 36 calls allowed, 7 would have been refused; log: ${log}`);
  });

  it("replays the log against the stricter policy and prints exactly the calls it changes", () => {
    const lines = readFileSync(log, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    let now = 0;
    const stricter = compilePolicy(readFileSync(join(ROOT, "examples", "observing", "stricter.json"), "utf8"), {
      store: new MemoryStore(),
      clock: () => now,
    });
    const expected: string[] = [];
    for (const l of lines) {
      now = Date.parse(l.time as string);
      const call = {
        tool: l.tool,
        args: l.args,
        session: { ...(l.attributes as object), id: l.session },
      } as unknown as ToolCall;
      const d = stricter.decideSync(call);
      if (d.outcome !== l.outcome) {
        expected.push(
          `${l.time as string} "${l.tool as string}" session "${l.session as string}": ` +
            `${l.outcome as string} ${l.rule as string} -> ${d.outcome} ${d.rule}`,
        );
      }
    }
    expect(expected.length).toBeGreaterThan(5);
    const start = printed.indexOf("$ toolgate replay --policy stricter.json decisions.jsonl");
    expect(start).toBeGreaterThan(0);
    expect(printed.slice(start + 1, start + 1 + expected.length)).toEqual(expected);
    expect(printed[start + 1 + expected.length]).toBe(
      `${expected.length} outcomes differ in 36 replayed calls; 0 lines skipped`,
    );
    expect(printed).toContain("(exit status 1: 0 nothing differs, 1 some outcomes differ)");
  });

  it("then enforces on the same budgets", () => {
    expect(printed).toContain(
      "enforcing: search_tickets by ada -> allow, 11 left this minute (counted in shadow mode too)",
    );
    expect(printed).toContain(
      "enforcing: delete_ticket by ada -> deny (/tools/delete_ticket): Tickets are closed, never deleted.",
    );
  });

  it("prints every line that docs/observing.md shows of its output", () => {
    const doc = readFileSync(join(ROOT, "docs", "observing.md"), "utf8");
    const shown = /<!-- output of examples\/observing\/run\.mjs -->\s*```text\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(shown).toBeDefined();
    const set = new Set(printed.map((l) => l.trimEnd()));
    const rows = shown!.split("\n").filter((l) => l.trim() !== "" && l.trim() !== "...");
    expect(rows.length).toBeGreaterThan(5);
    for (const row of rows) expect(set.has(row.replace("<log>", log).trimEnd()), row).toBe(true);
  });

  it("without a path, writes its log in a temporary directory and removes it", () => {
    const before = readdirSync(tmpdir()).filter((n) => n.startsWith("toolgate-observing-") && !n.includes("test"));
    const r = runExample();
    expect(r.status, r.stderr).toBe(0);
    const after = readdirSync(tmpdir()).filter((n) => n.startsWith("toolgate-observing-") && !n.includes("test"));
    expect(after.sort()).toEqual(before.sort());
  });
});
