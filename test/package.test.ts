import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const root = new URL("..", import.meta.url).pathname;
const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: root, encoding: "utf8" });

describe("the published package", () => {
  it("loads through require (CJS) and import (ESM) by its name, with the same API", () => {
    const script = `const t = require("toolgate");
      const p = t.compilePolicy({ version: "1", default: "deny", tools: { a: {} } });
      console.log(JSON.stringify([Object.keys(t).sort(), p.decideSync({ tool: "a", session: { id: "s" } })]));`;
    const cjs = JSON.parse(run(["-e", script])) as [string[], unknown];
    const esm = JSON.parse(
      run(["--input-type=module", "-e", `import * as t from "toolgate"; console.log(JSON.stringify([Object.keys(t).sort(), null]));`]),
    ) as [string[], unknown];
    expect(cjs[1]).toEqual({ outcome: "allow", rule: "/tools/a" });
    expect(cjs[0]).toEqual(esm[0]);
    expect(cjs[0]).toEqual(expect.arrayContaining(["MemoryStore", "PolicyError", "compilePolicy", "validatePolicy"]));
  });

  it("exports the policy schema, with a description on every property", () => {
    const viaExports = JSON.parse(run(["-e", `console.log(JSON.stringify(require("toolgate/schemas/policy.v1.schema.json")))`])) as object;
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
    expect(pkg.engines).toEqual({ node: ">=20" });
    expect(pkg.files).toEqual(expect.arrayContaining(["dist", "schemas"]));
    expect(Object.keys(pkg.exports as object)).toEqual(expect.arrayContaining([".", "./redis", "./mcp", "./testing", "./schemas/policy.v1.schema.json"]));
  });
});
