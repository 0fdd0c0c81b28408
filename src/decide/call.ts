/**
 * Checking a call's shape. A malformed call is denied with a reason that says what is wrong.
 * The check itself runs inline in the engine's hot path; this module holds what it needs.
 */

const objectProto = Object.prototype;
/** `hasOwnProperty`, taken once: a call or a session may shadow their own. */
export const hasOwn = Object.prototype.hasOwnProperty;
/** The arguments of a call that has none: frozen, so no condition can change what others see. */
export const EMPTY: object = Object.freeze({});

/** Plain data objects only: no arrays, no class instances, no null. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === objectProto || proto === null;
}

const SUGGEST: Record<string, string | undefined> = Object.assign(Object.create(null) as object, {
  arguments: "args",
  params: "args",
  input: "args",
  name: "tool",
  toolName: "tool",
  approval: "approved",
});

/** What is wrong with a malformed call; the engine's hot path reports a code, never a string. */
export const enum Malformed {
  NotObject,
  Inherited,
  Unknown,
  Tool,
  Session,
  SessionId,
  Args,
  Annotations,
  Approved,
}

/** The reason for a malformed call, built only when one is refused. */
export function malformedReason(what: Malformed, value: unknown): string {
  switch (what) {
    case Malformed.NotObject:
      return `the call must be an object, got ${kind(value)}`;
    case Malformed.Inherited:
      return `unknown field ${quote(String(value))} (inherited, not the call's own)`;
    case Malformed.Unknown: {
      const hint = SUGGEST[String(value)];
      return `unknown field ${quote(String(value))}${hint === undefined ? "" : ` (did you mean "${hint}"?)`}`;
    }
    case Malformed.Tool:
      return `"tool" must be a non-empty string, got ${kind(value)}`;
    case Malformed.Session:
      return `"session" must be an object with an "id", got ${kind(value)}`;
    case Malformed.SessionId:
      return `"session.id" must be a non-empty string, got ${kind(value)}`;
    case Malformed.Args:
      return `"args" must be a plain object when present, got ${kind(value)}`;
    case Malformed.Annotations:
      return `"annotations" must be a plain object when present, got ${kind(value)}`;
    default:
      return `"approved" must be a boolean when present, got ${kind(value)}`;
  }
}

/** The fields of a call, for typed reads of an object not yet checked. */
export interface ToolCallFields {
  tool?: unknown;
  args?: unknown;
  session?: unknown;
  annotations?: unknown;
  approved?: unknown;
}

/** A short description of a value's kind, safe for hostile values. */
export function kind(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "an array";
  switch (typeof v) {
    case "string":
      return v.length === 0 ? "an empty string" : "a string";
    case "number":
      return String(v);
    case "boolean":
      return String(v);
    case "object": {
      const proto = Object.getPrototypeOf(v) as { constructor?: { name?: unknown } } | null;
      const name = proto?.constructor?.name;
      return typeof name === "string" && name !== "" && name !== "Object" ? `an instance of ${name.slice(0, 40)}` : "an object";
    }
    default:
      return `a ${typeof v}`;
  }
}

/** A name for a message: JSON-quoted and cut to a readable length (attackers choose names). */
export function quote(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 77)}...` : name);
}
