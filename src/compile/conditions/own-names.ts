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

/** Where ajv reports a moved subschema, and where the policy wrote it (both as ajv's `schemaPath`). */
export interface Moved {
  from: string;
  to: string;
}

/** A token of ajv's `schemaPath`: a JSON Pointer token, URI-fragment encoded. */
function token(t: string | number): string {
  return `/${encodeURIComponent(String(t).replace(/~/g, "~0").replace(/\//g, "~1"))}`;
}

function rewriteNode(
  node: Record<string, unknown>,
  at: string,
  depth: number,
  moves: Moved[],
): Record<string, unknown> {
  if (depth > MAX_SCHEMA_DEPTH) return node;
  let out: Record<string, unknown> | undefined;
  const set = (k: string, v: unknown) => {
    out ??= copyOf(node);
    define(out, k, v);
  };
  const sub = (v: unknown, path: string) => (isObject(v) ? rewriteNode(v, path, depth + 1, moves) : v);
  for (const keyword of Object.keys(node)) {
    const value = node[keyword];
    const here = at + token(keyword);
    switch (KEYWORDS.get(keyword)) {
      case Kind.Schema: {
        const r = sub(value, here);
        if (r !== value) set(keyword, r);
        break;
      }
      case Kind.SchemaList:
      case Kind.SchemaOrList:
        if (Array.isArray(value)) {
          const r = value.map((s: unknown, i): unknown => sub(s, here + token(i)));
          if (r.some((s, i) => s !== value[i])) set(keyword, r);
        } else {
          const r = sub(value, here);
          if (r !== value) set(keyword, r);
        }
        break;
      case Kind.SchemaMap:
      case Kind.SchemaOrNames:
        if (isObject(value)) {
          let changed = false;
          const r: Record<string, unknown> = {};
          for (const name of Object.keys(value)) {
            const s2 = sub(value[name], here + token(name));
            if (s2 !== value[name]) changed = true;
            define(r, name, s2);
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
  const patternsAt = at + token("patternProperties");
  if (hasProto(patterns)) {
    const moved: Record<string, unknown> = {};
    for (const k of Object.keys(patterns)) {
      const key = k === PROTO ? freeKey(patterns, `(?:${PROTO})`) : k;
      if (k === PROTO) moves.push({ from: patternsAt + token(key), to: patternsAt + token(PROTO) });
      define(moved, key, patterns[k]);
    }
    set("patternProperties", moved);
  }
  if (hasProto(props)) {
    const rest: Record<string, unknown> = {};
    for (const k of Object.keys(props)) if (k !== PROTO) define(rest, k, props[k]);
    const existing = (out ?? node).patternProperties;
    const moved: Record<string, unknown> = isObject(existing) ? copyOf(existing) : {};
    const key = freeKey(moved, `^${PROTO}$`);
    define(moved, key, props[PROTO]);
    moves.push({ from: patternsAt + token(key), to: at + token("properties") + token(PROTO) });
    set("properties", rest);
    set("patternProperties", moved);
  }
  return out ?? node;
}

/**
 * `schema` in a form ajv checks `__proto__` members in (`schema` itself when nothing needs
 * rewriting), and where each moved subschema was written, so that explanations point into the
 * policy rather than at the rewritten form.
 */
export function withOwnNames<T>(schema: T): { schema: T; moves: Moved[] } {
  const moves: Moved[] = [];
  const out = (isObject(schema) ? rewriteNode(schema, "#", 0, moves) : schema) as T;
  return { schema: out, moves };
}

/** `schemaPath` as the policy wrote it: the moves undone. */
export function originalPath(schemaPath: string, moves: readonly Moved[]): string {
  for (const m of moves) {
    if (schemaPath === m.from || schemaPath.startsWith(`${m.from}/`)) return m.to + schemaPath.slice(m.from.length);
  }
  return schemaPath;
}
