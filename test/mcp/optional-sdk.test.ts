import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const dist = (file: string) => readFileSync(new URL(`../../dist/${file}`, import.meta.url), "utf8");
// Any package of either SDK line: @modelcontextprotocol/sdk (1.x), /server, /client, /core (2.x).
const staticSdkImport = /^\s*(import\b[^;]*?from\s*|import\s*|export\b[^;]*?from\s*)["']@modelcontextprotocol\//m;
const requireSdk = /require\(["']@modelcontextprotocol\//;

describe("both MCP SDK lines stay optional peer dependencies", () => {
  it("the engine and toolgate/mcp never load either (toolgate/mcp uses their types only)", () => {
    for (const file of ["index.js", "index.cjs", "mcp.js", "mcp.cjs"]) {
      const code = dist(file);
      expect([
        file,
        staticSdkImport.test(code),
        requireSdk.test(code),
        /import\(["']@modelcontextprotocol/.test(code),
      ]).toEqual([file, false, false, false]);
    }
  });

  it("the CLI loads the SDK only when the proxy runs (a dynamic import)", () => {
    const cli = dist("cli.js");
    expect(staticSdkImport.test(cli)).toBe(false);
    expect(cli).toMatch(/import\(["']@modelcontextprotocol\/sdk\/client\/index\.js["']\)/);
  });

  it("the gateway's peers are loaded when --listen or --redis runs, never bundled or imported statically", () => {
    const cli = dist("cli.js");
    for (const name of ["@modelcontextprotocol/server", "@modelcontextprotocol/node", "ioredis"]) {
      expect(cli).toContain(`await import("${name}")`);
      expect(cli).not.toMatch(new RegExp(`^import [^;]*from ["']${name}["']`, "m"));
    }
    // Bundled, a peer would be a second copy beside the user's (or a chunk file next to cli.js).
    expect(cli).not.toMatch(/import\(["']\.\/[^"']+["']\)/);
  });

  it("package.json declares both lines as optional peers", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
    };
    expect(pkg.peerDependencies["@modelcontextprotocol/sdk"]).toBe("^1.20.0");
    expect(pkg.peerDependencies["@modelcontextprotocol/server"]).toBe("^2.4.0");
    expect(pkg.peerDependenciesMeta["@modelcontextprotocol/sdk"]).toEqual({ optional: true });
    expect(pkg.peerDependenciesMeta["@modelcontextprotocol/server"]).toEqual({ optional: true });
    // toolgate proxy --listen: the Node glue of the 2.x server.
    expect(pkg.peerDependencies["@modelcontextprotocol/node"]).toBe("^2.1.0");
    expect(pkg.peerDependenciesMeta["@modelcontextprotocol/node"]).toEqual({ optional: true });
  });
});
