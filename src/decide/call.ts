/**
 * Checking a call's shape. A malformed call is denied with a reason that says what is wrong;
 * every field is read exactly once, so a getter cannot answer differently on a second look.
 */

/** A call whose fields have been read once and checked. */
export interface CheckedCall {
  tool: string;
  args: object;
  session: Record<string, unknown>;
  sessionId: string;
  annotations: object;
  approved: boolean;
}

const objectProto = Object.prototype;
/** The arguments of a call that has none: frozen, so no condition can change what others see. */
export const EMPTY: object = Object.freeze({});

/** Plain data objects only: no arrays, no class instances, no null. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === objectProto || proto === null;
}

const hasOwn = Object.prototype.hasOwnProperty;
const SUGGEST: Record<string, string | undefined> = Object.assign(Object.create(null) as object, { arguments: "args", params: "args", input: "args", name: "tool", toolName: "tool", approval: "approved" });

/**
 * Reads and checks a call into `out`. Returns `null` when it is well formed, else the reason
 * it is malformed. Throws only if a hostile object throws while being read.
 */
export function checkCall(call: unknown, out: CheckedCall): string | null {
  if (!isPlainObject(call)) return `the call must be a plain object, got ${kind(call)}`;
  let tool: unknown;
  let args: unknown;
  let session: unknown;
  let annotations: unknown;
  let approved: unknown;
  // Own fields only, each read once: an inherited `approved` (a polluted prototype) is never read.
  for (const key in call) {
    if (!hasOwn.call(call, key)) return `unknown field ${quote(key)} (inherited)`;
    switch (key) {
      case "tool":
        tool = call.tool;
        break;
      case "args":
        args = call.args;
        break;
      case "session":
        session = call.session;
        break;
      case "annotations":
        annotations = call.annotations;
        break;
      case "approved":
        approved = call.approved;
        break;
      default: {
        const hint = SUGGEST[key];
        return `unknown field ${quote(key)}${hint === undefined ? "" : ` (did you mean "${hint}"?)`}`;
      }
    }
  }
  if (typeof tool !== "string" || tool.length === 0) return `"tool" must be a non-empty string, got ${kind(tool)}`;
  if (!isPlainObject(session)) return `"session" must be a plain object with an "id", got ${kind(session)}`;
  const id = hasOwn.call(session, "id") ? session.id : undefined;
  if (typeof id !== "string" || id.length === 0) return `"session.id" must be a non-empty string, got ${kind(id)}`;
  if (args !== undefined && !isPlainObject(args)) return `"args" must be a plain object when present, got ${kind(args)}`;
  if (annotations !== undefined && !isPlainObject(annotations)) {
    return `"annotations" must be a plain object when present, got ${kind(annotations)}`;
  }
  if (approved !== undefined && typeof approved !== "boolean") return `"approved" must be a boolean when present, got ${kind(approved)}`;
  out.tool = tool;
  out.args = args ?? EMPTY;
  out.session = session;
  out.sessionId = id;
  out.annotations = annotations ?? EMPTY;
  out.approved = approved === true;
  return null;
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
