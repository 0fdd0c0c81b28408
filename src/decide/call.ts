/**
 * Reading a call (docs/spec.md, "Evaluation", step 1). A call is a plain object whose fields are
 * read once each, as own properties by name, enumerable or not: the engine never decides on
 * less than the host will pass on, and a getter is never asked twice. A malformed call is
 * denied with a reason that names the field; what was read (a value, a getter's message) goes
 * only to observers.
 */

import { hasOwn } from "../shared/objects.js";
import { describeValue } from "../shared/text.js";

/** The longest tool name: MCP names are 1–128 characters; a longer one is a malformed call. */
export const MAX_TOOL_NAME = 128;

const objectProto = Object.prototype;

/**
 * A key no object has: the symbol never leaves this module, so no own property, prototype or
 * polluter can define it, and looking it up runs no getter (a Proxy's `get` trap sees it and
 * may answer anything: the answer is dropped).
 *
 * Why look it up: asked cold, `Object.getPrototypeOf` is a call into V8's runtime, one of the
 * largest items of the hot path's CPU profile. A property lookup just before it teaches the
 * optimizing compiler the object's hidden class, from which it answers the prototype with no
 * call; this lookup finds nothing and runs nothing, so it gives that for free. Each lookup is
 * written at its own site, on purpose: a shared helper would see every kind of object at one
 * site and teach the compiler nothing.
 */
const PROBE: unique symbol = Symbol("toolgate probe");
type Probed = { [PROBE]?: unknown };

/** What is wrong with a malformed call. */
export const enum Malformed {
  NotObject,
  NotPlain,
  Inherited,
  Unknown,
  Tool,
  ToolTooLong,
  Session,
  SessionId,
  Args,
  Annotations,
  Approved,
  Unreadable,
}

/** A malformed call: what is wrong, and the detail for observers (never for a reason). */
export class MalformedCall {
  constructor(
    readonly what: Malformed,
    /** The field's name when it is one of the call's own names or a known misspelling. */
    readonly field: string | undefined,
    readonly detail: string,
  ) {}
}

/** Field names a caller may have meant, with the call's name for them. */
const SUGGEST: Record<string, string | undefined> = Object.assign(Object.create(null) as object, {
  arguments: "args",
  params: "args",
  input: "args",
  name: "tool",
  toolName: "tool",
  approval: "approved",
});

/** The call's fields as far as they were read, for observers. */
export interface SeenCall {
  tool?: unknown;
  args?: unknown;
  session?: unknown;
  annotations?: unknown;
  approved?: unknown;
}

/**
 * The call itself, checked before its fields are read: an object whose prototype is
 * `Object.prototype` or `null`. What is wrong, or `null`.
 */
export function checkCallObject(call: unknown): MalformedCall | null {
  if (typeof call !== "object" || call === null)
    return malformed(Malformed.NotObject, undefined, `the call is ${describeValue(call)}`);
  void (call as Probed)[PROBE];
  const proto = Object.getPrototypeOf(call) as unknown;
  if (proto !== objectProto && proto !== null) {
    return malformed(Malformed.NotPlain, undefined, `the call is ${describeValue(call)}, not a plain object`);
  }
  return null;
}

/** A key of the call that is not one of its five fields: unknown if own, else inherited. */
export function strayField(own: boolean, key: string): MalformedCall {
  return own
    ? malformed(
        Malformed.Unknown,
        SUGGEST[key] === undefined ? undefined : key,
        `unknown field ${JSON.stringify(key.slice(0, 200))}`,
      )
    : malformed(Malformed.Inherited, undefined, `inherited field ${JSON.stringify(key.slice(0, 200))}`);
}

/** A field seen among the enumerable keys that is not the call's own (a polluted prototype). */
export function inheritedField(name: string): MalformedCall {
  return malformed(Malformed.Inherited, name, `inherited field "${name}"`);
}

/**
 * Checks the fields the engine read; what is wrong, or the session's id (read here, once).
 */
export function checkFields(
  tool: unknown,
  session: unknown,
  args: unknown,
  annotations: unknown,
  approved: unknown,
): MalformedCall | string {
  if (typeof tool !== "string" || tool.length === 0)
    return malformed(Malformed.Tool, "tool", `"tool" is ${describeValue(tool)}`);
  if (tool.length > MAX_TOOL_NAME)
    return malformed(Malformed.ToolTooLong, "tool", `"tool" has ${tool.length} characters`);
  if (typeof session !== "object" || session === null) return notSession(session);
  void (session as Probed)[PROBE];
  if (Array.isArray(session)) return notSession(session);
  const id = ownId(session);
  if (typeof id !== "string" || id.length === 0) {
    return malformed(Malformed.SessionId, "session.id", `"session.id" is ${describeValue(id)}`);
  }
  if (args !== undefined) {
    if (typeof args !== "object" || args === null) return notPlain(Malformed.Args, "args", args);
    void (args as Probed)[PROBE];
    // Here, not in a helper shared with annotations: at its own site the prototype is read from
    // the hidden class the probe just saw (a shared helper, left out of line, called V8's runtime).
    const proto = Object.getPrototypeOf(args) as unknown;
    if (proto !== objectProto && proto !== null) return notPlain(Malformed.Args, "args", args);
  }
  if (annotations !== undefined) {
    if (typeof annotations !== "object" || annotations === null) {
      return notPlain(Malformed.Annotations, "annotations", annotations);
    }
    void (annotations as Probed)[PROBE];
    const proto = Object.getPrototypeOf(annotations) as unknown;
    if (proto !== objectProto && proto !== null) return notPlain(Malformed.Annotations, "annotations", annotations);
  }
  if (approved !== undefined && typeof approved !== "boolean") {
    return malformed(Malformed.Approved, "approved", `"approved" is ${describeValue(approved)}`);
  }
  return id;
}

/**
 * The session's own `id`, if it has one. `hasOwnProperty` is a call V8 does not inline here;
 * for a session whose prototype is `null`, or `Object.prototype` without an `id` (checked on
 * every call: a polluter may add one), `in` answers the same question from the hidden class.
 */
function ownId(session: object): unknown {
  const proto = Object.getPrototypeOf(session) as unknown;
  if (proto === null || (proto === objectProto && !("id" in objectProto))) {
    return "id" in session ? (session as { id?: unknown }).id : undefined;
  }
  return hasOwn.call(session, "id") ? (session as { id?: unknown }).id : undefined;
}

function notSession(session: unknown): MalformedCall {
  return malformed(Malformed.Session, "session", `"session" is ${describeValue(session)}`);
}

function notPlain(what: Malformed, field: string, value: unknown): MalformedCall {
  return malformed(what, field, `"${field}" is ${describeValue(value)}`);
}

function malformed(what: Malformed, field: string | undefined, detail: string): MalformedCall {
  return new MalformedCall(what, field, detail);
}

/**
 * The reason for a malformed call: the field and what it must be, never what was sent (the
 * value is the caller's text, and the reason goes to the model).
 */
export function malformedReason(m: MalformedCall): string {
  switch (m.what) {
    case Malformed.NotObject:
      return "Malformed call: the call must be an object.";
    case Malformed.NotPlain:
      return "Malformed call: the call must be a plain object (not a class instance, array or proxy of one).";
    case Malformed.Inherited:
      return m.field === undefined
        ? "Malformed call: it has a field inherited from its prototype, not its own."
        : `Malformed call: "${m.field}" is inherited from the call's prototype, not its own.`;
    case Malformed.Unknown:
      return m.field === undefined
        ? "Malformed call: it has a field that a call does not have " +
            "(a call has tool, args, session, annotations and approved)."
        : `Malformed call: unknown field "${m.field}" (did you mean "${SUGGEST[m.field]}"?).`;
    case Malformed.Tool:
      return 'Malformed call: "tool" must be a non-empty string.';
    case Malformed.ToolTooLong:
      return `Malformed call: "tool" must be at most ${MAX_TOOL_NAME} characters.`;
    case Malformed.Session:
      return 'Malformed call: "session" must be an object with an "id".';
    case Malformed.SessionId:
      return 'Malformed call: "session.id" must be a non-empty string.';
    case Malformed.Args:
      return 'Malformed call: "args" must be a plain object when present.';
    case Malformed.Annotations:
      return 'Malformed call: "annotations" must be a plain object when present.';
    case Malformed.Approved:
      return 'Malformed call: "approved" must be a boolean when present.';
    default:
      return "Malformed call: it could not be read.";
  }
}
