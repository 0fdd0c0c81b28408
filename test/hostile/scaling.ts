/**
 * Complexity checks that do not depend on the machine's speed: the time of one operation at a
 * large input against the same operation at a small one, in one process, best of several runs.
 * A linear check grows by the size ratio (50× from 20 KB to 1 MB), n log n a little more, a
 * quadratic one by its square (2,500×). The bound is eight times the size ratio (400×): six
 * times below quadratic, and wide enough for what a linear scan really does between 20 KB
 * (in cache) and 1 MB (not: re2js measured 130–200× on an early-failing input), for a loaded
 * machine and for the garbage collector.
 */

/** Input sizes, in characters (ASCII: bytes) or in approximate bytes of JSON data. */
export const SMALL = 20_000;
export const LARGE = 1_000_000;
/** The largest accepted `time(LARGE) / time(SMALL)`. */
export const MAX_RATIO = (8 * LARGE) / SMALL;

/** Best time of `fn` in milliseconds: the smallest of `rounds` runs of `batch` calls each, per call. */
export function bestTime(fn: () => unknown, rounds: number, batch: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < batch; i++) fn();
    best = Math.min(best, (performance.now() - start) / batch);
  }
  return best;
}

/** One measured case. */
export interface Scaling {
  name: string;
  smallMs: number;
  largeMs: number;
  ratio: number;
}

/**
 * Times `run(input)` at both sizes. The small time has a floor of 2 µs so that a check that is
 * constant time (a length cap) is not reported as a huge ratio of two tiny, noisy numbers.
 */
export function measure<T>(name: string, make: (size: number) => T, run: (input: T) => unknown): Scaling {
  const small = make(SMALL);
  const large = make(LARGE);
  run(small);
  run(large);
  const smallMs = Math.max(bestTime(() => run(small), 5, 5), 0.002);
  const largeMs = bestTime(() => run(large), 2, 1);
  return { name, smallMs, largeMs, ratio: largeMs / smallMs };
}

/** The figures as a Markdown table, for the test log (and the closing note of the issue). */
export function table(rows: readonly Scaling[]): string {
  const lines = ["| case | 20 KB (ms) | 1 MB (ms) | ratio |", "|---|---:|---:|---:|"];
  for (const r of rows) lines.push(`| ${r.name} | ${r.smallMs.toFixed(3)} | ${r.largeMs.toFixed(2)} | ${r.ratio.toFixed(1)} |`);
  return lines.join("\n");
}
