/**
 * `toolgate/testing`: unit-test policies from any test framework, or none. Loads and runs
 * cases files (the format `toolgate test` runs), reports coverage, and formats decisions.
 * Nothing here imports a test framework, so it loads by `import` and by `require` with no
 * vitest installed; the vitest suites (`describePolicyCases`, `describeStoreConformance`) are
 * in `toolgate/vitest`.
 *
 * @packageDocumentation
 */

export { coverageOf, coverageUnits, meetsCoverage, type Coverage } from "./coverage.js";
export { CasesError, CasesPolicyError } from "./errors.js";
export { formatDecision, formatFailure } from "./format.js";
export { loadCases } from "./load.js";
export { runCases, runLoadedCases } from "./run.js";
export {
  MAX_PROBLEMS,
  MAX_REPEAT,
  type CaseResult,
  type CasesDocument,
  type CasesOptions,
  type CasesProblem,
  type CasesRun,
  type ExpectedDecision,
  type LoadedCase,
  type LoadedCases,
  type PolicyCase,
} from "./types.js";
export { MAX_CASES } from "./validate.js";
