/**
 * Property (a): the engine agrees with the reference evaluator written from docs/spec.md, decision by
 * decision, on generated policies and generated call sequences under a driven clock — with costs
 * (constant and read from the arguments, decimals to six places), ids shared across tools,
 * refundable limits with `policy.refund` interleaved with the calls (sometimes of a JSON copy,
 * sometimes twice), fractional clock readings, and every deny's `cause`.
 *
 * A case is one (policy, call sequence) pair, each sequence 1–30 steps. Compiling costs far more
 * than deciding, so each generated policy is compiled once and run against SEQUENCES_PER_POLICY
 * sequences, each on a fresh, empty MemoryStore (the policy's store delegates to it). CI runs
 * 10,000 cases; `npm run fuzz` sets TOOLGATE_FUZZ_RUNS to the number of cases (and
 * TOOLGATE_FUZZ_SEED to replay a failure).
 *
 * Every sequence runs twice over: through a store that wraps a MemoryStore (the engine asks it
 * with request objects, as any store) and through a MemoryStore itself (for a call with one
 * limit of fixed cost the engine takes the store's direct path): both must match the reference.
 *
 * A second property interleaves `peek` from 50 ms in the future (a dry run) with the calls and
 * checks it against the reference's dry run, and that it changes nothing for what follows.
 */

import fc from "fast-check";
import {
  compilePolicy,
  MemoryStore,
  type ConsumeRequest,
  type Decision,
  type RefundRequest,
  type SyncStore,
} from "toolgate";
import { describe, expect, it } from "vitest";
import { ReferenceEngine, sameDecision } from "../reference/reference.js";
import { params, policy, sequence } from "./arbitraries.js";

const SEQUENCES_PER_POLICY = 10;

/** A synchronous store whose budgets can be emptied between sequences by swapping the MemoryStore. */
class SwappableStore implements SyncStore {
  readonly synchronous = true;
  inner = new MemoryStore({ maxKeys: 1_000 });
  consume(request: ConsumeRequest) {
    return this.inner.consume(request);
  }
  refund(request: RefundRequest) {
    return this.inner.refund(request);
  }
}

function mismatch(what: string, now: number, input: unknown, actual: unknown, expected: unknown): Error {
  return new Error(
    `${what} at ${now}: ${JSON.stringify(input)}\n` +
      `  engine:    ${JSON.stringify(actual)}\n  reference: ${JSON.stringify(expected)}`,
  );
}

describe("engine vs reference evaluator", () => {
  const { numRuns, seed } = params(10_000);
  it(
    `decides every generated call and refund as docs/spec.md says (${numRuns} policy × sequence cases)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          policy,
          fc.array(sequence, { minLength: SEQUENCES_PER_POLICY, maxLength: SEQUENCES_PER_POLICY }),
          async (doc, sequences) => {
            let now = 1_000;
            const store = new SwappableStore();
            const engine = compilePolicy(doc, { clock: () => now, store });
            const own = new MemoryStore({ maxKeys: 1_000 });
            // Its observer's copy of every decision must equal the decision itself.
            let observed: Decision | undefined;
            const direct = compilePolicy(doc, {
              clock: () => now,
              store: own,
              onDecision: (e) => {
                observed = e.decision;
              },
            });
            for (const steps of sequences) {
              now = 1_000;
              store.inner = new MemoryStore({ maxKeys: 1_000 });
              own.clear();
              const reference = new ReferenceEngine(doc);
              const decided: [Decision, Decision, Decision][] = [];
              for (const { call, dt, refund } of steps) {
                now += dt;
                if (refund !== undefined && decided.length >= refund.back) {
                  const [mine, theirs, direct1] = decided[decided.length - refund.back]!;
                  const expected = reference.refund(theirs, now);
                  const actual = await engine.refund(refund.copy ? JSON.parse(JSON.stringify(mine)) : mine);
                  if (actual !== expected) throw mismatch("refund", now, mine, actual, expected);
                  const actual1 = await direct.refund(refund.copy ? JSON.parse(JSON.stringify(direct1)) : direct1);
                  if (actual1 !== expected) throw mismatch("refund (direct path)", now, direct1, actual1, expected);
                }
                const expected = reference.decide(call, now);
                const actual = engine.decideSync(call as never);
                if (!sameDecision(actual, expected)) throw mismatch("decision", now, call, actual, expected);
                observed = undefined;
                const actual1 = direct.decideSync(call as never);
                if (!sameDecision(actual1, expected))
                  throw mismatch("decision (direct path)", now, call, actual1, expected);
                expect(observed).toStrictEqual(actual1);
                decided.push([actual, expected, actual1]);
                // `ruleFor` names the key the reference chose.
                const tool = typeof call === "object" && call !== null ? (call as { tool?: unknown }).tool : undefined;
                if (
                  expected.rule !== "" &&
                  typeof tool === "string" &&
                  engine.ruleFor(tool) !== reference.ruleFor(tool)
                ) {
                  throw new Error(
                    `ruleFor(${JSON.stringify(tool)}): ` +
                      `engine ${engine.ruleFor(tool)}, reference ${reference.ruleFor(tool)}`,
                  );
                }
              }
            }
          },
        ),
        { numRuns: Math.max(1, Math.ceil(numRuns / SEQUENCES_PER_POLICY)), ...(seed === undefined ? {} : { seed }) },
      );
    },
    Math.max(300_000, numRuns * 10),
  ); // grows with the run count, so `npm run fuzz` is never cut short

  it("answers peek as the reference's dry run, and peek counts nothing", async () => {
    await fc.assert(
      fc.asyncProperty(
        policy,
        sequence,
        fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
        async (doc, steps, peeks) => {
          let now = 1_000;
          const engine = compilePolicy(doc, { clock: () => now, store: new MemoryStore({ maxKeys: 1_000 }) });
          const reference = new ReferenceEngine(doc);
          for (const [i, { call, dt }] of steps.entries()) {
            now += dt;
            if (peeks[i] === true) {
              // A look from later in time must change nothing for the calls that follow.
              now += 50;
              const expected = reference.decide(call, now, true);
              const actual = await engine.peek(call as never);
              if (!sameDecision(actual, expected)) throw mismatch("peek", now, call, actual, expected);
              now -= 50;
            }
            const expected = reference.decide(call, now);
            const actual = engine.decideSync(call as never);
            if (!sameDecision(actual, expected)) throw mismatch("decision", now, call, actual, expected);
          }
        },
      ),
      // Each case compiles a policy: a hundredth of the fuzz count, at least 500 in CI.
      { numRuns: Math.max(500, Math.ceil(numRuns / 100)), ...(seed === undefined ? {} : { seed }) },
    );
  }, 600_000);
});
