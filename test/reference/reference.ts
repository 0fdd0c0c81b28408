/**
 * A reference evaluator written straight from docs/spec.md, to check the engine against.
 *
 * It is meant to be obviously correct, not fast: tool names are matched by trying every key of
 * `tools`, and each budget is the list of every time a call was counted in it. It reads documents
 * that are already valid (the generators only make valid ones) and `when` schemas from a small
 * subset of JSON Schema that it evaluates by hand, so it shares no code with the engine (no ajv).
 *
 * Readings that this file commits to (normative text in docs/spec.md since 0.2):
 * - "Time never runs backwards within a budget": a call at `now` is checked and counted at
 *   `max(now, latest counted time of that budget)`; `retryAfterMs` is measured from the real
 *   `now`, so a refused call is allowed exactly when the clock reaches `now + retryAfterMs`.
 * - `approved` must be a boolean when present; `args: undefined` counts as absent (JSON has no
 *   `undefined`), `null` does not.
 * - A session attribute for `per` is read by JSON Pointer through own properties of plain
 *   objects only.
 * - Amounts (`max` with `cost`, constant costs, costs read from the arguments) are exact decimals
 *   with at most six fractional digits: this file reads each number's shortest decimal spelling
 *   (`String(x)`, exponent forms included) digit by digit into a BigInt of micro-units, where the
 *   engine scales by 1e6 and checks the round trip. Every budget is counted in micro-units here.
 * - A budget is a list of counted entries `{ time, units, id }` plus its latest counted time; a
 *   refund removes an entry while it is still in the window (judged at `max(now, latest)`), and
 *   leaves the latest counted time where it was. A call of cost 0 counts nothing.
 * - Budgets are identified by the limit's `id` (else its pointer), window, `per` and the value.
 */

import type { Decision, PolicyDocument } from "toolgate";

/** Marks a reason that the engine generates itself: any non-empty string is accepted there. */
export const GENERATED = "<generated>";

interface Limit {
  pointer: string;
  /** `max` as written. */
  max: number;
  windowMs: number;
  per: string;
  /** The rule this limit belongs to, or null for the policy's `limits`. */
  ownReason: string | null;
  fromRule: boolean;
  id: string | undefined;
  /** `cost` as written, when the limit has one. */
  cost: number | string | undefined;
  refundable: boolean;
}

interface Chosen {
  pointer: string;
  action: "allow" | "deny" | "require_approval";
  reason: string | null;
  limits: Limit[];
}

/** RFC 6901 escaping of one reference token. */
export function escapeToken(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

function unescapeToken(token: string): string {
  return token.replace(/~1/g, "/").replace(/~0/g, "~");
}

/** `*` matches any run of characters, including none; every other character is literal. */
export function globMatches(pattern: string, name: string): boolean {
  // match[i][j]: pattern[0..i) matches name[0..j)
  const p = [...pattern];
  const s = [...name];
  let prev: boolean[] = new Array(s.length + 1).fill(false);
  prev[0] = true;
  for (let i = 1; i <= p.length; i++) {
    const cur: boolean[] = new Array(s.length + 1).fill(false);
    if (p[i - 1] === "*") cur[0] = prev[0]!;
    for (let j = 1; j <= s.length; j++) {
      cur[j] = p[i - 1] === "*" ? prev[j]! || cur[j - 1]! : prev[j - 1]! && p[i - 1] === s[j - 1];
    }
    prev = cur;
  }
  return prev[s.length]!;
}

/** The key of `tools` that governs `name` (docs/spec.md §1), or null when none matches. */
export function chooseKey(tools: Record<string, unknown>, name: string): string | null {
  const keys = Object.keys(tools);
  if (keys.includes(name) && !name.includes("*")) return name;
  let best: string | null = null;
  let bestScore = -1;
  for (const key of keys) {
    if (!key.includes("*") || !globMatches(key, name)) continue;
    const score = [...key].filter((c) => c !== "*").length;
    if (score > bestScore) {
      best = key;
      bestScore = score;
    }
  }
  return best;
}

/** Window length in milliseconds, from a valid window. */
export function windowMs(window: number | string): number {
  if (typeof window === "number") return Math.round(window * 1000);
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(window);
  if (m === null) throw new Error(`reference: bad window ${window}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "ms"];
  return Number(m[1]) * unit;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function jsonEqual(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return a === b;
}

function typeMatches(type: string, v: unknown): boolean {
  switch (type) {
    case "null":
      return v === null;
    case "boolean":
      return typeof v === "boolean";
    case "string":
      return typeof v === "string";
    case "number":
      return typeof v === "number";
    case "integer":
      return typeof v === "number" && Number.isInteger(v);
    case "array":
      return Array.isArray(v);
    case "object":
      return isPlainObject(v);
    default:
      throw new Error(`reference: type ${type}`);
  }
}

/**
 * The subset of JSON Schema 2020-12 the generators use, by hand: boolean schemas, `type`,
 * `const`, `enum`, `minimum`, `maximum`, `minLength`, `maxLength`, `required`, `properties`,
 * `not`, `allOf`, `anyOf`. Any other keyword is a bug in the generator.
 */
export function schemaHolds(schema: unknown, v: unknown): boolean {
  if (schema === true) return true;
  if (schema === false) return false;
  const s = schema as Record<string, unknown>;
  for (const [kw, arg] of Object.entries(s)) {
    switch (kw) {
      case "type":
        if (!(Array.isArray(arg) ? arg : [arg]).some((t) => typeMatches(t as string, v))) return false;
        break;
      case "const":
        if (!jsonEqual(arg, v)) return false;
        break;
      case "enum":
        if (!(arg as unknown[]).some((e) => jsonEqual(e, v))) return false;
        break;
      case "minimum":
        if (typeof v === "number" && v < (arg as number)) return false;
        break;
      case "maximum":
        if (typeof v === "number" && v > (arg as number)) return false;
        break;
      case "minLength":
        if (typeof v === "string" && [...v].length < (arg as number)) return false;
        break;
      case "maxLength":
        if (typeof v === "string" && [...v].length > (arg as number)) return false;
        break;
      case "required":
        if (isPlainObject(v) && !(arg as string[]).every((k) => Object.hasOwn(v, k))) return false;
        break;
      case "properties":
        if (isPlainObject(v)) {
          for (const [k, sub] of Object.entries(arg as Record<string, unknown>)) {
            if (Object.hasOwn(v, k) && !schemaHolds(sub, v[k])) return false;
          }
        }
        break;
      case "not":
        if (schemaHolds(arg, v)) return false;
        break;
      case "allOf":
        if (!(arg as unknown[]).every((sub) => schemaHolds(sub, v))) return false;
        break;
      case "anyOf":
        if (!(arg as unknown[]).some((sub) => schemaHolds(sub, v))) return false;
        break;
      default:
        throw new Error(`reference: keyword ${kw}`);
    }
  }
  return true;
}

const CALL_FIELDS = new Set(["tool", "args", "session", "annotations", "approved"]);

/** Why a call is malformed (docs/spec.md §3 step 1), or null when it is well formed. */
export function malformed(call: unknown): string | null {
  if (!isPlainObject(call)) return "call is not an object";
  for (const k of Object.keys(call)) if (!CALL_FIELDS.has(k)) return `unknown field ${k}`;
  if (typeof call.tool !== "string" || call.tool === "" || call.tool.length > 128) return "tool";
  const session = call.session;
  if (!isPlainObject(session) || typeof session.id !== "string" || session.id === "") return "session";
  if (call.args !== undefined && !isPlainObject(call.args)) return "args";
  if (call.annotations !== undefined && !isPlainObject(call.annotations)) return "annotations";
  if (call.approved !== undefined && typeof call.approved !== "boolean") return "approved";
  return null;
}

/** Micro-units in a unit. */
const MICRO = 1_000_000n;

/**
 * The micro-units of `amount`, exactly, or null when it is not a finite number >= 0 with at most
 * six decimal places. Reads the number's shortest decimal spelling: "0.1" → 100000n,
 * "1e-7" → null, "1.5e+21" → 1500000000000000000000000000n.
 */
export function microOf(amount: unknown): bigint | null {
  if (typeof amount !== "number" || !Number.isFinite(amount) || amount < 0) return null;
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(amount));
  if (m === null) throw new Error(`reference: cannot spell ${amount}`);
  let digits = m[1]! + (m[2] ?? "");
  let point = m[1]!.length + Number(m[3] ?? "0");
  // Move the decimal point to six places after it, padding with zeros.
  if (point < 0) {
    digits = "0".repeat(-point) + digits;
    point = 0;
  }
  if (digits.length < point) digits += "0".repeat(point - digits.length);
  const whole = digits.slice(0, point);
  const fraction = digits.slice(point).replace(/0+$/, "");
  if (fraction.length > 6) return null;
  return BigInt(whole === "" ? "0" : whole) * MICRO + BigInt(fraction.padEnd(6, "0"));
}

/** Micro-units as the number they spell in units: 200000n → 0.2. */
export function unitsOf(micro: bigint): number {
  const whole = micro / MICRO;
  const fraction = (micro % MICRO).toString().padStart(6, "0");
  return Number(`${whole}.${fraction}`);
}

/** The value at a JSON Pointer, through own properties of plain objects only. */
function pointerValue(root: unknown, pointer: string): unknown {
  let cur: unknown = root;
  for (const raw of pointer.split("/").slice(1)) {
    const token = unescapeToken(raw);
    if (!isPlainObject(cur) || !Object.hasOwn(cur, token)) return undefined;
    cur = cur[token];
  }
  return cur;
}

function perValue(limit: Limit, session: Record<string, unknown>): string | null {
  if (limit.per === "session") return `s:${session.id as string}`;
  if (limit.per === "global") return "g";
  const v = pointerValue(session, limit.per);
  if (typeof v === "string" && v !== "") return `a:string:${v}`;
  if (typeof v === "number" && Number.isFinite(v)) return `a:number:${v}`;
  return null;
}

/** One counted call in a budget. */
interface Entry {
  time: number;
  units: bigint;
  id: number;
}

interface Budget {
  entries: Entry[];
  /** The latest counted time: it stays when an entry is refunded. */
  latest: number;
  windowMs: number;
}

/** What the reference keeps of a decision that counted refundable units. */
interface Ticket {
  entries: { key: string; id: number }[];
}

const tickets = new WeakMap<object, Ticket>();

/** How many budget entries a reference decision's ticket names (0 when it has none). */
export function ticketSize(decision: Decision): number {
  return tickets.get(decision)?.entries.length ?? 0;
}

/** The reference engine: one policy and its budgets (lists of counted entries). */
export class ReferenceEngine {
  readonly #doc: PolicyDocument;
  readonly #budgets = new Map<string, Budget>();
  #ids = 0;

  constructor(doc: PolicyDocument) {
    this.#doc = doc;
  }

  #limit(l: Record<string, unknown>, pointer: string, reason: string | null, fromRule: boolean): Limit {
    return {
      pointer,
      max: l.max as number,
      windowMs: windowMs(l.window as number | string),
      per: (l.per as string | undefined) ?? "session",
      ownReason: reason,
      fromRule,
      id: l.id as string | undefined,
      cost: l.cost as number | string | undefined,
      refundable: l.refund === "on_error",
    };
  }

  #limitsOf(rule: Record<string, unknown>, base: string, reason: string | null): Limit[] {
    const rl = rule.rate_limit;
    if (rl === undefined) return [];
    if (!Array.isArray(rl)) return [this.#limit(rl as Record<string, unknown>, `${base}/rate_limit`, reason, true)];
    return rl.map((l: Record<string, unknown>, i: number) => this.#limit(l, `${base}/rate_limit/${i}`, reason, true));
  }

  #plain(rule: Record<string, unknown>, pointer: string): Chosen {
    const reason = (rule.reason as string | undefined) ?? null;
    return {
      pointer,
      action: (rule.action as Chosen["action"] | undefined) ?? "allow",
      reason,
      limits: this.#limitsOf(rule, pointer, reason),
    };
  }

  /** The rule (or rules entry) that decides, or null when default's rules all fail. */
  #resolve(rule: unknown, pointer: string, call: Record<string, unknown>): Chosen | null {
    if (typeof rule === "string") return { pointer, action: rule as Chosen["action"], reason: null, limits: [] };
    const r = rule as Record<string, unknown>;
    if (!Array.isArray(r.rules)) return this.#plain(r, pointer);
    const args = call.args ?? {};
    const annotations = call.annotations ?? {};
    for (let i = 0; i < r.rules.length; i++) {
      const entry = r.rules[i] as Record<string, unknown>;
      const when = (entry.when ?? {}) as Record<string, unknown>;
      const holds =
        (!("args" in when) || schemaHolds(when.args, args)) &&
        (!("session" in when) || schemaHolds(when.session, call.session)) &&
        (!("annotations" in when) || schemaHolds(when.annotations, annotations));
      if (holds) return this.#plain(entry, `${pointer}/rules/${i}`);
    }
    return null;
  }

  /** The key pointer that governs `tool`, as `Policy.ruleFor` reports it. */
  ruleFor(tool: string): string {
    const key = chooseKey(this.#doc.tools, tool);
    return key === null ? "/default" : `/tools/${escapeToken(key)}`;
  }

  /** Units in the budget's window at time `t`. */
  static #used(b: Budget, t: number): bigint {
    let used = 0n;
    for (const e of b.entries) if (e.time > t - b.windowMs) used += e.units;
    return used;
  }

  /** Decides `call` at time `now`, counting it when allowed (unless `dryRun`). */
  decide(call: unknown, now: number, dryRun = false): Decision {
    const bad = malformed(call);
    if (bad !== null) return { outcome: "deny", rule: "", reason: GENERATED, cause: "malformed_call" };
    const c = call as Record<string, unknown>;
    const tool = c.tool as string;
    const session = c.session as Record<string, unknown>;
    const key = chooseKey(this.#doc.tools, tool);
    let chosen: Chosen | null = null;
    if (key !== null) chosen = this.#resolve(this.#doc.tools[key], `/tools/${escapeToken(key)}`, c);
    if (chosen === null) chosen = this.#resolve(this.#doc.default, "/default", c);
    if (chosen === null) return { outcome: "deny", rule: "/default", reason: GENERATED, cause: "policy" };

    if (chosen.action === "deny")
      return { outcome: "deny", rule: chosen.pointer, reason: chosen.reason ?? GENERATED, cause: "policy" };
    if (chosen.action === "require_approval" && c.approved !== true) {
      return { outcome: "needs_approval", rule: chosen.pointer, reason: chosen.reason ?? GENERATED };
    }
    const policyLimits = (this.#doc.limits ?? []).map((l, i) =>
      this.#limit(l as unknown as Record<string, unknown>, `/limits/${i}`, null, false),
    );
    const limits = [...chosen.limits, ...policyLimits];
    if (limits.length === 0) return { outcome: "allow", rule: chosen.pointer };

    // Step 4, stage by stage across every limit: per values, costs' validity, costs against max.
    const keys: string[] = [];
    for (const limit of limits) {
      const v = perValue(limit, session);
      if (v === null) return { outcome: "deny", rule: limit.pointer, reason: GENERATED, cause: "missing_attribute" };
      keys.push(
        JSON.stringify([
          limit.id === undefined ? `at:${limit.pointer}` : `id:${limit.id}`,
          limit.windowMs,
          limit.per,
          v,
        ]),
      );
    }
    const costs: bigint[] = [];
    for (const limit of limits) {
      const raw =
        limit.cost === undefined
          ? 1
          : typeof limit.cost === "number"
            ? limit.cost
            : pointerValue(c.args ?? {}, limit.cost);
      const micro = microOf(raw);
      if (micro === null) return { outcome: "deny", rule: limit.pointer, reason: GENERATED, cause: "invalid_cost" };
      costs.push(micro);
    }
    const maxes = limits.map((l) => microOf(l.max)!);
    for (let i = 0; i < limits.length; i++) {
      if (costs[i]! > maxes[i]!)
        return { outcome: "deny", rule: limits[i]!.pointer, reason: GENERATED, cause: "cost_exceeds_max" };
    }

    const rooms: bigint[] = [];
    const waits: number[] = [];
    limits.forEach((limit, i) => {
      const b = this.#budgets.get(keys[i]!) ?? { entries: [], latest: -Infinity, windowMs: limit.windowMs };
      const t = Math.max(now, b.latest);
      const used = ReferenceEngine.#used(b, t);
      const cost = costs[i]!;
      if (cost === 0n || used + cost <= maxes[i]!) {
        rooms.push(maxes[i]! - used - cost);
        waits.push(0);
        return;
      }
      rooms.push(-1n);
      // The oldest entries leave first: wait for the one whose leaving makes room for `cost`.
      let left = used;
      for (const e of b.entries) {
        if (e.time <= t - limit.windowMs) continue;
        left -= e.units;
        if (left + cost <= maxes[i]!) {
          waits.push(Math.ceil(e.time + limit.windowMs - now));
          return;
        }
      }
      throw new Error("reference: no entry makes room, yet the cost is within max");
    });

    if (waits.every((w) => w === 0)) {
      const decision: Decision = {
        outcome: "allow",
        rule: chosen.pointer,
        remaining: unitsOf(rooms.reduce((a, b) => (b < a ? b : a))),
      };
      if (!dryRun) {
        const ticket: Ticket = { entries: [] };
        limits.forEach((limit, i) => {
          const cost = costs[i]!;
          if (cost === 0n) return;
          const b = this.#budgets.get(keys[i]!) ?? { entries: [], latest: -Infinity, windowMs: limit.windowMs };
          const t = Math.max(now, b.latest);
          const id = this.#ids++;
          b.entries.push({ time: t, units: cost, id });
          b.latest = t;
          this.#budgets.set(keys[i]!, b);
          if (limit.refundable) ticket.entries.push({ key: keys[i]!, id });
        });
        if (ticket.entries.length > 0) tickets.set(decision, ticket);
      }
      return decision;
    }
    let worst = 0;
    for (let i = 1; i < limits.length; i++) if (waits[i]! > waits[worst]!) worst = i;
    const limit = limits[worst]!;
    return {
      outcome: "rate_limited",
      rule: limit.pointer,
      reason: limit.fromRule && limit.ownReason !== null ? limit.ownReason : GENERATED,
      retryAfterMs: waits[worst]!,
      limit: {
        max: limit.max,
        windowMs: limit.windowMs,
        per: limit.per,
        ...(limit.cost === undefined ? {} : { cost: limit.cost }),
      },
    };
  }

  /**
   * Gives back what `decision` (one of this reference's) counted in refundable budgets, at time
   * `now`: each entry once, while it is still in its window. Whether anything was given back.
   */
  refund(decision: Decision, now: number): boolean {
    const ticket = tickets.get(decision);
    if (ticket === undefined) return false;
    let given = false;
    for (const { key, id } of ticket.entries) {
      const b = this.#budgets.get(key);
      if (b === undefined) continue;
      const t = Math.max(now, b.latest);
      const at = b.entries.findIndex((e) => e.id === id);
      if (at < 0 || b.entries[at]!.time <= t - b.windowMs) continue;
      b.entries.splice(at, 1);
      given = true;
    }
    return given;
  }
}

/** Whether the engine's decision is the reference's (a generated reason accepts any non-empty text). */
export function sameDecision(engine: Decision, reference: Decision): boolean {
  const e = engine as unknown as Record<string, unknown>;
  const r = reference as unknown as Record<string, unknown>;
  const keys = new Set([...Object.keys(e), ...Object.keys(r)]);
  for (const k of keys) {
    if (k === "refund") continue;
    if (k === "reason" && r.reason === GENERATED) {
      if (typeof e.reason !== "string" || e.reason === "") return false;
      continue;
    }
    if (!jsonEqual(e[k], r[k])) return false;
  }
  // A ticket is the engine's own data: it must be there exactly when the reference counted
  // refundable units, as plain JSON naming one entry per such budget.
  const size = ticketSize(reference);
  if (size === 0) return !("refund" in e);
  const t = e.refund as { namespace?: unknown; entries?: unknown } | undefined;
  return isPlainObject(t) && typeof t.namespace === "string" && Array.isArray(t.entries) && t.entries.length === size;
}
