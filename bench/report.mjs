// Printing: tables as aligned text (or Markdown with --md) and the targets' verdicts.

/** Formats ns/op with a sensible precision. */
export function fmtNs(ns) {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e4) return `${(ns / 1e3).toFixed(1)} µs`;
  if (ns >= 100) return `${ns.toFixed(0)} ns`;
  return `${ns.toFixed(1)} ns`;
}

/** Formats operations per second. */
export function fmtOps(ops) {
  if (ops >= 1e6) return `${(ops / 1e6).toFixed(2)} M`;
  if (ops >= 1e3) return `${(ops / 1e3).toFixed(1)} k`;
  return ops.toFixed(0);
}

/** Formats a ratio. */
export function fmtRatio(x) {
  if (x >= 100) return `${x.toFixed(0)}×`;
  if (x >= 10) return `${x.toFixed(1)}×`;
  return `${x.toFixed(2)}×`;
}

/**
 * Prints rows (arrays of cells) under a header, aligned, or as a Markdown table. The first
 * `textColumns` columns are text (left-aligned); the others are figures (right-aligned).
 */
export function printTable(header, rows, md, textColumns = 1) {
  if (md) {
    console.log(`| ${header.join(" | ")} |`);
    console.log(`|${header.map((_, i) => (i < textColumns ? "---" : "---:")).join("|")}|`);
    for (const r of rows) console.log(`| ${r.join(" | ")} |`);
    console.log("");
    return;
  }
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i < textColumns ? String(c).padEnd(w[i]) : String(c).padStart(w[i])))
      .join("   ")
      .trimEnd();
  console.log(line(header));
  console.log(w.map((n) => "-".repeat(n)).join("   "));
  for (const r of rows) console.log(line(r));
  console.log("");
}

/**
 * Prints one workload's results: contender, median ns/op, ops/s, and the ratio to the
 * reference contender (toolgate `decideSync`): above 1× means slower than toolgate.
 */
export function printResults(title, results, referenceName, md) {
  const ref = results.find((r) => r.name === referenceName);
  console.log(md ? `#### ${title}\n` : `== ${title}`);
  printTable(
    ["contender", "ns/op (median)", "ops/s", "vs toolgate"],
    results.map((r) => [
      r.name,
      fmtNs(r.nsPerOp),
      fmtOps(r.opsPerSec),
      ref === undefined ? "" : fmtRatio(r.nsPerOp / ref.nsPerOp),
    ]),
    md,
  );
}

/** The verdicts collected during the run. */
export class Targets {
  /** @type {{ name: string, pass: boolean, detail: string }[]} */
  list = [];

  /** Records a target: `pass` decides PASS or MISS; `detail` says what was measured. */
  add(name, pass, detail) {
    this.list.push({ name, pass, detail });
  }

  /** Prints every target; a miss never fails the run (the numbers are information). */
  print(md) {
    console.log(md ? "#### Targets\n" : "== Targets (informational: a miss never fails the run)");
    printTable(
      ["target", "verdict", "measured"],
      this.list.map((t) => [t.name, t.pass ? "PASS" : "MISS", t.detail]),
      md,
      3,
    );
  }
}
