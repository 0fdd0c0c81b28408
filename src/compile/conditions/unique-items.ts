/**
 * `uniqueItems` in linear expected time. ajv's own compares every pair of items with a deep
 * equality (20,000 small objects took ~10 s); this one writes each item once as canonical JSON
 * text (object keys sorted) and looks the text up in a set, so the work is the size of the
 * array's data plus the sorting of each object's keys.
 *
 * Equality is JSON Schema's: numbers by value (`1` and `1.0` are one number, and so are `0` and
 * `-0`), strings by code units, arrays item by item, objects by their own enumerable keys
 * regardless of order. What is not JSON data (a function, a symbol, a bigint, `undefined`, a
 * cycle, nesting deeper than {@link MAX_UNIQUE_DEPTH}) makes the check throw, which the engine
 * answers with a deny: it cannot say whether such items are equal.
 */

import type { Ajv2020, FuncKeywordDefinition } from "ajv/dist/2020.js";

/** What a keyword's compile step returns (ajv exports the type only from an internal module). */
type DataValidateFunction = ReturnType<NonNullable<FuncKeywordDefinition["compile"]>>;

/** How deep an item of a `uniqueItems` array may nest before the check gives up (and the call is denied). */
export const MAX_UNIQUE_DEPTH = 1_000;

/** Canonical JSON text of `v`: equal JSON values, and only those, get equal text. */
function canonical(v: unknown, depth: number, ancestors: Set<object>): string {
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "number":
      // String(-0) is "0": JSON Schema compares numbers by value. NaN and the infinities are
      // not JSON but host objects may hold them; their names keep them apart from null.
      return String(v);
    case "boolean":
      return v ? "true" : "false";
    case "object":
      break;
    default:
      throw new TypeError(`uniqueItems cannot compare ${typeof v} values`);
  }
  if (v === null) return "null";
  if (depth >= MAX_UNIQUE_DEPTH)
    throw new RangeError(`uniqueItems: an item nests deeper than ${MAX_UNIQUE_DEPTH} levels`);
  if (ancestors.has(v)) throw new TypeError("uniqueItems: an item contains itself");
  ancestors.add(v);
  try {
    if (Array.isArray(v)) {
      const n = v.length;
      const parts: string[] = new Array<string>(n);
      for (let i = 0; i < n; i++) parts[i] = canonical(v[i], depth + 1, ancestors);
      return `[${parts.join(",")}]`;
    }
    const keys = Object.keys(v).sort();
    const parts: string[] = new Array<string>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      parts[i] = `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k], depth + 1, ancestors)}`;
    }
    return `{${parts.join(",")}}`;
  } finally {
    ancestors.delete(v);
  }
}

/** The indexes of the first two equal items of `items`, or undefined when all differ. */
export function firstDuplicate(items: readonly unknown[]): [number, number] | undefined {
  const seen = new Map<string, number>();
  const ancestors = new Set<object>();
  const n = items.length;
  for (let i = 0; i < n; i++) {
    const text = canonical(items[i], 0, ancestors);
    const earlier = seen.get(text);
    if (earlier !== undefined) return [earlier, i];
    seen.set(text, i);
  }
  return undefined;
}

const unique: DataValidateFunction = (data: unknown) => {
  if (!Array.isArray(data)) return true;
  const dup = firstDuplicate(data);
  if (dup === undefined) return true;
  // ajv's own wording and parameters: i is the later item, j the earlier.
  const [j, i] = dup;
  unique.errors = [
    {
      keyword: "uniqueItems",
      message: `must NOT have duplicate items (items ## ${i} and ${j} are identical)`,
      params: { i, j },
    },
  ];
  return false;
};

/** `uniqueItems: false` holds for every value. */
const always: DataValidateFunction = () => true;

const definition: FuncKeywordDefinition = {
  keyword: "uniqueItems",
  schemaType: "boolean",
  errors: true,
  compile: (schema: boolean) => (schema ? unique : always),
};

/** Replaces ajv's pairwise `uniqueItems` with the linear one, on `ajv`. Call before compiling any schema. */
export function addLinearUniqueItems(ajv: Ajv2020): void {
  ajv.removeKeyword("uniqueItems");
  ajv.addKeyword(definition);
}
