// The measuring harness: contenders interleaved in rounds, medians reported.
//
// tinybench runs each task to completion before the next, so a slow minute on a shared
// machine lands on one contender only. Here every round runs one timed batch of every
// contender, in an order rotated each round, and the figure reported is the median of the
// per-round ns/op: noise hits everyone alike and the median discards the rounds it spoils.
//
// Each contender gets its own loop, built with `new Function`, so V8 gives every loop its own
// type feedback: a shared loop would see every contender's function at one call site, turn
// megamorphic and slow all of them down unequally.

/**
 * A contender: a function deciding one call. `inputs`, when given, replaces the shared ring for
 * this contender (to interleave, say, policies of different sizes in one comparison).
 * @typedef {{ name: string, fn: (call: any) => any, async?: boolean, inputs?: readonly unknown[] }} Contender
 */
/** @typedef {{ name: string, nsPerOp: number, opsPerSec: number, samples: number[], batch: number }} Result */

const hr = process.hrtime.bigint;

/**
 * Builds the timed loop of one contender over a ring of pre-generated inputs.
 * @param {Contender} c
 * @param {readonly unknown[]} inputs length a power of two
 */
function makeLoop(c, inputs) {
  const mask = inputs.length - 1;
  if ((inputs.length & mask) !== 0) throw new Error(`inputs length must be a power of two, got ${inputs.length}`);
  // The sink folds every answer into a number the caller keeps, so no result is dead code.
  const body = c.async
    ? `return async function loop(n, start) { let sink = 0; for (let i = 0; i < n; i++) {
        const r = await fn(inputs[(start + i) & mask]); sink = (sink + (r === undefined ? 0 : 1)) | 0; } return sink; }`
    : `return function loop(n, start) { let sink = 0; for (let i = 0; i < n; i++) {
        const r = fn(inputs[(start + i) & mask]); sink = (sink + (r === undefined ? 0 : 1)) | 0; } return sink; }`;
  return new Function("fn", "inputs", "mask", body)(c.fn, inputs, mask);
}

/**
 * Which clock times a batch. `"cpu"`: the CPU time this process used (user + system, from
 * `process.cpuUsage`), so the time the scheduler gives to other processes on a shared machine
 * is not charged to whoever was running; it includes V8's helper threads (concurrent GC), a
 * real cost of allocating code. `"wall"`: elapsed time, the right clock on an idle machine.
 */
let clockKind = "cpu";

/** Chooses the clock for every later measurement. */
export function useClock(kind) {
  if (kind !== "cpu" && kind !== "wall") throw new Error(`bench: unknown clock ${kind}`);
  clockKind = kind;
}

/** The clock in use, for the report. */
export const clockInUse = () => clockKind;

const cpuNs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

/** Runs `loop` for `n` ops and returns the elapsed ns on the chosen clock. */
async function timed(loop, n, start, isAsync, sinkBox) {
  const cpu = clockKind === "cpu";
  const t0 = cpu ? cpuNs() : Number(hr());
  const s = isAsync ? await loop(n, start) : loop(n, start);
  const t1 = cpu ? cpuNs() : Number(hr());
  sinkBox.v = (sinkBox.v + s) | 0;
  return t1 - t0;
}

/** The median of a list of numbers. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Measures contenders against each other.
 * @param {Contender[]} contenders
 * @param {readonly unknown[]} inputs the call objects, cycled through (length a power of two)
 * @param {{ rounds: number, batchMs: number, warmupMs: number }} opts
 * @returns {Promise<Result[]>} in the order given
 */
export async function compare(contenders, inputs, opts) {
  const sinkBox = { v: 0 };
  const loops = contenders.map((c) => makeLoop(c, c.inputs ?? inputs));
  const batch = [];
  let cursor = 0;
  // Warm up and size each contender's batch so one batch takes about `batchMs`: slow peers
  // get few ops per batch, fast ones many, and every round costs each about the same time.
  for (let k = 0; k < contenders.length; k++) {
    const c = contenders[k];
    let n = 1;
    let spent = 0;
    let ns = 0;
    while (spent < opts.warmupMs * 1e6 || ns < 1e6) {
      ns = await timed(loops[k], n, cursor, c.async === true, sinkBox);
      cursor += n;
      spent += ns;
      if (ns < 1e6) n *= 4;
      if (spent > 10 * opts.warmupMs * 1e6) break;
    }
    batch[k] = Math.max(1, Math.round((n * opts.batchMs * 1e6) / Math.max(ns, 1)));
  }
  const samples = contenders.map(() => []);
  for (let r = 0; r < opts.rounds; r++) {
    for (let j = 0; j < contenders.length; j++) {
      const k = (j + r) % contenders.length;
      const ns = await timed(loops[k], batch[k], cursor, contenders[k].async === true, sinkBox);
      cursor += batch[k];
      samples[k].push(ns / batch[k]);
    }
  }
  if (sinkBox.v === 0x7fffffff) console.log("");
  return contenders.map((c, k) => {
    const nsPerOp = median(samples[k]);
    return { name: c.name, nsPerOp, opsPerSec: 1e9 / nsPerOp, samples: samples[k], batch: batch[k] };
  });
}

/**
 * Times a synchronous function `runs` times (after one warm-up run) and returns the median ms
 * on the chosen clock.
 * @param {() => unknown} fn
 * @param {number} runs
 */
export function medianMs(fn, runs) {
  fn();
  const xs = [];
  for (let i = 0; i < runs; i++) {
    const t0 = clockKind === "cpu" ? cpuNs() : Number(hr());
    fn();
    xs.push(((clockKind === "cpu" ? cpuNs() : Number(hr())) - t0) / 1e6);
  }
  return median(xs);
}
