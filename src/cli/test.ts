/**
 * `toolgate test <cases.json>...`: runs policy test cases, reports failures and coverage.
 */

import { relative } from "node:path";
import {
  CasesError,
  CasesPolicyError,
  coverageOf,
  formatDecision,
  loadCases,
  meetsCoverage,
  runLoadedCases,
  type CasesProblem,
  type CasesRun,
  type Coverage,
  type LoadedCases,
} from "toolgate/testing";
import { parseCommand } from "./args.js";
import { EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError } from "./errors.js";
import { issueLines } from "./issues.js";
import { err, out, outJson } from "./output.js";

/** The help text of `toolgate test`. */
export const TEST_HELP = `usage: toolgate test [--coverage] [--min-coverage <percent>] [--json] <cases.json>...

Runs policy test cases. A cases file:
  { "policy": "./policy.json",
    "cases": [ { "name": "...", "call": { "tool", "args"?, "session", "annotations"?, "approved"? },
                 "at"?: <ms>, "repeat"?: <N>,
                 "expect": "<outcome>" | { "outcome", "reason"?, "rule"?, "cause"?, "retryAfterMs"?,
                                           "remaining"? } } ] }
The policy path is relative to the cases file (or the policy is written inline). Cases run in
order against one compiled policy with a virtual clock that starts at 0 and moves only when a
case's "at" says; "repeat" makes N identical calls at that time and checks "expect" on the
last. Given "expect" fields must match exactly. Prints each failure, then "N passed, N failed".
A cases file is read as strictly as a policy file (a duplicate key is an error), every problem
of a malformed one is reported, and a file with no cases fails: it would test nothing.

options:
  --coverage                list the rules and limits of each policy that no case reached
  --min-coverage <percent>  fail when reached rules and limits are below <percent> of all
                            (per policy; several cases files of one policy count together)
  --json                    print the results as JSON instead
  -h, --help                show this help

exit status: 0 every case passed (and coverage is met); 1 a case failed, a file has no cases,
coverage is below the minimum or a policy is invalid; 2 bad usage, or a cases file is missing
or malformed.`;

interface PolicyCoverage {
  policy: string;
  coverage: Coverage;
  met: boolean | undefined;
}

/** Runs `toolgate test`; returns the exit status. */
export async function testCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals, help } = parseCommand(
    "test",
    argv,
    { coverage: { type: "boolean" }, "min-coverage": { type: "string" }, json: { type: "boolean" } },
    true,
  );
  if (help) {
    out(TEST_HELP);
    return EXIT_OK;
  }
  const minCoverage = values["min-coverage"] === undefined ? undefined : parsePercent(values["min-coverage"] as string);
  if (positionals.length === 0) throw new UsageError("name at least one cases file (see toolgate test --help)");

  const loaded: { label: string; cases: LoadedCases }[] = [];
  for (const label of positionals) {
    try {
      loaded.push({ label, cases: loadCases(label) });
    } catch (e) {
      if (e instanceof CasesError) {
        for (const p of e.problems) err(`toolgate test: ${problemLine(label, p)}`);
        return EXIT_USAGE;
      }
      if (e instanceof CasesPolicyError) {
        const shown = e.policyFile === undefined ? `${label}#/policy` : display(e.policyFile);
        if (values.json === true) outJson({ error: "invalid policy", policy: shown, issues: e.issues });
        else {
          for (const line of issueLines(shown, e.issues)) out(line);
          err(`toolgate test: ${label}: the policy ${shown} is invalid, so no case ran`);
        }
        return EXIT_FINDINGS;
      }
      throw e;
    }
  }

  // A CI job must not pass on a file that tests nothing (a cases list emptied by mistake).
  const empty = loaded.filter((l) => l.cases.cases.length === 0).map((l) => l.label);
  const runs: { label: string; run: CasesRun }[] = [];
  for (const l of loaded) runs.push({ label: l.label, run: await runLoadedCases(l.cases) });
  const coverage = coverageByPolicy(loaded, runs, minCoverage);
  const passed = runs.reduce((n, r) => n + r.run.passed, 0);
  const failed = runs.reduce((n, r) => n + r.run.failed, 0);
  const coverageFailed = coverage.some((c) => c.met === false);
  const status = failed > 0 || coverageFailed || empty.length > 0 ? EXIT_FINDINGS : EXIT_OK;

  if (values.json === true) {
    outJson({
      files: runs.map(({ label, run }) => ({
        file: label,
        policy: run.policyFile === undefined ? `${label}#/policy` : display(run.policyFile),
        passed: run.passed,
        failed: run.failed,
        results: run.results,
      })),
      coverage: coverage.map((c) => ({
        policy: c.policy,
        ...c.coverage,
        ...(c.met === undefined ? {} : { minimum: minCoverage, met: c.met }),
      })),
      passed,
      failed,
      empty,
    });
    return status;
  }

  for (const { label, run } of runs) {
    for (const r of run.results) {
      if (r.passed) continue;
      out(
        `FAIL ${label} ${r.path} ${JSON.stringify(r.name)} ` +
          `(at ${r.at} ms${r.calls > 1 ? `, last of ${r.calls} calls` : ""})`,
      );
      out(`  expected: ${formatDecision(r.expected)}`);
      out(`  actual:   ${formatDecision(r.actual)}`);
    }
  }
  if (values.coverage === true || minCoverage !== undefined) {
    for (const c of coverage) {
      const { reached, total, percent, unreached } = c.coverage;
      out(`coverage of ${c.policy}: ${reached.length}/${total} rules and limits reached (${percent}%)`);
      if (values.coverage === true) for (const u of unreached) out(`  not reached: ${u}`);
      if (c.met === false) out(`  below the minimum of ${minCoverage}%`);
    }
  }
  out(`${passed} passed, ${failed} failed`);
  for (const label of empty)
    err(`toolgate test: ${label}: has no cases, so it tests nothing (add cases, or do not run it)`);
  return status;
}

/** One problem of a cases file: `cases.json:3:14: /cases/0/name: …` (line and column when known). */
function problemLine(label: string, p: CasesProblem): string {
  const where = p.line !== undefined && p.column !== undefined ? `${label}:${p.line}:${p.column}` : label;
  return `${where}: ${p.path === "" ? "" : `${p.path}: `}${p.message}`;
}

/** Coverage per policy file: cases files that test the same policy count together. */
function coverageByPolicy(
  loaded: readonly { label: string; cases: LoadedCases }[],
  runs: readonly { label: string; run: CasesRun }[],
  minCoverage: number | undefined,
): PolicyCoverage[] {
  const groups = new Map<string, { policy: string; units: readonly string[]; reached: Set<string> }>();
  runs.forEach(({ label, run }, i) => {
    const key = run.policyFile ?? `${run.file ?? label}#/policy`;
    let g = groups.get(key);
    if (g === undefined) {
      g = {
        policy: run.policyFile === undefined ? `${label}#/policy` : display(run.policyFile),
        units: loaded[i]!.cases.units,
        reached: new Set(),
      };
      groups.set(key, g);
    }
    for (const u of run.coverage.reached) g.reached.add(u);
  });
  return [...groups.values()].map((g) => {
    const coverage = coverageOf(g.units, g.reached);
    return {
      policy: g.policy,
      coverage,
      met: minCoverage === undefined ? undefined : meetsCoverage(coverage, minCoverage),
    };
  });
}

function parsePercent(text: string): number {
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) > 100) {
    throw new UsageError(`--min-coverage must be a percentage from 0 to 100, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** A path as the user would write it: relative to the working directory when inside it. */
function display(file: string): string {
  const r = relative(process.cwd(), file);
  return r === "" || r.startsWith("..") ? file : r;
}
