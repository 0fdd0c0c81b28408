import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CasesError, CasesPolicyError, coverageUnits, formatDecision, loadCases, meetsCoverage, runCases } from "toolgate/testing";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CI_CASES = join(ROOT, "examples", "ci", "policy.cases.json");
const POLICY = { version: "1" as const, default: "deny" as const, tools: { get_run: {}, create_run: { rate_limit: { max: 1, window: 10 } } } };

describe("runCases", () => {
  it("runs a cases file and returns structured results with coverage", async () => {
    const run = await runCases(CI_CASES);
    expect(run.file).toBe(CI_CASES);
    expect(run.policyFile).toBe(join(ROOT, "examples", "ci", "policy.json"));
    expect(run).toMatchObject({ passed: 14, failed: 0 });
    expect(run.results[5]).toMatchObject({ path: "/cases/5", at: 59999, passed: true, actual: { outcome: "rate_limited", retryAfterMs: 1 } });
    expect(run.coverage).toMatchObject({ total: 11, unreached: [], percent: 100 });
  });

  it("runs an inline cases document, reporting what did not match", async () => {
    const run = await runCases({
      policy: POLICY,
      cases: [
        { name: "first create", call: { tool: "create_run", session: { id: "s" } }, expect: { outcome: "allow", remaining: 0 } },
        { name: "second create", call: { tool: "create_run", session: { id: "s" } }, at: 4000, expect: { outcome: "rate_limited", retryAfterMs: 5000 } },
      ],
    });
    expect(run.passed).toBe(1);
    expect(run.results[1]).toMatchObject({ passed: false, mismatched: ["retryAfterMs"], actual: { retryAfterMs: 6000 } });
    expect(run.coverage.unreached).toEqual(["/tools/get_run", "/default"]);
    expect(run.coverage.percent).toBe(50);
  });

  it("resolves a policy path of a document from baseDir", async () => {
    const dir = mkdtempSync(join(tmpdir(), "toolgate-cases-"));
    writeFileSync(join(dir, "p.json"), JSON.stringify(POLICY));
    const run = await runCases({ policy: "p.json", cases: [{ name: "read", call: { tool: "get_run", session: { id: "s" } }, expect: "allow" }] }, { baseDir: dir });
    expect(run.policyFile).toBe(join(dir, "p.json"));
    expect(run.passed).toBe(1);
  });

  it("each run starts again: fresh budgets, clock at 0", async () => {
    const doc = { policy: POLICY, cases: [{ name: "create", call: { tool: "create_run", session: { id: "s" } }, expect: "allow" as const }] };
    expect((await runCases(doc)).passed).toBe(1);
    expect((await runCases(doc)).passed).toBe(1);
  });

  it("throws CasesError with the file and the path of the problem", () => {
    const dir = mkdtempSync(join(tmpdir(), "toolgate-cases-"));
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ policy: POLICY, cases: [{ name: "x", call: {}, expect: "allow", repeat: 1e9 }] }));
    const e = captured(() => loadCases(file));
    expect(e).toBeInstanceOf(CasesError);
    expect(e).toMatchObject({ file, path: "/cases/0/repeat", message: `${file}: /cases/0/repeat: must be a whole number from 1 to 100000, got 1000000000` });
    expect(captured(() => loadCases({ policy: POLICY, cases: {} } as never))).toMatchObject({ file: undefined, path: "/cases", message: "cases: /cases: must be an array of cases, got object" });
  });

  it("throws CasesPolicyError with every issue of an invalid policy", () => {
    const e = captured(() => loadCases({ policy: { version: "1", default: "deny", tools: { a: { max: 1 } } } as never, cases: [] }));
    expect(e).toBeInstanceOf(CasesPolicyError);
    expect((e as CasesPolicyError).issues.map((i) => i.path)).toEqual(["/tools/a/max"]);
  });
});

describe("coverage", () => {
  it("counts every key, conditional rule, default and limit", () => {
    expect(
      coverageUnits({
        version: "1",
        default: { rules: [{ when: { session: { required: ["admin"] } } }, { action: "deny" }] },
        limits: [{ max: 1, window: 1 }],
        tools: {
          "a/b": { rate_limit: [{ max: 1, window: 1 }, { max: 2, window: 2 }] },
          c: { rules: [{ when: { args: true }, rate_limit: { max: 1, window: 1 } }] },
        },
      }),
    ).toEqual(["/tools/a~1b", "/tools/a~1b/rate_limit/0", "/tools/a~1b/rate_limit/1", "/tools/c", "/tools/c/rules/0", "/tools/c/rules/0/rate_limit", "/default", "/default/rules/0", "/default/rules/1", "/limits/0"]);
  });

  it("compares with the minimum exactly", () => {
    const third = { total: 3, reached: ["a"], unreached: ["b", "c"], percent: 33.3 };
    expect(meetsCoverage(third, 33.3)).toBe(true);
    expect(meetsCoverage(third, 33.34)).toBe(false);
    const tenth = { total: 10, reached: ["a"], unreached: [], percent: 10 };
    expect(meetsCoverage(tenth, 10)).toBe(true);
    expect(meetsCoverage(tenth, 10.000001)).toBe(false);
  });
});

describe("formatDecision", () => {
  it("shows the fields in one line", () => {
    expect(formatDecision({ outcome: "rate_limited", rule: "/limits/0", reason: 'a "b"', retryAfterMs: 5, limit: { max: 1, windowMs: 1, per: "session" } })).toBe(
      'rate_limited rule=/limits/0 retryAfterMs=5 reason="a \\"b\\""',
    );
    expect(formatDecision({ outcome: "deny", rule: "", reason: "x" })).toBe('deny rule="" reason="x"');
  });
});

function captured(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected an error");
}
