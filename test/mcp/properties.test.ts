import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { approvalMessage, escapeNonPrinting, MemoryNonceStore } from "toolgate/mcp";
import { ApprovalSealer, canonicalJson, digest } from "../../src/mcp/approval-state.js";
import { ToolPins } from "../../src/mcp/pins.js";

const NON_PRINTING = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff]/;

describe("approval questions (properties)", () => {
  it("escapeNonPrinting leaves no bidi, zero-width or control character, and keeps printable text as it is", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 60 }), (text) => {
        const escaped = escapeNonPrinting(text);
        expect(NON_PRINTING.test(escaped)).toBe(false);
        if (!NON_PRINTING.test(text) && !/[\ufe00-\ufe0f\ud800-\udfff\u00ad]/.test(text)) expect(escaped).toBe(text);
      }),
    );
  });

  it("every argument is shown, each leaf on its own line, and the text does not depend on the key order", () => {
    const leaves = (v: unknown): number =>
      Array.isArray(v) && v.length > 0
        ? v.reduce((n: number, x) => n + leaves(x), 0)
        : typeof v === "object" && v !== null && Object.keys(v).length > 0
          ? Object.values(v).reduce((n: number, x) => n + leaves(x), 0)
          : 1;
    const reorder = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(reorder)
        : typeof v === "object" && v !== null
          ? Object.fromEntries(
              Object.entries(v)
                .reverse()
                .map(([k, x]) => [k, reorder(x)]),
            )
          : v;
    const argsOf = fc.dictionary(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 20 });
    fc.assert(
      fc.property(argsOf, (args) => {
        const message = approvalMessage("tool", "why", args);
        const count = Object.values(args).reduce((n: number, x) => n + leaves(x), 0);
        expect(message.ok).toBe(count <= 64);
        if (!message.ok) return;
        expect(message.text.split("\n")).toHaveLength(3 + count);
        for (const key of Object.keys(args)) {
          expect(message.text).toContain(`\n  ${escapeNonPrinting(JSON.stringify(key))}`);
        }
        expect(approvalMessage("tool", "why", reorder(args) as Record<string, unknown>)).toEqual(message);
      }),
    );
  });
});

describe("approval states (properties)", () => {
  const sealer = new ApprovalSealer("k".repeat(32));
  const binding = fc.record({
    tool: fc.string({ minLength: 1, maxLength: 20 }),
    args: fc.jsonValue({ maxDepth: 3 }),
    session: fc.string({ maxLength: 10 }),
  });
  const bind = (b: { tool: string; args: unknown; session: string }) => ({
    tool: b.tool,
    args: digest(canonicalJson(b.args) ?? ""),
    session: digest(b.session),
    rule: "/r",
  });

  it("a sealed state opens to exactly what it binds, until it expires", () => {
    fc.assert(
      fc.property(binding, (b) => {
        const state = sealer.seal(bind(b), 2000);
        expect(sealer.open(state, 1000)).toMatchObject(bind(b));
        expect(sealer.open(state, 2000)).toBeUndefined();
      }),
    );
  });

  it("changing any character of a state, or sealing with another key, makes it fail", () => {
    const other = new ApprovalSealer("o".repeat(32));
    fc.assert(
      fc.property(binding, fc.nat(), fc.string({ minLength: 1, maxLength: 1 }), (b, at, c) => {
        const state = sealer.seal(bind(b), 2000);
        const i = at % state.length;
        const changed = state.slice(0, i) + c + state.slice(i + 1);
        if (changed !== state) expect(sealer.open(changed, 1000)).toBeUndefined();
        expect(other.open(state, 1000)).toBeUndefined();
      }),
    );
  });

  it("canonical JSON does not depend on key order, and differs when a value differs", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 })), (value) => {
        const reversed = Object.fromEntries(Object.entries(value).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(value));
        expect(JSON.parse(canonicalJson(value)!)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(canonicalJson(cyclic)).toBeUndefined();
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(canonicalJson(deep)).toBeUndefined();
  });

  it("a nonce is claimed once; a full store refuses rather than forgets an unexpired nonce", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 1, maxLength: 32 }), {
          maxLength: 30,
        }),
        (nonces) => {
          const now = 0;
          const store = new MemoryNonceStore({ maxEntries: 10, clock: () => now });
          nonces.forEach((n, i) => {
            expect(store.claim(n, 100)).toBe(i < 10);
            expect(store.claim(n, 100)).toBe(false);
          });
        },
      ),
    );
  });
});

describe("pinned tool definitions (properties)", () => {
  const tool = fc.record({
    name: fc.string({ minLength: 1, maxLength: 8 }),
    description: fc.string({ maxLength: 10 }),
    inputSchema: fc.constant({ type: "object" }),
  });

  it("a listing shows a tool only while its definition equals the first one seen", () => {
    fc.assert(
      fc.property(fc.array(fc.array(tool, { maxLength: 6 }), { maxLength: 6 }), (listings) => {
        const pins = new ToolPins();
        const first = new Map<string, string>();
        for (const listing of listings) {
          const shown = pins.review(listing) as { name: string; description: string }[];
          for (const t of listing) if (!first.has(t.name)) first.set(t.name, t.description);
          const expected = listing.filter((t) => first.get(t.name) === t.description);
          expect(shown).toEqual(expected);
        }
      }),
    );
  });
});
