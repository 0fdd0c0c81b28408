/**
 * The decision corpus: known answers, written by hand from docs/spec.md sections 1–3, in the
 * cases format of `toolgate test` (test/corpus/*.cases.json). Every file runs twice:
 *
 * - against the engine, through `runLoadedCases` from `toolgate/testing` (what `toolgate test`
 *   runs), so the engine is checked against answers that no engine produced;
 * - against the reference evaluator (test/reference/reference.ts), through the small adapter
 *   below, so the reference that the property tests trust is checked against the same answers.
 *
 * A case either side gets wrong is a failing test, except those listed in KNOWN with the reason:
 * they run as `it.fails`, so each one turns red the day it is fixed and must leave the list.
 */

import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Decision, PolicyDocument } from "toolgate";
import {
  loadCases,
  runLoadedCases,
  type CasesRun,
  type ExpectedDecision,
  type LoadedCase,
  type LoadedCases,
} from "toolgate/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { ReferenceEngine } from "../reference/reference.js";

const dir = fileURLToPath(new URL(".", import.meta.url));
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".cases.json"))
  .sort();

/**
 * Cases that one side is known to get wrong, keyed `<file><case path>`, with what is wrong. The
 * corpus keeps the case (the contract is the answer); the side runs it as an expected failure.
 */
const KNOWN: Record<string, { engine?: string; reference?: string }> = {};

const FIELDS = ["outcome", "rule", "reason", "cause", "retryAfterMs", "remaining"] as const;

/** The expected fields that `actual` does not match, with both values, for a readable failure. */
function mismatches(expected: ExpectedDecision, actual: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const f of FIELDS) {
    if (expected[f] !== undefined && expected[f] !== actual[f]) {
      out.push(`${f}: expected ${JSON.stringify(expected[f])}, got ${JSON.stringify(actual[f])}`);
    }
  }
  return out;
}

/** The policy document of loaded cases, for the reference (which reads parsed documents only). */
function documentOf(loaded: LoadedCases): PolicyDocument {
  const source = loaded.policySource;
  return typeof source === "string" ? (JSON.parse(source) as PolicyDocument) : source;
}

/**
 * Runs loaded cases against the reference with the cases format's own semantics: a virtual
 * clock from 0 that moves only to a case's `at`, `repeat` identical calls, the last one checked.
 */
function runReference(loaded: LoadedCases): Decision[] {
  const engine = new ReferenceEngine(documentOf(loaded));
  let now = 0;
  return loaded.cases.map((c: LoadedCase) => {
    if (c.at !== undefined) now = c.at;
    let last: Decision | undefined;
    for (let n = 0; n < c.repeat; n++) last = engine.decide(c.call, now);
    // repeat is at least 1, so a decision was made.
    return last!;
  });
}

const loadedFiles = files.map((file) => ({ file, loaded: loadCases(join(dir, file)) }));

describe("the corpus itself", () => {
  it("has a few hundred cases in several files", () => {
    expect(files.length).toBeGreaterThanOrEqual(7);
    const total = loadedFiles.reduce((n, f) => n + f.loaded.cases.length, 0);
    expect(total).toBeGreaterThanOrEqual(300);
  });

  it("expects a rule for every case, a cause for every deny and a wait for every rate limit", () => {
    const loose: string[] = [];
    for (const { file, loaded } of loadedFiles) {
      for (const c of loaded.cases) {
        const e = c.expect;
        const missing =
          e.rule === undefined ||
          (e.outcome === "deny" && e.cause === undefined) ||
          (e.outcome === "rate_limited" && e.retryAfterMs === undefined);
        if (missing) loose.push(`${file}${c.path} ${c.name}`);
      }
    }
    expect(loose).toEqual([]);
  });

  it("expects every cause that a cases file can produce", () => {
    const causes = new Set(loadedFiles.flatMap(({ loaded }) => loaded.cases.map((c) => c.expect.cause)));
    for (const cause of ["policy", "malformed_call", "missing_attribute"] as const) expect(causes).toContain(cause);
  });
});

for (const { file, loaded } of loadedFiles) {
  describe(file, () => {
    let run: CasesRun;
    let reference: Decision[];

    beforeAll(async () => {
      run = await runLoadedCases(loaded);
      reference = runReference(loaded);
    });

    it("reaches every rule and limit of its policy", () => {
      expect(run.coverage.unreached).toEqual([]);
    });

    describe("the engine", () => {
      loaded.cases.forEach((c, i) => {
        const known = KNOWN[`${file}${c.path}`]?.engine;
        const test = known === undefined ? it : it.fails;
        test(`${c.path} ${c.name}${known === undefined ? "" : ` (known: ${known})`}`, () => {
          const result = run.results[i]!;
          expect(mismatches(c.expect, result.actual as unknown as Record<string, unknown>)).toEqual([]);
          // The runner agrees with this file's reading of the expectation.
          expect(result.passed).toBe(true);
        });
      });
    });

    describe("the reference evaluator", () => {
      loaded.cases.forEach((c, i) => {
        const known = KNOWN[`${file}${c.path}`]?.reference;
        const test = known === undefined ? it : it.fails;
        test(`${c.path} ${c.name}${known === undefined ? "" : ` (known: ${known})`}`, () => {
          expect(mismatches(c.expect, reference[i] as unknown as Record<string, unknown>)).toEqual([]);
        });
      });
    });
  });
}

describe("the comparison can fail", () => {
  // A corpus whose checks could not fail would prove nothing: one wrong answer per side.
  const wrong: LoadedCases = (() => {
    const { loaded } = loadedFiles.find((f) => f.file === "window.cases.json")!;
    const cases = loaded.cases.map((c, i) =>
      i === 1 ? { ...c, expect: { ...c.expect, retryAfterMs: (c.expect.retryAfterMs ?? 0) + 1 } } : c,
    );
    return { ...loaded, cases };
  })();

  it("on the engine", async () => {
    const run = await runLoadedCases(wrong);
    expect(run.failed).toBe(1);
    expect(run.results[1]!.mismatched).toEqual(["retryAfterMs"]);
    expect(
      mismatches(wrong.cases[1]!.expect, run.results[1]!.actual as unknown as Record<string, unknown>),
    ).toHaveLength(1);
  });

  it("on the reference", () => {
    const decisions = runReference(wrong);
    const failing = wrong.cases.filter(
      (c, i) => mismatches(c.expect, decisions[i] as unknown as Record<string, unknown>).length > 0,
    );
    expect(failing.map((c) => c.path)).toEqual(["/cases/1"]);
  });

  it("on a cause", () => {
    const { loaded } = loadedFiles.find((f) => f.file === "limits.cases.json")!;
    const index = loaded.cases.findIndex((c) => c.expect.cause === "missing_attribute");
    const decisions = runReference(loaded);
    const asPolicy: ExpectedDecision = { ...loaded.cases[index]!.expect, cause: "policy" };
    expect(mismatches(asPolicy, decisions[index] as unknown as Record<string, unknown>)).toEqual([
      'cause: expected "policy", got "missing_attribute"',
    ]);
  });
});
