/**
 * `describePolicyCases`: a cases file (or inline cases) as a vitest suite, one test per case.
 */

import { formatFailure, loadCases, runLoadedCases } from "toolgate/testing";
import type { CaseResult, CasesDocument, CasesOptions, CasesRun } from "toolgate/testing";
import { beforeAll, describe, expect, it } from "vitest";

/**
 * Registers a vitest suite named `name` with one test per case of a cases file (a path) or
 * document (an object). The cases are read when the suite is registered, so a bad cases file
 * or an invalid policy fails the test file at once with every problem and its path. They run
 * in order, once, before the tests (they share one clock and one set of budgets); each test
 * then checks its own case, failing with the expected and the actual decision.
 *
 * @throws CasesError when the cases cannot be read or are not of the format.
 * @throws CasesPolicyError when the policy is not valid.
 *
 * @example
 * ```ts
 * import { describePolicyCases } from "toolgate/vitest";
 * describePolicyCases("mlflow policy", new URL("./mlflow.cases.json", import.meta.url).pathname);
 * ```
 */
export function describePolicyCases(name: string, source: string | CasesDocument, options: CasesOptions = {}): void {
  const loaded = loadCases(source, options);
  describe(name, () => {
    let run: CasesRun | undefined;
    beforeAll(async () => {
      run = await runLoadedCases(loaded);
    });
    loaded.cases.forEach((c, i) => {
      it(`${c.name} (${c.path})`, () => {
        const r = run?.results[i];
        if (r === undefined) throw new Error("the cases did not run (see the error of beforeAll)");
        if (!r.passed) {
          // Compare only the expected fields, so the diff shows exactly what did not match.
          expect(projected(r), formatFailure(r)).toEqual(r.expected);
        }
      });
    });
  });
}

function projected(r: CaseResult): Record<string, unknown> {
  const a = r.actual as unknown as Record<string, unknown>;
  return Object.fromEntries(Object.keys(r.expected).map((k) => [k, a[k]]));
}
