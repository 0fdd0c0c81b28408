// Prints the top frames of a V8 CPU profile (from `node --cpu-prof`) by self time, and the
// inclusive time of the same frames, so a profile can be read without a browser:
//
//   node bench/profile-top.mjs /tmp/prof/CPU.*.cpuprofile [count]

import { readFileSync } from "node:fs";

const [file, countArg] = process.argv.slice(2);
if (file === undefined) {
  console.error("usage: node bench/profile-top.mjs <file.cpuprofile> [count]");
  process.exit(2);
}
const count = countArg === undefined ? 20 : Number(countArg);
const prof = JSON.parse(readFileSync(file, "utf8"));
const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
for (const id of prof.samples) self.set(id, (self.get(id) ?? 0) + 1);
const total = prof.samples.length;

const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const label = (n) => {
  const f = n.callFrame;
  const where = f.url === "" ? "" : ` ${f.url.replace(/^.*\/(?=[^/]+\/[^/]+$)/, "")}:${f.lineNumber + 1}`;
  return `${f.functionName || "(anonymous)"}${where}`;
};

const selfBy = new Map();
const inclBy = new Map();
for (const [id, hits] of self) {
  const n = nodes.get(id);
  const key = label(n);
  selfBy.set(key, (selfBy.get(key) ?? 0) + hits);
  // Inclusive: every distinct frame on the stack of this sample gets the hits once.
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = label(nodes.get(cur));
    if (seen.has(k)) continue;
    seen.add(k);
    inclBy.set(k, (inclBy.get(k) ?? 0) + hits);
  }
}
const pct = (x) => `${((100 * x) / total).toFixed(1)}%`.padStart(6);
console.log(`${total} samples; top ${count} frames by self time (self, inclusive):`);
for (const [k, v] of [...selfBy].sort((a, b) => b[1] - a[1]).slice(0, count))
  console.log(`${pct(v)} ${pct(inclBy.get(k) ?? 0)}  ${k}`);
