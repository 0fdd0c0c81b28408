/**
 * Tool-name matching. A key without `*` matches that name exactly; `*` matches any run of
 * characters. The most specific key wins: an exact key, else the pattern with the most non-`*`
 * characters, else the one written first.
 *
 * Everything is prepared at compile time so a lookup never builds a RegExp: exact keys sit in
 * a Map; patterns are split into literal segments and bucketed by their leading (else
 * trailing) literal, probed once per distinct literal length, so their number does not slow a
 * lookup. Results are cached per name in a bounded table (attackers choose names, so it must
 * stay bounded).
 */

/** A pattern key as compiled: where it is, how specific, and how to test a name. */
export interface Pattern<T> {
  /** The key as written. */
  readonly key: string;
  /** Position among the document's keys: the tie-breaker. */
  readonly order: number;
  /** Non-`*` characters. */
  readonly specificity: number;
  /** The literal runs between stars (consecutive stars act as one). */
  readonly segments: readonly string[];
  readonly value: T;
}

/** How many resolved names the cache keeps before it starts again. */
export const NAME_CACHE_SIZE = 8192;
/**
 * How many characters of names the cache keeps before it starts again. Names reaching the
 * matcher are at most 128 characters (a longer one is a malformed call), so this bounds the
 * cache's memory whatever names callers send.
 */
export const NAME_CACHE_CHARS = 256 * 1024;

/** Resolves tool names to the value of the key that governs them. */
export class NameMatcher<T extends { readonly pointer: string }> {
  readonly #exact = new Map<string, T>();
  /**
   * Patterns bucketed by their leading literal (`get_*`, `x_*_y`), else by their trailing one
   * (`*_run`), each bucket best first: a name probes only the buckets its own prefixes and
   * suffixes name, once per distinct literal length, so the number of patterns does not slow
   * a lookup. Only patterns with stars at both ends (`*`, `*a*`) are tried one by one.
   */
  readonly #byPrefix = new Map<string, Pattern<T>[]>();
  readonly #bySuffix = new Map<string, Pattern<T>[]>();
  #prefixLengths: number[] = [];
  #suffixLengths: number[] = [];
  #floating: Pattern<T>[] = [];
  readonly #patterns: Pattern<T>[] = [];
  readonly #cache = new Map<string, T>();
  #cacheChars = 0;
  readonly #fallback: T;
  readonly #hasPatterns: boolean;

  /** `entries` in document order; `fallback` governs names no key matches. */
  constructor(entries: readonly (readonly [string, T])[], fallback: T) {
    this.#fallback = fallback;
    entries.forEach(([key, value], order) => {
      if (!key.includes("*")) {
        this.#exact.set(key, value);
        return;
      }
      const segments = key.split(/\*+/);
      const p: Pattern<T> = { key, order, specificity: key.length - countStars(key), segments, value };
      this.#patterns.push(p);
      const first = segments[0]!;
      const last = segments[segments.length - 1]!;
      if (first !== "") bucket(this.#byPrefix, first, p);
      else if (last !== "") bucket(this.#bySuffix, last, p);
      else this.#floating.push(p);
    });
    // Sorting best first also settles "a*" against "a**": same bucket, same specificity, so
    // the one written first comes first.
    for (const list of this.#byPrefix.values()) list.sort(better);
    for (const list of this.#bySuffix.values()) list.sort(better);
    this.#floating.sort(better);
    this.#prefixLengths = [...new Set([...this.#byPrefix.keys()].map((k) => k.length))];
    this.#suffixLengths = [...new Set([...this.#bySuffix.keys()].map((k) => k.length))];
    this.#hasPatterns = this.#patterns.length > 0;
  }

  /** The patterns, in document order. */
  get patterns(): readonly Pattern<T>[] {
    return this.#patterns;
  }

  /** The value governing `name`: exact key, else best pattern, else the fallback. */
  resolve(name: string): T {
    if (!this.#hasPatterns) return this.#exact.get(name) ?? this.#fallback;
    // With patterns, the cache holds exact names too: a hot name costs one lookup either way.
    const cached = this.#cache.get(name);
    if (cached !== undefined) return cached;
    const exact = this.#exact.get(name);
    const found = exact === undefined ? this.bestPattern(name) : undefined;
    const value = exact ?? (found === undefined ? this.#fallback : found.value);
    // Starting again when full keeps the bound without LRU bookkeeping on every hit; the
    // cache only saves work, it never changes an answer.
    if (this.#cache.size >= NAME_CACHE_SIZE || this.#cacheChars + name.length > NAME_CACHE_CHARS) {
      this.#cache.clear();
      this.#cacheChars = 0;
    }
    this.#cache.set(name, value);
    this.#cacheChars += name.length;
    return value;
  }

  /** Whether `name` is an exact key. */
  hasExact(name: string): boolean {
    return this.#exact.has(name);
  }

  /** The pointers of every pattern matching `name`, best first (for explanations). */
  matchingPointers(name: string): string[] {
    return this.#patterns
      .filter((p) => matches(p.segments, name))
      .sort(better)
      .map((p) => p.value.pointer);
  }

  /** The best pattern matching `name`, if any. */
  bestPattern(name: string): Pattern<T> | undefined {
    let best: Pattern<T> | undefined;
    for (const len of this.#prefixLengths) {
      if (len <= name.length) best = firstMatch(this.#byPrefix.get(name.slice(0, len)), name, best);
    }
    for (const len of this.#suffixLengths) {
      if (len <= name.length) best = firstMatch(this.#bySuffix.get(name.slice(name.length - len)), name, best);
    }
    return firstMatch(this.#floating, name, best);
  }
}

function bucket<T>(map: Map<string, Pattern<T>[]>, literal: string, p: Pattern<T>): void {
  const list = map.get(literal);
  if (list === undefined) map.set(literal, [p]);
  else list.push(p);
}

/** The better of `best` and the first pattern of a best-first list that matches `name`. */
function firstMatch<T>(
  list: readonly Pattern<T>[] | undefined,
  name: string,
  best: Pattern<T> | undefined,
): Pattern<T> | undefined {
  if (list === undefined) return best;
  for (const p of list) {
    if (best !== undefined && better(p, best) > 0) return best;
    if (matches(p.segments, name)) return p;
  }
  return best;
}

/** Orders patterns best first: more specific, then written earlier. */
function better<T>(a: Pattern<T>, b: Pattern<T>): number {
  return b.specificity - a.specificity || a.order - b.order;
}

function countStars(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 42) n++;
  return n;
}

/** Whether a name matches a pattern's segments (greedy leftmost is exact for `*`-only globs). */
export function matches(segments: readonly string[], name: string): boolean {
  const n = segments.length;
  if (n === 1) return name === segments[0];
  const first = segments[0]!;
  const last = segments[n - 1]!;
  if (name.length < first.length + last.length) return false;
  if (!name.startsWith(first) || !name.endsWith(last)) return false;
  let pos = first.length;
  const end = name.length - last.length;
  for (let i = 1; i < n - 1; i++) {
    const seg = segments[i]!;
    const at = name.indexOf(seg, pos);
    if (at < 0 || at + seg.length > end) return false;
    pos = at + seg.length;
  }
  return true;
}

/**
 * Whether every name `inner` matches is also matched by `outer`. Exact for `*`-only globs:
 * `inner`'s stars stand for arbitrary text, which only a star of `outer` can absorb.
 */
export function includes(outer: string, inner: string): boolean {
  const o = outer;
  const s = inner;
  // dp[j]: outer[0..i) matches inner[0..j)
  let dp: boolean[] = new Array<boolean>(s.length + 1).fill(false);
  dp[0] = true;
  for (let i = 0; i < o.length; i++) {
    const next: boolean[] = new Array<boolean>(s.length + 1).fill(false);
    if (o[i] === "*") {
      let any = false;
      for (let j = 0; j <= s.length; j++) {
        any = any || dp[j]!;
        next[j] = any;
      }
    } else {
      for (let j = 1; j <= s.length; j++) next[j] = dp[j - 1]! && s[j - 1] !== "*" && s[j - 1] === o[i];
    }
    dp = next;
  }
  return dp[s.length]!;
}
