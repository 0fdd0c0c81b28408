import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = new URL("..", import.meta.url).pathname;
const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: root, encoding: "utf8" });

describe("the published package", () => {
  it("loads through require (CJS) and import (ESM) by its name, with the same API", () => {
    const script = `const t = require("toolgate");
      const p = t.compilePolicy({ version: "1", default: "deny", tools: { a: {} } });
      console.log(JSON.stringify([Object.keys(t).sort(), p.decideSync({ tool: "a", session: { id: "s" } })]));`;
    const cjs = JSON.parse(run(["-e", script])) as [string[], unknown];
    const esm = JSON.parse(
      run([
        "--input-type=module",
        "-e",
        `import * as t from "toolgate"; console.log(JSON.stringify([Object.keys(t).sort(), null]));`,
      ]),
    ) as [string[], unknown];
    expect(cjs[1]).toEqual({ outcome: "allow", rule: "/tools/a" });
    expect(cjs[0]).toEqual(esm[0]);
    expect(cjs[0]).toEqual(expect.arrayContaining(["MemoryStore", "PolicyError", "compilePolicy", "validatePolicy"]));
  });

  it("exports the policy schema, with a description on every property", () => {
    const viaExports = JSON.parse(
      run(["-e", `console.log(JSON.stringify(require("toolgate/schemas/policy.v1.schema.json")))`]),
    ) as object;
    const schema = JSON.parse(readFileSync(`${root}/schemas/policy.v1.schema.json`, "utf8")) as Record<string, unknown>;
    expect(viaExports).toEqual(schema);
    expect(schema.$id).toMatch(/^https:\/\//);
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    const missing: string[] = [];
    const visit = (node: unknown, path: string) => {
      if (node === null || typeof node !== "object") return;
      const props = (node as { properties?: Record<string, unknown> }).properties;
      if (props) {
        for (const [k, v] of Object.entries(props)) {
          const d = v as { description?: string; $ref?: string };
          if (!d.description && !d.$ref) missing.push(`${path}/properties/${k}`);
          visit(v, `${path}/properties/${k}`);
        }
        // The policy's own objects are closed (a typo is an error); a when schema is a JSON Schema,
        // open by nature, which $defs/whenKeywords only describes for editors.
        if (!path.startsWith("/$defs/whenKeywords"))
          expect((node as { additionalProperties?: unknown }).additionalProperties, path).toBe(false);
      }
      for (const [k, v] of Object.entries(node)) if (k !== "properties") visit(v, `${path}/${k}`);
    };
    visit(schema, "");
    expect(missing).toEqual([]);
    for (const [name, def] of Object.entries(schema.$defs as Record<string, { description?: string }>)) {
      expect(def.description, name).toBeTruthy();
    }
  });

  it("declares what a package needs: type, exports, engines, sideEffects, files", () => {
    const pkg = JSON.parse(readFileSync(`${root}/package.json`, "utf8")) as Record<string, unknown>;
    expect(pkg.type).toBe("module");
    expect(pkg.sideEffects).toBe(false);
    expect((pkg.engines as { node: string }).node).toMatch(/\b20\b/);
    expect(pkg.files).toEqual(expect.arrayContaining(["dist", "schemas"]));
    expect(Object.keys(pkg.exports as object)).toEqual(
      expect.arrayContaining([".", "./redis", "./mcp", "./testing", "./vitest", "./schemas/policy.v1.schema.json"]),
    );
    // vitest is needed by toolgate/vitest only, so it is an optional peer.
    expect((pkg.peerDependenciesMeta as Record<string, { optional?: boolean }>).vitest).toEqual({ optional: true });
  });
});

/**
 * The tarball as a user installs it: `npm pack` of the built package, installed into a fresh
 * project without any optional peer (no vitest, no MCP SDK, no Redis client), its dependencies
 * from the npm cache. `--ignore-scripts` packs the dist/ that `npm test` just built: the prepack
 * script would delete and rebuild dist/ while other test files import it.
 */
describe("the packed tarball, installed without optional peers", () => {
  let dir = "";
  let project = "";

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "toolgate-pack-"));
    const packed = JSON.parse(
      execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], {
        cwd: root,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      }),
    ) as { filename: string; files: { path: string }[] }[];
    const files = packed[0]!.files.map((f) => f.path);
    for (const f of [
      "dist/index.js",
      "dist/index.cjs",
      "dist/testing.js",
      "dist/testing.cjs",
      "dist/vitest.js",
      "dist/vitest.cjs",
      "dist/cli.js",
      "schemas/policy.v1.schema.json",
    ]) {
      expect(files, f).toContain(f);
    }
    project = join(dir, "project");
    mkdirSync(project);
    execFileSync("npm", ["init", "-y"], { cwd: project, stdio: "ignore" });
    const install = spawnSync(
      "npm",
      [
        "install",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
        "--omit=optional",
        "--ignore-scripts",
        join(dir, packed[0]!.filename),
      ],
      { cwd: project, encoding: "utf8", timeout: 90_000 },
    );
    if (install.status !== 0)
      throw new Error(`npm install of the tarball failed:\n${install.stdout}\n${install.stderr}`);
    writeFileSync(
      join(project, "policy.json"),
      JSON.stringify({ version: "1", default: "deny", tools: { get_run: {} } }),
    );
    writeFileSync(
      join(project, "policy.cases.json"),
      JSON.stringify({
        policy: "./policy.json",
        cases: [{ name: "read", call: { tool: "get_run", session: { id: "s" } }, expect: "allow" }],
      }),
    );
  }, 120_000);

  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  const node = (args: string[]) =>
    spawnSync(process.execPath, args, { cwd: project, encoding: "utf8", timeout: 30_000 });

  it("has no optional peer installed", () => {
    for (const peer of ["vitest", "@modelcontextprotocol/sdk", "ioredis", "redis"]) {
      expect(existsSync(join(project, "node_modules", peer)), peer).toBe(false);
    }
  });

  it("loads every framework-free entry by require and by import", () => {
    const cjs = node([
      "-e",
      `for (const m of ["toolgate", "toolgate/testing", "toolgate/redis", "toolgate/mcp"]) require(m);
       const t = require("toolgate/testing");
       console.log(typeof t.runCases, typeof t.loadCases,
         "describePolicyCases" in t, "describeStoreConformance" in t);`,
    ]);
    expect(cjs.stderr).toBe("");
    expect(cjs.stdout.trim()).toBe("function function false false");
    const esm = node([
      "--input-type=module",
      "-e",
      `for (const m of ["toolgate", "toolgate/testing", "toolgate/redis", "toolgate/mcp"]) await import(m);
       const t = await import("toolgate/testing");
       console.log(typeof t.runCases, Object.keys(t).includes("describePolicyCases"));`,
    ]);
    expect(esm.stderr).toBe("");
    expect(esm.stdout.trim()).toBe("function false");
  });

  it("runs a cases file with runCases, from CommonJS, with no test framework", () => {
    const r = node([
      "-e",
      `require("toolgate/testing").runCases("policy.cases.json")
         .then((run) => console.log(JSON.stringify([run.passed, run.failed, run.coverage.percent])));`,
    ]);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual([1, 0, 50]);
  });

  it("says what to do when toolgate/vitest is required, and names vitest when it is not installed", () => {
    const cjs = node(["-e", `require("toolgate/vitest")`]);
    expect(cjs.status).toBe(1);
    expect(cjs.stderr).toContain("toolgate/vitest is ESM only, as vitest is: load it with import");
    const esm = node(["--input-type=module", "-e", `await import("toolgate/vitest")`]);
    expect(esm.status).toBe(1);
    expect(esm.stderr).toMatch(/Cannot find package 'vitest'/);
  });

  it("runs its CLI from node_modules/.bin", () => {
    const bin = join(project, "node_modules", ".bin", "toolgate");
    const validate = spawnSync(bin, ["validate", "policy.json"], { cwd: project, encoding: "utf8", timeout: 30_000 });
    expect(validate.stderr).toBe("");
    expect(validate.stdout).toBe("policy.json: valid\n");
    expect(validate.status).toBe(0);
    const test = spawnSync(bin, ["test", "policy.cases.json"], { cwd: project, encoding: "utf8", timeout: 30_000 });
    expect(test.stdout).toBe("1 passed, 0 failed\n");
    expect(test.status).toBe(0);
    // The installed package's schema is found next to the project: a relative $schema.
    const init = spawnSync(bin, ["init", "--tools", "tools.json"], {
      cwd: project,
      encoding: "utf8",
      input: "",
      timeout: 30_000,
    });
    expect(init.status).toBe(2);
    writeFileSync(
      join(project, "tools.json"),
      JSON.stringify([{ name: "get_run", annotations: { readOnlyHint: true } }]),
    );
    const written = spawnSync(bin, ["init", "--tools", "tools.json"], {
      cwd: project,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(JSON.parse(written.stdout)).toMatchObject({
      $schema: "./node_modules/toolgate/schemas/policy.v1.schema.json",
    });
  });
});
