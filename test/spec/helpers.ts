/** Shared helpers of the docs/spec.md conformance suite: a driven clock and short ways to compile. */

import {
  compilePolicy,
  MemoryStore,
  PolicyError,
  validatePolicy,
  type CompileOptions,
  type PolicyIssue,
  type ToolCall,
} from "toolgate";
import { expect } from "vitest";

/** A clock the test moves by hand. */
export class Clock {
  now = 0;
  readonly read = (): number => this.now;
}

/** Compiles `doc` with a fresh small MemoryStore and the given clock. */
export function compile(doc: unknown, clock = new Clock(), options: CompileOptions = {}) {
  return compilePolicy(doc, { store: new MemoryStore({ maxKeys: 1_000 }), clock: clock.read, ...options });
}

/** A minimal valid document with the given tools (and any other top-level fields). */
export function doc(tools: Record<string, unknown>, rest: Record<string, unknown> = {}): Record<string, unknown> {
  return { version: "1", default: "deny", tools, ...rest };
}

/** The issues of an invalid document, asserting that both entry points reject it the same way. */
export function issuesOf(document: unknown): PolicyIssue[] {
  const result = validatePolicy(document);
  expect(
    result.valid,
    `expected ${typeof document === "string" ? document : JSON.stringify(document)} to be invalid`,
  ).toBe(false);
  let thrown: unknown;
  try {
    compilePolicy(document);
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(PolicyError);
  const issues = (thrown as PolicyError).issues;
  expect(issues.length).toBeGreaterThan(0);
  if (!result.valid) expect(result.issues.map((i) => i.path)).toEqual(issues.map((i) => i.path));
  return [...issues];
}

/** The paths of the issues of an invalid document. */
export function pathsOf(document: unknown): string[] {
  return issuesOf(document).map((i) => i.path);
}

/** Asserts `document` is valid and compiles. */
export function valid(document: unknown): void {
  const result = validatePolicy(document);
  expect(result, JSON.stringify(document)).toMatchObject({ valid: true });
  compilePolicy(document);
}

/** A call for session `id` (default "s1"). */
export function call(tool: string, extra: Partial<ToolCall> = {}, id = "s1"): ToolCall {
  return { tool, session: { id }, ...extra };
}
