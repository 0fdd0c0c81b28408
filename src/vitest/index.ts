/**
 * `toolgate/vitest`: the vitest suites. `describePolicyCases` registers a cases file as one
 * test per case; `describeStoreConformance` checks a store against the store contract.
 * ESM only, as vitest is: `require("toolgate/vitest")` fails (use `import`). Everything that
 * needs no test framework is in `toolgate/testing`.
 *
 * @packageDocumentation
 */

export { describePolicyCases } from "./describe.js";
export { describeStoreConformance, type ConformanceOptions } from "../testing/conformance.js";
