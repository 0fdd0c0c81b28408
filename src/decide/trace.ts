/** What `explain` collects on its way through a decision: steps in words, and the limits met. */

import type { Condition } from "../compile/plan.js";
import type { ExplanationStep } from "../types.js";

/** The steps and limits of one explanation. */
export interface Trace {
  steps: ExplanationStep[];
  limits: string[];
}

/** Records why a condition did not hold: the keyword, where in the value, and ajv's words. */
export function traceFailure(trace: Trace, check: Condition, pointer: string, part: string): void {
  const f = check.errors?.[0];
  trace.steps.push({
    path: `${pointer}/when/${part}${f === undefined ? "" : schemaPointer(f.schemaPath)}`,
    message:
      `does not hold: ${part}${f?.instancePath ?? ""} ${f?.message ?? "fails the schema"}` +
      (f === undefined ? "" : ` (keyword "${f.keyword}")`),
  });
}

/**
 * ajv's `schemaPath` is a URI fragment (`#/patternProperties/%5Ex`): its tokens are
 * percent-encoded, which a JSON Pointer's are not.
 */
function schemaPointer(fragment: string): string {
  const raw = fragment.replace(/^#/, "");
  try {
    return raw
      .split("/")
      .map((t) => decodeURIComponent(t))
      .join("/");
  } catch {
    return raw;
  }
}
