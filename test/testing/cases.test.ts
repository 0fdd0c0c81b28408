import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compilePolicy } from "toolgate";
import {
  CasesError,
  CasesPolicyError,
  coverageOf,
  coverageUnits,
  formatDecision,
  formatFailure,
  loadCases,
  MAX_PROBLEMS,
  meetsCoverage,
  runCases,
} from "toolgate/testing";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CI_CASES = join(ROOT, "examples", "ci", "policy.cases.json");
const POLICY = {
  version: "1" as const,
  default: "deny" as const,
  tools: { get_run: {}, create_run: { rate_limit: { max: 1, window: 10 } } },
};
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "toolgate-cases-"));
  dirs.push(dir);
  return dir;
}

describe("runCases", () => {
  it("runs a cases file and returns structured results with coverage", async () => {
    const run = await runCases(CI_CASES);
    expect(run.file).toBe(CI_CASES);
    expect(run.policyFile).toBe(join(ROOT, "examples", "ci", "policy.json"));
    expect(run).toMatchObject({ passed: 14, failed: 0 });
    expect(run.results[5]).toMatchObject({
      path: "/cases/5",
      at: 59999,
      passed: true,
      actual: { outcome: "rate_limited", retryAfterMs: 1 },
    });
    expect(run.coverage).toMatchObject({ total: 9, unreached: [], percent: 100 });
  });

  it("runs an inline cases document, reporting what did not match", async () => {
    const run = await runCases({
      policy: POLICY,
      cases: [
        {
          name: "first create",
          call: { tool: "create_run", session: { id: "s" } },
          expect: { outcome: "allow", remaining: 0 },
        },
        {
          name: "second create",
          call: { tool: "create_run", session: { id: "s" } },
          at: 4000,
          expect: { outcome: "rate_limited", retryAfterMs: 5000 },
        },
        {
          name: "unknown",
          call: { tool: "drop", session: { id: "s" } },
          at: 4000,
          expect: { outcome: "deny", cause: "policy" },
        },
      ],
    });
    expect(run.passed).toBe(2);
    expect(run.results[1]).toMatchObject({
      passed: false,
      mismatched: ["retryAfterMs"],
      actual: { retryAfterMs: 6000 },
    });
    expect(run.coverage.unreached).toEqual(["/tools/get_run"]);
    expect(run.coverage.percent).toBe(75);
    expect(formatFailure(run.results[1]!)).toBe(
      "second create (/cases/1, at 4000 ms): expected rate_limited retryAfterMs=5000, " +
        "got rate_limited rule=/tools/create_run/rate_limit retryAfterMs=6000 reason=" +
        JSON.stringify((run.results[1]!.actual as { reason: string }).reason),
    );
  });

  it("resolves a policy path of a document from baseDir", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "p.json"), JSON.stringify(POLICY));
    const run = await runCases(
      { policy: "p.json", cases: [{ name: "read", call: { tool: "get_run", session: { id: "s" } }, expect: "allow" }] },
      { baseDir: dir },
    );
    expect(run.policyFile).toBe(join(dir, "p.json"));
    expect(run.passed).toBe(1);
  });

  it("each run starts again: fresh budgets, clock at 0", async () => {
    const doc = {
      policy: POLICY,
      cases: [{ name: "create", call: { tool: "create_run", session: { id: "s" } }, expect: "allow" as const }],
    };
    expect((await runCases(doc)).passed).toBe(1);
    expect((await runCases(doc)).passed).toBe(1);
  });

  it("throws CasesError with the file, the path of the first problem and every problem", () => {
    const dir = tempDir();
    const file = join(dir, "c.json");
    writeFileSync(
      file,
      JSON.stringify({
        policy: POLICY,
        cases: [
          { name: "x", call: {}, expect: "allow", repeat: 1e9 },
          { name: "", call: {}, expect: "nope" },
        ],
      }),
    );
    const e = captured(() => loadCases(file)) as CasesError;
    expect(e).toBeInstanceOf(CasesError);
    expect(e.file).toBe(file);
    expect(e.path).toBe("/cases/0/repeat");
    expect(e.problems.map((p) => p.path)).toEqual(["/cases/0/repeat", "/cases/1/name", "/cases/1/expect"]);
    expect(e.message).toBe(
      `${file}: 3 problems:\n  /cases/0/repeat: must be a whole number from 1 to 100000, got 1000000000\n` +
        "  /cases/1/name: must be a non-empty string, got an empty string\n" +
        '  /cases/1/expect: unknown outcome "nope" (expected one of "allow", "deny", "needs_approval", "rate_limited")',
    );
    expect(captured(() => loadCases({ policy: POLICY, cases: {} } as never))).toMatchObject({
      file: undefined,
      path: "/cases",
      message: "cases: /cases: must be an array of cases, got an object",
    });
  });

  it("throws CasesPolicyError with every issue of an invalid policy", () => {
    const e = captured(() =>
      loadCases({
        policy: { version: "1", default: "deny", tools: { a: { max: 1 }, b: { action: "alow" } } } as never,
        cases: [],
      }),
    );
    expect(e).toBeInstanceOf(CasesPolicyError);
    expect((e as CasesPolicyError).issues.map((i) => i.path)).toEqual(["/tools/a/max", "/tools/b/action"]);
    expect((e as Error).message).toMatch(/^inline policy: invalid policy: \/tools\/a\/max: .+ \(and 1 more\)$/);
  });

  it("parses a cases file as strictly as a policy file: a duplicate key is an error, with its place", () => {
    const dir = tempDir();
    const file = join(dir, "c.json");
    writeFileSync(
      file,
      '{ "policy": { "version": "1", "default": "deny", "tools": {}, "tools": { "a": {} } },\n  "cases": [] }',
    );
    const e = captured(() => loadCases(file)) as CasesError;
    expect(e).toBeInstanceOf(CasesError);
    expect(e.problems).toEqual([
      {
        path: "/policy/tools",
        message: 'not valid JSON: duplicate key "tools" (JSON.parse would silently keep the last one)',
        line: 1,
        column: 63,
      },
    ]);
    // The same policy as an object has no duplicate: it is the text that is rejected.
    expect(
      loadCases({
        policy: JSON.parse('{ "version": "1", "default": "deny", "tools": { "a": {} } }') as never,
        cases: [],
      }).cases,
    ).toEqual([]);
  });

  it("reports text that is not JSON, and a byte-order mark is not a problem", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "broken.json"), '{ "policy": ');
    expect((captured(() => loadCases(join(dir, "broken.json"))) as CasesError).problems[0]!.message).toMatch(
      /^not valid JSON: /,
    );
    writeFileSync(join(dir, "bom.json"), `\ufeff${JSON.stringify({ policy: POLICY, cases: [] })}`);
    expect(loadCases(join(dir, "bom.json")).cases).toEqual([]);
  });

  it(`reports at most ${MAX_PROBLEMS} problems, then how many more`, () => {
    const e = captured(() =>
      loadCases({ policy: POLICY, cases: Array.from({ length: 1000 }, () => 7) } as never),
    ) as CasesError;
    expect(e.problems).toHaveLength(MAX_PROBLEMS + 1);
    expect(e.problems.at(-1)).toEqual({ path: "", message: "and 800 more problems" });
  });
});

describe("coverage", () => {
  it("counts every rule that can decide, each followed by its own limits, then the policy's, from the plan", () => {
    const policy = compilePolicy({
      version: "1",
      default: {
        rules: [
          { when: { session: { required: ["admin"] } } },
          { when: { args: { required: ["x"] } }, action: "deny" },
        ],
      },
      limits: [{ max: 1, window: 1 }],
      tools: {
        "a/b": {
          rate_limit: [
            { max: 1, window: 1 },
            { max: 2, window: 2 },
          ],
        },
        c: { rules: [{ when: { args: true }, rate_limit: { max: 1, window: 1 } }] },
      },
    });
    expect(coverageUnits(policy)).toEqual([
      "/tools/a~1b",
      "/tools/a~1b/rate_limit/0",
      "/tools/a~1b/rate_limit/1",
      "/tools/c/rules/0",
      "/tools/c/rules/0/rate_limit",
      "/default/rules/0",
      "/default/rules/1",
      // Neither rule of the default may hold: then the call is denied by /default itself.
      "/default",
      "/limits/0",
    ]);
    // The units are exactly the plan's rules and their limits.
    const fromPlan = new Set(policy.rules.flatMap((r) => [r.rule, ...r.limits]));
    expect(new Set(coverageUnits(policy))).toEqual(fromPlan);
  });

  it("leaves out policy limits that no rule can reach", () => {
    const policy = compilePolicy({
      version: "1",
      default: "deny",
      limits: [{ max: 1, window: 1 }],
      tools: { a: { action: "deny" } },
    });
    expect(coverageUnits(policy)).toEqual(["/tools/a", "/default"]);
  });

  it("merges what several runs reached", () => {
    expect(coverageOf(["a", "b", "c"], ["c", "a", "x"])).toEqual({
      total: 3,
      reached: ["a", "c"],
      unreached: ["b"],
      percent: 66.6,
    });
    expect(coverageOf([], [])).toEqual({ total: 0, reached: [], unreached: [], percent: 100 });
  });

  it("compares with the minimum exactly", () => {
    const third = { total: 3, reached: ["a"], unreached: ["b", "c"], percent: 33.3 };
    expect(meetsCoverage(third, 33.3)).toBe(true);
    expect(meetsCoverage(third, 33.34)).toBe(false);
    const tenth = { total: 10, reached: ["a"], unreached: [], percent: 10 };
    expect(meetsCoverage(tenth, 10)).toBe(true);
    expect(meetsCoverage(tenth, 10.000001)).toBe(false);
    for (const bad of [-1, 101, Number.NaN, Number.POSITIVE_INFINITY, "50" as unknown as number]) {
      expect(() => meetsCoverage(tenth, bad)).toThrow(RangeError);
    }
  });
});

describe("formatDecision", () => {
  it("shows the fields in one line, the cause of a deny included", () => {
    expect(
      formatDecision({
        outcome: "rate_limited",
        rule: "/limits/0",
        reason: 'a "b"',
        retryAfterMs: 5,
        limit: { max: 1, windowMs: 1, per: "session" },
      }),
    ).toBe('rate_limited rule=/limits/0 retryAfterMs=5 reason="a \\"b\\""');
    expect(formatDecision({ outcome: "deny", rule: "", reason: "x\ny", cause: "malformed_call" })).toBe(
      'deny rule="" cause=malformed_call reason="x\\ny"',
    );
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
