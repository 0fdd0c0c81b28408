/**
 * Invariants of `toolgate/testing`, stated and checked on generated input (fast-check).
 */

import fc from "fast-check";
import { compilePolicy, type PolicyDocument } from "toolgate";
import {
  CasesError,
  coverageOf,
  coverageUnits,
  formatDecision,
  loadCases,
  meetsCoverage,
  runCases,
} from "toolgate/testing";
import { describe, expect, it } from "vitest";

const POLICY = { version: "1" as const, default: "deny" as const, tools: { a: {} } };

describe("coverage, as properties", () => {
  it("meetsCoverage is exact for every minimum with up to three decimals", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 100_000 }),
        (total, share, milli) => {
          const reached = Math.floor(share * total);
          const c = coverageOf(
            Array.from({ length: total }, (_, i) => `u${i}`),
            Array.from({ length: reached }, (_, i) => `u${i}`),
          );
          // reached / total >= milli / 100000, in integers.
          expect(meetsCoverage(c, milli / 1000)).toBe(reached * 100_000 >= milli * total);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("percent never rounds up, and is within a tenth below the exact share", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.nat(), (total, r) => {
        const reached = r % (total + 1);
        const c = coverageOf(
          Array.from({ length: total }, (_, i) => String(i)),
          Array.from({ length: reached }, (_, i) => String(i)),
        );
        const exact = (reached * 100) / total;
        expect(c.percent).toBeLessThanOrEqual(exact + 1e-9);
        expect(c.percent).toBeGreaterThan(exact - 0.1 - 1e-9);
        expect(c.reached.length + c.unreached.length).toBe(total);
      }),
    );
  });

  const name = fc.constantFrom("get_run", "get_*", "*_run", "delete_*", "a/b", "x~y", "create_run");
  const limit = fc.record({ max: fc.integer({ min: 1, max: 3 }), window: fc.constantFrom(1, "1m") });
  const plain = fc.record(
    {
      action: fc.constantFrom("allow", "deny", "require_approval"),
      rate_limit: fc.oneof(limit, fc.array(limit, { minLength: 1, maxLength: 2 })),
    },
    { requiredKeys: [] },
  );
  const conditional = fc.record(
    {
      when: fc.constantFrom(
        { args: { required: ["force"] } },
        { session: { required: ["admin"] } },
        { annotations: { required: ["readOnlyHint"] } },
      ),
      action: fc.constantFrom("allow", "deny"),
      rate_limit: limit,
    },
    { requiredKeys: [] },
  );
  const rule = fc.oneof(plain, fc.record({ rules: fc.array(conditional, { minLength: 1, maxLength: 3 }) }));
  const policyDoc = fc.record({
    version: fc.constant("1" as const),
    default: fc.oneof(fc.constantFrom("allow", "deny", "require_approval"), rule),
    tools: fc.dictionary(name, rule, { maxKeys: 5 }),
    limits: fc.array(limit, { maxLength: 2 }),
  }) as fc.Arbitrary<PolicyDocument>;

  it("the units are the plan's rules and limits, each once, and a run reaches only units", async () => {
    await fc.assert(
      fc.asyncProperty(
        policyDoc,
        fc.array(fc.constantFrom("get_run", "create_run", "delete_x", "a/b", "other"), { maxLength: 6 }),
        async (doc, tools) => {
          const policy = compilePolicy(doc);
          const units = coverageUnits(policy);
          expect(new Set(units).size).toBe(units.length);
          expect(new Set(units)).toEqual(new Set(policy.rules.flatMap((r) => [r.rule, ...r.limits])));
          const run = await runCases({
            policy: doc,
            cases: tools.map((tool, i) => ({
              name: `c${i}`,
              call: { tool, args: { force: true }, session: { id: "s", admin: 1 } },
              expect: "allow" as const,
            })),
          });
          expect(run.coverage.total).toBe(units.length);
          for (const u of run.coverage.reached) expect(units).toContain(u);
          // Document order is kept in both lists.
          expect(run.coverage.reached).toEqual(units.filter((u) => run.coverage.reached.includes(u)));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("cases files, as properties", () => {
  type Fault = "name" | "repeat" | "at" | "unknown" | "expect" | "call";
  const FAULT_PATH: Record<Fault, string> = {
    name: "name",
    repeat: "repeat",
    at: "at",
    unknown: "nope",
    expect: "expect",
    call: "call",
  };

  it("a malformed document reports exactly its problems, every one at its path", () => {
    const faults = fc.subarray<Fault>(["name", "repeat", "at", "unknown", "expect", "call"]);
    fc.assert(
      fc.property(fc.array(faults, { minLength: 1, maxLength: 30 }), (perCase) => {
        const cases = perCase.map((fs) => {
          const c: Record<string, unknown> = { name: "ok", call: { tool: "a", session: { id: "s" } }, expect: "allow" };
          if (fs.includes("name")) c.name = 3;
          if (fs.includes("repeat")) c.repeat = 0;
          if (fs.includes("at")) c.at = -5;
          if (fs.includes("unknown")) c.nope = true;
          if (fs.includes("expect")) c.expect = "maybe";
          if (fs.includes("call")) c.call = [];
          return c;
        });
        const expected = perCase.flatMap((fs, i) => fs.map((f) => `/cases/${i}/${FAULT_PATH[f]}`)).sort();
        let problems: string[] = [];
        try {
          loadCases({ policy: POLICY, cases } as never);
        } catch (e) {
          expect(e).toBeInstanceOf(CasesError);
          problems = (e as CasesError).problems.map((p) => p.path).sort();
        }
        expect(problems).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it("formatDecision keeps any reason on one line, and it reads back exactly", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary" }),
        fc.constantFrom("policy", "malformed_call", "store_failure"),
        (reason, cause) => {
          const line = formatDecision({ outcome: "deny", rule: "/default", reason, cause: cause as "policy" });
          expect(line).not.toMatch(/[\n\r]/);
          expect(JSON.parse(line.slice(line.indexOf(" reason=") + " reason=".length))).toBe(reason);
          expect(line.startsWith(`deny rule=/default cause=${cause} `)).toBe(true);
        },
      ),
    );
  });
});
