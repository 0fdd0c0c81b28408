import { describe, expect, it } from "vitest";
import { lines, MLFLOW_POLICY, MLFLOW_TOOLS, toolgate } from "./run.js";

// The commands of examples/ci/README.md, run from the repository root as a CI job would.
describe("examples/ci", () => {
  it("its policy is valid, without warnings", () => {
    const r = toolgate(["validate", "--strict", "examples/ci/policy.json"]);
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toEqual(["examples/ci/policy.json: valid"]);
  });

  it("its cases pass and reach every rule and limit", () => {
    const r = toolgate(["test", "--coverage", "--min-coverage", "100", "examples/ci/policy.cases.json"]);
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toEqual([
      "coverage of examples/ci/policy.json: 9/9 rules and limits reached (100%)",
      "14 passed, 0 failed",
    ]);
  });
});

describe("the MLflow policy", () => {
  it("passes its cases with every rule and limit reached", () => {
    const r = toolgate(["test", "--min-coverage", "100", "test/cli/mlflow.cases.json"]);
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toEqual([
      "coverage of examples/mlflow/policy.json: 17/17 rules and limits reached (100%)",
      "19 passed, 0 failed",
    ]);
  });

  it("checks clean against the MLflow server's tools, and every deletion needs approval", () => {
    const r = toolgate(["check", MLFLOW_POLICY, "--tools", MLFLOW_TOOLS, "--json"]);
    const report = JSON.parse(r.stdout) as {
      tools: { tool: string; bareCall: { outcome: string } }[];
      findings: number;
    };
    expect(report.findings).toBe(0);
    expect(report.tools.filter((t) => t.tool.startsWith("delete_")).map((t) => t.bareCall.outcome)).toEqual(
      Array(5).fill("needs_approval"),
    );
  });
});
