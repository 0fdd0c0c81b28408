/**
 * Hostile input to `toolgate/testing`'s entry points: every answer is a CasesError, a
 * CasesPolicyError or a decision (a malformed call is denied, as in production), in bounded time.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CasesError, CasesPolicyError, loadCases, MAX_CASES, runCases } from "toolgate/testing";
import { describePolicyCases } from "toolgate/vitest";
import { afterAll, describe, expect, it } from "vitest";

const POLICY = { version: "1" as const, default: "deny" as const, tools: { get_run: {} } };
const GOOD = { name: "read", call: { tool: "get_run", session: { id: "s" } }, expect: "allow" as const };
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("loadCases and runCases with hostile input", () => {
  it.each([
    ["null", null],
    ["a number", 7],
    ["an array", []],
    ["a class instance", new (class Cases {})()],
    ["a function", () => 1],
  ])("rejects %s as a cases document", (_, doc) => {
    const e = thrown(() => loadCases(doc as never));
    expect(e).toBeInstanceOf(CasesError);
    expect((e as CasesError).problems[0]!.path).toBe("");
  });

  it("turns a throwing getter or proxy trap into a CasesError, never another exception", () => {
    const getter = { policy: POLICY };
    Object.defineProperty(getter, "cases", {
      enumerable: true,
      get() {
        throw new Error("boom");
      },
    });
    expect(thrown(() => loadCases(getter as never))).toMatchObject({
      name: "CasesError",
      message: "cases: could not be read: boom",
    });
    const trap = new Proxy(
      { policy: POLICY, cases: [] },
      {
        ownKeys() {
          throw new Error("trap");
        },
      },
    );
    expect(thrown(() => loadCases(trap as never))).toBeInstanceOf(CasesError);
  });

  it("rejects __proto__ and constructor as field names rather than reading through them", () => {
    const doc = JSON.parse(`{ "policy": ${JSON.stringify(POLICY)},
      "cases": [{ "name": "x", "call": { "tool": "get_run", "session": { "id": "s" } },
      "expect": { "outcome": "allow", "__proto__": { "rule": "/x" }, "constructor": 1 } }],
      "__proto__": { "cases": [] } }`) as never;
    const e = thrown(() => loadCases(doc)) as CasesError;
    expect(e.problems.map((p) => p.path)).toEqual([
      "/__proto__",
      "/cases/0/expect/__proto__",
      "/cases/0/expect/constructor",
    ]);
  });

  it("bounds the cases of one document, and a sparse array with a huge length is refused at once", () => {
    const sparse: unknown[] = [];
    sparse.length = 1e9;
    const started = Date.now();
    const e = thrown(() => loadCases({ policy: POLICY, cases: sparse } as never)) as CasesError;
    expect(e.problems).toEqual([
      { path: "/cases", message: `has 1000000000 cases; at most ${MAX_CASES} run in one document (split the file)` },
    ]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("refuses a repeat that would hang a CI job, and a negative or fractional time", () => {
    const e = thrown(() =>
      loadCases({
        policy: POLICY,
        cases: [
          { ...GOOD, repeat: 1e9 },
          { ...GOOD, at: -1 },
          { ...GOOD, at: Number.NaN },
          { ...GOOD, repeat: 2.5 },
        ],
      }),
    ) as CasesError;
    expect(e.problems.map((p) => p.path)).toEqual(["/cases/0/repeat", "/cases/1/at", "/cases/2/at", "/cases/3/repeat"]);
  });

  it("denies malformed and hostile calls, as the engine does in production", async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const getterArgs = {};
    Object.defineProperty(getterArgs, "x", {
      enumerable: true,
      get() {
        throw new Error("secret text");
      },
    });
    const run = await runCases({
      policy: POLICY,
      cases: [
        {
          name: "cyclic args",
          call: { tool: "get_run", args: cyclic, session: { id: "s" } },
          expect: "allow",
        },
        {
          name: "no session",
          call: { tool: "get_run" } as never,
          expect: { outcome: "deny", cause: "malformed_call" },
        },
        {
          name: "long name",
          call: { tool: "x".repeat(100_000), session: { id: "s" } },
          expect: { outcome: "deny", cause: "malformed_call" },
        },
        { name: "getter", call: { tool: "get_run", args: getterArgs, session: { id: "s" } }, expect: "allow" },
        {
          name: "proto",
          call: JSON.parse('{ "tool": "__proto__", "session": { "id": "s" } }') as never,
          expect: { outcome: "deny", rule: "/default" },
        },
      ],
    });
    expect(run.results.map((r) => r.actual.outcome)).toEqual(["allow", "deny", "deny", "allow", "deny"]);
    expect(run.results.slice(1, 3).every((r) => r.passed)).toBe(true);
    // A reason never carries text from the call.
    for (const r of run.results) expect(JSON.stringify(r.actual)).not.toContain("secret text");
  });

  it("reports an invalid inline policy as CasesPolicyError, deep and cyclic ones included", () => {
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 10_000; i++) {
      const next = {};
      deep.a = next;
      deep = next;
    }
    const cyclic: Record<string, unknown> = { version: "1", default: "deny", tools: {} };
    (cyclic.tools as Record<string, unknown>).a = cyclic;
    for (const policy of [
      { version: "1", default: "deny", tools: { a: root } },
      cyclic,
      { version: "2", default: "deny", tools: {} },
    ]) {
      expect(thrown(() => loadCases({ policy, cases: [GOOD] } as never))).toBeInstanceOf(CasesPolicyError);
    }
  });

  it("reads deeply nested cases files without a crash: a problem of the file, or a decision for the call", async () => {
    const dir = mkdtempSync(join(tmpdir(), "toolgate-hostile-"));
    dirs.push(dir);
    const deep = `${"[".repeat(5000)}${"]".repeat(5000)}`;
    writeFileSync(
      join(dir, "meta.json"),
      `{ "policy": ${JSON.stringify(POLICY)}, "cases": [], "description": ${deep} }`,
    );
    const e = thrown(() => loadCases(join(dir, "meta.json"))) as CasesError;
    expect(e).toBeInstanceOf(CasesError);
    expect(e.problems.map((p) => p.path)).toEqual(["/description"]);
    const call = `{ "tool": "get_run", "args": { "a": ${deep} }, "session": { "id": "s" } }`;
    writeFileSync(
      join(dir, "args.json"),
      `{ "policy": ${JSON.stringify(POLICY)}, "cases": [{ "name": "deep", "call": ${call}, "expect": "allow" }] }`,
    );
    const run = await runCases(join(dir, "args.json"));
    expect(run.results[0]!.actual.outcome).toMatch(/^(allow|deny)$/);
  });

  it("describePolicyCases fails the test file at once, with every problem", () => {
    const e = thrown(() =>
      describePolicyCases("bad", { policy: POLICY, cases: [{ ...GOOD, name: "" }, 3] } as never),
    ) as CasesError;
    expect(e).toBeInstanceOf(CasesError);
    expect(e.problems.map((p) => p.path)).toEqual(["/cases/0/name", "/cases/1"]);
    expect(e.message).toContain("2 problems");
  });
});
