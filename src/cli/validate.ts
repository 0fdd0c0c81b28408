/**
 * `toolgate validate <policy.json>...`: every issue of every file, with line and column.
 */

import { validatePolicy, type PolicyIssue } from "toolgate";
import { parseCommand } from "./args.js";
import { EXIT_FINDINGS, EXIT_OK, UsageError } from "./errors.js";
import { readText } from "./files.js";
import { issueLine } from "./issues.js";
import { out, outJson } from "./output.js";

/** The help text of `toolgate validate`. */
export const VALIDATE_HELP = `usage: toolgate validate [--strict] [--json] <policy.json>...

Checks policy files. Prints every issue as "file:line:col /json/pointer: message" and every
warning (legal but suspicious: patterns never chosen, rules never reached) the same way.

options:
  --strict   fail on warnings too
  --json     print { files: [{ file, valid, issues, warnings }] } instead
  -h, --help show this help

exit status: 0 every file is valid; 1 a file is invalid (or has warnings, with --strict);
2 bad usage or a file cannot be read.`;

/** Runs `toolgate validate`; returns the exit status. */
export function validateCommand(argv: readonly string[]): number {
  const { values, positionals, help } = parseCommand(
    "validate",
    argv,
    { strict: { type: "boolean" }, json: { type: "boolean" } },
    true,
  );
  if (help) {
    out(VALIDATE_HELP);
    return EXIT_OK;
  }
  if (positionals.length === 0) throw new UsageError("name at least one policy file (see toolgate validate --help)");
  // Read every file first, so a missing one stops the command before anything is printed.
  const texts = positionals.map((file) => ({ file, text: readText(file) }));
  const reports = texts.map(({ file, text }) => {
    const r = validatePolicy(text);
    return { file, valid: r.valid, issues: r.valid ? ([] as PolicyIssue[]) : r.issues, warnings: r.warnings };
  });
  const failed = reports.some((r) => !r.valid || (values.strict === true && r.warnings.length > 0));
  if (values.json === true) {
    outJson({ files: reports });
    return failed ? EXIT_FINDINGS : EXIT_OK;
  }
  for (const r of reports) {
    for (const i of r.issues) out(issueLine(r.file, i));
    for (const w of r.warnings) out(issueLine(r.file, w, "warning: "));
    const warned = r.warnings.length === 0 ? "" : `, ${r.warnings.length} warning${r.warnings.length === 1 ? "" : "s"}`;
    out(
      r.valid
        ? `${r.file}: valid${warned}`
        : `${r.file}: invalid, ${r.issues.length} issue${r.issues.length === 1 ? "" : "s"}${warned}`,
    );
  }
  return failed ? EXIT_FINDINGS : EXIT_OK;
}
