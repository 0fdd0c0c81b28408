/** JSON Pointer (RFC 6901) helpers. */

import { hasOwn } from "./objects.js";

/** Escapes one reference token: `~` → `~0`, `/` → `~1`. */
export function escapeToken(token: string): string {
  return token.includes("~") || token.includes("/") ? token.replace(/~/g, "~0").replace(/\//g, "~1") : token;
}

/** Joins a parent pointer and a token (a key or an array index). */
export function child(parent: string, token: string | number): string {
  return `${parent}/${typeof token === "number" ? token : escapeToken(token)}`;
}

/** Splits a pointer into its unescaped tokens; `""` is the whole document. */
export function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/**
 * Reads the value at `tokens` in plain data, own properties only (so `/__proto__` or
 * `/constructor` never reach the prototype). `undefined` when absent.
 */
export function readPointer(value: unknown, tokens: readonly string[]): unknown {
  let v = value;
  for (const t of tokens) {
    if (v === null || typeof v !== "object" || !hasOwn.call(v, t)) return undefined;
    v = (v as Record<string, unknown>)[t];
  }
  return v;
}

const objectProto = Object.prototype;

/**
 * Reads the value at `tokens` below `root` through own properties of plain objects only (their
 * prototype `Object.prototype` or `null`): a step into an array, a class instance or anything
 * else finds nothing. `root` itself may be any object. How `per` attributes and `cost` amounts
 * are read (docs/spec.md, "Limit").
 */
export function readPlainPointer(root: unknown, tokens: readonly string[]): unknown {
  let v = root;
  for (let i = 0; i < tokens.length; i++) {
    if (v === null || typeof v !== "object") return undefined;
    if (i > 0) {
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== objectProto && proto !== null) return undefined;
    }
    const t = tokens[i]!;
    if (!hasOwn.call(v, t)) return undefined;
    v = (v as Record<string, unknown>)[t];
  }
  return v;
}
