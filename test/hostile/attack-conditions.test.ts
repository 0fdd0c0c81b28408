/**
 * Adversarial review of 0.2 (issue 11), issue 10 items 2, 5, 6, 8 and 10 rerun against the build:
 * every registered format and the costly keywords timed on adversarial 100 KB and 1 MB inputs in
 * a child process with a timeout (a stall fails, it does not hang the suite); ECMA-262 `\s`, `\S`
 * and `.` in `pattern`; prototype names in conditions; prototype-named keywords under
 * `dependencies`; the 5,000,000-value limit for JSON text.
 */

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { compilePolicy, validatePolicy, type JsonSchema, type PolicyDocument } from "toolgate";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const S = { id: "s" };

interface Timing {
  name: string;
  small: number;
  large: number;
  outcome: string;
}

/**
 * Runs the timing script in a child; each case decides a call at 500 KB and at 1 MB, three times
 * each, and keeps the fastest (the least disturbed by other work on the machine).
 */
function timeInChild(script: string, timeoutMs = 50_000): Timing[] {
  const code = `
    const { compilePolicy } = await import("toolgate");
    const results = [];
    const time = (policy, call) => {
      let best = Infinity, d;
      for (let k = 0; k < 3; k++) { const t = performance.now(); d = policy.decideSync(call); best = Math.min(best,
          performance.now() - t); }
      return [best, d];
    };
    const run = (name, when, make) => {
      let policy;
      try {
        policy = compilePolicy({ version: "1", default: "deny", tools: { t: { rules: [{ when },
            { action: "deny" }] } } });
      } catch (e) { results.push({ name, small: -1, large: -1, outcome: "compile error: " + String(e.message).slice(0,
          200) }); return; }
      time(policy, { tool: "t", args: make(1000), session: { id: "s" } });
      const [small] = time(policy, { tool: "t", args: make(500_000), session: { id: "s" } });
      const [large, d] = time(policy, { tool: "t", args: make(1_000_000), session: { id: "s" } });
      results.push({ name, small, large, outcome: d.outcome + (d.cause ? ":" + d.cause : "") });
    };
    ${script}
    console.log(JSON.stringify(results));`;
  const r = spawnSync(process.execPath, ["--max-old-space-size=1024", "--input-type=module", "-e", code], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: timeoutMs,
  });
  if (r.status !== 0)
    throw new Error(`child failed (status ${r.status}, signal ${r.signal}): ${r.stderr.slice(0, 2000)}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Timing[];
}

// Each input family is a known worst case for some regular-expression check.
const FORMAT_SCRIPT = `
  const formats = ["date", "time", "date-time", "iso-time", "iso-date-time", "duration", "uri", "uri-reference",
    "uri-template", "url", "email", "hostname", "ipv4", "ipv6", "regex", "uuid", "json-pointer",
    "json-pointer-uri-fragment", "relative-json-pointer", "byte", "int32", "int64", "float", "double",
    "password", "binary", "idn-email", "idn-hostname", "iri", "iri-reference"];
  const families = {
    a: (n) => "a".repeat(n),
    digits: (n) => "1".repeat(n),
    dots: (n) => "a.".repeat(n / 2),
    url: (n) => "http://" + "a".repeat(n),
    urlpath: (n) => "http://a/" + "%".repeat(n),
    at: (n) => "a@" + "a-".repeat(n / 2),
    colons: (n) => "1:".repeat(n / 2),
    braces: (n) => "{" + "a,".repeat(n / 2),
    tees: (n) => "2020-01-01" + "T".repeat(n),
    slashes: (n) => "/" + "~".repeat(n),
    mixed: (n) => "0" + "-0:".repeat(n / 3) + "!",
  };
  for (const f of formats) {
    let worst = null;
    for (const [fam, mk] of Object.entries(families)) {
      const before = results.length;
      run(f + "/" + fam, { args: { properties: { v: { format: f } } } }, (n) => ({ v: mk(n) }));
      const r = results.pop();
      if (worst === null || r.large > worst.large) worst = r;
    }
    results.push(worst);
  }`;

describe("attack: every format on adversarial 1 MB strings (issue 10 item 2)", () => {
  const timings = timeInChild(FORMAT_SCRIPT);

  it("the standard formats compile (unknown ones are policy errors, not silently true)", () => {
    const compiled = timings.filter((t) => !t.outcome.startsWith("compile error")).map((t) => t.name.split("/")[0]);
    for (const f of [
      "date",
      "time",
      "date-time",
      "duration",
      "uri",
      "uri-reference",
      "email",
      "hostname",
      "ipv4",
      "ipv6",
    ])
      expect(compiled).toContain(f);
    for (const f of ["uuid", "json-pointer", "relative-json-pointer", "regex", "uri-template", "url"])
      expect(compiled).toContain(f);
  });

  it("refuses exactly the four IDNA and IRI formats, as docs/spec.md says (was a BUG: undocumented)", () => {
    // docs/spec.md section 1: the standard formats are checked, except idn-email, idn-hostname,
    // iri and iri-reference, which need IDNA and IRI parsing that toolgate does not write; a
    // policy naming them is an error (fails closed), never a condition that always holds.
    const rejected = timings.filter((t) => t.outcome.startsWith("compile error")).map((t) => t.name.split("/")[0]);
    expect([...new Set(rejected)].sort()).toEqual(["idn-email", "idn-hostname", "iri", "iri-reference"]);
  });

  // Linear is 2x from 500 KB to 1 MB, quadratic 4x: a case fails above 3.2x once it takes > 500 ms
  // (below that, load from other work moves the ratio).
  const tooSlow = (t: Timing, bound: number) =>
    t.large > bound || (t.large > 500 && t.large > 3.2 * Math.max(t.small, 1));

  it("each format's worst family answers in < 2 s at 1 MB and grows at most ~linearly from 500 KB", () => {
    const slow = timings.filter((t) => t.large >= 0 && tooSlow(t, 2_000));
    // The figures, for the report: name, ms at 100 KB, ms at 1 MB.
    console.log(timings.map((t) => `${t.name} ${t.small.toFixed(1)} ${t.large.toFixed(1)} ${t.outcome}`).join("\n"));
    expect(slow).toEqual([]);
  });
});

const KEYWORD_SCRIPT = `
  const objs = (n) => Array.from({ length: Math.floor(n / 20) }, (_, i) => ({ a: i, b: [i, { c: String(i) }] }));
  run("uniqueItems objects", { args: { properties: { v: { uniqueItems: true } } } }, (n) => ({ v: objs(n) }));
  run("uniqueItems near-duplicates", { args: { properties: { v: { uniqueItems: true } } } },
    (n) => ({ v: Array.from({ length: n / 20 }, (_, i) => ({ k: "x".repeat(10), i: i === 0 ? 1 : 0 })) }));
  run("contains never", { args: { properties: { v: { contains: { const: "zz" } } } } },
      (n) => ({ v: Array.from({ length: n / 2 }, () => "a") }));
  run("contains minContains", { args: { properties: { v: { contains: { type: "string" }, minContains: 1e6 } } } },
      (n) => ({ v: Array.from({ length: n / 2 }, () => "a") }));
  run("const deep", { args: { properties: { v: { const: { a: [1, 2, 3] } } } } },
      (n) => ({ v: { a: Array.from({ length: n / 2 }, () => 1) } }));
  run("enum of objects", { args: { properties: { v: { enum: [{ a: 1 }, { a: 2 }, [1, 2], "x"] } } } },
      (n) => ({ v: Array.from({ length: n / 2 }, () => ({ a: 1 })) }));
  run("pattern \\\\s+$", { args: { properties: { v: { pattern: "\\\\s+$" } } } }, (n) => ({ v: " ".repeat(n) + "x" }));
  run("pattern (a|a)*b", { args: { properties: { v: { pattern: "^(a|a)*b$" } } } }, (n) => ({ v: "a".repeat(n) }));
  run("pattern (a+)+$", { args: { properties: { v: { pattern: "(a+)+$" } } } }, (n) => ({ v: "a".repeat(n) + "!" }));
  run("maxLength astral", { args: { properties: { v: { maxLength: 10 } } } },
      (n) => ({ v: "\\u{1F600}".repeat(n / 2) }));
  run("minLength astral", { args: { properties: { v: { minLength: 1e7 } } } },
      (n) => ({ v: "\\u{1F600}".repeat(n / 2) }));
  run("propertyNames pattern", { args: { propertyNames: { pattern: "^[a-z]+$" } } },
    (n) => Object.fromEntries(Array.from({ length: n / 10 }, (_, i) => ["k" + i, 1])));
  run("patternProperties", { args: { patternProperties: { "^x.*y$": { type: "number" } } } },
    (n) => Object.fromEntries(Array.from({ length: n / 10 }, (_, i) => ["x" + "a".repeat(5) + i, 1])));
  run("additionalProperties false", { args: { properties: { a: {} }, additionalProperties: false } },
    (n) => Object.fromEntries(Array.from({ length: n / 10 }, (_, i) => ["k" + i, 1])));
  run("dependentRequired", { args: { dependentRequired: { a: ["b", "c"] } } },
    (n) => Object.fromEntries(Array.from({ length: n / 10 }, (_, i) => ["k" + i, 1]).concat([["a", 1]])));
  run("required 10,000 names", { args: { required: Array.from({ length: 10_000 }, (_, i) => "r" + i) } },
    (n) => Object.fromEntries(Array.from({ length: n / 10 }, (_, i) => ["r" + i, 1])));
  run("multipleOf 0.01", { args: { properties: { v: { items: { multipleOf: 0.01 } } } } },
      (n) => ({ v: Array.from({ length: n / 10 }, () => 1e300) }));
  run("pathWithin", { args: { properties: { v: { pathWithin: "/workspace" } } } },
      (n) => ({ v: "/workspace" + "/..".repeat(n / 3) }));
  run("pathWithin dots", { args: { properties: { v: { pathWithin: "/workspace" } } } },
      (n) => ({ v: "/workspace/" + "./".repeat(n / 2) + "x" }));
  run("urlHostIn", { args: { properties: { v: { urlHostIn: "*.example.com" } } } },
      (n) => ({ v: "https://" + "a.".repeat(n / 2) + "example.com/" }));
  run("urlHostIn idna", { args: { properties: { v: { urlHostIn: "example.com" } } } },
      (n) => ({ v: "https://" + "\\u00e9".repeat(n) + ".com/" }));
  run("items $ref deep", { args: { $defs: { n: { type: "array", items: { $ref: "#/$defs/n" } } },
      properties: { v: { $ref: "#/$defs/n" } } } },
    (n) => { let v = []; for (let i = 0; i < Math.min(n / 100, 10_000); i++) v = [v]; return { v }; });
  run("oneOf wide", { args: { properties: { v: { items: { oneOf: [{ type: "string" }, { type: "number" },
      { const: "a" }] } } } } },
    (n) => ({ v: Array.from({ length: n / 4 }, () => "a") }));
`;

describe("attack: keywords on adversarial 1 MB arguments (issue 10 item 2)", () => {
  const timings = timeInChild(KEYWORD_SCRIPT);

  const tooSlow = (t: Timing, bound: number) =>
    t.large > bound || (t.large > 500 && t.large > 3.2 * Math.max(t.small, 1));

  it("every keyword compiles and answers in < 3 s at 1 MB, growing at most ~linearly", () => {
    console.log(timings.map((t) => `${t.name} ${t.small.toFixed(1)} ${t.large.toFixed(1)} ${t.outcome}`).join("\n"));
    expect(timings.filter((t) => t.outcome.startsWith("compile error"))).toEqual([]);
    const slow = timings.filter((t) => tooSlow(t, 3_000));
    expect(slow).toEqual([]);
  });

  it("the answers are right where the answer is known", () => {
    const by = Object.fromEntries(timings.map((t) => [t.name, t.outcome]));
    expect(by["uniqueItems objects"]).toBe("allow");
    expect(by["uniqueItems near-duplicates"]).toBe("deny:policy");
    expect(by["contains never"]).toBe("deny:policy");
    expect(by["pattern (a|a)*b"]).toBe("deny:policy");
    expect(by["maxLength astral"]).toBe("deny:policy");
    // "/workspace/../.." resolves to "/"; values over 65,536 characters fail (docs/conditions.md).
    expect(by["pathWithin"]).toBe("deny:policy");
    expect(by["pathWithin dots"]).toBe("deny:policy");
    expect(by["urlHostIn"]).toBe("deny:policy");
  });
});

describe("attack: ECMA-262 semantics of pattern (issue 10 item 5)", () => {
  /** Whether `pattern` holds on `value` through a compiled policy (allow) or not (deny). */
  const holds = (pattern: string, value: string): boolean =>
    compilePolicy({
      version: "1",
      default: "deny",
      tools: { t: { rules: [{ when: { args: { properties: { v: { pattern } }, required: ["v"] } } }] } },
    }).decideSync({ tool: "t", args: { v: value }, session: S }).outcome === "allow";
  const ws = [
    "\u00a0",
    "\u000b",
    "\u000c",
    "\u2028",
    "\u2029",
    "\u3000",
    "\ufeff",
    "\u2009",
    "\u1680",
    "\u202f",
    "\u205f",
  ];

  it.each(ws.map((c) => [c.codePointAt(0)!.toString(16)]))("\\s matches U+%s and \\S does not, as RegExp u", (hex) => {
    const c = String.fromCodePoint(parseInt(hex, 16));
    expect(holds("rm\\s+-rf", `rm${c}-rf /`)).toBe(true);
    expect(holds("^[\\s]x$", `${c}x`)).toBe(true);
    expect(holds("^\\S+$", `ls${c}x`)).toBe(false);
    expect(holds("^[^\\S]$", c)).toBe(true);
  });

  it.each(["\n", "\r", "\u2028", "\u2029"].map((c) => [JSON.stringify(c)]))(
    ". does not match the line terminator %s",
    (lit) => {
      const c = JSON.parse(lit) as string;
      expect(holds("^a.b$", `a${c}b`)).toBe(false);
      expect(holds("^a[^x]b$", `a${c}b`)).toBe(true);
    },
  );

  it(". matches one astral code point; \\w, \\b and \\d stay ASCII", () => {
    expect(holds("^a.b$", "a\u{1F600}b")).toBe(true);
    expect(holds("^\\d$", "\u0661")).toBe(false);
    expect(holds("^\\w$", "\u00e9")).toBe(false);
    expect(holds("\\bx", "\u00e9x")).toBe(true);
    expect(holds("^[a-z]$", "\u212a")).toBe(false);
  });

  it("patterns RE2 cannot run linearly, or that are not ECMA-262, are policy errors, never skipped", () => {
    for (const pattern of ["(a)\\1", "(?<=a)b", "(?=a)", "[", "a{2,1}", "\\p{Foo}", "(?i)a"]) {
      const r = validatePolicy({
        version: "1",
        default: "allow",
        tools: { t: { rules: [{ when: { args: { pattern } } }] } },
      });
      expect(r.valid, pattern).toBe(false);
    }
  });
});

describe("attack: prototype names in conditions (issue 10 items 6 and 8)", () => {
  const mk = (when: object): PolicyDocument => ({
    version: "1",
    default: "deny",
    tools: { t: { rules: [{ when: { args: when as JsonSchema } }, { action: "deny" }] } },
  });
  const allow = (when: object, args: object) =>
    compilePolicy(mk(when)).decideSync({ tool: "t", args: args as never, session: S }).outcome;

  it.each(["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "__defineGetter__"])(
    "required [%s] does not hold on {} and holds on an own member",
    (name) => {
      expect(allow({ required: [name] }, {})).toBe("deny");
      expect(allow({ required: [name] }, JSON.parse(`{"${name}": 1}`))).toBe("allow");
    },
  );

  it("properties.__proto__ and properties.constructor are checked on own members", () => {
    expect(allow(JSON.parse('{"properties": {"__proto__": {"type": "string"}}}'), JSON.parse('{"__proto__": 5}'))).toBe(
      "deny",
    );
    expect(allow(JSON.parse('{"properties": {"__proto__": {"type": "string"}}}'), {})).toBe("allow");
    expect(allow({ properties: { constructor: { type: "string" } } }, { constructor: 5 })).toBe("deny");
    expect(allow({ properties: { constructor: { type: "string" } } }, {})).toBe("allow");
    expect(allow({ dependentRequired: { constructor: ["x"] } }, {})).toBe("allow");
    expect(allow({ dependentRequired: { constructor: ["x"] } }, { constructor: 1 })).toBe("deny");
    expect(allow({ propertyNames: { not: { const: "__proto__" } } }, JSON.parse('{"__proto__": 1}'))).toBe("deny");
  });

  it.each(["constructor", "__proto__", "toString", "hasOwnProperty", "isPrototypeOf"])(
    "%s as a keyword anywhere (also under dependencies, dependentSchemas, $defs) is a policy error",
    (kw) => {
      for (const when of [
        JSON.parse(`{"${kw}": {}}`),
        JSON.parse(`{"dependencies": {"a": {"${kw}": {}}}}`),
        JSON.parse(`{"dependentSchemas": {"a": {"${kw}": 1}}}`),
        JSON.parse(`{"properties": {"a": {"${kw}": {}}}}`),
        JSON.parse(`{"items": {"${kw}": []}}`),
        JSON.parse(`{"not": {"${kw}": true}}`),
      ]) {
        const r = validatePolicy(mk(when));
        expect(r.valid, JSON.stringify(when)).toBe(false);
      }
    },
  );
});

describe("attack: the 5,000,000-value limit for JSON text (issue 10 item 10)", () => {
  it("validatePolicy and the CLI refuse JSON text past the bound in bounded time", () => {
    const code = `
      const { validatePolicy } = await import("toolgate");
      const { writeFileSync, mkdtempSync, rmSync } = await import("node:fs");
      const { tmpdir } = await import("node:os");
      const { join } = await import("node:path");
      const { spawnSync } = await import("node:child_process");
      // 5,000,001 values: a tools key whose value holds an array of 5,000,000 zeros.
      const text = '{"version":"1","default":"deny","tools":{"t":{"rules":[{"when":{"args":{"enum":[' +
        "0,".repeat(4_999_999) + '0]}}}]}}}';
      const t0 = performance.now();
      const r = validatePolicy(text);
      const ms = performance.now() - t0;
      const dir = mkdtempSync(join(tmpdir(), "tg-attack-"));
      try {
        writeFileSync(join(dir, "p.json"), text);
        const cli = spawnSync(process.execPath, ["dist/cli.js", "validate", join(dir, "p.json")], { encoding: "utf8",
            timeout: 30_000 });
        console.log(JSON.stringify({ valid: r.valid, issues: (r.issues ?? []).slice(0, 2), ms, cli: cli.status,
            err: cli.stdout.slice(0, 300) + cli.stderr.slice(0, 300) }));
      } finally { rmSync(dir, { recursive: true, force: true }); }`;
    const r = spawnSync(process.execPath, ["--max-old-space-size=2048", "--input-type=module", "-e", code], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 55_000,
    });
    expect(r.status, r.stderr.slice(0, 1000)).toBe(0);
    const out = JSON.parse(r.stdout) as {
      valid: boolean;
      issues: { message: string }[];
      ms: number;
      cli: number;
      err: string;
    };
    expect(out.valid).toBe(false);
    expect(JSON.stringify(out.issues)).toMatch(/5,000,000|5000000|values/);
    expect(out.cli).toBe(1);
    expect(out.err).toMatch(/5,000,000|5000000|values/);
  }, 60_000);
});
