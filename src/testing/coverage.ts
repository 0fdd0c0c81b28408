/**
 * Policy coverage: which rules and limits of a policy a set of calls reached.
 *
 * The units are read from the document: every key of `tools` (`/tools/<key>`), each of its
 * conditional rules (`/tools/<key>/rules/<i>`), `/default` and its rules, every limit
 * (`…/rate_limit`, `…/rate_limit/<i>`) and every policy limit (`/limits/<i>`).
 *
 * A rule is reached when a call was decided by it or passed through it: the key that governed
 * the name, the conditional rule whose `when` held, `/default` when it decided or when a key's
 * rules fell through to it. A rule whose `when` was evaluated and failed is not reached. A limit
 * is reached when a call was checked against it (whether or not it had room), or when it refused
 * a session lacking its `per` attribute.
 */

import type { Explanation, PolicyDocument } from "toolgate";

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

/** Every rule and limit of a policy, as JSON Pointers in document order. */
export function coverageUnits(doc: PolicyDocument): string[] {
  const out: string[] = [];
  const limitsOf = (rule: Record<string, unknown>, pointer: string): void => {
    const l = rule.rate_limit;
    if (Array.isArray(l)) l.forEach((_, i) => out.push(`${pointer}/rate_limit/${i}`));
    else if (l !== undefined) out.push(`${pointer}/rate_limit`);
  };
  const ruleAt = (rule: unknown, pointer: string): void => {
    out.push(pointer);
    if (typeof rule !== "object" || rule === null) return;
    const r = rule as Record<string, unknown>;
    if (Array.isArray(r.rules)) {
      r.rules.forEach((c: unknown, i) => {
        out.push(`${pointer}/rules/${i}`);
        if (typeof c === "object" && c !== null) limitsOf(c as Record<string, unknown>, `${pointer}/rules/${i}`);
      });
    } else {
      limitsOf(r, pointer);
    }
  };
  for (const key of Object.keys(doc.tools)) ruleAt(doc.tools[key], `/tools/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`);
  ruleAt(doc.default, "/default");
  (doc.limits ?? []).forEach((_, i) => out.push(`/limits/${i}`));
  return out;
}

/**
 * The units one explained call reached: the paths of its steps and its limits that are units.
 * Steps about failed conditions point inside a `when`, never at a unit, so they do not count.
 */
export function reachedBy(explanation: Explanation, units: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const s of explanation.steps) if (units.has(s.path)) out.push(s.path);
  for (const l of explanation.limits) if (units.has(l)) out.push(l);
  return out;
}

/** Coverage from the units and the set reached. */
export function summarise(units: readonly string[], reached: ReadonlySet<string>): Coverage {
  const hit = units.filter((u) => reached.has(u));
  const missed = units.filter((u) => !reached.has(u));
  return {
    total: units.length,
    reached: hit,
    unreached: missed,
    percent: units.length === 0 ? 100 : Math.floor((hit.length * 1000) / units.length) / 10,
  };
}

/** Whether coverage is at least `minPercent`, compared exactly (no rounding either way). */
export function meetsCoverage(c: Coverage, minPercent: number): boolean {
  // Compare in integers from the number's decimal text, so 0.1 + 0.2 style error cannot
  // turn "exactly the minimum" into "below it".
  const m = /^(\d+)(?:\.(\d+))?$/.exec(String(minPercent));
  if (m === null) return c.reached.length * 100 >= minPercent * c.total;
  const decimals = m[2] ?? "";
  const scaled = BigInt(m[1]! + decimals);
  return BigInt(c.reached.length) * 100n * 10n ** BigInt(decimals.length) >= scaled * BigInt(c.total);
}
