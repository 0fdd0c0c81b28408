/**
 * Adversarial review of 0.2 (issue 11): no reason ever carries text from a store, a clock, a host
 * callback or the call (docs/spec.md section 3, "Reasons"), fuzzed with fast-check. Every failing
 * store, clock, getter and hostile value carries a generated marker; the marker must never be in
 * `reason`, and must be in the observer's `detail` for store failures and unreadable calls.
 */

import fc from "fast-check";
import {
  compilePolicy,
  MemoryStore,
  type Decision,
  type DecisionEvent,
  type PolicyDocument,
  type Store,
} from "toolgate";
import { describe, expect, it } from "vitest";

const doc: PolicyDocument = {
  version: "1",
  name: "attack-reasons",
  default: "deny",
  limits: [{ max: 100, window: "1m" }],
  tools: {
    lim: { rate_limit: { max: 100, window: "1m" } },
    per: { rate_limit: { max: 100, window: "1m", per: "/org/id" } },
    cost: { rate_limit: { max: 100, window: "1m", cost: "/amount" } },
    cond: {
      rules: [
        { when: { args: { properties: { path: { pathWithin: "/workspace" } }, required: ["path"] } } },
        { action: "deny" },
      ],
    },
  },
};

/** A marker no generated text would hold by chance. */
const marker = fc.stringMatching(/^[A-Za-z0-9]{6,20}$/).map((s) => `MRK${s}`);

type Failure = "throw" | "reject" | "garbage" | "string-throw" | "object-throw";

function failingStore(kind: Failure, m: string): Store {
  return {
    consume(): never | Promise<never> {
      switch (kind) {
        case "throw":
          throw new Error(`redis://admin:${m}@db failed`);
        case "reject":
          return Promise.reject(new Error(m));
        case "garbage":
          return { allowed: m, remaining: [m] } as never;
        case "string-throw":
          // A store that throws a bare string is exactly the attack.
          // eslint-disable-next-line @typescript-eslint/only-throw-error -- a store that throws a non-Error
          throw m;
        case "object-throw":
          // eslint-disable-next-line @typescript-eslint/only-throw-error -- a store that throws a non-Error
          throw {
            message: m,
            toString: () => m,
          };
      }
    },
  };
}

function expectClean(d: Decision, m: string): void {
  expect(JSON.stringify(d)).not.toContain(m);
  if (d.outcome !== "allow") expect(d.reason).not.toContain(m);
}

describe("attack: reasons never carry foreign text", () => {
  it("failing stores: the marker is in detail only", async () => {
    await fc.assert(
      fc.asyncProperty(
        marker,
        fc.constantFrom<Failure>("throw", "reject", "garbage", "string-throw", "object-throw"),
        fc.constantFrom("lim", "per", "cost"),
        fc.boolean(),
        async (m, kind, tool, failOpen) => {
          const events: DecisionEvent[] = [];
          const p = compilePolicy(doc, { store: failingStore(kind, m), failOpen, onDecision: (e) => events.push(e) });
          const d = await p.decide({ tool, args: { amount: 1 }, session: { id: "s", org: { id: "o" } } });
          expectClean(d, m);
          if (d.outcome === "deny") expect(d.cause).toBe("store_failure");
          expect(events).toHaveLength(1);
          // What failed goes to the observer (docs/spec.md section 6: detail, for store failures).
          if (kind !== "garbage" && d.outcome === "deny") expect(events[0]!.detail ?? "").toContain(m);
        },
      ),
      { numRuns: 120 },
    );
  });

  it("failing clocks: the marker is never in a reason, and never fails open", async () => {
    await fc.assert(
      fc.asyncProperty(marker, fc.integer({ min: 0, max: 3 }), async (m, kind) => {
        const clock = (): number => {
          if (kind === 0) throw new Error(m);
          if (kind === 1) return Number.NaN;
          if (kind === 2) return m as never;
          return Number.POSITIVE_INFINITY;
        };
        const events: DecisionEvent[] = [];
        const p = compilePolicy(doc, { clock, failOpen: true, onDecision: (e) => events.push(e) });
        const d = await p.decide({ tool: "lim", session: { id: "s" } });
        expectClean(d, m);
        expect(d).toMatchObject({ outcome: "deny", cause: "store_failure" });
        if (kind === 0) expect(events[0]!.detail ?? "").toContain(m);
      }),
      { numRuns: 60 },
    );
  });

  it("hostile calls: values, getters, unknown names and session ids never reach the reason", async () => {
    const field = fc.constantFrom("tool", "args", "session", "annotations", "approved", "id", "unknown", "value");
    await fc.assert(
      fc.asyncProperty(marker, field, fc.boolean(), async (m, where, viaGetter) => {
        const events: DecisionEvent[] = [];
        const p = compilePolicy(doc, { store: new MemoryStore(), onDecision: (e) => events.push(e) });
        const hostile: unknown = viaGetter
          ? {
              get [m](): never {
                throw new Error(m);
              },
            }
          : m;
        const call: Record<string, unknown> = { tool: "lim", session: { id: "s" } };
        const thrower = {
          get(): never {
            throw new Error(m);
          },
          enumerable: true,
        };
        switch (where) {
          case "tool":
            if (viaGetter) Object.defineProperty(call, "tool", thrower);
            else call.tool = 1e6 + m.length; // a non-string
            break;
          case "args":
            call.args = viaGetter ? hostile : [m];
            break;
          case "session":
            if (viaGetter) Object.defineProperty(call, "session", thrower);
            else call.session = { id: 5, [m]: m };
            break;
          case "annotations":
            call.annotations = viaGetter ? new Proxy({}, { ownKeys: () => [m], get: () => m }) : m;
            break;
          case "approved":
            call.approved = m;
            break;
          case "id":
            call.session = viaGetter ? Object.defineProperty({}, "id", thrower) : { id: { toString: () => m } };
            break;
          case "unknown":
            call[m] = m;
            break;
          case "value":
            call.tool = viaGetter ? "cost" : "per";
            call.args = { amount: m };
            call.session = { id: `session-${m}`, org: { id: [m] } };
            break;
        }
        const d = await p.decide(call as never);
        expectClean(d, m);
        // A Proxy over {} and an object with a throwing getter are plain objects, and no condition
        // of "lim" reads arguments or annotations: allowing them is right.
        if (!((where === "annotations" || where === "args") && viaGetter)) expect(d.outcome).toBe("deny");
        // A session id is never part of any reason.
        if (where === "value") expect(events[0]!.call.session).toMatchObject({ id: `session-${m}` });
      }),
      { numRuns: 200 },
    );
  });

  it("a throwing getter's message reaches detail for an unreadable call", async () => {
    const events: DecisionEvent[] = [];
    const p = compilePolicy(doc, { onDecision: (e) => events.push(e) });
    const call = Object.defineProperty({ session: { id: "s" } }, "tool", {
      get(): never {
        throw new Error("MRKdetail");
      },
      enumerable: true,
    });
    const d = await p.decide(call as never);
    expect(d).toMatchObject({ outcome: "deny", cause: "malformed_call", rule: "" });
    expect(events[0]!.detail ?? "").toContain("MRKdetail");
  });

  it("rate-limited reasons name the tool on one line, with control characters escaped", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "grapheme", minLength: 1, maxLength: 128 }), async (tail) => {
        const p = compilePolicy(
          { version: "1", default: "allow", limits: [{ max: 1, window: "1m" }], tools: {} },
          { clock: () => 0 },
        );
        const tool = `t${tail}`.slice(0, 128);
        await p.decide({ tool, session: { id: "s" } });
        const d = await p.decide({ tool, session: { id: "s" } });
        expect(d.outcome).toBe("rate_limited");
        if (d.outcome === "rate_limited") expect(d.reason).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
      }),
      { numRuns: 200 },
    );
  });

  it("bidi and zero-width characters of a tool name are escaped in reasons (was a BUG; fixed, 53a8463)", async () => {
    // docs/spec.md section 8 escapes non-printing characters in what a person reads; a reason is
    // shown to the person too (MCP refusal text), and U+202E reorders everything after it.
    const p = compilePolicy(
      { version: "1", default: "allow", limits: [{ max: 1, window: "1m" }], tools: {} },
      { clock: () => 0 },
    );
    const tool = "read\u202etxt.exe\u200b\u2066";
    await p.decide({ tool, session: { id: "s" } });
    const d = await p.decide({ tool, session: { id: "s" } });
    expect(d.outcome).toBe("rate_limited");
    if (d.outcome === "rate_limited") expect(d.reason).not.toMatch(/[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/);
  });
});
