/**
 * Turns what a caller passed as a policy into plain JSON data the compiler can trust: a
 * deep copy (so later changes to the caller's object change nothing), made only of JSON
 * values, with bounded depth and size, no cycles, and no getters run more than once.
 */

import { MAX_DEPTH, MAX_NODES } from "../shared/limits.js";
import { child } from "../shared/pointer.js";
import { errorMessage } from "../shared/text.js";
import { setOwn } from "../shared/objects.js";
import type { PolicyIssue } from "../types.js";

/** A document that is not JSON data, with the path of the first offending value. */
export class NotJsonData extends Error {
  constructor(readonly issue: PolicyIssue) {
    super(issue.message);
  }
}

const objectProto = Object.prototype;

/**
 * Copies `input` as JSON data.
 * @throws NotJsonData for a value JSON cannot hold (NaN, Infinity, undefined, functions,
 * symbols, bigints, class instances, cycles), nesting deeper than {@link MAX_DEPTH}, more
 * than {@link MAX_NODES} values, or a getter or proxy that throws.
 */
export function copyJsonData(input: unknown): unknown {
  const ancestors = new Set<object>();
  let nodes = 0;

  const copy = (v: unknown, path: string, depth: number): unknown => {
    if (++nodes > MAX_NODES) {
      throw new NotJsonData({
        code: "too_large",
        path,
        message: `the document holds more than ${MAX_NODES} values (the size limit)`,
      });
    }
    switch (typeof v) {
      case "string":
      case "boolean":
        return v;
      case "number":
        if (!Number.isFinite(v))
          throw new NotJsonData({ code: "json", path, message: `must be a finite number, got ${v}` });
        return v;
      case "object":
        break;
      default:
        throw new NotJsonData({ code: "json", path, message: `must be JSON data, got ${typeof v}` });
    }
    if (v === null) return null;
    if (depth >= MAX_DEPTH) {
      throw new NotJsonData({ code: "too_large", path, message: `nested deeper than ${MAX_DEPTH} levels` });
    }
    if (ancestors.has(v)) throw new NotJsonData({ code: "json", path, message: "is a cycle: it contains itself" });
    ancestors.add(v);
    try {
      if (Array.isArray(v)) {
        const out: unknown[] = [];
        const n = v.length;
        for (let i = 0; i < n; i++) out.push(copy(v[i], child(path, i), depth + 1));
        return out;
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== objectProto && proto !== null) {
        const name = (v as { constructor?: { name?: unknown } }).constructor?.name;
        throw new NotJsonData({
          code: "json",
          path,
          message: `must be a plain object, got ${
            typeof name === "string" && name !== "" ? `an instance of ${name}` : "an object with a prototype"
          }`,
        });
      }
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(v)) {
        const at = child(path, key);
        let raw: unknown;
        try {
          raw = (v as Record<string, unknown>)[key];
        } catch (e) {
          throw new NotJsonData({ code: "json", path: at, message: `could not be read: ${errorMessage(e)}` });
        }
        setOwn(out, key, copy(raw, at, depth + 1));
      }
      return out;
    } finally {
      ancestors.delete(v);
    }
  };

  try {
    return copy(input, "", 0);
  } catch (e) {
    if (e instanceof NotJsonData) throw e;
    throw new NotJsonData({ code: "json", path: "", message: `could not be read: ${errorMessage(e)}` });
  }
}

/** Deep-freezes plain data in place and returns it. */
export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const key of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[key]);
  }
  return v;
}
