/**
 * Printing policy issues the way compilers do: `file:line:col /json/pointer: message`.
 */

import type { PolicyIssue } from "toolgate";

/** One issue as `file:line:col /pointer: message` (the root pointer `""` is shown as `/`). */
export function issueLine(file: string, issue: PolicyIssue, label = ""): string {
  const where = issue.line !== undefined && issue.column !== undefined ? `${file}:${issue.line}:${issue.column}` : file;
  return `${where} ${issue.path === "" ? "/" : issue.path}: ${label}${issue.message}`;
}

/** Every line of an invalid policy's issues, for commands that compile a policy file. */
export function issueLines(file: string, issues: readonly PolicyIssue[]): string[] {
  return issues.map((i) => issueLine(file, i));
}
