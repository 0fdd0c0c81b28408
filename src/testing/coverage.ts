/**
 * Policy coverage: which rules and limits of a policy a set of calls reached.
 *
 * The units come from the compiled policy, never from a second reading of the document:
 * `policy.rules` lists every rule that can decide a call (in document order) with the limits
 * that apply to the calls it allows. A rules container (`/tools/x` holding `rules`) decides
 * nothing by itself and is not a unit; a rule the engine can never reach is not one either.
 *
 * A unit is reached when the engine's own account of a call (`policy.explain`) names it: the
 * rule that decided, a rule whose `when` held, a limit the call was checked against (whether or
 * not it had room), or the limit that refused a session lacking its `per` attribute. A rule
 * whose `when` was evaluated and failed is not reached.
 */

import type { Decision, Explanation, Policy } from "toolgate";

/** Coverage of one policy. */
export interface Coverage {
  /** How many rules and limits the policy has. */
  readonly total: number;
  /** JSON Pointers of the rules and limits reached, in document order. */
  readonly reached: readonly string[];
  /** JSON Pointers of the rules and limits never reached, in document order. */
  readonly unreached: readonly string[];
  /** `reached / total` as a percentage, rounded down to one decimal (never up). */
  readonly percent: number;
}

/**
 * Every rule and limit of a compiled policy that coverage counts, as JSON Pointers in document
 * order: each rule of `policy.rules` followed by its own limits, then the policy's `limits`
 * that apply to some rule.
 */
export function coverageUnits(policy: Policy): string[] {
  const rules: string[] = [];
  const policyLimits = new Set<string>();
  const seen = new Set<string>();
  for (const r of policy.rules) {
    if (!seen.has(r.rule)) {
      seen.add(r.rule);
      rules.push(r.rule);
    }
    for (const l of r.limits) {
      if (l.startsWith("/limits/")) policyLimits.add(l);
      else if (!seen.has(l)) {
        seen.add(l);
        rules.push(l);
      }
    }
  }
  const index = (p: string) => Number(p.slice("/limits/".length));
  return [...rules, ...[...policyLimits].sort((a, b) => index(a) - index(b))];
}

/**
 * The units one call reached, from the engine's explanation of it and its decision: the paths
 * of its steps and its limits that are units, and the rule that decided. Steps about failed
 * conditions point inside a `when`, never at a unit, so they do not count.
 */
export function reachedBy(explanation: Explanation, decision: Decision, units: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const s of explanation.steps) if (units.has(s.path)) out.push(s.path);
  for (const l of explanation.limits) if (units.has(l)) out.push(l);
  if (units.has(decision.rule)) out.push(decision.rule);
  return out;
}

/**
 * Coverage from the units (in document order) and the units reached: what several runs of one
 * policy reached together is the coverage of the union of what each reached.
 */
export function coverageOf(units: readonly string[], reached: Iterable<string>): Coverage {
  const hitSet = new Set(reached);
  const hit = units.filter((u) => hitSet.has(u));
  const missed = units.filter((u) => !hitSet.has(u));
  return {
    total: units.length,
    reached: hit,
    unreached: missed,
    percent: units.length === 0 ? 100 : Math.floor((hit.length * 1000) / units.length) / 10,
  };
}

/**
 * Whether coverage is at least `minPercent` (0 to 100), compared exactly: no rounding either
 * way, so 2 of 3 meets 66.6 and misses 66.7.
 * @throws RangeError when `minPercent` is not a finite number from 0 to 100.
 */
export function meetsCoverage(c: Coverage, minPercent: number): boolean {
  if (typeof minPercent !== "number" || !Number.isFinite(minPercent) || minPercent < 0 || minPercent > 100) {
    throw new RangeError(`meetsCoverage: minPercent must be a number from 0 to 100, got ${String(minPercent)}`);
  }
  // Compare in integers from the number's decimal text, so 0.1 + 0.2 style error cannot
  // turn "exactly the minimum" into "below it".
  const m = /^(\d+)(?:\.(\d+))?$/.exec(String(minPercent));
  if (m === null) return c.reached.length * 100 >= minPercent * c.total;
  const decimals = m[2] ?? "";
  const scaled = BigInt(m[1]! + decimals);
  return BigInt(c.reached.length) * 100n * 10n ** BigInt(decimals.length) >= scaled * BigInt(c.total);
}
