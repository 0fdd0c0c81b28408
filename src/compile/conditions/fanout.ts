/**
 * How many subschema checks one value of the arguments can cost a `when` schema, bounded at
 * compile time (docs/conditions.md, "Every keyword and format takes time linear in the value").
 *
 * Every keyword is linear in the value, but the schema itself can multiply: 22 `$defs`, each an
 * `anyOf` of two `$ref`s to the next, check `{ v: 1 }` 2^22 times (seconds per call, from a
 * schema of a few hundred bytes). So the checks that apply to the same value (`allOf`, `anyOf`,
 * `oneOf`, `not`, `if`/`then`/`else`, `dependentSchemas`, `dependencies`, `$ref`, `$dynamicRef`)
 * are counted, each `$ref` resolved within the schema once (memoised): a schema costs 1 plus what
 * its in-place subschemas cost, and a `$ref` cycle that never descends into the value costs
 * without end. Subschemas that apply to a member or an item (`properties`, `items`, `contains`,
 * `unevaluatedProperties`…) check another value: each is counted as a root of its own, so a
 * recursive schema of a tree (`children: { items: { $ref: "#" } }`) stays one check per node.
 */

import { child } from "../../shared/pointer.js";
import { hasOwn } from "../../shared/objects.js";
import type { ConditionIssue } from "./audit.js";
import { KEYWORDS, Kind } from "./keywords.js";

/** The most subschema checks one value may cost a `when` schema (docs/conditions.md). */
export const MAX_CHECKS_PER_VALUE = 10_000;

/** Keywords whose subschemas check the same value as the schema they sit in. */
const IN_PLACE: ReadonlySet<string> = new Set([
  "allOf",
  "anyOf",
  "oneOf",
  "not",
  "if",
  "then",
  "else",
  "dependentSchemas",
  "dependencies",
]);

/** Keywords whose subschemas are never applied by the schema they sit in (only through `$ref`). */
const NOT_APPLIED: ReadonlySet<string> = new Set(["$defs", "definitions"]);

/** The base of relative `$id`s and `$ref`s: any absolute URL that cannot clash with a written one. */
const ROOT_BASE = "toolgate-when:/schema";

type Node = Record<string, unknown>;

function isObject(v: unknown): v is Node {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function resolveUrl(ref: string, base: string): URL | undefined {
  try {
    return new URL(ref, base);
  } catch {
    return undefined;
  }
}

/** Each subschema directly under `node`, with its keyword and its pointer below `at`. */
function subschemas(node: Node, at: string): { keyword: string; schema: unknown; at: string }[] {
  const out: { keyword: string; schema: unknown; at: string }[] = [];
  for (const keyword of Object.keys(node)) {
    const kind = KEYWORDS.get(keyword);
    const value = node[keyword];
    const here = child(at, keyword);
    if (kind === undefined || kind === Kind.Value) continue;
    if (kind === Kind.Schema) out.push({ keyword, schema: value, at: here });
    else if (kind === Kind.SchemaList || kind === Kind.SchemaOrList) {
      if (Array.isArray(value)) value.forEach((s, i) => out.push({ keyword, schema: s, at: child(here, i) }));
      else if (kind === Kind.SchemaOrList) out.push({ keyword, schema: value, at: here });
    } else if (isObject(value)) {
      for (const name of Object.keys(value)) {
        if (!Array.isArray(value[name])) out.push({ keyword, schema: value[name], at: child(here, name) });
      }
    }
  }
  return out;
}

/** Where each subschema sits and what its `$ref`s resolve against: `$id`s and anchors by URL. */
class SchemaIndex {
  /** The base URL of each subschema (its own `$id`, or its parent's base). */
  readonly base = new Map<Node, string>();
  /** The JSON Pointer of each subschema in the policy. */
  readonly at = new Map<Node, string>();
  private readonly resources = new Map<string, Node>();
  private readonly anchors = new Map<string, Node>();
  /** Every `$dynamicAnchor` by name: a `$dynamicRef` may land on any of them. */
  private readonly dynamicAnchors = new Map<string, Node[]>();

  constructor(root: unknown, path: string) {
    this.resources.set(ROOT_BASE, isObject(root) ? root : {});
    const stack: { node: unknown; base: string; at: string }[] = [{ node: root, base: ROOT_BASE, at: path }];
    while (stack.length > 0) {
      const { node, base: parentBase, at } = stack.pop()!;
      if (!isObject(node) || this.base.has(node)) continue;
      let base = parentBase;
      if (typeof node.$id === "string") {
        const url = resolveUrl(node.$id, parentBase);
        if (url !== undefined) {
          url.hash = "";
          base = url.href;
          this.resources.set(base, node);
        }
      }
      this.base.set(node, base);
      this.at.set(node, at);
      if (typeof node.$anchor === "string") this.anchors.set(`${base}#${node.$anchor}`, node);
      if (typeof node.$dynamicAnchor === "string") {
        this.anchors.set(`${base}#${node.$dynamicAnchor}`, node);
        const list = this.dynamicAnchors.get(node.$dynamicAnchor) ?? [];
        list.push(node);
        this.dynamicAnchors.set(node.$dynamicAnchor, list);
      }
      for (const s of subschemas(node, at)) stack.push({ node: s.schema, base, at: s.at });
    }
  }

  /**
   * The subschemas a reference written in `from` may land on; none when it does not resolve
   * within this schema (ajv then refuses it, or it names a meta-schema, whose cost is fixed).
   */
  targets(from: Node, ref: string, dynamic: boolean): unknown[] {
    const url = resolveUrl(ref, this.base.get(from) ?? ROOT_BASE);
    if (url === undefined) return [];
    const fragment = decodeURIComponent(url.hash.slice(1));
    url.hash = "";
    const out: unknown[] = [];
    const resource = this.resources.get(url.href);
    if (resource !== undefined) {
      if (fragment === "" || fragment.startsWith("/")) {
        const target = pointerTarget(resource, fragment);
        if (target !== undefined) out.push(target);
      } else {
        const anchored = this.anchors.get(`${url.href}#${fragment}`);
        if (anchored !== undefined) out.push(anchored);
      }
    }
    if (dynamic && fragment !== "" && !fragment.startsWith("/")) out.push(...(this.dynamicAnchors.get(fragment) ?? []));
    return out;
  }
}

/** The value at a JSON Pointer fragment below `root`, own properties only. */
function pointerTarget(root: unknown, fragment: string): unknown {
  let v = root;
  for (const raw of fragment === "" ? [] : fragment.slice(1).split("/")) {
    const token = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (v === null || typeof v !== "object" || !hasOwn.call(v, token)) return undefined;
    v = (v as Record<string, unknown>)[token];
  }
  return v;
}

/**
 * The first part of `schema` (found at `path`) where one value of the arguments can cost more
 * than {@link MAX_CHECKS_PER_VALUE} subschema checks, as an issue; none when every part is
 * within it.
 */
export function fanoutIssues(schema: unknown, path: string): ConditionIssue[] {
  const index = new SchemaIndex(schema, path);
  const cost = new Map<Node, number>();
  const open = new Set<Node>();
  /** Subschemas that check a member or an item: each a root, counted on its own. */
  const roots: { schema: unknown; at: string }[] = [{ schema, at: path }];

  const costOf = (node: unknown, at: string): number => {
    if (!isObject(node)) return 1;
    const known = cost.get(node);
    if (known !== undefined) return known;
    // Back at a schema still being counted without descending into the value: a cycle in place.
    if (open.has(node)) return Infinity;
    open.add(node);
    let total = 1;
    for (const s of subschemas(node, at)) {
      if (IN_PLACE.has(s.keyword)) total += costOf(s.schema, s.at);
      else if (!NOT_APPLIED.has(s.keyword)) roots.push({ schema: s.schema, at: s.at });
    }
    for (const keyword of ["$ref", "$dynamicRef"] as const) {
      const ref = node[keyword];
      if (typeof ref !== "string") continue;
      // A `$dynamicRef` lands on one of its targets: the dearest bounds it.
      let most = 0;
      for (const target of index.targets(node, ref, keyword === "$dynamicRef")) {
        most = Math.max(most, costOf(target, isObject(target) ? (index.at.get(target) ?? at) : at));
      }
      total += most;
    }
    open.delete(node);
    cost.set(node, total);
    return total;
  };

  const counted = new Set<unknown>();
  try {
    for (let i = 0; i < roots.length; i++) {
      const root = roots[i]!;
      if (counted.has(root.schema)) continue;
      counted.add(root.schema);
      const checks = costOf(root.schema, root.at);
      if (checks > MAX_CHECKS_PER_VALUE) {
        return [{ code: "condition", path: root.at, message: checks === Infinity ? ENDLESS : TOO_COSTLY }];
      }
    }
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    return [{ code: "condition", path, message: "this when schema chains $refs too deeply to be counted" }];
  }
  return [];
}

const ENDLESS =
  "this when schema never ends on one value: a $ref cycle applies in place (through anyOf, allOf, $ref…) " +
  "without descending into a member or an item";
const TOO_COSTLY =
  `this when schema can cost more than ${MAX_CHECKS_PER_VALUE.toLocaleString("en-US")} checks of one value ` +
  "(anyOf/oneOf through $ref multiply)";
