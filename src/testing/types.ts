/**
 * The cases format (what a cases file holds) and what loading and running it give back.
 * Types only, plus the few constants that say what the format allows, so every module of
 * `toolgate/testing` reads the same definition.
 */

import type { Decision, DenyDecision, Outcome, PolicyDocument, PolicyIssue, ToolCall } from "toolgate";
import type { Coverage } from "./coverage.js";

/** What a case expects: every field given must match the decision exactly. */
export interface ExpectedDecision {
  /** The outcome: `"allow"`, `"deny"`, `"needs_approval"` or `"rate_limited"`. */
  outcome: Outcome;
  /** The decision's `reason`, exactly. */
  reason?: string;
  /** The decision's `rule` (a JSON Pointer), exactly. */
  rule?: string;
  /** The decision's `cause` (denies only), exactly. */
  cause?: DenyDecision["cause"];
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

/** One problem of a cases file or document, at a JSON Pointer into it. */
export interface CasesProblem {
  /** JSON Pointer into the cases document; `""` for the whole document. */
  readonly path: string;
  /** Written for the author of the cases. */
  readonly message: string;
  /** 1-based line, when the problem is in the text of a cases file and its place is known. */
  readonly line?: number;
  /** 1-based column, with `line`. */
  readonly column?: number;
}

/** The outcomes a case may expect. */
export const OUTCOMES: readonly Outcome[] = ["allow", "deny", "needs_approval", "rate_limited"];
/** The fields of an expectation, in the order results list mismatches. */
export const EXPECT_FIELDS = ["outcome", "reason", "rule", "cause", "retryAfterMs", "remaining"] as const;
/** Bounds a case's calls, so a typo such as `1e9` cannot hang a CI job. */
export const MAX_REPEAT = 100_000;
/**
 * Bounds the problems one cases document reports: every problem up to this many, then a count
 * of the rest, so a generated file with a million bad cases cannot flood a terminal or a log.
 */
export const MAX_PROBLEMS = 200;
