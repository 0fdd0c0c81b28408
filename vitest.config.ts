import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const dist = (file: string) => fileURLToPath(new URL(`./dist/${file}`, import.meta.url));

// Tests import the package by its name and get the built files, exactly what a user installs.
// `npm test` builds first, so a test can never pass against source that does not ship.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^toolgate$/, replacement: dist("index.js") },
      { find: /^toolgate\/redis$/, replacement: dist("redis.js") },
      { find: /^toolgate\/mcp$/, replacement: dist("mcp.js") },
      { find: /^toolgate\/testing$/, replacement: dist("testing.js") },
      { find: /^toolgate\/vitest$/, replacement: dist("vitest.js") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
