import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const dist = (file: string) => readFileSync(new URL(`../../dist/${file}`, import.meta.url), "utf8");
const staticSdkImport = /^\s*(import\b[^;]*?from\s*|import\s*|export\b[^;]*?from\s*)["']@modelcontextprotocol\/sdk/m;
const requireSdk = /require\(["']@modelcontextprotocol\/sdk/;

describe("the MCP SDK stays an optional peer dependency", () => {
  it("the engine and toolgate/mcp never load it (toolgate/mcp uses its types only)", () => {
    for (const file of ["index.js", "index.cjs", "mcp.js", "mcp.cjs"]) {
      const code = dist(file);
      expect([file, staticSdkImport.test(code), requireSdk.test(code), /import\(["']@modelcontextprotocol/.test(code)]).toEqual([file, false, false, false]);
    }
  });

  it("the CLI loads it only when the proxy runs (a dynamic import)", () => {
    const cli = dist("cli.js");
    expect(staticSdkImport.test(cli)).toBe(false);
    expect(cli).toMatch(/import\(["']@modelcontextprotocol\/sdk\/client\/index\.js["']\)/);
  });
});
