/**
 * Property (a): the engine agrees with the reference evaluator written from docs/spec.md, decision by
 * decision, on generated policies and generated call sequences under a driven clock.
 *
 * A case is one (policy, call sequence) pair, each sequence 1–30 calls. Compiling costs far more
 * than deciding, so each generated policy is compiled once and run against SEQUENCES_PER_POLICY
 * sequences, each on a fresh, empty MemoryStore (the policy's store delegates to it). CI runs
 * 10,000 cases; `npm run fuzz` sets TOOLGATE_FUZZ_RUNS to the number of cases (and
 * TOOLGATE_FUZZ_SEED to replay a failure).
 *
 * A second property interleaves `peek` from 50 ms in the future (a dry run) with the calls and
 * checks it against the reference's dry run, and that it changes nothing for what follows.
 */

import fc from "fast-check";
import { compilePolicy, MemoryStore, type ConsumeRequest, type SyncStore } from "toolgate";
import { describe, it } from "vitest";
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
}

describe("engine vs reference evaluator", () => {
  const { numRuns, seed } = params(10_000);
  it(`decides every generated call as docs/spec.md says (${numRuns} policy × sequence cases)`, () => {
    fc.assert(
      fc.property(policy, fc.array(sequence, { minLength: SEQUENCES_PER_POLICY, maxLength: SEQUENCES_PER_POLICY }), (doc, sequences) => {
        let now = 1_000;
        const store = new SwappableStore();
        const engine = compilePolicy(doc, { clock: () => now, store });
        for (const steps of sequences) {
          now = 1_000;
          store.inner = new MemoryStore({ maxKeys: 1_000 });
          const reference = new ReferenceEngine(doc);
          for (const { call, dt } of steps) {
            now += dt;
            const expected = reference.decide(call, now);
            const actual = engine.decideSync(call as never);
            if (!sameDecision(actual, expected)) {
              throw new Error(`at ${now}: ${JSON.stringify(call)}\n  engine:    ${JSON.stringify(actual)}\n  reference: ${JSON.stringify(expected)}`);
            }
            // `ruleFor` names the key the reference chose.
            const tool = typeof call === "object" && call !== null ? (call as { tool?: unknown }).tool : undefined;
            if (expected.rule !== "" && typeof tool === "string" && engine.ruleFor(tool) !== reference.ruleFor(tool)) {
              throw new Error(`ruleFor(${JSON.stringify(tool)}): engine ${engine.ruleFor(tool)}, reference ${reference.ruleFor(tool)}`);
            }
          }
        }
      }),
      { numRuns: Math.max(1, Math.ceil(numRuns / SEQUENCES_PER_POLICY)), ...(seed === undefined ? {} : { seed }) },
    );
  }, Math.max(300_000, numRuns * 10)); // grows with the run count, so `npm run fuzz` is never cut short

  it("answers peek as the reference's dry run, and peek counts nothing", async () => {
    await fc.assert(
      fc.asyncProperty(policy, sequence, fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }), async (doc, steps, peeks) => {
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
            if (!sameDecision(actual, expected)) {
              throw new Error(`peek at ${now}: ${JSON.stringify(call)}\n  engine:    ${JSON.stringify(actual)}\n  reference: ${JSON.stringify(expected)}`);
            }
            now -= 50;
          }
          const expected = reference.decide(call, now);
          const actual = engine.decideSync(call as never);
          if (!sameDecision(actual, expected)) {
            throw new Error(`at ${now}: ${JSON.stringify(call)}\n  engine:    ${JSON.stringify(actual)}\n  reference: ${JSON.stringify(expected)}`);
          }
        }
      }),
      // Each case compiles a policy: a hundredth of the fuzz count (10,000 in `npm run fuzz`).
      { numRuns: Math.max(1_000, Math.ceil(numRuns / 100)), ...(seed === undefined ? {} : { seed }) },
    );
  }, 600_000);
});
