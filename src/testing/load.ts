/**
 * Loading cases: reading a cases file, parsing it as strictly as the engine parses a policy
 * file, checking it against the format, and compiling the policy it names once, so every
 * problem is reported before any case runs.
 */

import { readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { compilePolicy, MemoryStore, PolicyError, validatePolicy, type Policy, type PolicyDocument } from "toolgate";
import { errorMessage } from "../shared/text.js";
import { coverageUnits } from "./coverage.js";
import { CasesError, CasesPolicyError } from "./errors.js";
import type { CasesDocument, CasesOptions, CasesProblem, LoadedCases } from "./types.js";
import { checkCases } from "./validate.js";

/**
 * Reads and checks a cases file (a path) or document (an object), and compiles its policy once
 * to report problems early. Synchronous, so test files can register one test per case.
 *
 * A cases file is parsed strictly, like a policy file: a duplicate key anywhere in it (an inline
 * policy included) is an error, where `JSON.parse` would silently keep the last one.
 *
 * @throws CasesError when the cases cannot be read or are not of the format (every problem).
 * @throws CasesPolicyError when the policy is not valid (every issue).
 */
export function loadCases(source: string | CasesDocument, options: CasesOptions = {}): LoadedCases {
  let label: string | undefined;
  let file: string | undefined;
  let data: unknown;
  let baseDir: string;
  if (typeof source === "string") {
    label = source;
    file = resolve(source);
    data = parseStrictly(readText(file, label, ""), label);
    baseDir = dirname(file);
  } else {
    data = source;
    baseDir = resolve(options.baseDir ?? process.cwd());
  }
  let check: ReturnType<typeof checkCases>;
  try {
    check = checkCases(data);
  } catch (e) {
    // Only an object passed by a program gets here: a getter or a proxy trap that throws.
    throw new CasesError(label, [{ path: "", message: `could not be read: ${errorMessage(e)}` }]);
  }
  if (!check.ok) throw new CasesError(label, check.problems);
  const { policy, cases } = check.value;
  let policyFile: string | undefined;
  let policySource: string | PolicyDocument;
  if (typeof policy === "string") {
    policyFile = resolve(baseDir, policy);
    policySource = readText(policyFile, label, "/policy");
  } else {
    policySource = policy;
  }
  const compiled = compileCases(policySource, policyFile, () => 0);
  return { file, policyFile, policySource, cases, units: coverageUnits(compiled), warnings: compiled.warnings };
}

/** Compiles the policy under test on a fresh `MemoryStore` with the cases' virtual clock. */
export function compileCases(
  source: string | PolicyDocument,
  policyFile: string | undefined,
  clock: () => number,
): Policy {
  try {
    return compilePolicy(source, { clock, store: new MemoryStore() });
  } catch (e) {
    if (e instanceof PolicyError) throw new CasesPolicyError(policyFile, e.issues);
    throw e;
  }
}

/**
 * Parses a cases file's text. `JSON.parse` reads the structure; the engine's strict parser
 * (reached through `validatePolicy`, which reads text with it) finds what `JSON.parse` forgives:
 * a duplicate key, nesting beyond the engine's bound. Those are the issues that validating the
 * text reports and validating the parsed value does not, so they are told apart exactly, with
 * the line and column the engine found.
 */
function parseStrictly(text: string, label: string): unknown {
  let data: unknown;
  try {
    data = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as unknown;
  } catch (e) {
    throw new CasesError(label, [{ path: "", message: `not valid JSON: ${errorMessage(e)}` }]);
  }
  const asText = validatePolicy(text);
  if (asText.valid) return data;
  const asValue = validatePolicy(data);
  const known = new Set(asValue.valid ? [] : asValue.issues.map((i) => `${i.path}\n${i.message}`));
  const problems: CasesProblem[] = asText.issues
    .filter((i) => !known.has(`${i.path}\n${i.message}`))
    .map((i) => ({ path: i.path, message: `not valid JSON: ${i.message}`, ...position(i.line, i.column) }));
  if (problems.length > 0) throw new CasesError(label, problems);
  return data;
}

function position(line: number | undefined, column: number | undefined): { line?: number; column?: number } {
  return line === undefined || column === undefined ? {} : { line, column };
}

/** The largest cases file or policy file read: 256 MiB. */
const MAX_FILE_BYTES = 256 * 1024 * 1024;

/** Not a regular file (a named pipe would block forever, `/dev/zero` fill the memory), or too large. */
class Unreadable extends Error {}

function readText(file: string, label: string | undefined, path: string): string {
  try {
    const st = statSync(file);
    if (st.isFile() && st.size > MAX_FILE_BYTES) throw new Unreadable(`larger than ${MAX_FILE_BYTES} bytes`);
    if (!st.isFile() && !st.isDirectory()) throw new Unreadable("not a regular file");
    return readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      e instanceof Unreadable
        ? e.message
        : code === "ENOENT"
          ? "no such file"
          : code === "EISDIR"
            ? "is a directory"
            : code === "EACCES"
              ? "permission denied"
              : errorMessage(e);
    const message = path === "" ? `cannot be read: ${why}` : `cannot read the policy ${file}: ${why}`;
    throw new CasesError(label, [{ path, message }]);
  }
}
