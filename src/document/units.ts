/** Amounts exact to six decimal places, as integers of micro-units (docs/spec.md, "Spend caps"). */

/**
 * Micro-units in a unit: a limit with `cost` counts millionths, so fractions to six places are
 * exact integers for every store.
 */
export const MICRO = 1_000_000;

/**
 * The micro-units of `amount`, or `undefined` when it is not a finite number ≥ 0 with at most
 * six decimal places whose micro-units are a safe integer. Exact: `0.1` → 100000, and
 * `0.1 + 0.2` units add up to exactly `0.3`.
 */
export function toMicro(amount: unknown): number | undefined {
  if (typeof amount !== "number" || !Number.isFinite(amount) || amount < 0) return undefined;
  const micro = Math.round(amount * MICRO);
  // The decimal an author wrote is the double nearest to it; so is micro / MICRO when it has at
  // most six places. Any finer fraction lands on another double.
  return Number.isSafeInteger(micro) && micro / MICRO === amount ? micro : undefined;
}
