import type { PolicyIssue } from "./types.js";

/**
 * Thrown by `compilePolicy` for a document that is not a valid policy. `issues` lists every
 * problem found, each at a JSON Pointer into the document, with a message for the author.
 *
 * @example
 * ```ts
 * try { compilePolicy(doc) } catch (e) {
 *   if (e instanceof PolicyError) for (const i of e.issues) console.error(`${i.path}: ${i.message}`);
 * }
 * ```
 */
export class PolicyError extends Error {
  /** Every problem found, in document order where possible. Never empty. */
  readonly issues: readonly PolicyIssue[];

  constructor(issues: readonly PolicyIssue[]) {
    const first = issues[0];
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
    super(
      `invalid policy: ${first === undefined ? "unknown problem" : `${first.path || "/"}: ${first.message}`}${more}`,
    );
    this.name = "PolicyError";
    this.issues = Object.freeze(issues.map((i) => Object.freeze({ ...i })));
  }
}
