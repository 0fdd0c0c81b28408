/**
 * fast-check generators of valid policies and call sequences, for the property tests.
 *
 * Names come from a tiny alphabet (`a`, `b`, `/`, `~`) so that keys and patterns collide often,
 * and so that RFC 6901 escaping of `/` and `~` is exercised in every run. Limits are small (max
 * 1–3 calls, or a few units with a `cost`; windows of a few milliseconds; shared ids; refunds)
 * and the clock moves in small steps, now and then by fractions, sometimes backwards, so that
 * windows fill, slide and clamp within a short sequence. `when` schemas use only the
 * subset of JSON Schema that `test/reference/reference.ts` evaluates by hand.
 */

import fc from "fast-check";
import type { LimitDocument, PolicyDocument, ToolCall } from "toolgate";

/** How many generated cases a property runs: `TOOLGATE_FUZZ_RUNS` when set, else `fallback`. */
export function runs(fallback: number): number {
  const env = process.env.TOOLGATE_FUZZ_RUNS;
  if (env === undefined || env === "") return fallback;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1) throw new Error(`TOOLGATE_FUZZ_RUNS must be a positive integer, got ${env}`);
  return n;
}

/** fast-check parameters: the run count, and `TOOLGATE_FUZZ_SEED` when set (to replay). */
export function params(fallbackRuns: number): { numRuns: number; seed?: number } {
  const seed = process.env.TOOLGATE_FUZZ_SEED;
  return seed === undefined || seed === ""
    ? { numRuns: runs(fallbackRuns) }
    : { numRuns: runs(fallbackRuns), seed: Number(seed) };
}

/**
 * Input classes the generators can be told to leave out, to fuzz past a known, reported engine
 * bug while it is being fixed: `TOOLGATE_FUZZ_AVOID=backwards-clock,repeated-stars`. CI never
 * sets it; a run that sets it says so in its output (scripts/fuzz.mjs prints it).
 */
export const avoid: ReadonlySet<string> = (() => {
  const known = ["backwards-clock", "repeated-stars", "huge-amounts"];
  const list = (process.env.TOOLGATE_FUZZ_AVOID ?? "").split(",").filter((x) => x !== "");
  for (const x of list)
    if (!known.includes(x)) throw new Error(`TOOLGATE_FUZZ_AVOID: unknown class "${x}"; known: ${known.join(", ")}`);
  return new Set(list);
})();

const nameChar = fc.constantFrom("a", "b", "/", "~");
const patternChar = fc.constantFrom("a", "b", "/", "~", "*", "*");

/** A tool name: 1–3 characters of a, b, /, ~. */
export const toolName = fc.array(nameChar, { minLength: 1, maxLength: 3 }).map((cs) => cs.join(""));
/** A key of `tools`: an exact name or a pattern with `*`. */
export const toolKey = fc
  .array(patternChar, { minLength: 1, maxLength: 3 })
  .map((cs) => (avoid.has("repeated-stars") ? cs.join("").replace(/\*+/g, "*") : cs.join("")));

/** A window of 1–20 ms in every written form: "Nms", seconds as a number, now and then "1s". */
export const window: fc.Arbitrary<LimitDocument["window"]> = fc.oneof(
  fc.integer({ min: 1, max: 20 }).map((n) => `${n}ms` as const),
  fc.integer({ min: 1, max: 20 }).map((n) => n / 1000),
  fc.constant("1s" as const),
);

/** `per` as absent, "session", "global" or a JSON Pointer into the session. */
export const per = fc.constantFrom(undefined, "session", "global", "/user", "/org/id");

/** Ids shared across tools: limits that name one agree on max, window and per (docs/spec.md §5). */
const ID_LIMITS: Record<string, { max: number; window: LimitDocument["window"]; per?: LimitDocument["per"] }> = {
  x: { max: 2, window: "10ms" },
  y: { max: 3, window: 0.007, per: "global" },
};

/**
 * Amounts exact to six places, and JSON values no cost accepts (for costs read from the
 * arguments; NaN and Infinity are left to test/spec/budgets.test.ts, since a `when` schema's
 * reading of values JSON cannot hold is not what this property compares).
 */
export const amount = fc.constantFrom<unknown>(0, 0.1, 0.2, 0.3, 0.5, 1, 1.5, 2, 0.000001, 0.123456, 3);
const badAmount = fc.constantFrom<unknown>(
  -1,
  "1",
  null,
  0.0000001,
  1.0000001,
  true,
  { v: 1 },
  ...(avoid.has("huge-amounts") ? [] : [1e21]),
);

/** A cost: a constant (at most `max`) or a pointer into the arguments. */
function cost(max: number): fc.Arbitrary<LimitDocument["cost"]> {
  return fc.oneof(
    fc.constantFrom(0, 0.1, 0.25, 0.5, 1, 2, 1.5).map((c) => (c <= max ? c : max) as LimitDocument["cost"]),
    fc.constantFrom("/n", "/m", "/o/v" as const),
  );
}

/** A max for a limit with cost: a positive decimal of at most six places. */
const costMax = fc.constantFrom(0.3, 0.5, 1, 1.5, 2, 2.5, 3, 0.000003);

/**
 * A limit with a small max: calls (max 1–3), or units (with a cost, max a decimal), now and then
 * refundable, now and then with an id of {@link ID_LIMITS}.
 */
export const limit: fc.Arbitrary<LimitDocument> = fc
  .oneof(
    {
      weight: 4,
      arbitrary: fc
        .record({ max: fc.integer({ min: 1, max: 3 }), window, per })
        .map(({ max, window: w, per: p }) =>
          p === undefined ? { max, window: w } : { max, window: w, per: p as LimitDocument["per"] },
        ),
    },
    {
      weight: 2,
      arbitrary: costMax.chain((max) =>
        fc.record({ window, per, cost: cost(max) }).map(({ window: w, per: p, cost: c }) => {
          const l: LimitDocument = { max, window: w, cost: c };
          if (p !== undefined) l.per = p;
          return l;
        }),
      ),
    },
    {
      weight: 1,
      arbitrary: fc
        .record({ id: fc.constantFrom("x", "y"), cost: fc.option(cost(2), { nil: undefined }) })
        .map(({ id, cost: c }) => ({ id, ...ID_LIMITS[id]!, ...(c === undefined ? {} : { cost: c }) })),
    },
  )
  .chain((l) =>
    fc
      .constantFrom<LimitDocument["refund"]>(undefined, undefined, "on_error", "never")
      .map((refund) => (refund === undefined ? l : { ...l, refund })),
  );

/** `rate_limit` as one limit or an array of one to three. */
export const rateLimit = fc.oneof(limit, fc.array(limit, { minLength: 1, maxLength: 3 }));

const scalar = fc.constantFrom<unknown>(0, 1, 2, 3, 1.5, "a", "b", "7", 7, true, false, null);

/** A leaf condition on one value. */
const leaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(true, false, {}),
  scalar.map((v) => ({ const: v })),
  fc.array(scalar, { minLength: 1, maxLength: 3 }).map((vs) => ({ enum: vs })),
  fc.constantFrom("integer", "number", "string", "boolean", "null", "object").map((t) => ({ type: t })),
  fc.integer({ min: 0, max: 3 }).map((n) => ({ maximum: n })),
  fc.integer({ min: 0, max: 3 }).map((n) => ({ minimum: n })),
  fc.integer({ min: 0, max: 2 }).map((n) => ({ maxLength: n })),
);

/** A schema on an object with the given property names. */
function objectSchema(keys: string[]): fc.Arbitrary<unknown> {
  const k = fc.constantFrom(...keys);
  const base = fc.oneof(
    fc.dictionary(k, leaf, { minKeys: 1, maxKeys: 2 }).map((properties) => ({ properties })),
    fc.uniqueArray(k, { minLength: 1, maxLength: 2 }).map((required) => ({ required })),
    fc.record({
      properties: fc.dictionary(k, leaf, { minKeys: 1, maxKeys: 2 }),
      required: fc.uniqueArray(k, { minLength: 1, maxLength: 2 }),
    }),
    fc.constantFrom(true, false, {}, { type: "object" }),
  );
  return fc.oneof(
    { weight: 4, arbitrary: base },
    { weight: 1, arbitrary: base.map((s) => ({ not: s })) },
    { weight: 1, arbitrary: fc.array(base, { minLength: 1, maxLength: 2 }).map((allOf) => ({ allOf })) },
    { weight: 1, arbitrary: fc.array(base, { minLength: 1, maxLength: 2 }).map((anyOf) => ({ anyOf })) },
  );
}

/** A `when`: any of args, session, annotations. */
export const when = fc.record(
  {
    args: objectSchema(["n", "m"]),
    session: objectSchema(["user", "id"]),
    annotations: objectSchema(["readOnlyHint"]),
  },
  { requiredKeys: [] },
);

const action = fc.constantFrom(undefined, "allow", "deny", "require_approval");
const reason = fc.constantFrom(undefined, "r1", "r2");

/** A rule without `rules`: action, reason, and limits only on rules that may allow. */
export const plainRule = fc
  .record({ action, reason, rate_limit: fc.option(rateLimit, { nil: undefined }) })
  .map((r) => {
    const out: Record<string, unknown> = {};
    if (r.action !== undefined) out.action = r.action;
    if (r.reason !== undefined) out.reason = r.reason;
    if (r.rate_limit !== undefined && r.action !== "deny") out.rate_limit = r.rate_limit;
    return out;
  });

/** A conditional rule: a plain rule, with `when` most of the time. */
export const conditionalRule = fc
  .tuple(plainRule, fc.option(when, { freq: 4, nil: undefined }))
  .map(([r, w]) => (w === undefined ? r : { when: w, ...r }));

/** A rule object: plain, or `rules`. */
export const rule = fc.oneof(
  { weight: 3, arbitrary: plainRule },
  { weight: 2, arbitrary: fc.array(conditionalRule, { minLength: 1, maxLength: 3 }).map((rules) => ({ rules })) },
);

/** A valid policy document. */
export const policy: fc.Arbitrary<PolicyDocument> = fc
  .record({
    default: fc.oneof(fc.constantFrom("allow", "deny", "require_approval"), rule),
    tools: fc.dictionary(toolKey, rule, { maxKeys: 6 }),
    limits: fc.option(fc.array(limit, { minLength: 1, maxLength: 2 }), { freq: 2, nil: undefined }),
  })
  .map(({ default: d, tools, limits }) => {
    const doc: Record<string, unknown> = { version: "1", default: d, tools };
    if (limits !== undefined) doc.limits = limits;
    return onceEach(doc) as unknown as PolicyDocument;
  });

/**
 * One call's limits (a rule's, then the policy's) name an id at most once (docs/spec.md §5): a
 * generated repeat loses its id, which keeps the document valid and the limit in place.
 */
function onceEach(doc: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(doc);
  const policyIds = new Set<string>();
  for (const l of (copy.limits as Record<string, unknown>[] | undefined) ?? []) {
    if (typeof l.id !== "string") continue;
    if (policyIds.has(l.id)) delete l.id;
    else policyIds.add(l.id);
  }
  const limitsOf = (r: Record<string, unknown>) => {
    const rl = r.rate_limit;
    const list = (Array.isArray(rl) ? rl : rl === undefined ? [] : [rl]) as Record<string, unknown>[];
    const seen = new Set(policyIds);
    for (const l of list) {
      if (typeof l.id !== "string") continue;
      if (seen.has(l.id)) delete l.id;
      else seen.add(l.id);
    }
  };
  const visit = (r: unknown) => {
    if (typeof r !== "object" || r === null) return;
    const rule = r as Record<string, unknown>;
    if (Array.isArray(rule.rules)) for (const c of rule.rules) limitsOf(c as Record<string, unknown>);
    else limitsOf(rule);
  };
  visit(copy.default);
  for (const r of Object.values(copy.tools as Record<string, unknown>)) visit(r);
  return copy;
}

/** A session: two ids, and attributes for `per` in every usable and unusable form. */
export const session = fc
  .record({
    id: fc.constantFrom("s1", "s2"),
    user: fc.constantFrom<unknown>(undefined, 7, "7", "u", "", null, 1.5),
    org: fc.constantFrom<unknown>(undefined, { id: "o1" }, { id: 1 }, {}, "o"),
  })
  .map(({ id, user, org }) => {
    const s: Record<string, unknown> = { id };
    if (user !== undefined) s.user = user;
    if (org !== undefined) s.org = org;
    return s as ToolCall["session"];
  });

/** Argument values: the `when` scalars, amounts for costs, and amounts no cost accepts. */
const argValue = fc.oneof(
  { weight: 3, arbitrary: scalar },
  { weight: 3, arbitrary: amount },
  { weight: 1, arbitrary: badAmount },
);

const args = fc.option(
  fc.record({ n: argValue, m: argValue, o: fc.oneof(argValue, fc.record({ v: argValue })) }, { requiredKeys: [] }),
  { freq: 4, nil: undefined },
);
const annotations = fc.constantFrom<Record<string, unknown> | undefined>(
  undefined,
  {},
  { readOnlyHint: true },
  { readOnlyHint: false },
);

/** A well-formed call. */
export const call: fc.Arbitrary<ToolCall> = fc
  .record({ tool: toolName, session, args, annotations, approved: fc.constantFrom(undefined, true, false) })
  .map((r) => {
    const c: Record<string, unknown> = { tool: r.tool, session: r.session };
    if (r.args !== undefined) c.args = r.args;
    if (r.annotations !== undefined) c.annotations = r.annotations;
    if (r.approved !== undefined) c.approved = r.approved;
    return c as unknown as ToolCall;
  });

/** A malformed call, now and then (docs/spec.md §3 step 1). */
export const malformedCall: fc.Arbitrary<unknown> = fc.oneof(
  call.map((c) => ({ ...c, tool: "" })),
  call.map((c) => ({ ...c, arguments: {} })),
  call.map((c) => ({ ...c, session: { id: "" } })),
  call.map((c) => ({ ...c, args: null })),
  call.map((c) => ({ ...c, approved: "yes" })),
  fc.constantFrom(null, 42, "call", []),
);

/**
 * How far the clock moves: whole milliseconds, now and then with a fraction in eighths (as a
 * `performance.now()` clock reads; eighths keep every sum exact, so a wait is the engine's
 * rounding and not the test's), sometimes backwards.
 */
const whole = fc.integer({ min: 0, max: 8 });
const fractional = fc
  .tuple(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 1, max: 7 }))
  .map(([ms, eighths]) => ms + eighths / 8);
const forward = fc.oneof({ weight: 3, arbitrary: whole }, { weight: 1, arbitrary: fractional });
const dt = avoid.has("backwards-clock")
  ? forward
  : fc.oneof({ weight: 9, arbitrary: forward }, { weight: 1, arbitrary: fc.integer({ min: -6, max: -1 }) });

/**
 * One step of a sequence: a call and how far the clock moves before it (sometimes backwards), or
 * now and then a refund of the decision of an earlier step (`refund` counts back from this step:
 * 1 is the step before), handed in as a JSON copy when `copy`.
 */
export const step = fc.record({
  call: fc.oneof({ weight: 19, arbitrary: call }, { weight: 1, arbitrary: malformedCall }),
  dt,
  refund: fc.option(fc.record({ back: fc.integer({ min: 1, max: 4 }), copy: fc.boolean() }), {
    freq: 4,
    nil: undefined,
  }),
});

/** A call sequence of 1–30 steps. */
export const sequence = fc.array(step, { minLength: 1, maxLength: 30 });
