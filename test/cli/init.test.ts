import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { compilePolicy } from "toolgate";
import { describe, expect, it } from "vitest";
import { EVERYTHING_TOOLS, lines, MLFLOW_TOOLS, ROOT, tempDir, toolgate } from "./run.js";

interface Tool {
  name: string;
  description?: string;
  annotations?: { readOnlyHint?: boolean; destructiveHint?: boolean };
}

const READ_LIMIT = { rate_limit: { max: 60, window: "1m" } };
const mlflowTools = (JSON.parse(readFileSync(MLFLOW_TOOLS, "utf8")) as { tools: Tool[] }).tools;
const everythingTools = (JSON.parse(readFileSync(EVERYTHING_TOOLS, "utf8")) as { tools: Tool[] }).tools;
const SCHEMA = JSON.parse(readFileSync(join(ROOT, "schemas", "policy.v1.schema.json"), "utf8")) as { $id: string };

describe("toolgate init", () => {
  it("allows read-only tools with a limit and asks approval for the others, default deny", () => {
    const r = toolgate(["init", "--tools", MLFLOW_TOOLS]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    const policy = JSON.parse(r.stdout) as {
      $schema: string;
      version: string;
      default: string;
      tools: Record<string, unknown>;
    };
    expect(policy.version).toBe("1");
    expect(policy.default).toBe("deny");
    expect(Object.keys(policy.tools)).toEqual(mlflowTools.map((t) => t.name));
    for (const t of mlflowTools) {
      expect(policy.tools[t.name], t.name).toEqual(
        t.annotations?.readOnlyHint === true ? READ_LIMIT : { action: "require_approval" },
      );
    }
  });

  it("writes a policy that compiles and decides as described: no generated allow is unlimited", async () => {
    const r = toolgate(["init", "--tools", MLFLOW_TOOLS]);
    let now = 0;
    const policy = compilePolicy(r.stdout, { clock: () => now });
    const session = { id: "s" };
    for (let i = 0; i < 60; i++) expect((await policy.decide({ tool: "get_run", session })).outcome).toBe("allow");
    expect(await policy.decide({ tool: "get_run", session })).toMatchObject({
      outcome: "rate_limited",
      rule: "/tools/get_run/rate_limit",
    });
    now = 60_000;
    expect((await policy.decide({ tool: "get_run", session })).outcome).toBe("allow");
    expect((await policy.decide({ tool: "delete_run", session })).outcome).toBe("needs_approval");
    expect(await policy.decide({ tool: "drop_everything", session })).toMatchObject({
      outcome: "deny",
      cause: "policy",
    });
    expect(policy.warnings).toEqual([]);
    expect(policy.rules.filter((x) => x.action === "allow" && x.limits.length === 0)).toEqual([]);
  });

  it("never allows the everything server's get-env, and tightens on every annotation", async () => {
    const r = toolgate(["init", "--tools", EVERYTHING_TOOLS]);
    expect(r.status).toBe(0);
    expect(lines(r.stderr)).toEqual([
      'toolgate init: denied "get-env": its name or description suggests it exposes secrets or the environment',
    ]);
    const doc = JSON.parse(r.stdout) as { tools: Record<string, unknown> };
    expect(doc.tools["get-env"]).toEqual({
      action: "deny",
      reason: "This tool may expose secrets or environment variables, so it is not allowed",
    });
    const policy = compilePolicy(r.stdout);
    for (const t of everythingTools) {
      const d = await policy.peek({
        tool: t.name,
        session: { id: "s" },
        ...(t.annotations ? { annotations: t.annotations } : {}),
      });
      if (t.name === "get-env") expect(d.outcome, t.name).toBe("deny");
      else if (t.annotations?.readOnlyHint === true)
        expect(d, t.name).toMatchObject({ outcome: "allow", remaining: 59 });
      else expect(d.outcome, t.name).toBe("needs_approval");
    }
  });

  it("denies tools named or described like secrets, and asks approval for contradictory annotations", () => {
    const ro = { readOnlyHint: true };
    const dir = tempDir({
      "tools.json": [
        { name: "printEnv", annotations: ro },
        { name: "list_secrets", annotations: ro },
        { name: "get_api_key", annotations: ro },
        { name: "rotate-credentials" },
        { name: "lookup", description: "Returns the value of an environment variable", annotations: ro },
        { name: "whoami", description: "Shows the current access token", annotations: ro },
        { name: "odd", annotations: { readOnlyHint: true, destructiveHint: true } },
        { name: "inventory", annotations: ro },
        { name: "get_run", description: "Gets a run", annotations: ro },
      ],
    });
    const r = toolgate(["init", "--tools", "tools.json"], dir);
    expect(r.status).toBe(0);
    const tools = (JSON.parse(r.stdout) as { tools: Record<string, { action?: string }> }).tools;
    for (const name of ["printEnv", "list_secrets", "get_api_key", "rotate-credentials", "lookup", "whoami"]) {
      expect(tools[name]!.action, name).toBe("deny");
    }
    expect(tools.odd).toEqual({
      action: "require_approval",
      reason: "This tool claims to be both read-only and destructive",
    });
    expect(tools.inventory).toEqual(READ_LIMIT);
    expect(tools.get_run).toEqual(READ_LIMIT);
    expect(lines(r.stderr).at(-1)).toBe(
      'toolgate init: "odd" needs approval: it claims to be both read-only and destructive',
    );
  });

  it("writes to --out, never over an existing file without --force", () => {
    const dir = tempDir();
    const first = toolgate(["init", "--tools", MLFLOW_TOOLS, "--out", "policy.json"], dir);
    expect(first.status).toBe(0);
    expect(first.stdout).toBe("");
    expect(lines(first.stderr)).toEqual([
      "toolgate init: wrote policy.json: 27 read-only tools allowed with a limit, " +
        "13 requiring approval, 0 denied, default deny",
    ]);
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

  it("never writes through a symbolic link at --out, with or without --force", () => {
    const dir = tempDir({ "target.txt": "precious" });
    symlinkSync(join(dir, "target.txt"), join(dir, "policy.json"));
    symlinkSync(join(dir, "nowhere.txt"), join(dir, "dangling.json"));
    for (const args of [[], ["--force"]]) {
      for (const out of ["policy.json", "dangling.json"]) {
        const r = toolgate(["init", "--tools", MLFLOW_TOOLS, "--out", out, ...args], dir);
        expect(r.status, `${out} ${args.join(" ")}`).toBe(2);
        expect(lines(r.stderr)).toEqual([
          `toolgate init: ${out} is a symbolic link: ` +
            "init never writes through a link (remove it, or name the file it points to)",
        ]);
      }
    }
    expect(readFileSync(join(dir, "target.txt"), "utf8")).toBe("precious");
    expect(existsSync(join(dir, "nowhere.txt"))).toBe(false);
    expect(lstatSync(join(dir, "policy.json")).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dir, "policy.json"))).toBe(join(dir, "target.txt"));
  });

  it("refuses a directory at --out and an empty --out, and leaves no temporary file behind", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "policy.json"));
    const r = toolgate(["init", "--tools", MLFLOW_TOOLS, "--out", "policy.json", "--force"], dir);
    expect(r.status).toBe(2);
    expect(lines(r.stderr)).toEqual(["toolgate init: cannot write policy.json: is a directory"]);
    const empty = toolgate(["init", "--tools", MLFLOW_TOOLS, "--out="], dir);
    expect(empty.status).toBe(2);
    const missing = toolgate(["init", "--tools", MLFLOW_TOOLS, "--out", "no/such/dir/p.json", "--force"], dir);
    expect(missing.status).toBe(2);
    expect(lines(missing.stderr)).toEqual(["toolgate init: cannot write no/such/dir/p.json: no such file"]);
    expect(toolgate(["init", "--tools", MLFLOW_TOOLS, "--out", "p.json", "--force"], dir).status).toBe(0);
    expect(readdir(dir)).toEqual(["p.json", "policy.json"]);
  });

  it("points $schema at the nearest installed toolgate, relative to the output file, else at the published URL", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "node_modules", "toolgate", "schemas"), { recursive: true });
    writeFileSync(join(dir, "node_modules", "toolgate", "schemas", "policy.v1.schema.json"), "{}");
    mkdirSync(join(dir, "config", "policies"), { recursive: true });
    expect(toolgate(["init", "--tools", MLFLOW_TOOLS, "--out", "config/policies/p.json"], dir).status).toBe(0);
    const nested = JSON.parse(readFileSync(join(dir, "config", "policies", "p.json"), "utf8")) as { $schema: string };
    expect(nested.$schema).toBe("../../node_modules/toolgate/schemas/policy.v1.schema.json");
    // From a subdirectory, to standard output: relative to the working directory.
    const here = JSON.parse(toolgate(["init", "--tools", MLFLOW_TOOLS], join(dir, "config")).stdout) as {
      $schema: string;
    };
    expect(here.$schema).toBe("../node_modules/toolgate/schemas/policy.v1.schema.json");
    expect(toolgate(["init", "--tools", MLFLOW_TOOLS, "--out", "p.json"], dir).status).toBe(0);
    expect((JSON.parse(readFileSync(join(dir, "p.json"), "utf8")) as { $schema: string }).$schema).toBe(
      "./node_modules/toolgate/schemas/policy.v1.schema.json",
    );
    // With no local install anywhere above (the system temp directory has none), the published schema.
    const bare = tempDir();
    const far = JSON.parse(toolgate(["init", "--tools", MLFLOW_TOOLS], bare).stdout) as { $schema: string };
    expect(far.$schema).toBe(SCHEMA.$id);
  });

  it("leaves a tool whose name contains * to the default, and says so", () => {
    const dir = tempDir({ "tools.json": [{ name: "get_*" }, { name: "read", annotations: { readOnlyHint: true } }] });
    const r = toolgate(["init", "--tools", "tools.json"], dir);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ tools: { read: READ_LIMIT } });
    expect(Object.keys((JSON.parse(r.stdout) as { tools: object }).tools)).toEqual(["read"]);
    expect(lines(r.stderr)).toEqual([
      'toolgate init: left "get_*" to the default: a name containing "*" cannot be written as an exact key',
    ]);
  });

  it("keeps odd tool names as exact keys", () => {
    const long = `get_${"x".repeat(120)}`;
    const dir = tempDir({
      "tools.json": [
        { name: "__proto__" },
        { name: "constructor" },
        { name: "a/b~c", annotations: { readOnlyHint: true } },
        { name: long },
      ],
    });
    const r = toolgate(["init", "--tools", "tools.json"], dir);
    expect(r.status).toBe(0);
    const policy = compilePolicy(r.stdout);
    expect(policy.ruleFor("__proto__")).toBe("/tools/__proto__");
    expect(policy.ruleFor("constructor")).toBe("/tools/constructor");
    expect(policy.ruleFor("a/b~c")).toBe("/tools/a~1b~0c");
    expect(policy.ruleFor(long)).toBe(`/tools/${long}`);
  });

  it("exits 2 without --tools, for a missing tools file, and for a positional argument", () => {
    expect(lines(toolgate(["init"]).stderr)).toEqual([
      "toolgate init: --tools <tools.json> is required (see toolgate init --help)",
    ]);
    const missing = toolgate(["init", "--tools", "absent.json"], tempDir());
    expect(missing.status).toBe(2);
    expect(lines(missing.stderr)).toEqual(["toolgate init: cannot read absent.json: no such file"]);
    const stray = toolgate(["init", "--tools", MLFLOW_TOOLS, "extra"]);
    expect(stray.status).toBe(2);
    expect(lines(stray.stderr)).toEqual(['toolgate init: unexpected argument "extra" (see toolgate init --help)']);
  });
});

/** Every name in `dir`, hidden ones too: a leftover ".p.json.<hex>.tmp" would show here. */
function readdir(dir: string): string[] {
  return readdirSync(dir).sort();
}
