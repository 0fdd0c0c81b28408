import { defineConfig } from "tsup";

// One build for every public entry point. ESM and CJS side by side, each with its own
// declaration file, so `import` and `require` users both get types that match.
export default defineConfig([
  {
    entry: {
      index: "src/index.ts",
      redis: "src/stores/redis.ts",
      mcp: "src/mcp/index.ts",
      testing: "src/testing/index.ts",
    },
    format: ["esm", "cjs"],
    // TOOLGATE_NO_DTS=1 skips declarations: a quick build for local test runs while types are in flux.
    dts: process.env.TOOLGATE_NO_DTS === undefined,
    sourcemap: true,
    // Not cleaned: several builds may run at once (tests, benchmarks, watchers), and a clean
    // would delete files another process is importing. Entry names are fixed, so nothing stale ships.
    clean: false,
    target: "node20",
    splitting: false,
    treeshake: true,
    // The edges (redis, mcp, testing) reach the core through its public entry, never by
    // bundling a second copy of it: one PolicyError class, one store contract.
    external: ["toolgate"],
  },
  {
    // toolgate/vitest is ESM only, as vitest is (vitest refuses require()). Its own config, so
    // no CommonJS build of it that could only fail; require() gets the one-line file below.
    entry: { vitest: "src/vitest/index.ts" },
    format: ["esm" as const],
    dts: process.env.TOOLGATE_NO_DTS === undefined,
    sourcemap: true,
    clean: false,
    target: "node20",
    splitting: false,
    treeshake: true,
    // toolgate/testing named too: the declaration bundler matches names exactly, and its types
    // must be the ones toolgate/testing exports, not a copy.
    external: ["toolgate", "toolgate/testing", "vitest"],
  },
  {
    // require("toolgate/vitest") fails with a message that says what to do instead.
    entry: { vitest: "src/vitest/require.cts" },
    format: ["cjs" as const],
    sourcemap: false,
    clean: false,
    target: "node20",
  },
  {
    entry: { cli: "src/cli/main.ts" },
    format: ["esm" as const],
    sourcemap: true,
    target: "node20",
    banner: { js: "#!/usr/bin/env node" },
    external: ["toolgate"],
  },
]);
