import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = new URL("..", import.meta.url).pathname;

describe("examples", () => {
  it("the MLflow example prints a decision for every sample call", () => {
    const out = execFileSync(process.execPath, ["examples/mlflow/run.mjs"], { cwd: root, encoding: "utf8" });
    expect(out).toMatch(/get_run\s+allow\s+\/tools\/get_\*/);
    expect(out).toMatch(/register_model\s+rate_limited\s+\/tools\/register_model\/rate_limit/);
    expect(out).toMatch(/delete_run\s+needs_approval\s+\/tools\/delete_\*/);
    expect(out).toMatch(/delete_run \(approved\)\s+allow/);
    expect(out).toMatch(/drop_database\s+deny\s+\/default/);
    expect(out).toMatch(/Malformed call: unknown field "arguments"/);
    // The README shows this output: every line it shows must be a line the example prints.
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const shown = /## Two commands[\s\S]*?```text\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(shown).toBeDefined();
    const printed = new Set(out.split("\n").map((l) => l.trimEnd()));
    for (const line of shown!.split("\n").filter((l) => l.trim() !== "" && l.trim() !== "...")) {
      expect(printed.has(line.trimEnd()), line).toBe(true);
    }
  });

  it("the README quickstart runs as written and prints what it says", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Quickstart"));
    const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code).toBeDefined();
    // Inside the package folder, `import "toolgate"` resolves to this package's build.
    const dir = mkdtempSync(join(root, "test", ".quickstart-"));
    try {
      const file = join(dir, "quickstart.mjs");
      writeFileSync(file, code!);
      const out = execFileSync(process.execPath, [file], { cwd: root, encoding: "utf8" });
      expect(out).toContain("outcome: 'allow', rule: '/tools/get_*'");
      expect(out).toContain("outcome: 'needs_approval'");
      expect(out).toContain("outcome: 'rate_limited'");
      expect(out).toContain("rule: '/default'");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the README's Claude Desktop configuration is the example's, which runs the local build", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("### Without code: `toolgate proxy`"));
    const shown = /```json\n([\s\S]*?)```/.exec(section)?.[1];
    expect(shown).toBeDefined();
    const example = JSON.parse(readFileSync(join(root, "examples/mcp-proxy/claude_desktop_config.json"), "utf8")) as {
      mcpServers: { mlflow: { command: string; args: string[] } };
    };
    const { command, args } = (JSON.parse(shown!) as typeof example).mcpServers.mlflow;
    expect({ command, args }).toEqual({
      command: example.mcpServers.mlflow.command,
      args: example.mcpServers.mlflow.args,
    });
    expect(command).toBe("node");
    expect(args[0]).toMatch(/\/dist\/cli\.js$/);
  });

  it("the MLflow policy covers every tool of the fixture as the README says", async () => {
    const { compilePolicy } = await import("toolgate");
    const policy = compilePolicy(readFileSync(join(root, "examples/mlflow/policy.json"), "utf8"));
    expect(policy.warnings).toEqual([]);
    const { tools } = JSON.parse(readFileSync(join(root, "test/fixtures/mlflow-mcp-tools.json"), "utf8")) as {
      tools: { name: string; annotations: { readOnlyHint?: boolean; destructiveHint?: boolean } }[];
    };
    for (const t of tools) {
      const d = await policy.peek({ tool: t.name, session: { id: "s" }, annotations: t.annotations });
      if (t.annotations.readOnlyHint) expect([t.name, d.outcome]).toEqual([t.name, "allow"]);
      else if (t.annotations.destructiveHint) expect([t.name, d.outcome]).toEqual([t.name, "needs_approval"]);
      else expect([t.name, policy.ruleFor(t.name), d.outcome]).toEqual([t.name, `/tools/${t.name}`, "allow"]);
    }
  });
});
