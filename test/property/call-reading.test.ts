/**
 * Reading a call on the hot path (issue 12): the engine answers "is this key the call's own?"
 * and "what is this object's prototype?" from V8's hidden classes where it can (the genuine
 * hasOwnProperty inside for-in, a prototype after a lookup that teaches the compiler the
 * object's class, `in` for session.id). These tests hold it to the contract (docs/spec.md,
 * section 2, "The call") against a plain reference reader, once the fast path is hot, with
 * Object.prototype polluted between calls: an optimized reading must notice the pollution as
 * the first call did.
 */

import fc from "fast-check";
import { compilePolicy, type Decision } from "toolgate";
import { afterEach, beforeAll, describe, expect, it } from "vitest";

const policy = compilePolicy({
  version: "1",
  default: "deny",
  tools: { open: {}, ask: { action: "require_approval" }, "no*": { action: "deny" } },
});

const FIELDS = ["tool", "session", "args", "annotations", "approved"] as const;
const objectProto = Object.prototype as unknown as Record<string, unknown>;
/** Names the tests may put on Object.prototype; removed after each test whatever happens. */
const POLLUTABLE = [...FIELDS, "id", "extra"];

function unpollute(): void {
  for (const name of POLLUTABLE) delete objectProto[name];
}

/** Decides many well-formed calls, so the engine's reading is optimized before the test. */
function warm(): void {
  const session = { id: "s" };
  for (let i = 0; i < 50_000; i++) {
    policy.decideSync({ tool: i % 3 === 0 ? "open" : i % 3 === 1 ? "ask" : "nope", session, args: { i } });
  }
}

beforeAll(warm);
afterEach(unpollute);

const own = (o: object, k: string) => Object.getOwnPropertyDescriptor(o, k);
const plain = (v: unknown) =>
  typeof v === "object" && v !== null && [Object.prototype, null].includes(Object.getPrototypeOf(v) as object);

/**
 * The contract read the slow, obvious way: `"malformed"`, or the decision's outcome and rule.
 * Calls here have data properties only, so reading a descriptor's value is reading the field.
 */
function reference(call: unknown): "malformed" | { outcome: string; rule: string } {
  if (!plain(call)) return "malformed";
  const c = call as Record<string, unknown>;
  for (const key in c) {
    if (!(FIELDS as readonly string[]).includes(key) || own(c, key) === undefined) return "malformed";
  }
  const field = (k: string) => own(c, k)?.value as unknown;
  const tool = field("tool");
  const session = field("session");
  const args = field("args");
  const annotations = field("annotations");
  const approved = field("approved");
  if (typeof tool !== "string" || tool.length === 0 || tool.length > 128) return "malformed";
  if (typeof session !== "object" || session === null || Array.isArray(session)) return "malformed";
  const id = own(session, "id")?.value as unknown;
  if (typeof id !== "string" || id.length === 0) return "malformed";
  if (args !== undefined && !plain(args)) return "malformed";
  if (annotations !== undefined && !plain(annotations)) return "malformed";
  if (approved !== undefined && typeof approved !== "boolean") return "malformed";
  if (tool === "open") return { outcome: "allow", rule: "/tools/open" };
  if (tool === "ask")
    return approved === true
      ? { outcome: "allow", rule: "/tools/ask" }
      : { outcome: "needs_approval", rule: "/tools/ask" };
  if (tool.startsWith("no")) return { outcome: "deny", rule: "/tools/no*" };
  return { outcome: "deny", rule: "/default" };
}

function summary(d: Decision): "malformed" | { outcome: string; rule: string } {
  if (d.outcome === "deny" && d.cause === "malformed_call") return "malformed";
  return { outcome: d.outcome, rule: d.rule };
}

class Holder {
  constructor(readonly id: string) {}
}

const values = {
  tool: fc.constantFrom<unknown>("open", "ask", "nope", "other", "", 7, "o".repeat(129), null),
  session: fc.constantFrom<() => unknown>(
    () => ({ id: "s" }),
    () => ({ id: "" }),
    () => ({ id: 5 }),
    () => ({}),
    () => Object.assign(Object.create(null) as object, { id: "n" }),
    () => Object.create({ id: "inherited" }) as object,
    () => Object.defineProperty({}, "id", { value: "hidden", enumerable: false }),
    () => new Holder("h"),
    () => [],
    () => null,
    () => "s",
  ),
  args: fc.constantFrom<() => unknown>(
    () => ({}),
    () => ({ a: 1 }),
    () => Object.create(null) as object,
    () => new Map(),
    () => [],
    () => null,
    () => 5,
  ),
  annotations: fc.constantFrom<() => unknown>(
    () => ({ readOnlyHint: true }),
    () => ({}),
    () => [],
    () => "x",
  ),
  approved: fc.constantFrom<unknown>(true, false, "yes", 1),
};

/** How a field, or the extra name, sits on the call. */
const placement = fc.constantFrom("absent", "enumerable", "hidden", "undefined");
/** What Object.prototype carries while the call is decided. */
const pollution = fc.array(
  fc.record({
    name: fc.constantFrom(...POLLUTABLE),
    enumerable: fc.boolean(),
    value: fc.constantFrom<unknown>("open", { id: "p" }, true, {}),
  }),
  { maxLength: 3 },
);

const callShape = fc.record({
  proto: fc.constantFrom("object", "null", "class"),
  tool: fc.tuple(placement, values.tool),
  session: fc.tuple(placement, values.session),
  args: fc.tuple(placement, values.args),
  annotations: fc.tuple(placement, values.annotations),
  approved: fc.tuple(placement, values.approved),
  extra: placement,
});

type Shape = typeof callShape extends fc.Arbitrary<infer T> ? T : never;

function build(shape: Shape): object {
  const call: Record<string, unknown> =
    shape.proto === "object"
      ? {}
      : shape.proto === "null"
        ? (Object.create(null) as Record<string, unknown>)
        : (new Holder("c") as unknown as Record<string, unknown>);
  if (shape.proto === "class") delete call.id;
  const put = (name: string, how: string, value: unknown) => {
    if (how === "absent") return;
    const v = typeof value === "function" ? (value as () => unknown)() : value;
    Object.defineProperty(call, name, {
      value: how === "undefined" ? undefined : v,
      enumerable: how !== "hidden",
      configurable: true,
      writable: true,
    });
  };
  for (const f of FIELDS) put(f, shape[f][0], shape[f][1]);
  put("extra", shape.extra, 1);
  return call;
}

describe("reading a call once the fast path is hot", () => {
  it("decides as the plain reading of the contract does, with Object.prototype polluted or not", () => {
    fc.assert(
      fc.property(callShape, pollution, (shape, polluted) => {
        const call = build(shape);
        let got: ReturnType<typeof summary>;
        let want: ReturnType<typeof reference>;
        try {
          for (const p of polluted) {
            Object.defineProperty(Object.prototype, p.name, {
              value: p.value,
              enumerable: p.enumerable,
              configurable: true,
              writable: true,
            });
          }
          got = summary(policy.decideSync(call as never));
          want = reference(call);
        } finally {
          unpollute();
        }
        expect(got).toEqual(want);
        // And the same call again with the prototype clean: nothing of the pollution stays behind.
        expect(summary(policy.decideSync(call as never))).toEqual(reference(call));
      }),
      { numRuns: 3_000 },
    );
  }, 120_000);

  it("refuses a field Object.prototype supplies, enumerable or not, after thousands of clean calls", () => {
    const session = { id: "s" };
    Object.defineProperty(Object.prototype, "tool", {
      value: "open",
      enumerable: true,
      configurable: true,
      writable: true,
    });
    expect(policy.decideSync({ session } as never)).toMatchObject({ outcome: "deny", cause: "malformed_call" });
    unpollute();
    Object.defineProperty(Object.prototype, "tool", {
      value: "open",
      enumerable: false,
      configurable: true,
      writable: true,
    });
    expect(policy.decideSync({ session } as never)).toMatchObject({ outcome: "deny", cause: "malformed_call" });
    unpollute();
    Object.defineProperty(Object.prototype, "approved", {
      value: true,
      enumerable: true,
      configurable: true,
      writable: true,
    });
    expect(policy.decideSync({ tool: "ask", session })).toMatchObject({ outcome: "deny", cause: "malformed_call" });
    unpollute();
    Object.defineProperty(Object.prototype, "approved", {
      value: true,
      enumerable: false,
      configurable: true,
      writable: true,
    });
    expect(policy.decideSync({ tool: "ask", session })).toEqual({
      outcome: "needs_approval",
      rule: "/tools/ask",
      reason: expect.any(String),
    });
    unpollute();
    expect(policy.decideSync({ tool: "open", session })).toEqual({ outcome: "allow", rule: "/tools/open" });
  });

  it("checks own fields with the genuine hasOwnProperty when a polluter replaces it", () => {
    const genuine = Object.prototype.hasOwnProperty;
    const session = { id: "s" };
    let asked = 0;
    try {
      Object.prototype.hasOwnProperty = function lying() {
        asked++;
        return true;
      };
      Object.defineProperty(Object.prototype, "approved", {
        value: true,
        enumerable: true,
        configurable: true,
        writable: true,
      });
      expect(policy.decideSync({ tool: "ask", session })).toMatchObject({ outcome: "deny", cause: "malformed_call" });
      unpollute();
      expect(policy.decideSync({ tool: "ask", session, approved: true })).toEqual({
        outcome: "allow",
        rule: "/tools/ask",
      });
    } finally {
      Object.prototype.hasOwnProperty = genuine;
    }
    expect(asked).toBe(0);
    expect(policy.decideSync({ tool: "ask", session, approved: true })).toEqual({
      outcome: "allow",
      rule: "/tools/ask",
    });
  });

  it("never takes session.id from Object.prototype, however it was added", () => {
    // A call with a null prototype inherits nothing itself, so only its session meets the polluter.
    const call = (session: object) => Object.assign(Object.create(null) as object, { tool: "open", session });
    for (const enumerable of [true, false]) {
      Object.defineProperty(Object.prototype, "id", {
        value: "polluted",
        enumerable,
        configurable: true,
        writable: true,
      });
      expect(policy.decideSync(call({}) as never)).toMatchObject({
        outcome: "deny",
        reason: 'Malformed call: "session.id" must be a non-empty string.',
        cause: "malformed_call",
      });
      expect(policy.decideSync(call({ id: "own" }) as never)).toEqual({ outcome: "allow", rule: "/tools/open" });
      unpollute();
    }
    expect(policy.decideSync(call({}) as never)).toMatchObject({ cause: "malformed_call" });
    expect(policy.decideSync(call({ id: "own" }) as never)).toEqual({ outcome: "allow", rule: "/tools/open" });
  });

  it("runs no inherited getter, and reads a non-enumerable field's getter once", () => {
    let inherited = 0;
    Object.defineProperty(Object.prototype, "approved", {
      get() {
        inherited++;
        return true;
      },
      enumerable: false,
      configurable: true,
    });
    let idReads = 0;
    class Session {
      get id(): string {
        idReads++;
        return "from-prototype";
      }
    }
    expect(policy.decideSync({ tool: "ask", session: { id: "s" } }).outcome).toBe("needs_approval");
    expect(policy.decideSync({ tool: "open", session: new Session() as never })).toMatchObject({
      cause: "malformed_call",
    });
    unpollute();
    expect(inherited).toBe(0);
    expect(idReads).toBe(0);

    let reads = 0;
    const call = Object.defineProperty({ tool: "ask", session: { id: "s" } }, "approved", {
      get() {
        reads++;
        return reads === 1;
      },
      enumerable: false,
    });
    expect(policy.decideSync(call)).toEqual({ outcome: "allow", rule: "/tools/ask" });
    expect(reads).toBe(1);
  });

  it("takes session.id from a session whose prototype is null or a class, as its own", () => {
    const bare = Object.assign(Object.create(null) as object, { id: "n" });
    expect(policy.decideSync({ tool: "open", session: bare })).toEqual({
      outcome: "allow",
      rule: "/tools/open",
    });
    expect(policy.decideSync({ tool: "open", session: new Holder("h") as never })).toEqual({
      outcome: "allow",
      rule: "/tools/open",
    });
    const child = Object.create(new Holder("parent")) as object;
    expect(policy.decideSync({ tool: "open", session: child as never })).toMatchObject({ cause: "malformed_call" });
  });
});
