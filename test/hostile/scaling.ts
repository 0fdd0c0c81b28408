/**
 * Complexity checks that do not depend on the machine's speed: the time of one operation at a
 * large input against the same operation at a small one, in one process, best of several runs.
 * A linear check grows by the size ratio (50× from 20 KB to 1 MB), n log n a little more, a
 * quadratic one by its square (2,500×). The bound is eight times the size ratio (400×), scaled
 * by how much worse than linear a plain pass over the same input scaled on this machine (see
 * {@link linearity}): six times below quadratic, and wide enough for what a linear scan really
 * does between 20 KB (in cache) and 1 MB (not), for a loaded machine and for the collector.
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
  /** The largest ratio accepted for this case (see {@link linearity}). */
  allowed: number;
}

/**
 * Times `run` at both inputs. The small time has a floor of 2 µs so that a check that is
 * constant time (a length cap) is not reported as a huge ratio of two tiny, noisy numbers.
 */
function time<T>(small: T, large: T, run: (input: T) => unknown): { smallMs: number; largeMs: number } {
  run(small);
  run(large);
  const smallMs = Math.max(
    bestTime(() => run(small), 5, 5),
    0.002,
  );
  const largeMs = bestTime(() => run(large), 3, 1);
  return { smallMs, largeMs };
}

/**
 * How `run` scales from {@link SMALL} to {@link LARGE}, judged against one plain linear pass over
 * the same input (`pass`, by default JSON.stringify): 1 MB does not fit the caches 20 KB does,
 * V8 lists a big object's keys (a dictionary) slower per key than a small one's, and the
 * collector works harder, so the bound is {@link MAX_RATIO} times how much worse than linear the
 * pass itself scaled. A load spike can spoil one measurement, never the complexity class: a case
 * over its bound is measured again, up to three times, and the best attempt is kept.
 */
export function linearity<T>(
  name: string,
  make: (size: number) => T,
  run: (input: T) => unknown,
  pass: (input: T) => unknown = (x) => JSON.stringify(x),
): Scaling {
  const small = make(SMALL);
  const large = make(LARGE);
  let best: Scaling | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const m = time(small, large, run);
    const p = time(small, large, pass);
    const allowed = MAX_RATIO * Math.max(1, p.largeMs / p.smallMs / (LARGE / SMALL));
    const r: Scaling = { name, ...m, ratio: m.largeMs / m.smallMs, allowed };
    if (best === undefined || r.ratio / r.allowed < best.ratio / best.allowed) best = r;
    if (r.ratio <= r.allowed) break;
  }
  return best!;
}

/** The figures as a Markdown table, for the test log (and the closing note of the issue). */
export function table(rows: readonly Scaling[]): string {
  const lines = ["| case | 20 KB (ms) | 1 MB (ms) | ratio | bound |", "|---|---:|---:|---:|---:|"];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${r.smallMs.toFixed(3)} | ${r.largeMs.toFixed(2)} | ${r.ratio.toFixed(1)} | ` +
        `${r.allowed.toFixed(0)} |`,
    );
  }
  return lines.join("\n");
}

/**
 * `value` behind proxies that count every read of a member, key listing and own-property
 * question, at any depth: the work a check does on the data, counted rather than timed, so
 * the count at 1 MB against the count at 20 KB is the complexity class, on any machine.
 */
export function counted<T>(value: T): { value: T; count: () => number } {
  let n = 0;
  const wrappers = new WeakMap<object, object>();
  const wrap = (v: unknown): unknown => {
    if (v === null || typeof v !== "object") return v;
    const known = wrappers.get(v);
    if (known !== undefined) return known;
    const proxy = new Proxy(v, {
      get(target, key, receiver) {
        n++;
        return wrap(Reflect.get(target, key, receiver));
      },
      has(target, key) {
        n++;
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        const keys = Reflect.ownKeys(target);
        n += keys.length;
        return keys;
      },
      getOwnPropertyDescriptor(target, key) {
        n++;
        const d = Reflect.getOwnPropertyDescriptor(target, key);
        return d !== undefined && "value" in d ? { ...d, value: wrap(d.value) } : d;
      },
    });
    wrappers.set(v, proxy);
    return proxy;
  };
  return { value: wrap(value) as T, count: () => n };
}

/** The size reads are counted at against {@link SMALL}: counts are exact, so 10× the size shows the class. */
export const COUNTED = 200_000;

/** How many data operations `run` makes at {@link COUNTED} against {@link SMALL}: about the size ratio when linear. */
export function operationRatio<T>(
  make: (size: number) => T,
  run: (input: T) => unknown,
): { small: number; large: number; ratio: number } {
  const at = (size: number) => {
    const c = counted(make(size));
    run(c.value);
    return c.count();
  };
  const small = at(SMALL);
  const large = at(COUNTED);
  return { small, large, ratio: large / Math.max(1, small) };
}
