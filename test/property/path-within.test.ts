/**
 * `pathWithin` against an obviously correct reference: node's `path.posix.resolve` and a
 * segment-by-segment prefix check, over generated paths made of `.`, `..`, `/`, `//`, names
 * (some of them hostile: `%2e%2e`, `...`, NUL, `\`) and the listed roots themselves.
 */

import { posix } from "node:path";
import fc from "fast-check";
import { compilePolicy, type Policy } from "toolgate";
import { describe, expect, it } from "vitest";
import { params } from "./arbitraries.js";

/** The reference: what docs/spec.md says, written the slow and plain way. */
function referenceWithin(value: unknown, roots: readonly string[]): boolean {
  if (typeof value !== "string" || value.length > 65_536) return false;
  if (!value.startsWith("/") || value.includes("\u0000") || value.includes("\\")) return false;
  const segments = (p: string) =>
    posix
      .resolve(p)
      .split("/")
      .filter((s) => s !== "");
  const v = segments(value);
  return roots.some((root) => {
    const r = segments(root);
    return r.length <= v.length && r.every((s, i) => v[i] === s);
  });
}

const ROOTS = ["/", "/srv", "/srv/data", "/srv/data2", "/srv/data/public", "/a/b", "/a/b/c", "/%2e%2e", "/..."];

/** A listed root as an author may write it: with `//`, `/./` or a trailing `/`. */
const listedRoot = fc
  .tuple(fc.constantFrom("", "/", "/."), fc.constantFrom(...ROOTS), fc.constantFrom("", "/", "/.", "//"))
  .map(([pre, root, post]) => pre + root + post);

const SEGMENT = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(".", "..", "", "srv", "data", "data2", "public", "private", "a", "b", "c") },
  {
    weight: 2,
    arbitrary: fc.constantFrom("%2e%2e", "%2e", "...", "..a", "a..", ". .", " ..", "..\u200b", "．．", "%00", "~"),
  },
  { weight: 1, arbitrary: fc.constantFrom("a\u0000", "..\\..", "\\", "a\\b") },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
);

/** A path from segments, joined by `/` or `//`, mostly absolute, sometimes built on a root. */
const pathValue = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.constantFrom("/", "/", "/", "//", "", "./", "~/"),
        fc.array(fc.tuple(SEGMENT, fc.constantFrom("/", "/", "//")), { maxLength: 8 }),
        fc.boolean(),
      )
      .map(
        ([lead, parts, trailing]) =>
          lead + parts.map(([s, sep], i) => (i === 0 ? s : sep + s)).join("") + (trailing ? "/" : ""),
      ),
  },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.constantFrom(...ROOTS),
        fc.array(fc.tuple(fc.constantFrom("/", "//", "/./"), SEGMENT), { maxLength: 6 }),
      )
      .map(([root, parts]) => root + parts.map(([sep, s]) => sep + s).join("")),
  },
  { weight: 1, arbitrary: fc.constantFrom(...ROOTS) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 1 }).filter((v) => typeof v !== "string") },
);

function policyFor(roots: readonly string[]): Policy {
  return compilePolicy({
    version: "1",
    default: "deny",
    tools: {
      read: {
        rules: [
          {
            when: {
              args: { properties: { path: { pathWithin: roots.length === 1 ? roots[0] : roots } }, required: ["path"] },
            },
          },
        ],
      },
    },
  });
}

describe("pathWithin agrees with path.posix.resolve and a segment-wise prefix check", () => {
  const { numRuns, seed } = params(2_000);
  // Compiling is the slow part, deciding the fast one: a pool of generated root lists,
  // compiled once, each run picks one of them and judges 16 generated paths.
  const pool = fc
    .sample(fc.array(listedRoot, { minLength: 1, maxLength: 3 }), { numRuns: 64, seed: 13 })
    .map((roots) => ({ roots, policy: policyFor(roots) }));
  it(`for generated roots and paths (${numRuns} runs × 16 paths, over ${pool.length} generated root lists)`, () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...pool),
        fc.array(pathValue, { minLength: 16, maxLength: 16 }),
        ({ roots, policy }, paths) => {
          for (const path of paths) {
            const got = policy.decideSync({ tool: "read", args: { path }, session: { id: "s" } }).outcome;
            const want = referenceWithin(path, roots) ? "allow" : "deny";
            if (got !== want)
              expect.fail(
                `${JSON.stringify(path)} within ${JSON.stringify(roots)}: ${got}, the reference says ${want}`,
              );
          }
        },
      ),
      { numRuns, ...(seed === undefined ? {} : { seed }) },
    );
  });

  it(`for generated paths, resolution never changes the answer (${numRuns} cases)`, () => {
    // Writing the resolved form instead of the original (as a server would open it) gives the
    // same answer: nothing the check resolves can carry a path out of, or into, a root.
    const policy = policyFor(["/srv/data", "/a/b"]);
    const o = (path: unknown) => policy.decideSync({ tool: "read", args: { path }, session: { id: "s" } }).outcome;
    fc.assert(
      fc.property(pathValue, (path) => {
        if (typeof path !== "string" || !path.startsWith("/") || path.includes("\u0000") || path.includes("\\")) return;
        expect(o(path)).toBe(o(posix.resolve(path)));
      }),
      { numRuns, ...(seed === undefined ? {} : { seed }) },
    );
  });

  it(`for the listed roots: written with //, /. or a trailing / they mean the same (${numRuns} cases)`, () => {
    const compiled = new Map<string, Policy>();
    const policy = (root: string) => compiled.get(root) ?? compiled.set(root, policyFor([root])).get(root)!;
    fc.assert(
      fc.property(listedRoot, fc.array(pathValue, { minLength: 8, maxLength: 8 }), (root, paths) => {
        const plain = policy(posix.resolve(root));
        const written = policy(root);
        for (const path of paths) {
          const call = { tool: "read", args: { path }, session: { id: "s" } };
          expect(written.decideSync(call).outcome).toBe(plain.decideSync(call).outcome);
        }
      }),
      { numRuns, ...(seed === undefined ? {} : { seed }) },
    );
  });
});
