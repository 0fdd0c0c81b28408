/**
 * examples/filesystem, run for real: `toolgate proxy` (the built CLI) with the example's policy in
 * front of the reference filesystem MCP server, `@modelcontextprotocol/server-filesystem`, given a
 * broad root, driven by the official SDK 1.x client. Every traversal spelling must leave the
 * server inside the named directories: reads outside refused, writes outside refused and the disk
 * untouched (the tree is hashed before and after), moves put to a person (this client cannot
 * ask one, so they are refused).
 */

import { createHash } from "node:crypto";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
  existsSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
const POLICY = fileURLToPath(new URL("../../examples/filesystem/policy.json", import.meta.url));
const SERVER = createRequire(import.meta.url).resolve("@modelcontextprotocol/server-filesystem/dist/index.js");
const SECRET = "TOP SECRET: the launch codes";

let root: string;
let policyDir: string;
let client: Client;
let transport: StdioClientTransport;
let stderr = "";
/** write_file calls the policy allowed before the rate-limit test: they count against its limit. */
let writesAllowed = 0;

/** A digest of every directory and file under `dir`: names, kinds and contents. */
function treeHash(dir: string): string {
  const hash = createHash("sha256");
  const walk = (at: string, rel: string) => {
    for (const name of readdirSync(at).sort()) {
      const full = join(at, name);
      const r = `${rel}/${name}`;
      if (statSync(full).isDirectory()) {
        hash.update(`d ${r}\n`);
        walk(full, r);
      } else {
        hash.update(`f ${r}\n`).update(readFileSync(full)).update("\n");
      }
    }
  };
  walk(dir, "");
  return hash.digest("hex");
}

type ToolResult = { isError?: boolean; content?: unknown };

async function call(name: string, args: Record<string, unknown>): Promise<{ isError: boolean; text: string }> {
  const result = (await client.callTool({ name, arguments: args })) as ToolResult;
  const content = Array.isArray(result.content) ? (result.content as { type: string; text?: string }[]) : [];
  return { isError: result.isError === true, text: content.map((c) => c.text ?? "").join("\n") };
}

beforeAll(async () => {
  // realpath: the server resolves its root's symlinks (macOS /var → /private/var); the policy must
  // name the same paths.
  root = realpathSync(mkdtempSync(join(tmpdir(), "toolgate-fs-example-")));
  mkdirSync(join(root, "public", "notes"), { recursive: true });
  mkdirSync(join(root, "public", "uploads"), { recursive: true });
  mkdirSync(join(root, "private"));
  writeFileSync(join(root, "public", "readme.txt"), "hello from public");
  writeFileSync(join(root, "public", "notes", "a.txt"), "a note");
  writeFileSync(join(root, "public", "uploads", "keep.txt"), "keep me");
  writeFileSync(join(root, "private", "secret.txt"), SECRET);
  // The example names /srv/data; this run puts the same layout in a temporary directory.
  policyDir = mkdtempSync(join(tmpdir(), "toolgate-fs-policy-"));
  const policyFile = join(policyDir, "policy.json");
  writeFileSync(policyFile, readFileSync(POLICY, "utf8").replaceAll("/srv/data", root));
  transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "proxy", "--policy", policyFile, "--", process.execPath, SERVER, root],
    stderr: "pipe",
  });
  transport.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  client = new Client({ name: "filesystem-example-test", version: "1.0.0" });
  try {
    await client.connect(transport);
  } catch (e) {
    throw new Error(`the proxy did not start: ${String(e)}\n${stderr}`, { cause: e });
  }
}, 60_000);

afterAll(async () => {
  await client?.close().catch(() => {});
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
  if (policyDir !== undefined) rmSync(policyDir, { recursive: true, force: true });
});

describe("examples/filesystem through toolgate proxy, in front of the real filesystem server", () => {
  it("the example policy is the one documented: it names the server's own tools and arguments", async () => {
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const [name, arg] of [
      ["read_text_file", "path"],
      ["write_file", "path"],
      ["move_file", "source"],
      ["move_file", "destination"],
      ["read_multiple_files", "paths"],
    ] as const) {
      expect(byName.get(name)?.inputSchema.properties, name).toHaveProperty(arg);
    }
  });

  it("reads inside public/ work", async () => {
    expect(await call("read_text_file", { path: `${root}/public/readme.txt` })).toEqual({
      isError: false,
      text: "hello from public",
    });
    expect((await call("read_text_file", { path: `${root}/public/notes/../readme.txt` })).text).toBe(
      "hello from public",
    );
    const listing = await call("list_directory", { path: `${root}/public` });
    expect(listing.isError).toBe(false);
    expect(listing.text).toContain("readme.txt");
    expect(
      (await call("read_multiple_files", { paths: [`${root}/public/readme.txt`, `${root}/public/notes/a.txt`] })).text,
    ).toContain("a note");
  });

  const outsideReads: [string, string, Record<string, unknown>][] = [
    ["dot-dot", "read_text_file", { path: "ROOT/public/../private/secret.txt" }],
    ["dot-dot after a name", "read_text_file", { path: "ROOT/public/notes/../../private/secret.txt" }],
    ["dot-dot after dot", "read_text_file", { path: "ROOT/public/./../private/secret.txt" }],
    ["double slashes", "read_text_file", { path: "ROOT//public//..//private//secret.txt" }],
    ["backslashes", "read_text_file", { path: "ROOT/public/..\\private\\secret.txt" }],
    ["NUL", "read_text_file", { path: "ROOT/public/readme.txt\u0000/../../private/secret.txt" }],
    ["a relative path", "read_text_file", { path: "public/../private/secret.txt" }],
    ["the secret itself", "read_file", { path: "ROOT/private/secret.txt" }],
    ["a sibling named like public", "read_media_file", { path: "ROOT/public2/../private/secret.txt" }],
    [
      "one bad path in a list",
      "read_multiple_files",
      { paths: ["ROOT/public/readme.txt", "ROOT/public/../private/secret.txt"] },
    ],
    ["a trailing /..", "list_directory", { path: "ROOT/public/.." }],
    ["the root", "directory_tree", { path: "ROOT" }],
    ["a search from the root", "search_files", { path: "ROOT/public/..", pattern: "secret" }],
    ["file info", "get_file_info", { path: "ROOT/public/../private/secret.txt" }],
    ["a path that is not a string", "read_text_file", { path: ["ROOT/private/secret.txt"] }],
    ["the allowed directories", "list_allowed_directories", {}],
  ];

  it.each(outsideReads)("a read outside public/ is refused by the policy: %s", async (_what, tool, args) => {
    const r = await call(tool, JSON.parse(JSON.stringify(args).replaceAll("ROOT", root)) as Record<string, unknown>);
    expect(r.isError).toBe(true);
    expect(r.text).not.toContain(SECRET);
    expect(r.text).not.toContain("secret.txt");
    // The policy refused it, not the server: with its broad root the server would have answered.
    if (tool !== "list_allowed_directories") expect(r.text).toContain(`Reads are allowed only inside ${root}/public`);
  });

  it("percent-escapes are names, not dots: the policy lets %2e%2e through, the server finds no such file", async () => {
    const r = await call("read_text_file", { path: `${root}/public/%2e%2e/private/secret.txt` });
    expect(r.isError).toBe(true);
    expect(r.text).not.toContain(SECRET);
  });

  it("writes, edits and new directories outside uploads/ are refused, and the disk is untouched", async () => {
    const before = treeHash(root);
    const attempts: [string, Record<string, unknown>][] = [
      ["write_file", { path: `${root}/private/secret.txt`, content: "overwritten" }],
      ["write_file", { path: `${root}/public/uploads/../../private/secret.txt`, content: "overwritten" }],
      ["write_file", { path: `${root}/public/uploads/../readme.txt`, content: "overwritten" }],
      ["write_file", { path: `${root}/public/uploads//..//evil.txt`, content: "x" }],
      ["write_file", { path: `${root}/public/uploads/./../evil.txt`, content: "x" }],
      ["write_file", { path: `${root}/public/uploads/..\\..\\private\\secret.txt`, content: "overwritten" }],
      ["write_file", { path: `${root}/public/uploads/x\u0000/../../../private/secret.txt`, content: "overwritten" }],
      ["write_file", { path: "public/uploads/../../private/secret.txt", content: "overwritten" }],
      ["write_file", { path: `${root}/public/uploads2/x.txt`, content: "x" }],
      [
        "edit_file",
        { path: `${root}/public/uploads/../../private/secret.txt`, edits: [{ oldText: "TOP", newText: "NOT" }] },
      ],
      ["edit_file", { path: `${root}/public/readme.txt`, edits: [{ oldText: "hello", newText: "bye" }] }],
      ["create_directory", { path: `${root}/public/uploads/..` }],
      ["create_directory", { path: `${root}/public/uploads/../../private/new` }],
      ["create_directory", { path: `${root}/evil` }],
      ["move_file", { source: `${root}/private/secret.txt`, destination: `${root}/public/uploads/secret.txt` }],
      [
        "move_file",
        { source: `${root}/public/uploads/keep.txt`, destination: `${root}/public/uploads/../../private/keep.txt` },
      ],
    ];
    for (const [tool, args] of attempts) {
      const r = await call(tool, args);
      expect(r.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
    }
    // Inside uploads/ by name, so the policy allows it (and counts it against the write limit);
    // the server finds no directory called %2e%2e and writes nothing.
    const escaped = await call("write_file", {
      path: `${root}/public/uploads/%2e%2e/%2e%2e/private/secret.txt`,
      content: "overwritten",
    });
    expect(escaped.isError).toBe(true);
    writesAllowed++;
    expect(treeHash(root)).toBe(before);
    expect(readFileSync(join(root, "private", "secret.txt"), "utf8")).toBe(SECRET);
  });

  it("a move inside uploads/ needs a person's approval: this client cannot ask, so it is refused", async () => {
    const before = treeHash(root);
    const r = await call("move_file", {
      source: `${root}/public/uploads/keep.txt`,
      destination: `${root}/public/uploads/moved.txt`,
    });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/approv/i);
    expect(treeHash(root)).toBe(before);
  });

  it("writes inside uploads/ work, up to the rate limit of 30 a minute", async () => {
    const first = await call("write_file", { path: `${root}/public/uploads/new.txt`, content: "new file" });
    expect(first.isError, first.text).toBe(false);
    expect(readFileSync(join(root, "public", "uploads", "new.txt"), "utf8")).toBe("new file");
    writesAllowed++;
    for (let i = writesAllowed; i < 30; i++) {
      expect((await call("write_file", { path: `${root}/public/uploads/n${i}.txt`, content: String(i) })).isError).toBe(
        false,
      );
    }
    const limited = await call("write_file", { path: `${root}/public/uploads/n30.txt`, content: "30" });
    expect(limited.isError).toBe(true);
    expect(limited.text).toMatch(/retry/i);
    expect(existsSync(join(root, "public", "uploads", "n30.txt"))).toBe(false);
  });
});

describe("the same policy written with pattern, as peers teach it, lets the traversal through", () => {
  it("reads the secret with ^<root>/public/ and <root>/public/../private/secret.txt: why pathWithin", async () => {
    const dir = mkdtempSync(join(tmpdir(), "toolgate-fs-pattern-"));
    try {
      mkdirSync(join(dir, "public"));
      mkdirSync(join(dir, "private"));
      writeFileSync(join(dir, "private", "secret.txt"), SECRET);
      const real = realpathSync(dir);
      const text = readFileSync(POLICY, "utf8")
        .replaceAll("/srv/data", real)
        .replace(
          /"pathWithin": "([^"]*)"/g,
          (_m, p: string) =>
            `"type": "string", "pattern": ${JSON.stringify(`^${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/`)}`,
        );
      const file = join(dir, "pattern-policy.json");
      writeFileSync(file, text);
      const t = new StdioClientTransport({
        command: process.execPath,
        args: [CLI, "proxy", "--policy", file, "--", process.execPath, SERVER, real],
        stderr: "pipe",
      });
      let log = "";
      t.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString("utf8")));
      const c = new Client({ name: "pattern-policy-test", version: "1.0.0" });
      await c.connect(t);
      try {
        const result = (await c.callTool({
          name: "read_text_file",
          arguments: { path: `${real}/public/../private/secret.txt` },
        })) as ToolResult;
        expect(JSON.stringify(result.content), `proxy stderr:\n${log}`).toContain(SECRET);
      } finally {
        await c.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
