/**
 * The two ways loading cases fails: the cases themselves (unreadable, not JSON, not of the
 * format) or the policy they name. Each carries every problem, with paths, for programs.
 */

import type { PolicyIssue } from "toolgate";
import type { CasesProblem } from "./types.js";

/** A cases file or document that cannot be run: unreadable, not JSON, or not of the format. */
export class CasesError extends Error {
  /** The cases file (as given), or `undefined` for a document passed as an object. */
  readonly file: string | undefined;
  /** JSON Pointer of the first problem; `""` for the whole file. */
  readonly path: string;
  /** Every problem found, in document order (at most `MAX_PROBLEMS`, then one that counts the rest). */
  readonly problems: readonly CasesProblem[];

  constructor(file: string | undefined, problems: readonly CasesProblem[]) {
    const label = file ?? "cases";
    const line = (p: CasesProblem) => `${p.path === "" ? "" : `${p.path}: `}${p.message}`;
    const first = problems[0] ?? { path: "", message: "cannot be run" };
    super(
      problems.length <= 1
        ? `${label}: ${line(first)}`
        : `${label}: ${problems.length} problems:\n${problems.map((p) => `  ${line(p)}`).join("\n")}`,
    );
    this.name = "CasesError";
    this.file = file;
    this.path = first.path;
    this.problems = problems.length === 0 ? [first] : problems;
  }
}

/** The policy a cases file names is not a valid policy. */
export class CasesPolicyError extends Error {
  /** The policy file (as resolved), or `undefined` for an inline policy. */
  readonly policyFile: string | undefined;
  /** Every problem, with line and column when the policy is a file. */
  readonly issues: readonly PolicyIssue[];

  constructor(policyFile: string | undefined, issues: readonly PolicyIssue[]) {
    const first = issues[0];
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
    const shown = first === undefined ? "" : `${first.path || "/"}: ${first.message}`;
    super(`${policyFile ?? "inline policy"}: invalid policy: ${shown}${more}`);
    this.name = "CasesPolicyError";
    this.policyFile = policyFile;
    this.issues = issues;
  }
}
