/**
 * What `require("toolgate/vitest")` loads: vitest is ESM only, so its suites can be loaded by
 * `import` only. A clear error instead of vitest's own, which names vitest rather than toolgate.
 */

throw new Error(
  "toolgate/vitest is ESM only, as vitest is: load it with import " +
    '(import { describePolicyCases } from "toolgate/vitest") ' +
    'from an ES module test file (.mts, or .ts/.js in a package with "type": "module"). ' +
    'Without vitest, or from CommonJS, use require("toolgate/testing") (runCases, loadCases).',
);

// A module, so that isolatedModules compiles it.
export {};
