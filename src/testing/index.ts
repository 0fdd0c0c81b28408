/**
 * `toolgate/testing`: helpers to unit-test policies under vitest (or jest), and the
 * conformance suite that every store implementation must pass.
 *
 * @packageDocumentation
 */

export {
  CasesError,
  CasesPolicyError,
  formatDecision,
  loadCases,
  MAX_REPEAT,
  runCases,
  runLoadedCases,
  type CaseResult,
  type CasesDocument,
  type CasesOptions,
  type CasesRun,
  type ExpectedDecision,
  type LoadedCase,
  type LoadedCases,
  type PolicyCase,
} from "./cases.js";
export { coverageUnits, meetsCoverage, type Coverage } from "./coverage.js";
export { describePolicyCases } from "./describe.js";
export { describeStoreConformance, type ConformanceOptions } from "./conformance.js";
