/** The default budget namespace of a policy without a `name`: a hash of its document. */

/**
 * A hash of the document's JSON text, so replicas running the same policy share budgets. The
 * text keeps the document's key order: the same file gives the same namespace everywhere.
 */
export function documentNamespace(doc: unknown): string {
  const text = JSON.stringify(doc);
  const hex = (seed: number) => cyrb53(text, seed).toString(16).padStart(14, "0");
  return `sha:${hex(0x9e3779b9)}${hex(0x85ebca6b)}`;
}

/** cyrb53: a fast 53-bit string hash; two seeds give 106 bits, plenty for a namespace name. */
function cyrb53(s: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
