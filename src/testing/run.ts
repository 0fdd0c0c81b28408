/**
 * Running loaded cases: in order, against one freshly compiled policy, a fresh `MemoryStore`
 * and a virtual clock that starts at 0 and moves only when a case's `at` says. One runner for
 * `toolgate test`, `runCases` and `toolgate/vitest`, so they can never disagree on a case.
 */

import type { Decision } from "toolgate";
import { coverageOf, reachedBy } from "./coverage.js";
import { compileCases, loadCases } from "./load.js";
import {
  EXPECT_FIELDS,
  type CaseResult,
  type CasesDocument,
  type CasesOptions,
  type CasesRun,
  type ExpectedDecision,
  type LoadedCases,
} from "./types.js";

/**
 * Runs loaded cases in order against a freshly compiled policy (fresh store, clock at 0).
 * Each call is explained first (which counts nothing) to learn which rules and limits it
 * reached, then decided for real.
 */
export async function runLoadedCases(loaded: LoadedCases): Promise<CasesRun> {
  let now = 0;
  const policy = compileCases(loaded.policySource, loaded.policyFile, () => now);
  const units = new Set(loaded.units);
  const reached = new Set<string>();
  const results: CaseResult[] = [];
  for (const c of loaded.cases) {
    if (c.at !== undefined) now = c.at;
    let actual: Decision | undefined;
    for (let n = 0; n < c.repeat; n++) {
      const explanation = await policy.explain(c.call);
      actual = await policy.decide(c.call);
      for (const unit of reachedBy(explanation, actual, units)) reached.add(unit);
    }
    // repeat is at least 1, so a decision was made.
    const decision = actual!;
    const mismatched = compare(c.expect, decision);
    results.push({
      name: c.name,
      path: c.path,
      at: now,
      calls: c.repeat,
      passed: mismatched.length === 0,
      expected: c.expect,
      actual: decision,
      mismatched,
    });
  }
  const passed = results.filter((r) => r.passed).length;
  return {
    file: loaded.file,
    policyFile: loaded.policyFile,
    results,
    passed,
    failed: results.length - passed,
    coverage: coverageOf(loaded.units, reached),
  };
}

/**
 * Runs a cases file (a path) or document (an object) and returns structured results; it
 * never fails a test by itself, so any test framework (or none) can use it.
 *
 * @throws CasesError when the cases cannot be read or are not of the format.
 * @throws CasesPolicyError when the policy is not valid.
 *
 * @example
 * ```ts
 * const run = await runCases("policy.cases.json");
 * if (run.failed > 0) console.error(run.results.filter((r) => !r.passed));
 * ```
 */
export async function runCases(source: string | CasesDocument, options: CasesOptions = {}): Promise<CasesRun> {
  return runLoadedCases(loadCases(source, options));
}

function compare(expected: ExpectedDecision, actual: Decision): (keyof ExpectedDecision)[] {
  const a = actual as unknown as Record<string, unknown>;
  return EXPECT_FIELDS.filter((f) => expected[f] !== undefined && expected[f] !== a[f]);
}
