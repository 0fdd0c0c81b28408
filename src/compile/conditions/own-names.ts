/**
 * ajv's generated code skips the name `__proto__` in `properties` and `patternProperties`
 * (it filters it out of the schema's keys, to keep its own objects safe), so a condition on a
 * `__proto__` argument would silently hold. With own-property reads (ajv's `ownProperties`),
 * the data side works: `{"__proto__": 1}` from JSON has an own member of that name. So the
 * schema is rewritten, for ajv only, into a form with the same meaning that ajv does read:
 *
 * - `properties: { "__proto__": S, … }` → the rest of `properties`, and
 *   `patternProperties: { "^__proto__$": S }` (a pattern that names exactly that member; both
 *   keywords count the member as evaluated for `additionalProperties` and
 *   `unevaluatedProperties`, so nothing else changes);
 * - a `patternProperties` key spelled `__proto__` → `(?:__proto__)`, the same pattern.
 *
 * Nodes that need no change are shared, not copied; the policy's (frozen) schema is untouched.
 */

import { KEYWORDS, Kind, MAX_SCHEMA_DEPTH } from "./keywords.js";

const PROTO = "__proto__";

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Sets an own, enumerable member, also for `__proto__` (plain assignment would set the prototype). */
function define(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function copyOf(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) define(out, k, o[k]);
  return out;
}

/** A pattern equivalent to `pattern` that is not yet a key of `map`. */
function freeKey(map: Record<string, unknown> | undefined, pattern: string): string {
  let key = pattern;
  // Wrapping in a non-capturing group keeps the meaning and changes the text.
  while (map !== undefined && Object.prototype.hasOwnProperty.call(map, key)) key = `(?:${key})`;
  return key;
}

function rewriteNode(node: Record<string, unknown>, depth: number): Record<string, unknown> {
  if (depth > MAX_SCHEMA_DEPTH) return node;
  let out: Record<string, unknown> | undefined;
  const set = (k: string, v: unknown) => {
    out ??= copyOf(node);
    define(out, k, v);
  };
  for (const keyword of Object.keys(node)) {
    const value = node[keyword];
    switch (KEYWORDS.get(keyword)) {
      case Kind.Schema: {
        const r = withOwnNames(value, depth + 1);
        if (r !== value) set(keyword, r);
        break;
      }
      case Kind.SchemaList:
      case Kind.SchemaOrList:
        if (Array.isArray(value)) {
          const r = value.map((s: unknown): unknown => withOwnNames(s, depth + 1));
          if (r.some((s, i) => s !== value[i])) set(keyword, r);
        } else {
          const r = withOwnNames(value, depth + 1);
          if (r !== value) set(keyword, r);
        }
        break;
      case Kind.SchemaMap:
      case Kind.SchemaOrNames:
        if (isObject(value)) {
          let changed = false;
          const r: Record<string, unknown> = {};
          for (const name of Object.keys(value)) {
            const sub = withOwnNames(value[name], depth + 1);
            if (sub !== value[name]) changed = true;
            define(r, name, sub);
          }
          if (changed) set(keyword, r);
        }
        break;
      default:
        break;
    }
  }
  const current = out ?? node;
  const props = current.properties;
  const patterns = current.patternProperties;
  const hasProto = (m: unknown): m is Record<string, unknown> =>
    isObject(m) && Object.prototype.hasOwnProperty.call(m, PROTO);
  if (hasProto(patterns)) {
    const moved: Record<string, unknown> = {};
    for (const k of Object.keys(patterns))
      define(moved, k === PROTO ? freeKey(patterns, `(?:${PROTO})`) : k, patterns[k]);
    set("patternProperties", moved);
  }
  if (hasProto(props)) {
    const rest: Record<string, unknown> = {};
    for (const k of Object.keys(props)) if (k !== PROTO) define(rest, k, props[k]);
    const existing = (out ?? node).patternProperties;
    const moved: Record<string, unknown> = isObject(existing) ? copyOf(existing) : {};
    define(moved, freeKey(moved, `^${PROTO}$`), props[PROTO]);
    set("properties", rest);
    set("patternProperties", moved);
  }
  return out ?? node;
}

/** `schema` in a form ajv checks `__proto__` members in; `schema` itself when nothing needs rewriting. */
export function withOwnNames<T>(schema: T, depth = 0): T {
  return (isObject(schema) ? rewriteNode(schema, depth) : schema) as T;
}
