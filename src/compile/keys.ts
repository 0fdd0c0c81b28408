/**
 * Budget keys. A key is the limit's fixed prefix (a complete JSON array naming namespace,
 * limit and scope, so no prefix is a prefix of another: the encoding is injective) followed by
 * the raw `per` value.
 *
 * Keys are remembered per value in a bounded table: a store then sees the same string object
 * for the same session every time, whose hash V8 has already computed, instead of a fresh
 * concatenation to flatten and hash on every call.
 */

/** How many keys one limit remembers before it starts again (sessions are chosen by callers). */
export const KEY_CACHE_SIZE = 32_768;

/** The keys of one limit and scope. */
export class BudgetKeys {
  readonly #cache = new Map<string, string>();
  constructor(readonly prefix: string) {}

  /** The key of the budget for `value` (a session id, or an attribute value as text). */
  keyFor(value: string): string {
    let key = this.#cache.get(value);
    if (key === undefined) {
      key = this.prefix + value;
      if (this.#cache.size >= KEY_CACHE_SIZE) this.#cache.clear();
      this.#cache.set(value, key);
    }
    return key;
  }
}
