/**
 * Policy test cases: the cases-file format, its validation, and the runner shared by
 * `toolgate test` and the `toolgate/testing` helpers (one runner, so the CLI and a test suite
 * can never disagree on what a case means).
 *
 * Cases run in order against one compiled policy, with a fresh `MemoryStore` and a virtual
 * clock that starts at 0 and moves only when a case's `at` says.
 */

import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { compilePolicy, MemoryStore, PolicyError } from "toolgate";
import type { Decision, Outcome, Policy, PolicyDocument, PolicyIssue, ToolCall } from "toolgate";
import { coverageUnits, reachedBy, type Coverage, summarise } from "./coverage.js";

/** What a case expects: every field given must match the decision exactly. */
export interface ExpectedDecision {
  /** The outcome: `"allow"`, `"deny"`, `"needs_approval"` or `"rate_limited"`. */
  outcome: Outcome;
  /** The decision's `reason`, exactly. */
  reason?: string;
  /** The decision's `rule` (a JSON Pointer), exactly. */
  rule?: string;
  /** The decision's `retryAfterMs` (rate-limited decisions), exactly. */
  retryAfterMs?: number;
  /** The decision's `remaining` (allow decisions with limits), exactly. */
  remaining?: number;
}

/** One case of a cases file. */
export interface PolicyCase {
  /** Shown in reports; need not be unique, the case's path tells cases apart. */
  name: string;
  /** The call, passed to the policy as written (a malformed call is denied, as in production). */
  call: ToolCall;
  /**
   * The virtual time of the call in milliseconds; never earlier than the previous case's.
   * @default the time of the previous case (0 for the first)
   */
  at?: number;
  /**
   * How many identical calls to make at that time; `expect` is checked on the last.
   * @default 1
   */
  repeat?: number;
  /** An outcome alone (`"allow"`), or the fields of the decision to check. */
  expect: Outcome | ExpectedDecision;
}

/** A cases file: the policy under test and its cases. */
export interface CasesDocument {
  /** Accepted and ignored, so editors can point at a schema. */
  $schema?: string;
  /** Free text for people. */
  description?: string;
  /** A path to the policy file (relative to the cases file), or the policy document itself. */
  policy: string | PolicyDocument;
  /** The cases, run in order. */
  cases: PolicyCase[];
}

/** A cases file or document, checked and with its policy compiled once. */
export interface LoadedCases {
  /** Absolute path of the cases file; `undefined` for a document passed as an object. */
  readonly file: string | undefined;
  /** Absolute path of the policy file; `undefined` for an inline policy. */
  readonly policyFile: string | undefined;
  /** The policy source: JSON text read from `policyFile`, or the inline document. */
  readonly policySource: string | PolicyDocument;
  /** The checked cases, expectations in object form. */
  readonly cases: readonly LoadedCase[];
  /** The policy's rules and limits that coverage counts, as JSON Pointers in document order. */
  readonly units: readonly string[];
  /** The policy's warnings (legal but suspicious parts). */
  readonly warnings: readonly PolicyIssue[];
}

/** A case after checking. */
export interface LoadedCase {
  /** The case's name as written. */
  readonly name: string;
  /** JSON Pointer of the case in its cases document, e.g. `/cases/3`. */
  readonly path: string;
  /** The call, as written. */
  readonly call: ToolCall;
  /** The case's virtual time, or `undefined` to keep the clock where it is. */
  readonly at: number | undefined;
  /** How many identical calls to make (1 when not written). */
  readonly repeat: number;
  /** The expectation, a bare outcome turned into `{ outcome }`. */
  readonly expect: ExpectedDecision;
}

/** The result of one case. */
export interface CaseResult {
  /** The case's name as written. */
  readonly name: string;
  /** JSON Pointer of the case in its cases document, e.g. `/cases/3`. */
  readonly path: string;
  /** The virtual time the case ran at, in milliseconds. */
  readonly at: number;
  /** How many calls were made (its `repeat`). */
  readonly calls: number;
  /** Whether every expected field matched. */
  readonly passed: boolean;
  /** The expectation, a bare outcome turned into `{ outcome }`. */
  readonly expected: ExpectedDecision;
  /** The decision of the last call. */
  readonly actual: Decision;
  /** The expected fields that did not match, in the order of {@link ExpectedDecision}. */
  readonly mismatched: readonly (keyof ExpectedDecision)[];
}

/** The results of running a cases file or document. */
export interface CasesRun {
  /** Absolute path of the cases file; `undefined` for a document passed as an object. */
  readonly file: string | undefined;
  /** Absolute path of the policy file; `undefined` for an inline policy. */
  readonly policyFile: string | undefined;
  /** One result per case, in order. */
  readonly results: readonly CaseResult[];
  /** How many cases passed. */
  readonly passed: number;
  /** How many cases failed. */
  readonly failed: number;
  /** Which rules and limits of the policy the cases reached. */
  readonly coverage: Coverage;
}

/** Options of {@link loadCases} and {@link runCases}. */
export interface CasesOptions {
  /**
   * Where a relative `policy` path of a cases document given as an object is resolved from.
   * (A cases file's policy path is always relative to the cases file.)
   * @default process.cwd()
   */
  baseDir?: string;
}

/** A cases file or document that cannot be run: unreadable, not JSON, or not of the format. */
export class CasesError extends Error {
  /** The cases file (as given), or `undefined` for a document passed as an object. */
  readonly file: string | undefined;
  /** JSON Pointer into the cases document where the problem is; `""` for the whole file. */
  readonly path: string;

  constructor(file: string | undefined, path: string, problem: string) {
    super(`${file === undefined ? "cases" : file}: ${path === "" ? "" : `${path}: `}${problem}`);
    this.name = "CasesError";
    this.file = file;
    this.path = path;
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
    super(`${policyFile ?? "inline policy"}: invalid policy: ${first === undefined ? "" : `${first.path || "/"}: ${first.message}`}${more}`);
    this.name = "CasesPolicyError";
    this.policyFile = policyFile;
    this.issues = issues;
  }
}

const OUTCOMES: readonly Outcome[] = ["allow", "deny", "needs_approval", "rate_limited"];
const EXPECT_FIELDS = ["outcome", "reason", "rule", "retryAfterMs", "remaining"] as const;
const CASE_FIELDS = new Set(["name", "call", "at", "repeat", "expect"]);
const TOP_FIELDS = new Set(["$schema", "description", "policy", "cases"]);
/** Bounds a case's calls, so a typo such as `1e9` cannot hang a CI job. */
export const MAX_REPEAT = 100_000;

/**
 * Reads and checks a cases file (a path) or document (an object), and compiles its policy once
 * to report problems early. Synchronous, so test files can register one test per case.
 *
 * @throws CasesError when the cases cannot be read or are not of the format.
 * @throws CasesPolicyError when the policy is not valid.
 */
export function loadCases(source: string | CasesDocument, options: CasesOptions = {}): LoadedCases {
  let label: string | undefined;
  let file: string | undefined;
  let data: unknown;
  let baseDir: string;
  if (typeof source === "string") {
    label = source;
    file = resolve(source);
    data = parseJson(readText(file, label, ""), label);
    baseDir = dirname(file);
  } else {
    data = source;
    baseDir = resolve(options.baseDir ?? process.cwd());
  }
  const fail = (path: string, problem: string): never => {
    throw new CasesError(label, path, problem);
  };
  if (!isObject(data)) fail("", `must be a JSON object with "policy" and "cases", got ${kind(data)}`);
  const doc = data as Record<string, unknown>;
  for (const key of Object.keys(doc)) {
    if (!TOP_FIELDS.has(key)) fail(`/${escape(key)}`, `unknown field (expected "policy", "cases", "description" or "$schema")`);
  }
  let policyFile: string | undefined;
  let policySource: string | PolicyDocument;
  if (typeof doc.policy === "string") {
    if (doc.policy === "") fail("/policy", "must name the policy file");
    policyFile = resolve(baseDir, doc.policy);
    policySource = readText(policyFile, label, "/policy");
  } else if (isObject(doc.policy)) {
    policySource = doc.policy as unknown as PolicyDocument;
  } else {
    return fail("/policy", `must be the path of the policy file or the policy itself, got ${kind(doc.policy)}`);
  }
  if (!Array.isArray(doc.cases)) fail("/cases", `must be an array of cases, got ${kind(doc.cases)}`);
  const cases = (doc.cases as unknown[]).map((c, i) => checkCase(c, `/cases/${i}`, fail));
  let previous = 0;
  for (const c of cases) {
    if (c.at === undefined) continue;
    if (c.at < previous) fail(`${c.path}/at`, `${c.at} is earlier than the clock (${previous}, set by an earlier case): time only moves forward`);
    previous = c.at;
  }
  const policy = compile(policySource, policyFile, () => 0);
  return { file, policyFile, policySource, cases, units: coverageUnits(policy.document), warnings: policy.warnings };
}

/**
 * Runs loaded cases in order against a freshly compiled policy (fresh store, clock at 0).
 * Each call is explained first (which counts nothing) to learn which rules and limits it
 * reached, then decided for real.
 */
export async function runLoadedCases(loaded: LoadedCases): Promise<CasesRun> {
  let now = 0;
  const policy = compile(loaded.policySource, loaded.policyFile, () => now);
  const units = new Set(loaded.units);
  const reached = new Set<string>();
  const results: CaseResult[] = [];
  for (const c of loaded.cases) {
    if (c.at !== undefined) now = c.at;
    let actual: Decision | undefined;
    for (let n = 0; n < c.repeat; n++) {
      for (const unit of reachedBy(await policy.explain(c.call), units)) reached.add(unit);
      actual = await policy.decide(c.call);
    }
    const mismatched = compare(c.expect, actual!);
    results.push({ name: c.name, path: c.path, at: now, calls: c.repeat, passed: mismatched.length === 0, expected: c.expect, actual: actual!, mismatched });
  }
  const passed = results.filter((r) => r.passed).length;
  return {
    file: loaded.file,
    policyFile: loaded.policyFile,
    results,
    passed,
    failed: results.length - passed,
    coverage: summarise(loaded.units, reached),
  };
}

/**
 * Runs a cases file (a path) or document (an object) and returns structured results; it
 * never fails a test by itself, so any test framework (or none) can use it.
 *
 * @throws CasesError when the cases cannot be read or are not of the format.
 * @throws CasesPolicyError when the policy is not valid.
 *
 * @example
 * ```ts
 * const run = await runCases("policy.cases.json");
 * if (run.failed > 0) console.error(run.results.filter((r) => !r.passed));
 * ```
 */
export async function runCases(source: string | CasesDocument, options: CasesOptions = {}): Promise<CasesRun> {
  return runLoadedCases(loadCases(source, options));
}

/** One line for a decision or an expectation: `rate_limited rule=/limits/0 retryAfterMs=1000 reason="…"`. */
export function formatDecision(d: ExpectedDecision | Decision): string {
  const r = d as Partial<Record<(typeof EXPECT_FIELDS)[number], unknown>>;
  let out = String(r.outcome);
  if (r.rule !== undefined) out += ` rule=${r.rule === "" ? '""' : String(r.rule)}`;
  if (r.retryAfterMs !== undefined) out += ` retryAfterMs=${String(r.retryAfterMs)}`;
  if (r.remaining !== undefined) out += ` remaining=${String(r.remaining)}`;
  if (r.reason !== undefined) out += ` reason=${JSON.stringify(r.reason)}`;
  return out;
}

function compare(expected: ExpectedDecision, actual: Decision): (keyof ExpectedDecision)[] {
  const a = actual as unknown as Record<string, unknown>;
  return EXPECT_FIELDS.filter((f) => expected[f] !== undefined && expected[f] !== a[f]);
}

function compile(source: string | PolicyDocument, policyFile: string | undefined, clock: () => number): Policy {
  try {
    return compilePolicy(source, { clock, store: new MemoryStore() });
  } catch (e) {
    if (e instanceof PolicyError) throw new CasesPolicyError(policyFile, e.issues);
    throw e;
  }
}

function checkCase(c: unknown, path: string, fail: (path: string, problem: string) => never): LoadedCase {
  if (!isObject(c)) return fail(path, `a case must be an object, got ${kind(c)}`);
  for (const key of Object.keys(c)) {
    if (!CASE_FIELDS.has(key)) fail(`${path}/${escape(key)}`, `unknown field (expected "name", "call", "at", "repeat" or "expect")`);
  }
  if (typeof c.name !== "string" || c.name === "") fail(`${path}/name`, `must be a non-empty string, got ${kind(c.name)}`);
  if (!isObject(c.call)) fail(`${path}/call`, `must be an object { tool, args?, session, annotations?, approved? }, got ${kind(c.call)}`);
  if (c.at !== undefined && !(Number.isSafeInteger(c.at) && (c.at as number) >= 0)) {
    fail(`${path}/at`, `must be a time in whole milliseconds, at least 0, got ${kind(c.at)}`);
  }
  if (c.repeat !== undefined && !(Number.isSafeInteger(c.repeat) && (c.repeat as number) >= 1 && (c.repeat as number) <= MAX_REPEAT)) {
    fail(`${path}/repeat`, `must be a whole number from 1 to ${MAX_REPEAT}, got ${kind(c.repeat)}`);
  }
  return {
    name: c.name as string,
    path,
    call: c.call as unknown as ToolCall,
    at: c.at as number | undefined,
    repeat: (c.repeat as number | undefined) ?? 1,
    expect: checkExpect(c.expect, `${path}/expect`, fail),
  };
}

function checkExpect(e: unknown, path: string, fail: (path: string, problem: string) => never): ExpectedDecision {
  const outcomes = OUTCOMES.map((o) => `"${o}"`).join(", ");
  if (typeof e === "string") {
    if (!OUTCOMES.includes(e as Outcome)) fail(path, `unknown outcome ${JSON.stringify(e)} (expected one of ${outcomes})`);
    return { outcome: e as Outcome };
  }
  if (!isObject(e)) return fail(path, `must be an outcome or an object { outcome, reason?, rule?, retryAfterMs?, remaining? }, got ${kind(e)}`);
  for (const key of Object.keys(e)) {
    if (!(EXPECT_FIELDS as readonly string[]).includes(key)) {
      fail(`${path}/${escape(key)}`, `unknown field (expected ${EXPECT_FIELDS.map((f) => `"${f}"`).join(", ")})`);
    }
  }
  if (!OUTCOMES.includes(e.outcome as Outcome)) fail(`${path}/outcome`, `must be one of ${outcomes}, got ${kind(e.outcome)}`);
  if (e.reason !== undefined && typeof e.reason !== "string") fail(`${path}/reason`, `must be a string, got ${kind(e.reason)}`);
  if (e.rule !== undefined && typeof e.rule !== "string") fail(`${path}/rule`, `must be a JSON Pointer string, got ${kind(e.rule)}`);
  for (const f of ["retryAfterMs", "remaining"] as const) {
    if (e[f] !== undefined && !(Number.isSafeInteger(e[f]) && (e[f] as number) >= 0)) fail(`${path}/${f}`, `must be a whole number, got ${kind(e[f])}`);
  }
  const out: ExpectedDecision = { outcome: e.outcome as Outcome };
  if (e.rule !== undefined) out.rule = e.rule as string;
  if (e.reason !== undefined) out.reason = e.reason as string;
  if (e.retryAfterMs !== undefined) out.retryAfterMs = e.retryAfterMs as number;
  if (e.remaining !== undefined) out.remaining = e.remaining as number;
  return out;
}

function readText(file: string, label: string | undefined, path: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : code === "EACCES" ? "permission denied" : String(e);
    throw new CasesError(label, path, path === "" ? `cannot be read: ${why}` : `cannot read the policy ${file}: ${why}`);
  }
}

function parseJson(text: string, label: string): unknown {
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as unknown;
  } catch (e) {
    throw new CasesError(label, "", `not valid JSON: ${(e as Error).message}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function kind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return v === undefined ? "nothing" : typeof v;
}

function escape(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}
