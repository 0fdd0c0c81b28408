/**
 * Checking a call's shape. A malformed call is denied with a reason that says what is wrong;
 * every field is read exactly once, so a getter cannot answer differently on a second look.
 */

/** A call whose fields have been read once and checked. */
export interface CheckedCall {
  readonly tool: string;
  readonly args: object;
  readonly session: Record<string, unknown>;
  readonly sessionId: string;
  readonly annotations: object;
  readonly approved: boolean;
}

const objectProto = Object.prototype;
const hasOwn = Object.prototype.hasOwnProperty;
/** The arguments of a call that has none: frozen, so no condition can change what others see. */
export const EMPTY: object = Object.freeze({});

/** Plain data objects only: no arrays, no class instances, no null. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  // Reading `constructor` is an inline-cached load, several times cheaper than
  // Object.getPrototypeOf on this hot path; only objects that shadow or lack it (a
  // "constructor" key, a null prototype) take the exact, slower check.
  if ((v as { constructor?: unknown }).constructor === Object) return true;
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

/**
 * Reads and checks a call. Returns the checked call, or the reason it is malformed as a
 * string. Throws only if a hostile object throws while being read.
 */
export function checkCall(call: unknown): CheckedCall | string {
  if (typeof call !== "object" || call === null) return `the call must be an object, got ${kind(call)}`;
  let tool: unknown;
  let args: unknown;
  let session: unknown;
  let annotations: unknown;
  let approved: unknown;
  // Own fields only, each read once: an inherited `approved` (a polluted prototype) is never
  // read, and a getter cannot answer differently on a second look.
  for (const key in call) {
    if (!hasOwn.call(call, key)) return `unknown field ${quote(key)} (inherited)`;
    if (key === "tool") tool = (call as ToolCallFields).tool;
    else if (key === "args") args = (call as ToolCallFields).args;
    else if (key === "session") session = (call as ToolCallFields).session;
    else if (key === "annotations") annotations = (call as ToolCallFields).annotations;
    else if (key === "approved") approved = (call as ToolCallFields).approved;
    else {
      const hint = SUGGEST[key];
      return `unknown field ${quote(key)}${hint === undefined ? "" : ` (did you mean "${hint}"?)`}`;
    }
  }
  if (typeof tool !== "string" || tool.length === 0) return `"tool" must be a non-empty string, got ${kind(tool)}`;
  if (typeof session !== "object" || session === null) {
    return `"session" must be an object with an "id", got ${kind(session)}`;
  }
  const id = hasOwn.call(session, "id") ? (session as { id?: unknown }).id : undefined;
  if (typeof id !== "string" || id.length === 0) return `"session.id" must be a non-empty string, got ${kind(id)}`;
  if (args !== undefined && !isPlainObject(args)) return `"args" must be a plain object when present, got ${kind(args)}`;
  if (annotations !== undefined && !isPlainObject(annotations)) {
    return `"annotations" must be a plain object when present, got ${kind(annotations)}`;
  }
  if (approved !== undefined && typeof approved !== "boolean") return `"approved" must be a boolean when present, got ${kind(approved)}`;
  return {
    tool,
    args: args ?? EMPTY,
    session: session as Record<string, unknown>,
    sessionId: id,
    annotations: annotations ?? EMPTY,
    approved: approved === true,
  };
}

interface ToolCallFields {
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
