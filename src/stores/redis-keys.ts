/**
 * Redis key names for budgets: injective, safe for any characters, and grouped in one Redis
 * Cluster hash slot per policy namespace.
 *
 * A key is `<prefix>{<tag>}<kind><body>`:
 * - `<tag>` is a hash of the namespace. Redis Cluster hashes only what lies between the first
 *   `{` and the next `}`, and the prefix may hold neither brace, so every key of a namespace
 *   sits in one slot whatever the session ids or attribute values contain. A call can touch a
 *   per-session, a per-attribute and a global budget at once; only a tag shared by the whole
 *   namespace puts all of them in the slot the script needs.
 * - `<kind>` says how the body is written: `:` as is, `!` as JSON, `#` as a digest.
 * - A budget key longer than 256 characters (a caller may choose a session id or attribute value
 *   of megabytes) is written as the SHA-256 of its UTF-16 code units, base64url, under `#`: a
 *   Redis key, and what is sent per call, stay bounded whatever the key; keys of different kinds
 *   never meet, and two long keys share one only if their digests collide.
 * - `<body>` is the budget key, which the store contract makes injective on its own (the engine
 *   builds it from the namespace, the limit and the `per` value). Redis keys are bytes and
 *   clients send strings as UTF-8, which would map every lone surrogate to U+FFFD; a key that
 *   is not well-formed UTF-16 is therefore written as JSON (which escapes lone surrogates),
 *   under its own kind character.
 *
 * @packageDocumentation
 */

import { createHash } from "node:crypto";

/** FNV-1a over UTF-16 code units: spreads namespaces over slots; collisions only share a slot. */
function tagOf(namespace: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < namespace.length; i++) {
    h ^= namespace.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** Lone surrogates would be mangled by UTF-8 encoding; `isWellFormed` is in Node 20. */
function wellFormed(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed();
}

const HEADS_KEPT = 1024;
/** Namespaces longer than this are not cached (the cache is bounded in characters too). */
const HEAD_CHARS_KEPT = 256;
const KEY_KEPT = 256;

/** Builds the keys of budgets, caching the per-namespace part. */
export class KeyEncoder {
  readonly #prefix: string;
  readonly #heads = new Map<string, string>();

  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  /** `<prefix>{<tag>}` for a namespace: the part shared by all its keys. */
  head(namespace: string): string {
    let head = this.#heads.get(namespace);
    if (head === undefined) {
      head = `${this.#prefix}{${tagOf(namespace)}}`;
      if (namespace.length <= HEAD_CHARS_KEPT) {
        if (this.#heads.size >= HEADS_KEPT) this.#heads.clear();
        this.#heads.set(namespace, head);
      }
    }
    return head;
  }

  /** The Redis key of budget `key` in `namespace`. */
  key(namespace: string, key: string): string {
    const head = this.head(namespace);
    if (key.length > KEY_KEPT) return `${head}#${createHash("sha256").update(key, "utf16le").digest("base64url")}`;
    return wellFormed(key) ? `${head}:${key}` : `${head}!${JSON.stringify(key)}`;
  }
}
