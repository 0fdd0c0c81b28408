// Runs sample calls of an agent through the MLflow policy and prints each decision.
// Run it with `npm run example` (which builds toolgate first).
import { readFileSync } from "node:fs";
import { compilePolicy } from "toolgate";

const policyText = readFileSync(new URL("./policy.json", import.meta.url), "utf8");
const tools = JSON.parse(
  readFileSync(new URL("../../test/fixtures/mlflow-mcp-tools.json", import.meta.url), "utf8"),
).tools;
const annotationsOf = new Map(tools.map((t) => [t.name, t.annotations ?? {}]));

// A policy compiles once; the text form gives errors with line and column.
const policy = compilePolicy(policyText);
const session = { id: "agent-session-1" };

const calls = [
  { tool: "get_run", args: { run_id: "a1b2c3" } },
  { tool: "search_experiments", args: { max_results: 50 } },
  { tool: "search_experiments", args: { max_results: 100000 } },
  ...Array.from({ length: 6 }, (_, i) => ({
    tool: "register_model",
    args: { run_id: "a1b2c3", model_name: `churn-${i}` },
  })),
  { tool: "delete_run", args: { run_id: "a1b2c3" } },
  { tool: "delete_run", args: { run_id: "a1b2c3" }, approved: true },
  { tool: "set_model_alias", args: { name: "churn", alias: "champion", version: "3" } },
  { tool: "drop_database", args: {} },
  { tool: "get_run", arguments: { run_id: "a1b2c3" } },
];

const rows = [];
for (const c of calls) {
  const call = { ...c, session, annotations: annotationsOf.get(c.tool) };
  if (call.annotations === undefined) delete call.annotations;
  const d = await policy.decide(call);
  rows.push({
    call: `${c.tool}${c.approved ? " (approved)" : ""}${c.arguments ? " [sent 'arguments']" : ""}`,
    outcome: d.outcome,
    rule: d.rule || '""',
    detail:
      d.outcome === "allow"
        ? d.remaining === undefined
          ? ""
          : `remaining ${d.remaining}`
        : d.outcome === "rate_limited"
          ? `retry in ${Math.ceil(d.retryAfterMs / 1000)}s: ${d.reason}`
          : d.reason,
  });
}

const width = (k) => Math.max(k.length, ...rows.map((r) => String(r[k]).length));
const cols = ["call", "outcome", "rule"];
console.log(`policy "${policy.namespace}": ${tools.length} MLflow tools, session ${session.id}\n`);
console.log([...cols.map((k) => k.padEnd(width(k))), "detail"].join("  "));
for (const r of rows) console.log([...cols.map((k) => String(r[k]).padEnd(width(k))), r.detail].join("  "));
