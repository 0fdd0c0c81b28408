/**
 * `describePolicyCases`: a cases file (or inline cases) as a vitest suite, one test per case.
 */

import { beforeAll, describe, expect, it } from "vitest";
import { formatDecision, loadCases, runLoadedCases, type CaseResult, type CasesDocument, type CasesOptions, type CasesRun } from "./cases.js";

/**
 * Registers a vitest suite named `name` with one test per case of a cases file (a path) or
 * document (an object). The cases are read when the suite is registered, so a bad cases file
 * or an invalid policy fails the test file at once with the path of the problem. They run in
 * order, once, before the tests (they share one clock and one set of budgets); each test then
 * checks its own case, failing with the expected and the actual decision.
 *
 * @example
 * ```ts
 * import { describePolicyCases } from "toolgate/testing";
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
          expect(projected(r), failureMessage(r)).toEqual(r.expected);
        }
      });
    });
  });
}

function projected(r: CaseResult): Record<string, unknown> {
  const a = r.actual as unknown as Record<string, unknown>;
  return Object.fromEntries(Object.keys(r.expected).map((k) => [k, a[k]]));
}

function failureMessage(r: CaseResult): string {
  return `${r.name} (${r.path}, at ${r.at} ms${r.calls > 1 ? `, last of ${r.calls} calls` : ""}): expected ${formatDecision(r.expected)}, got ${formatDecision(r.actual)}`;
}
