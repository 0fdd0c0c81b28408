/**
 * Budget keys. A key is the limit's fixed prefix (a complete JSON array naming namespace,
 * identity, window, units and scope, so no prefix is a prefix of another: the encoding is
 * injective) followed by the raw `per` value.
 *
 * Keys are remembered per value in a bounded table: a store then sees the same string object
 * for the same session every time, whose hash V8 has already computed, instead of a fresh
 * concatenation to flatten and hash on every call. Values are chosen by callers, so the table is
 * bounded in entries and in characters, and long values are never kept.
 */

import type { KeyMaker } from "./plan.js";

/** How many keys one limit remembers before it starts again. */
export const KEY_CACHE_ENTRIES = 32_768;
/** How many characters of values one limit remembers before it starts again (about 2 MiB). */
export const KEY_CACHE_CHARS = 1 << 20;
/** Values longer than this are keyed afresh on every call, never remembered. */
export const KEY_CACHE_LONGEST = 256;

/** The keys of one limit and scope. */
export class BudgetKeys implements KeyMaker {
  readonly #cache = new Map<string, string>();
  #chars = 0;
  constructor(readonly prefix: string) {}

  keyFor(value: string): string {
    let key = this.#cache.get(value);
    if (key === undefined) {
      key = this.prefix + value;
      if (value.length > KEY_CACHE_LONGEST) return key;
      // Starting again when full keeps the bound without LRU bookkeeping on every hit; the
      // table only saves work, it never changes a key.
      if (this.#cache.size >= KEY_CACHE_ENTRIES || this.#chars + value.length > KEY_CACHE_CHARS) {
        this.#cache.clear();
        this.#chars = 0;
      }
      this.#cache.set(value, key);
      this.#chars += value.length;
    }
    return key;
  }
}

/**
 * The fixed part of a limit's keys. Identity is the limit's `id` (tagged `id:`) or its pointer
 * (tagged `at:`), so an id never equals a pointer; then the window, what a unit is, and whose
 * budget it is: two versions of a policy that disagree on any of those never share counts.
 */
export function keyPrefix(
  namespace: string,
  identity: string,
  windowMs: number,
  units: "calls" | "micro",
  scope: string,
): string {
  return JSON.stringify([namespace, identity, windowMs, units, scope]);
}

/** The opening every key of `namespace` starts with (to tell a ticket's keys apart). */
export function namespaceOpening(namespace: string): string {
  return `[${JSON.stringify(namespace)},`;
}
