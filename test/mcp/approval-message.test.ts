/**
 * The approval question never cuts what decides (docs/spec.md section 8, "Approvals"): every leaf
 * of nested arguments is shown by its path with its own bounded preview, or the call is refused
 * with a reason, never shown in part.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { approvalMessage, escapeNonPrinting } from "toolgate/mcp";

type Segment = string | number;

/** The test's own spelling of a path, written from the documented format, not from the module. */
const pathLine = (path: readonly Segment[]) =>
  path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${JSON.stringify(p)}`)).join("");

function leafCount(v: unknown): number {
  if (Array.isArray(v) && v.length > 0) return v.reduce((n: number, x) => n + leafCount(x), 0);
  if (typeof v === "object" && v !== null && Object.keys(v).length > 0) {
    return Object.values(v).reduce((n: number, x) => n + leafCount(x), 0);
  }
  return 1;
}

function depth(v: unknown): number {
  if (Array.isArray(v) && v.length > 0) return 1 + Math.max(...v.map(depth));
  if (typeof v === "object" && v !== null && Object.keys(v).length > 0)
    return 1 + Math.max(...Object.values(v).map(depth));
  return 0;
}

/** Sets `leaf` at `path` inside `root`, making containers as needed, every name an own property. */
function put(root: Record<string, unknown>, path: readonly Segment[], leaf: unknown): void {
  let at: Record<Segment, unknown> = root;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const next = path[i + 1];
    let value: unknown = leaf;
    if (next !== undefined) {
      const cur = Object.hasOwn(at, seg) ? at[seg] : undefined;
      const fits =
        typeof next === "number" ? Array.isArray(cur) : typeof cur === "object" && cur !== null && !Array.isArray(cur);
      value = fits ? cur : typeof next === "number" ? [] : {};
    }
    if (Array.isArray(at) && typeof seg === "number") while (at.length < seg) at.push("pad");
    Object.defineProperty(at, seg, { value, enumerable: true, writable: true, configurable: true });
    at = value as Record<Segment, unknown>;
  }
}

const key = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom("__proto__", "constructor", "a.b", "", "path", "x\u202e"),
);
const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string({ minLength: 250, maxLength: 700 }));

describe("approval questions: nested arguments", () => {
  it("property: a decisive leaf anywhere in nested arguments appears on its own line, or the call is refused", () => {
    fc.assert(
      fc.property(
        fc.dictionary(key, value, { maxKeys: 8 }),
        fc.array(fc.oneof(key, fc.integer({ min: 0, max: 3 })), { minLength: 0, maxLength: 10 }),
        key,
        (base, inner, top) => {
          const args = structuredClone(base) as Record<string, unknown>;
          const path: Segment[] = [top, ...inner];
          put(args, path, "/etc/shadow");
          const message = approvalMessage("write", "why", args, []);
          const shownAll = leafCount(args) <= 64 && depth(args) <= 8;
          expect(message.ok).toBe(shownAll);
          if (message.ok) {
            expect(message.text).toContain(`\n  ${escapeNonPrinting(pathLine(path))}: "/etc/shadow"`);
            expect(message.text.split("\n")).toHaveLength(3 + leafCount(args));
          } else {
            expect(message.why).toMatch(
              /more than the 64 values|nested more than 8 levels deep|more than the 64 an approval/,
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("the attack: a 600-character note before a nested path; each leaf is shown, sorted, the keys read first", () => {
    const message = approvalMessage("write", "why", { z: 1, target: { note: "n".repeat(600), path: "/etc/shadow" } }, [
      "z",
    ]);
    expect(message).toEqual({
      ok: true,
      text: [
        'Allow the tool "write" to run with these arguments, this once?',
        "Why approval is needed: why",
        "Arguments (3, every one shown):",
        '  "z": 1',
        `  "target"."note": "${"n".repeat(199)}… (602 characters in all)`,
        '  "target"."path": "/etc/shadow"',
      ].join("\n"),
    });
  });

  it("a name holding a dot cannot pose as a path; array elements, empty containers and indices sort by number", () => {
    const message = approvalMessage("t", "r", {
      "a.b": 1,
      a: { b: 2, e: {}, l: [] },
      p: Array.from({ length: 11 }, (_, i) => i),
    });
    expect(message.ok).toBe(true);
    const lines = message.ok ? message.text.split("\n").slice(3) : [];
    expect(lines.slice(0, 5)).toEqual(['  "a"."b": 2', '  "a"."e": {}', '  "a"."l": []', '  "a.b": 1', '  "p"[0]: 0']);
    expect(lines.slice(5, 7)).toEqual(['  "p"[1]: 1', '  "p"[2]: 2']);
    expect(lines.at(-1)).toBe('  "p"[10]: 10');
  });

  it("64 leaves and 8 levels are shown; 65 leaves or 9 levels are refused with a reason", () => {
    const leaves = (n: number) => ({ o: Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])) });
    expect(approvalMessage("t", "r", leaves(64)).ok).toBe(true);
    expect(approvalMessage("t", "r", leaves(65))).toEqual({
      ok: false,
      why: "its arguments hold more than the 64 values an approval can show",
    });
    const nest = (n: number) => {
      let v: unknown = "/etc/shadow";
      for (let i = 0; i < n; i++) v = { d: v };
      return v as Record<string, unknown>;
    };
    const eight = approvalMessage("t", "r", nest(8));
    expect(eight.ok && eight.text.includes(`  ${'"d".'.repeat(7)}"d": "/etc/shadow"`)).toBe(true);
    expect(approvalMessage("t", "r", nest(9))).toEqual({
      ok: false,
      why: "its arguments are nested more than 8 levels deep",
    });
    expect(approvalMessage("t", "r", nest(100_000))).toMatchObject({ ok: false });
  });

  it("hostile shapes, refused fast: cycles, shared subtrees, a billion-item sparse array, getters that throw", () => {
    const cycle: Record<string, unknown> = { path: "/etc/shadow" };
    cycle.self = cycle;
    expect(approvalMessage("t", "r", { c: cycle })).toMatchObject({ ok: false });
    let shared: unknown = "v";
    for (let i = 0; i < 60; i++) shared = { l: shared, r: shared };
    expect(approvalMessage("t", "r", { s: shared })).toMatchObject({ ok: false });
    let wide: unknown = "v";
    for (let i = 0; i < 7; i++) wide = { l: wide, r: wide };
    expect(approvalMessage("t", "r", { s: wide })).toMatchObject({
      ok: false,
      why: expect.stringContaining("64 values"),
    });
    expect(approvalMessage("t", "r", { a: new Array(1e9) })).toMatchObject({ ok: false });
    const holes: number[] = [];
    holes[0] = 1;
    holes[2] = 3;
    expect(approvalMessage("t", "r", { a: holes })).toMatchObject({ ok: false });
    const getter = {
      get path(): string {
        throw new Error("secret");
      },
    };
    const refused = approvalMessage("t", "r", { g: getter });
    expect(refused).toEqual({ ok: false, why: "its arguments could not be read" });
    const trap = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new Error("secret");
        },
      },
    );
    expect(approvalMessage("t", "r", { p: trap })).toEqual({ ok: false, why: "its arguments could not be read" });
    expect(approvalMessage("t", "r", { a: { b: 1n } })).toEqual({
      ok: false,
      why: 'the argument "a"."b" cannot be shown as JSON',
    });
    expect(approvalMessage("t", "r", { a: { f: () => 1 } })).toEqual({
      ok: false,
      why: 'the argument "a"."f" has no JSON form',
    });
    expect(approvalMessage("t", "r", { a: { ["k".repeat(129)]: 1 } })).toMatchObject({
      ok: false,
      why: expect.stringContaining("128"),
    });
    expect(approvalMessage("t", "r", null as never)).toEqual({ ok: false, why: "its arguments are not an object" });
  });

  it("__proto__ and constructor names are shown as names; values with a JSON form of their own show that data", () => {
    const args = JSON.parse('{"__proto__":{"path":"/etc/shadow"},"constructor":{"prototype":1}}') as Record<
      string,
      unknown
    >;
    const message = approvalMessage("t", "r", {
      ...args,
      when: new Date(0),
      wrapped: { toJSON: () => ({ path: "/etc/passwd" }) },
    });
    expect(message.ok).toBe(true);
    const text = message.ok ? message.text : "";
    expect(text).toContain('  "__proto__"."path": "/etc/shadow"');
    expect(text).toContain('  "constructor"."prototype": 1');
    expect(text).toContain('  "when": "1970-01-01T00:00:00.000Z"');
    expect(text).toContain('  "wrapped"."path": "/etc/passwd"');
    expect(({} as Record<string, unknown>).path).toBeUndefined();
  });

  it("names and values inside nested arguments reach the person escaped", () => {
    const message = approvalMessage("t", "r", { o: { "k\u200b": ["\u202eexe.txt"] } });
    expect(message).toMatchObject({
      ok: true,
      text: expect.stringContaining('  "o"."k\\u{200B}"[0]: "\\u{202E}exe.txt"'),
    });
    expect(message.ok && /[\u200b\u202e]/.test(message.text)).toBe(false);
  });
});
