/**
 * Canonical JSON: `JSON.stringify` with every object's keys sorted (by UTF-16 code units, as
 * `Array.prototype.sort` orders strings) and no whitespace, so equal arguments always give the
 * same text, and so the same HMAC. Used by the decision log (`argsHmac`) and by MCP approvals
 * (the arguments an approval is bound to). Dependency-free.
 */

/** The deepest nesting canonicalised; deeper data is refused rather than overflowing the stack. */
export const CANONICAL_MAX_DEPTH = 1000;

/**
 * The canonical JSON text of `value`, as `JSON.stringify` would write it but with sorted keys:
 * `toJSON` is honoured, `undefined`, functions and symbols are left out of objects and written
 * `null` in arrays, non-finite numbers are `null`.
 * @throws TypeError for a cycle, a BigInt, nesting deeper than {@link CANONICAL_MAX_DEPTH}, or
 *   a value with no JSON form at the top; and whatever a getter or `toJSON` throws.
 */
export function canonicalJson(value: unknown): string {
  const text = write(value, new Set<object>(), 0, "");
  if (text === undefined) throw new TypeError("the value has no JSON form");
  return text;
}

function write(value: unknown, ancestors: Set<object>, depth: number, key: string): string | undefined {
  let v = value;
  if (v !== null && (typeof v === "object" || typeof v === "bigint")) {
    const toJSON = (v as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") v = (toJSON as (k: string) => unknown).call(v, key);
  }
  // Boxed primitives are written as their values, as JSON.stringify does.
  if (v instanceof Number || v instanceof String || v instanceof Boolean) v = v.valueOf();
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "number":
      return Number.isFinite(v) ? JSON.stringify(v) : "null";
    case "boolean":
      return v ? "true" : "false";
    case "bigint":
      throw new TypeError("a BigInt has no JSON form");
    case "object":
      break;
    default:
      return undefined;
  }
  if (v === null) return "null";
  if (depth >= CANONICAL_MAX_DEPTH) throw new TypeError(`nested deeper than ${CANONICAL_MAX_DEPTH} levels`);
  if (ancestors.has(v)) throw new TypeError("a cycle has no JSON form");
  ancestors.add(v);
  try {
    if (Array.isArray(v)) {
      const parts: string[] = [];
      for (let i = 0; i < v.length; i++) parts.push(write(v[i], ancestors, depth + 1, String(i)) ?? "null");
      return `[${parts.join(",")}]`;
    }
    const o = v as Record<string, unknown>;
    const parts: string[] = [];
    for (const k of Object.keys(o).sort()) {
      const item = write(o[k], ancestors, depth + 1, k);
      if (item !== undefined) parts.push(`${JSON.stringify(k)}:${item}`);
    }
    return `{${parts.join(",")}}`;
  } finally {
    ancestors.delete(v);
  }
}
