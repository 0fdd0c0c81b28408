import { fileURLToPath } from "node:url";
import { defineConfig, mergeConfig } from "vitest/config";
import base from "./vitest.config.js";

const src = (file: string) => fileURLToPath(new URL(`./src/${file}`, import.meta.url));

// For development only: the package's entries resolve to the TypeScript sources, so a test
// runs against the tree as it is without a build. `npm test` and CI use vitest.config.ts (the
// built files, as a user gets them); tests that run the built CLI still need `npm run build`.
export default mergeConfig(
  base,
  defineConfig({
    resolve: {
      alias: [
        { find: /^toolgate$/, replacement: src("index.ts") },
        { find: /^toolgate\/redis$/, replacement: src("stores/redis.ts") },
        { find: /^toolgate\/mcp$/, replacement: src("mcp/index.ts") },
        { find: /^toolgate\/testing$/, replacement: src("testing/index.ts") },
        { find: /^toolgate\/vitest$/, replacement: src("vitest/index.ts") },
      ],
    },
  }),
);
