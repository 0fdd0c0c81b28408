/**
 * Checking a cases document against the format: every problem, each at its JSON Pointer, in
 * document order — a malformed file is fixed in one pass, not one error per run.
 */

import type { Outcome, PolicyDocument, ToolCall } from "toolgate";
import { hasOwn, isPlainObject } from "../shared/objects.js";
import { describeValue } from "../shared/text.js";
import {
  EXPECT_FIELDS,
  MAX_PROBLEMS,
  MAX_REPEAT,
  OUTCOMES,
  type CasesProblem,
  type ExpectedDecision,
  type LoadedCase,
} from "./types.js";

/** The most cases one document may hold: a bound on the work a sparse or generated array can ask for. */
export const MAX_CASES = 100_000;

const TOP_FIELDS = ["policy", "cases", "description", "$schema"];
const CASE_FIELDS = ["name", "call", "at", "repeat", "expect"];
const DENY_CAUSES = [
  "policy",
  "malformed_call",
  "missing_attribute",
  "invalid_cost",
  "cost_exceeds_max",
  "tool_changed",
  "not_approved",
  "host_failure",
  "store_failure",
];

/** A cases document that passed the check: its policy (a path or a document) and its cases. */
export interface CheckedCases {
  /** The policy path as written, or the inline policy. */
  readonly policy: string | PolicyDocument;
  /** The cases, in order. */
  readonly cases: readonly LoadedCase[];
}

/** What {@link checkCases} found: the checked cases, or every problem. */
export type CasesCheck = { ok: true; value: CheckedCases } | { ok: false; problems: CasesProblem[] };

/** Collects problems up to {@link MAX_PROBLEMS}, then counts the rest. */
class Problems {
  readonly list: CasesProblem[] = [];
  private dropped = 0;

  add(path: string, message: string): void {
    if (this.list.length < MAX_PROBLEMS) this.list.push({ path, message });
    else this.dropped++;
  }

  done(): CasesProblem[] {
    if (this.dropped === 0) return this.list;
    return [...this.list, { path: "", message: `and ${this.dropped} more problem${this.dropped === 1 ? "" : "s"}` }];
  }
}

/**
 * Checks a parsed cases document (or one passed as an object) against the format. Reads own
 * properties only; never throws for plain data (a caller's object whose getters throw is
 * caught by the loader).
 */
export function checkCases(data: unknown): CasesCheck {
  const problems = new Problems();
  if (!isPlainObject(data)) {
    problems.add("", `must be a JSON object with "policy" and "cases", got ${describeValue(data)}`);
    return { ok: false, problems: problems.done() };
  }
  unknownFields(data, "", TOP_FIELDS, problems);
  for (const key of ["description", "$schema"]) {
    const v = own(data, key);
    if (v !== undefined && typeof v !== "string")
      problems.add(`/${escapeToken(key)}`, `must be a string, got ${describeValue(v)}`);
  }
  const policy = own(data, "policy");
  if (typeof policy === "string") {
    if (policy === "") problems.add("/policy", "must name the policy file");
  } else if (!isPlainObject(policy)) {
    problems.add("/policy", `must be the path of the policy file or the policy itself, got ${describeValue(policy)}`);
  }
  const list = own(data, "cases");
  const cases: LoadedCase[] = [];
  if (!Array.isArray(list)) {
    problems.add("/cases", `must be an array of cases, got ${describeValue(list)}`);
  } else if (list.length > MAX_CASES) {
    problems.add("/cases", `has ${list.length} cases; at most ${MAX_CASES} run in one document (split the file)`);
  } else {
    let clock = 0;
    // Every case is checked even past the bound on problems, so the count of the rest is exact;
    // the work stays bounded by MAX_CASES.
    for (let i = 0; i < list.length; i++) {
      const c = checkCase(list[i], `/cases/${i}`, problems);
      if (c === undefined) continue;
      if (c.at !== undefined) {
        if (c.at < clock) {
          problems.add(
            `${c.path}/at`,
            `${c.at} is earlier than the clock (${clock}, set by an earlier case): time only moves forward`,
          );
        } else clock = c.at;
      }
      cases.push(c);
    }
  }
  if (problems.list.length > 0) return { ok: false, problems: problems.done() };
  return { ok: true, value: { policy: policy as string | PolicyDocument, cases } };
}

function checkCase(c: unknown, path: string, problems: Problems): LoadedCase | undefined {
  if (!isPlainObject(c)) {
    problems.add(path, `a case must be an object, got ${describeValue(c)}`);
    return undefined;
  }
  const before = problems.list.length;
  unknownFields(c, path, CASE_FIELDS, problems);
  const name = own(c, "name");
  if (typeof name !== "string" || name === "")
    problems.add(`${path}/name`, `must be a non-empty string, got ${describeValue(name)}`);
  const call = own(c, "call");
  if (!isPlainObject(call)) {
    problems.add(
      `${path}/call`,
      `must be an object { tool, args?, session, annotations?, approved? }, got ${describeValue(call)}`,
    );
  }
  const at = own(c, "at");
  if (at !== undefined && !(typeof at === "number" && Number.isSafeInteger(at) && at >= 0)) {
    problems.add(`${path}/at`, `must be a time in whole milliseconds, at least 0, got ${describeValue(at)}`);
  }
  const repeat = own(c, "repeat");
  if (
    repeat !== undefined &&
    !(typeof repeat === "number" && Number.isSafeInteger(repeat) && repeat >= 1 && repeat <= MAX_REPEAT)
  ) {
    problems.add(`${path}/repeat`, `must be a whole number from 1 to ${MAX_REPEAT}, got ${describeValue(repeat)}`);
  }
  const expect = checkExpect(own(c, "expect"), `${path}/expect`, problems);
  if (problems.list.length > before || expect === undefined) return undefined;
  return {
    name: name as string,
    path,
    call: call as ToolCall,
    at: at as number | undefined,
    repeat: (repeat as number | undefined) ?? 1,
    expect,
  };
}

function checkExpect(e: unknown, path: string, problems: Problems): ExpectedDecision | undefined {
  const outcomes = OUTCOMES.map((o) => `"${o}"`).join(", ");
  if (typeof e === "string") {
    if (OUTCOMES.includes(e as Outcome)) return { outcome: e as Outcome };
    problems.add(path, `unknown outcome ${describeValue(e)} (expected one of ${outcomes})`);
    return undefined;
  }
  if (!isPlainObject(e)) {
    const fields = "{ outcome, reason?, rule?, cause?, retryAfterMs?, remaining? }";
    problems.add(path, `must be an outcome or an object ${fields}, got ${describeValue(e)}`);
    return undefined;
  }
  const before = problems.list.length;
  unknownFields(e, path, EXPECT_FIELDS, problems);
  const outcome = own(e, "outcome");
  if (!OUTCOMES.includes(outcome as Outcome))
    problems.add(`${path}/outcome`, `must be one of ${outcomes}, got ${describeValue(outcome)}`);
  const out: ExpectedDecision = { outcome: outcome as Outcome };
  const reason = own(e, "reason");
  if (reason !== undefined) {
    if (typeof reason === "string") out.reason = reason;
    else problems.add(`${path}/reason`, `must be a string, got ${describeValue(reason)}`);
  }
  const rule = own(e, "rule");
  if (rule !== undefined) {
    if (typeof rule === "string") out.rule = rule;
    else problems.add(`${path}/rule`, `must be a JSON Pointer string, got ${describeValue(rule)}`);
  }
  const cause = own(e, "cause");
  if (cause !== undefined) {
    if (typeof cause === "string" && DENY_CAUSES.includes(cause)) out.cause = cause as ExpectedDecision["cause"];
    else
      problems.add(
        `${path}/cause`,
        `must be one of ${DENY_CAUSES.map((c) => `"${c}"`).join(", ")}, got ${describeValue(cause)}`,
      );
    if (outcome !== "deny" && OUTCOMES.includes(outcome as Outcome)) {
      problems.add(`${path}/cause`, `only a deny has a cause, but the expected outcome is ${describeValue(outcome)}`);
    }
  }
  for (const f of ["retryAfterMs", "remaining"] as const) {
    const v = own(e, f);
    if (v === undefined) continue;
    if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) out[f] = v;
    else problems.add(`${path}/${f}`, `must be a whole number, got ${describeValue(v)}`);
  }
  return problems.list.length > before ? undefined : out;
}

function unknownFields(o: Record<string, unknown>, path: string, known: readonly string[], problems: Problems): void {
  const expected = known.map((k) => `"${k}"`);
  const list =
    expected.length > 2 ? `${expected.slice(0, -1).join(", ")} or ${expected.at(-1)!}` : expected.join(" or ");
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) problems.add(`${path}/${escapeToken(key)}`, `unknown field (expected ${list})`);
  }
}

/** An own property, never one inherited (a `__proto__` key in JSON is an own property too). */
function own(o: Record<string, unknown>, key: string): unknown {
  return hasOwn.call(o, key) ? o[key] : undefined;
}

function escapeToken(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}
