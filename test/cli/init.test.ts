import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compilePolicy } from "toolgate";
import { describe, expect, it } from "vitest";
import { lines, MLFLOW_TOOLS, tempDir, toolgate } from "./run.js";

interface Tool {
  name: string;
  annotations?: { readOnlyHint?: boolean };
}

const mlflowTools = (JSON.parse(readFileSync(MLFLOW_TOOLS, "utf8")) as { tools: Tool[] }).tools;

describe("toolgate init", () => {
  it("writes a policy allowing read-only tools and asking approval for the others, default deny", () => {
    const r = toolgate(["init", "--tools", MLFLOW_TOOLS]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    const policy = JSON.parse(r.stdout) as { $schema: string; version: string; default: string; tools: Record<string, unknown> };
    expect(policy.$schema).toBe("./node_modules/toolgate/schemas/policy.v1.schema.json");
    expect(policy.version).toBe("1");
    expect(policy.default).toBe("deny");
    expect(Object.keys(policy.tools)).toEqual(mlflowTools.map((t) => t.name));
    for (const t of mlflowTools) {
      expect(policy.tools[t.name]).toEqual(t.annotations?.readOnlyHint === true ? {} : { action: "require_approval" });
    }
  });

  it("writes a policy that compiles and decides as described", async () => {
    const r = toolgate(["init", "--tools", MLFLOW_TOOLS]);
    const policy = compilePolicy(r.stdout);
    const session = { id: "s" };
    expect((await policy.decide({ tool: "get_run", session })).outcome).toBe("allow");
    expect((await policy.decide({ tool: "delete_run", session })).outcome).toBe("needs_approval");
    expect((await policy.decide({ tool: "drop_everything", session })).outcome).toBe("deny");
    expect(policy.warnings).toEqual([]);
  });

  it("writes to --out, never over an existing file without --force", () => {
    const dir = tempDir();
    const first = toolgate(["init", "--tools", MLFLOW_TOOLS, "--out", "policy.json"], dir);
    expect(first.status).toBe(0);
    expect(first.stdout).toBe("");
    expect(lines(first.stderr)).toEqual(["toolgate init: wrote policy.json: 27 read-only tools allowed, 13 requiring approval, default deny"]);
    expect(toolgate(["validate", "policy.json"], dir).status).toBe(0);

    writeFileSync(join(dir, "policy.json"), "mine");
    const again = toolgate(["init", "--tools", MLFLOW_TOOLS, "--out", "policy.json"], dir);
    expect(again.status).toBe(2);
    expect(lines(again.stderr)).toEqual(["toolgate init: policy.json already exists (use --force to overwrite it)"]);
    expect(readFileSync(join(dir, "policy.json"), "utf8")).toBe("mine");

    const forced = toolgate(["init", "--tools", MLFLOW_TOOLS, "--out", "policy.json", "--force"], dir);
    expect(forced.status).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "policy.json"), "utf8"))).toMatchObject({ default: "deny" });
  });

  it("leaves a tool whose name contains * to the default, and says so", () => {
    const dir = tempDir({ "tools.json": [{ name: "get_*" }, { name: "read", annotations: { readOnlyHint: true } }] });
    const r = toolgate(["init", "--tools", "tools.json"], dir);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ tools: { read: {} } });
    expect(Object.keys((JSON.parse(r.stdout) as { tools: object }).tools)).toEqual(["read"]);
    expect(lines(r.stderr)).toEqual(['toolgate init: left "get_*" to the default: a name containing "*" cannot be written as an exact key']);
  });

  it("keeps odd tool names as exact keys", () => {
    const dir = tempDir({ "tools.json": [{ name: "__proto__" }, { name: "a/b~c", annotations: { readOnlyHint: true } }] });
    const r = toolgate(["init", "--tools", "tools.json"], dir);
    expect(r.status).toBe(0);
    const policy = compilePolicy(r.stdout);
    expect(policy.ruleFor("__proto__")).toBe("/tools/__proto__");
    expect(policy.ruleFor("a/b~c")).toBe("/tools/a~1b~0c");
  });

  it("exits 2 without --tools, for a missing tools file, and for a positional argument", () => {
    expect(lines(toolgate(["init"]).stderr)).toEqual(["toolgate init: --tools <tools.json> is required (see toolgate init --help)"]);
    const missing = toolgate(["init", "--tools", "absent.json"], tempDir());
    expect(missing.status).toBe(2);
    expect(lines(missing.stderr)).toEqual(["toolgate init: cannot read absent.json: no such file"]);
    const stray = toolgate(["init", "--tools", MLFLOW_TOOLS, "extra"]);
    expect(stray.status).toBe(2);
    expect(lines(stray.stderr)).toEqual(['toolgate init: unexpected argument "extra" (see toolgate init --help)']);
  });
});
