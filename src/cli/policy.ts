/**
 * Loading a policy file for the commands that need a compiled policy (explain, check).
 */

import { compilePolicy, PolicyError, type Policy, type PolicyIssue } from "toolgate";
import { readText } from "./files.js";

/** A compiled policy, or the issues that kept it from compiling. */
export type LoadedPolicy = { ok: true; policy: Policy } | { ok: false; issues: readonly PolicyIssue[] };

/** Reads and compiles a policy file; a missing file throws a `UsageError`. */
export function loadPolicy(file: string): LoadedPolicy {
  const text = readText(file);
  try {
    return { ok: true, policy: compilePolicy(text) };
  } catch (e) {
    if (e instanceof PolicyError) return { ok: false, issues: e.issues };
    throw e;
  }
}
