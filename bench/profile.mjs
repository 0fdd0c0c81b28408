// Runs one contender of one workload alone for a few seconds, for a CPU profile of just it:
//
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile.mjs a "toolgate decideSync" [seconds]
//   node bench/profile-top.mjs /tmp/prof/*.cpuprofile
//
// Workloads: a, b, c, c-full, d, and the scaling points tools-10000 and patterns-new-1000 (whose
// one contender is "toolgate decideSync"). The contender is matched by its exact name in the tables.

import { compilePolicy } from "toolgate";
import { bigPolicy, mixedPattern } from "./data.mjs";
import { toolCalls, uniquePatternCalls } from "./scaling.mjs";
import { TOOLGATE, workloadA, workloadB, workloadC, workloadD } from "./workloads.mjs";

/** A scaling point as a one-contender workload. */
function scalingPoint(doc, inputs) {
  const policy = compilePolicy(doc);
  return { inputs, contenders: [{ name: TOOLGATE, fn: (c) => policy.decideSync(c) }] };
}

const [id, name, secondsArg] = process.argv.slice(2);
const builders = {
  a: workloadA,
  b: workloadB,
  c: () => workloadC({ full: false }),
  "c-full": () => workloadC({ full: true }),
  d: () => workloadD({ peers: false }),
  "tools-10000": () => scalingPoint(bigPolicy(10_000, 0), toolCalls(10_000)),
  "patterns-new-1000": () => scalingPoint(bigPolicy(10, 1_000, mixedPattern), uniquePatternCalls(1_000)),
};
if (builders[id] === undefined || name === undefined) {
  console.error(`usage: node bench/profile.mjs <${Object.keys(builders).join("|")}> "<contender name>" [seconds]`);
  process.exit(2);
}
const seconds = secondsArg === undefined ? 5 : Number(secondsArg);
const w = await builders[id]();
const c = w.contenders.find((x) => x.name === name);
if (c === undefined) {
  console.error(
    `no contender ${JSON.stringify(name)} in (${id}); ` +
      `contenders: ${w.contenders.map((x) => JSON.stringify(x.name)).join(", ")}`,
  );
  process.exit(2);
}
const inputs = c.inputs ?? w.inputs;
const mask = inputs.length - 1;
const end = Date.now() + seconds * 1000;
let ops = 0;
let sink = 0;
while (Date.now() < end) {
  for (let i = 0; i < 10_000; i++) {
    const r = c.async ? await c.fn(inputs[(ops + i) & mask]) : c.fn(inputs[(ops + i) & mask]);
    sink = (sink + (r === undefined ? 0 : 1)) | 0;
  }
  ops += 10_000;
}
console.log(
  `${name} on (${id}): ${ops.toLocaleString("en")} ops in ${seconds} s ` +
    `(${((seconds * 1e9) / ops).toFixed(0)} ns/op wall, sink ${sink})`,
);
