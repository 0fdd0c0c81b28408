/**
 * Issue 7 item 3: regular expressions in `when` schemas run against attacker-controlled
 * arguments. The engine runs `pattern`, `patternProperties` and `propertyNames` on a
 * linear-time engine (RE2 semantics), so known catastrophic patterns against 50,000-character
 * inputs finish at once; patterns RE2 cannot express (backreferences, lookaround) are policy
 * errors at their path. The patterns must still mean what they say.
 */

import { compilePolicy, MemoryStore, validatePolicy } from "toolgate";
import { describe, expect, it } from "vitest";
import { timed } from "./guards.js";

/** Known evil patterns, each with an input that makes a backtracking engine explode. */
const EVIL: [string, string, string][] = [
  // [pattern, input that must not match, input that must match]
  ["^(a+)+$", `${"a".repeat(50_000)}!`, "aaaa"],
  ["^(a|aa)+$", `${"a".repeat(50_000)}!`, "aaa"],
  ["(a|aa)+$", `${"a".repeat(50_000)}!`, "xaa"],
  ["^(a|a)*b$", "a".repeat(50_000), "aab"],
  ["^(.*a){20}$", "a".repeat(50_000).replace(/a$/, "b"), "a".repeat(20)],
  ["^(\\w+\\s?)*$", `${"word ".repeat(10_000)}!`, "two words"],
  ["^(\\d+)*$", `${"1".repeat(50_000)}x`, "123"],
  ["^(x+x+)+y$", "x".repeat(50_000), "xxy"],
  ["^(([a-z])+.)+[A-Z]([a-z])+$", "a".repeat(50_000), "ab.Cd"],
  [
    "^([a-zA-Z0-9])(([\\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$",
    `${"a".repeat(50_000)}!`,
    "a.b@c.com",
  ],
  ["^(?:a+)+b$", "a".repeat(50_000), "aab"],
  ["(a*)*b", "a".repeat(50_000), "b"],
];

function policyWith(schema: unknown) {
  return compilePolicy(
    { version: "1", default: "deny", tools: { t: { rules: [{ when: { args: schema } }] } } },
    { store: new MemoryStore({ maxKeys: 10 }) },
  );
}

const STALL_MS = 2_000;

describe("evil patterns against 50,000-character arguments", () => {
  it.each(EVIL)("%s finishes at once and still means what it says", async (pattern, bad, good) => {
    const policy = policyWith({ properties: { s: { pattern } } });
    const { value: refused, ms } = await timed(() =>
      policy.decideSync({ tool: "t", session: { id: "s" }, args: { s: bad } }),
    );
    expect(ms).toBeLessThan(STALL_MS);
    expect(refused.outcome, `${pattern} must not match the evil input`).toBe("deny");
    expect(
      policy.decideSync({ tool: "t", session: { id: "s" }, args: { s: good } }).outcome,
      `${pattern} must match ${good}`,
    ).toBe("allow");
  });

  it.each(EVIL)("%s as a patternProperties key finishes at once", async (pattern, bad) => {
    const policy = policyWith({ patternProperties: { [pattern]: false } });
    const { value, ms } = await timed(() => policy.decideSync({ tool: "t", session: { id: "s" }, args: { [bad]: 1 } }));
    expect(ms).toBeLessThan(STALL_MS);
    expect(value.outcome).toBe("allow");
  });

  it.each(EVIL)("%s in propertyNames finishes at once", async (pattern, bad) => {
    const policy = policyWith({ propertyNames: { pattern } });
    const { value, ms } = await timed(() => policy.decideSync({ tool: "t", session: { id: "s" }, args: { [bad]: 1 } }));
    expect(ms).toBeLessThan(STALL_MS);
    expect(value.outcome).toBe("deny");
  });

  it("runs every evil pattern against a hundred 50,000-character values in one call without stalling", async () => {
    const properties = Object.fromEntries(EVIL.map(([pattern], i) => [`p${i}`, { pattern }]));
    const policy = policyWith({ properties, additionalProperties: { pattern: EVIL[0]![0] } });
    const args: Record<string, string> = Object.fromEntries(EVIL.map(([, bad], i) => [`p${i}`, bad]));
    for (let i = 0; i < 100; i++) args[`extra${i}`] = `${"a".repeat(50_000)}!`;
    const { value, ms } = await timed(() => policy.decide({ tool: "t", session: { id: "s" }, args }));
    expect(ms).toBeLessThan(STALL_MS * 5);
    expect(value.outcome).toBe("deny");
  });
});

describe("patterns RE2 cannot run are policy errors at their path", () => {
  it.each([
    ["(a)\\1", "backreference"],
    ["(?<n>a)\\k<n>", "named backreference"],
    ["a(?=b)", "lookahead"],
    ["a(?!b)", "negative lookahead"],
    ["(?<=a)b", "lookbehind"],
    ["(?<!a)b", "negative lookbehind"],
  ])("%s (%s)", (pattern) => {
    const cases: [unknown, string][] = [
      [{ properties: { s: { pattern } } }, "/tools/t/rules/0/when/args/properties/s/pattern"],
      [{ propertyNames: { pattern } }, "/tools/t/rules/0/when/args/propertyNames/pattern"],
      [{ patternProperties: { [pattern]: true } }, "/tools/t/rules/0/when/args/patternProperties"],
    ];
    for (const [schema, path] of cases) {
      const result = validatePolicy({
        version: "1",
        default: "deny",
        tools: { t: { rules: [{ when: { args: schema } }] } },
      });
      expect(result.valid).toBe(false);
      if (!result.valid)
        expect(
          result.issues.some((i) => i.path.startsWith(path)),
          JSON.stringify(result.issues),
        ).toBe(true);
    }
  });

  it("rejects a pattern that is not a valid regular expression", () => {
    const result = validatePolicy({
      version: "1",
      default: "deny",
      tools: { t: { rules: [{ when: { args: { pattern: "([a-" } } }] } },
    });
    expect(result.valid).toBe(false);
    if (!result.valid) expect(result.issues[0]!.path).toBe("/tools/t/rules/0/when/args/pattern");
  });
});

describe("pattern semantics", () => {
  it("is unanchored unless anchored, case-sensitive, and Unicode-aware", () => {
    const p = policyWith({ properties: { s: { pattern: "b+" }, u: { pattern: "^\\p{Lu}" }, e: { pattern: "^.$" } } });
    const allow = (args: Record<string, unknown>) =>
      p.decideSync({ tool: "t", session: { id: "s" }, args }).outcome === "allow";
    expect(allow({ s: "abbbc" })).toBe(true);
    expect(allow({ s: "ac" })).toBe(false);
    expect(allow({ s: "B" })).toBe(false);
    expect(allow({ u: "Émile" })).toBe(true);
    expect(allow({ u: "émile" })).toBe(false);
    expect(allow({ e: "😀" })).toBe(true);
  });
});
