// Tries a policy on traffic in shadow mode with a decision log, replays the log against a
// stricter policy with the built CLI, then enforces: docs/observing.md, "A worked example".
// Run it with `npm run build` once, then `node examples/observing/run.mjs [decisions.jsonl]`
// (without a path, the log goes to a temporary directory that is removed at the end).
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compilePolicy, decisionLog, MemoryStore } from "toolgate";

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const tempDir = process.argv[2] === undefined ? mkdtempSync(join(tmpdir(), "toolgate-observing-")) : undefined;
const logFile = process.argv[2] ?? join(tempDir, "decisions.jsonl");

// The traffic of a support agent's morning, on a clock of its own so the example runs at once.
const start = Date.parse("2026-03-02T09:00:00Z");
let now = start;
const people = [
  { id: "ada", org: "acme", role: "support" },
  { id: "bob", org: "acme", role: "sales" },
  { id: "cy", org: "globex", role: "support" },
];
const traffic = [];
for (let i = 0; i < 36; i++) {
  const session = people[i % 3];
  const tools = ["search_tickets", "get_ticket", "update_ticket", "search_tickets", "refund_order", "update_ticket"];
  const tool = i === 17 ? "delete_ticket" : tools[i % tools.length];
  traffic.push({ at: start + i * 2_500, call: { tool, args: { ticket: `T-${100 + i}` }, session } });
}

// 1. The new policy in shadow mode: every well-formed call is allowed, what enforcement would
//    refuse is in the decision's `shadow`, and every decision goes to the log. The stream buffers,
//    so `write` never waits for the disk.
const out = createWriteStream(logFile, { flags: "a" });
const store = new MemoryStore();
const shadow = compilePolicy(readFileSync(here("policy.json"), "utf8"), {
  store,
  clock: () => now,
  mode: "shadow",
  onDecision: decisionLog({ write: (line) => out.write(line), args: "clear" }),
});
let wouldRefuse = 0;
for (const { at, call } of traffic) {
  now = at;
  const d = await shadow.decide(call);
  if (d.shadow !== undefined) {
    wouldRefuse++;
    console.log(
      `shadow: ${call.tool} by ${call.session.id} allowed; enforcing would answer ${d.shadow.outcome} (${d.rule})`,
    );
  }
}
out.end();
await once(out, "finish");
console.log(`shadow mode: ${traffic.length} calls allowed, ${wouldRefuse} would have been refused; log: ${logFile}`);

// 2. What would the stricter candidate have changed? Replay the log against it.
console.log("\n$ toolgate replay --policy stricter.json decisions.jsonl");
const replay = spawnSync(
  process.execPath,
  [here("../../dist/cli.js"), "replay", "--policy", here("stricter.json"), logFile],
  {
    encoding: "utf8",
  },
);
process.stdout.write(replay.stdout);
process.stderr.write(replay.stderr);
console.log(`(exit status ${replay.status}: 0 nothing differs, 1 some outcomes differ)`);

// 3. Enforce the policy that was tried. Compiled on the same store and namespace, it continues the
//    budgets shadow mode kept (docs/spec.md, section 7): they are what enforcement would have made.
const enforced = compilePolicy(readFileSync(here("policy.json"), "utf8"), {
  store,
  clock: () => now,
  namespace: shadow.namespace,
});
now += 1_000;
const search = await enforced.decide({ tool: "search_tickets", args: { q: "refund" }, session: people[0] });
const left = `${search.remaining} left this minute (counted in shadow mode too)`;
console.log(`\nenforcing: search_tickets by ada -> ${search.outcome}, ${left}`);
const del = await enforced.decide({ tool: "delete_ticket", args: { ticket: "T-1" }, session: people[0] });
console.log(`enforcing: delete_ticket by ada -> ${del.outcome} (${del.rule}): ${del.reason}`);

if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
process.exitCode = replay.status === 1 ? 0 : 1;
