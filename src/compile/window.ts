/** Window lengths: parsing what authors write, and writing it back for people. */

/** The longest window: a year of 365 days. Longer windows are almost certainly a typo. */
export const MAX_WINDOW_MS = 365 * 24 * 60 * 60 * 1000;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Milliseconds of a window as written (`60`, `0.5`, `"500ms"`, `"5m"`), or a message saying
 * why it is not one. The schema has already checked the type and the string's shape.
 */
export function parseWindow(value: number | string): number | string {
  let ms: number;
  if (typeof value === "number") {
    ms = Math.round(value * 1000);
    if (!(value > 0) || Math.abs(ms - value * 1000) > 1e-6 * Math.max(1, ms)) {
      return `must be a whole number of milliseconds (seconds with at most 3 decimals), got ${value}`;
    }
  } else {
    const m = /^([0-9]+)(ms|s|m|h|d)$/.exec(value);
    if (m === null) return `must be a whole number and a unit (ms, s, m, h, d), got ${JSON.stringify(value)}`;
    const n = Number(m[1]);
    if (n < 1) return `must be at least 1${m[2]}, got ${JSON.stringify(value)}`;
    ms = n * UNIT_MS[m[2]!]!;
  }
  if (ms < 1) return `must be at least 1 millisecond, got ${JSON.stringify(value)}`;
  if (ms > MAX_WINDOW_MS) return `must be at most 365 days, got ${JSON.stringify(value)}`;
  return ms;
}

/** A window in the largest unit that divides it: `60000` → `"1m"`, `1500` → `"1500ms"`. */
export function formatWindow(ms: number): string {
  for (const unit of ["d", "h", "m", "s"] as const) {
    const size = UNIT_MS[unit]!;
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** A wait for people: `1ms`, `1.5s`, `2m 5s`. */
export function formatWait(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10}s`;
  const s = Math.ceil(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 === 0 ? "" : ` ${s % 60}s`}`;
  const m = Math.ceil(s / 60);
  return `${Math.floor(m / 60)}h${m % 60 === 0 ? "" : ` ${m % 60}m`}`;
}
