import { describe, expect, it } from "vitest";
import { compilePolicy, MemoryStore, PolicyError, validatePolicy, type PolicyIssue } from "toolgate";

function issuesOf(doc: unknown): PolicyIssue[] {
  try {
    compilePolicy(doc);
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyError);
    return [...(e as PolicyError).issues];
  }
  throw new Error("expected a PolicyError");
}

const base = { version: "1", default: "deny" } as const;

describe("compilePolicy errors", () => {
  // docs/spec.md section 2: "All issues are reported, not just the first." A fractional max
  // without cost is an issue like any other, whatever else is wrong in the document.
  it("reports every issue with a JSON Pointer, a code and an author-facing message", () => {
    const issues = issuesOf({
      ...base,
      tools: { create_run: { rate_limit: { max: 0, window: "1 min" }, rate_limits: 3 } },
      limits: [{ max: 1.5, window: -1, per: "user" }],
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        { code: "value", path: "/tools/create_run/rate_limit/max", message: expect.stringContaining("got 0") },
        expect.objectContaining({
          code: "unknown_field",
          path: "/tools/create_run/rate_limits",
          message: expect.stringContaining('did you mean "rate_limit"'),
        }),
        expect.objectContaining({ code: "value", path: "/tools/create_run/rate_limit/window" }),
        { code: "value", path: "/limits/0/max", message: expect.stringContaining("integer") },
        expect.objectContaining({ code: "value", path: "/limits/0/window", message: expect.stringContaining("> 0") }),
        expect.objectContaining({
          code: "value",
          path: "/limits/0/per",
          message: expect.stringContaining('"/userId"'),
        }),
      ]),
    );
    expect(issues).toHaveLength(6);
  });

  it("names the supported versions for any other version", () => {
    expect(issuesOf({ version: "2", default: "deny", tools: {} })).toEqual([
      { code: "version", path: "/version", message: 'unsupported version "2": this toolgate reads version "1"' },
    ]);
    expect(issuesOf({ version: 1, default: "deny", tools: {} })[0]!.message).toContain("unsupported version 1");
  });

  it("reports missing required fields at their own path", () => {
    expect(issuesOf({ version: "1" })).toEqual([
      { code: "missing_field", path: "/default", message: "is required" },
      { code: "missing_field", path: "/tools", message: "is required" },
    ]);
  });

  it("rejects rules mixed with action, rate_limit or reason", () => {
    const issues = issuesOf({ ...base, tools: { t: { action: "deny", rules: [{}] } } });
    expect(issues).toEqual([
      { code: "conflict", path: "/tools/t/action", message: expect.stringContaining("holds nothing else") },
    ]);
  });

  it("explains a `when` outside `rules`", () => {
    expect(issuesOf({ ...base, tools: { t: { when: { args: {} } } } })[0]).toMatchObject({
      path: "/tools/t/when",
      message: expect.stringContaining("conditional rule"),
    });
  });

  it("checks window values the schema cannot", () => {
    expect(issuesOf({ ...base, tools: { t: { rate_limit: { max: 1, window: 0.0005 } } } })).toEqual([
      {
        code: "value",
        path: "/tools/t/rate_limit/window",
        message: expect.stringContaining("whole number of milliseconds"),
      },
    ]);
    expect(issuesOf({ ...base, tools: { t: { rate_limit: { max: 1, window: "0s" } } } })[0]!.message).toContain(
      "at least 1",
    );
    expect(issuesOf({ ...base, tools: { t: { rate_limit: { max: 1, window: "366d" } } } })[0]!.message).toContain(
      "365 days",
    );
    expect(() => compilePolicy({ ...base, tools: { t: { rate_limit: { max: 1, window: 0.001 } } } })).not.toThrow();
  });

  it("reports when-schema errors at the keyword's own path, with a hint", () => {
    const issues = issuesOf({
      ...base,
      tools: {
        t: { rules: [{ when: { args: { properties: { n: { maximun: 3 } } } } }] },
        u: { rules: [{ when: { session: { properties: { d: { format: "dat" } } } } }] },
        v: { rules: [{ when: { args: { properties: { s: { pattern: "^(a)\\1$" } } } } }] },
        w: { rules: [{ when: { args: { $ref: "#/$defs/missing" } } }] },
      },
    });
    expect(issues).toEqual([
      {
        code: "condition",
        path: "/tools/t/rules/0/when/args/properties/n/maximun",
        message: 'unknown keyword "maximun" in a when schema (did you mean "maximum"?)',
      },
      {
        code: "condition",
        path: "/tools/u/rules/0/when/session/properties/d/format",
        message: 'unknown format "dat" in a when schema',
      },
      {
        code: "condition",
        path: "/tools/v/rules/0/when/args/properties/s/pattern",
        message: expect.stringContaining("linear-time engine"),
      },
      {
        code: "condition",
        path: "/tools/w/rules/0/when/args/$ref",
        message: expect.stringContaining("resolves only within this when schema"),
      },
    ]);
  });

  it("still reports when-schema errors when the shape is also wrong", () => {
    const issues = issuesOf({
      ...base,
      tools: { t: { rules: [{ when: { args: { maximun: 1 } } }] }, u: { action: "permit" } },
    });
    expect(issues.map((i) => i.path)).toEqual(["/tools/u/action", "/tools/t/rules/0/when/args/maximun"]);
  });

  it("gives line and column for JSON text, and rejects duplicate keys", () => {
    const text =
      '{\n  "version": "1",\n  "default": "deny",\n  "tools": {\n    "a": {},\n    "a": { "action": "deny" }\n  }\n}';
    expect(issuesOf(text)).toEqual([
      {
        code: "json",
        path: "/tools/a",
        message: 'duplicate key "a" (JSON.parse would silently keep the last one)',
        line: 6,
        column: 5,
      },
    ]);
    const bad =
      '{\n  "version": "1",\n  "default": "deny",\n' +
      '  "tools": { "t": { "rate_limit": { "max": 0, "window": "1m" } } }\n}';
    expect(issuesOf(bad)).toEqual([
      {
        code: "value",
        path: "/tools/t/rate_limit/max",
        message: expect.stringContaining("got 0"),
        line: 4,
        column: 44,
      },
    ]);
    expect(issuesOf('{"version": "1",')[0]).toMatchObject({ message: "unexpected end of JSON text", line: 1 });
  });

  it("rejects values JSON cannot hold, cycles and class instances, with paths", () => {
    expect(issuesOf({ ...base, tools: { t: { rate_limit: { max: Number.NaN, window: 1 } } } })).toEqual([
      { code: "json", path: "/tools/t/rate_limit/max", message: "must be a finite number, got NaN" },
    ]);
    const cyclic: Record<string, unknown> = { ...base, tools: {} };
    (cyclic.tools as Record<string, unknown>).t = cyclic;
    expect(issuesOf(cyclic)).toEqual([{ code: "json", path: "/tools/t", message: "is a cycle: it contains itself" }]);
    expect(issuesOf({ ...base, tools: { t: new Map() } })[0]).toEqual({
      code: "json",
      path: "/tools/t",
      message: "must be a plain object, got an instance of Map",
    });
    expect(issuesOf({ ...base, tools: { t: { reason: () => 1 } } })[0]!.path).toBe("/tools/t/reason");
  });

  it("turns a throwing getter into a PolicyError at its path", () => {
    const tools = Object.defineProperty({}, "t", {
      enumerable: true,
      get() {
        throw new Error("boom");
      },
    });
    expect(issuesOf({ ...base, tools })).toEqual([
      { code: "json", path: "/tools/t", message: "could not be read: boom" },
    ]);
  });

  it("validatePolicy never throws and returns the same issues", () => {
    expect(validatePolicy({ ...base, tools: {} })).toEqual({ valid: true, warnings: [] });
    const r = validatePolicy({ ...base, tools: { t: { action: "nope" } } });
    expect(r.valid).toBe(false);
    for (const hostile of [
      undefined,
      null,
      5,
      "",
      "[]",
      [],
      new Proxy(
        {},
        {
          ownKeys: () => {
            throw new Error("x");
          },
        },
      ),
    ]) {
      expect(validatePolicy(hostile).valid).toBe(false);
    }
  });

  it("rejects bad options with exact messages", () => {
    const doc = { ...base, tools: {} };
    expect(() => compilePolicy(doc, { storeTimeoutMs: 0 })).toThrow(
      new TypeError("compilePolicy: storeTimeoutMs must be an integer from 1 to 2147483647 (milliseconds), got 0"),
    );
    expect(() => compilePolicy(doc, { stor: 1 } as never)).toThrow(
      new TypeError('compilePolicy: unknown option "stor" (did you mean "store"?)'),
    );
    expect(() => compilePolicy(doc, { zzzzzzzzzzzz: 1 } as never)).toThrow(
      new TypeError('compilePolicy: unknown option "zzzzzzzzzzzz"'),
    );
    expect(() => compilePolicy(doc, [] as never)).toThrow(
      new TypeError("compilePolicy: options must be a plain object, got an array"),
    );
    expect(() => compilePolicy(doc, { mode: "audit" as never })).toThrow(/mode must be "enforce" or "shadow"/);
    expect(() => compilePolicy(doc, { onDecision: 1 as never })).toThrow(/onDecision must be a function/);
    expect(() => compilePolicy(doc, { onRefund: "x" as never })).toThrow(/onRefund must be a function/);
    expect(() => compilePolicy(doc, { store: {} as never })).toThrow(/consume\(request\)/);
    expect(() => compilePolicy(doc, { clock: 5 as never })).toThrow(/clock must be a function/);
    expect(() => compilePolicy(doc, { namespace: "" })).toThrow(/namespace must be a non-empty string/);
    expect(() => compilePolicy(doc, { failOpen: "yes" as never })).toThrow(/failOpen must be a boolean/);
  });

  it("keeps its own frozen copy of the document", () => {
    const doc = { ...base, tools: { t: {} as Record<string, unknown> } };
    const policy = compilePolicy(doc);
    doc.tools.t.action = "deny";
    expect(policy.decideSync({ tool: "t", session: { id: "s" } }).outcome).toBe("allow");
    expect(Object.isFrozen(policy.document.tools)).toBe(true);
  });
});

describe("warnings", () => {
  it("flags patterns an equally specific earlier pattern always beats", () => {
    const policy = compilePolicy({
      ...base,
      tools: { "*a*": {}, "a*": { action: "deny" }, "b*": {}, "*": {}, "**": {} },
    });
    expect(policy.warnings).toEqual([
      { code: "warning", path: "/tools/a*", message: expect.stringContaining('"*a*"') },
      { code: "warning", path: "/tools/**", message: expect.stringContaining('"*"') },
    ]);
  });

  it("flags limits on deny rules, which never apply", () => {
    const policy = compilePolicy({ ...base, tools: { t: { action: "deny", rate_limit: { max: 1, window: 1 } } } });
    expect(policy.warnings).toEqual([
      { code: "warning", path: "/tools/t/rate_limit", message: expect.stringContaining("never applies") },
    ]);
  });

  it("flags conditional rules after one that always holds", () => {
    const policy = compilePolicy({ ...base, tools: { t: { rules: [{ when: { args: {} } }, { action: "deny" }] } } });
    expect(policy.warnings).toEqual([
      { code: "warning", path: "/tools/t/rules/1", message: expect.stringContaining("/tools/t/rules/0") },
    ]);
    expect(validatePolicy({ ...base, tools: { t: { rules: [{}, {}] } } })).toMatchObject({
      valid: true,
      warnings: [{ path: "/tools/t/rules/1" }],
    });
  });
});

describe("namespaces", () => {
  const doc = { ...base, tools: { t: { rate_limit: { max: 1, window: 60 } } } };
  it("defaults to the name, else a stable hash of the document", () => {
    expect(compilePolicy({ ...doc, name: "p" }).namespace).toBe("p");
    const a = compilePolicy(doc).namespace;
    expect(a).toMatch(/^sha:[0-9a-f]{28}$/);
    expect(compilePolicy(JSON.parse(JSON.stringify(doc))).namespace).toBe(a);
    expect(compilePolicy({ ...doc, tools: { ...doc.tools, u: {} } }).namespace).not.toBe(a);
    expect(compilePolicy(doc, { namespace: "x" }).namespace).toBe("x");
  });

  it("shares budgets only within a namespace", () => {
    const store = new MemoryStore();
    const s = { id: "s" };
    const a = compilePolicy(doc, { store });
    const b = compilePolicy(JSON.parse(JSON.stringify(doc)), { store });
    const c = compilePolicy(doc, { store, namespace: "other" });
    expect(a.decideSync({ tool: "t", session: s }).outcome).toBe("allow");
    expect(b.decideSync({ tool: "t", session: s }).outcome).toBe("rate_limited");
    expect(c.decideSync({ tool: "t", session: s }).outcome).toBe("allow");
  });
});
