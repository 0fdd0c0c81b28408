/**
 * Issue 10 item 2: `format` checks run on values an attacker writes, so each must take time
 * linear in the value (or bounded by a length cap). ajv-formats' `url` took 12–14 s on a
 * 100 KB string. Every format a `when` schema can name is timed here against adversarial inputs
 * at 20 KB and at 1 MB, through the public API, and must scale like a linear pass over the value
 * (test/hostile/scaling.ts: a complexity bound, not a wall-clock one); the figures are printed as a table. The formats
 * whose checks were replaced are also checked to mean what they did (or what docs/conditions.md
 * says they now mean).
 */

import formatsPlugin from "ajv-formats";
import fc from "fast-check";
import { compilePolicy, MemoryStore, validatePolicy } from "toolgate";
import { describe, expect, it } from "vitest";
import { params } from "../property/arbitraries.js";
import { linearity, table, type Scaling } from "./scaling.js";

type Check = RegExp | ((s: string) => boolean) | { validate: RegExp | ((s: string) => boolean) } | true;
const plugin = ((formatsPlugin as unknown as { default?: unknown }).default ?? formatsPlugin) as {
  get(name: string): Check;
};
const { formatNames } = (await import("ajv-formats/dist/formats.js")) as unknown as { formatNames: string[] };

/** The formats JSON Schema applies to strings (the others — int32, float… — to numbers, in O(1)). */
const NUMBER_FORMATS = new Set(["int32", "int64", "float", "double"]);
const STRING_FORMATS = formatNames.filter((f) => !NUMBER_FORMATS.has(f));

function policyFor(format: string) {
  return compilePolicy(
    {
      version: "1",
      default: "deny",
      tools: { t: { rules: [{ when: { args: { properties: { v: { format } }, required: ["v"] } } }] } },
    },
    { store: new MemoryStore({ maxKeys: 10 }) },
  );
}

function holds(policy: ReturnType<typeof policyFor>, v: unknown): boolean {
  return policy.decideSync({ tool: "t", session: { id: "s" }, args: { v } }).outcome === "allow";
}

const fill = (unit: string, n: number) => unit.repeat(Math.max(1, Math.floor(n / unit.length)));

/** Shapes that make backtracking expressions slow: long runs of one class, then a failing end. */
const GENERIC: [string, (n: number) => string][] = [
  ["a…", (n) => fill("a", n)],
  ["a…!", (n) => `${fill("a", n - 1)}!`],
  ["1…x", (n) => `${fill("1", n - 1)}x`],
  ["a.…!", (n) => `${fill("a.", n - 1)}!`],
  [":…", (n) => fill(":", n)],
  ["%a…", (n) => fill("%a", n)],
];

/** Shapes aimed at one format's grammar. */
const SPECIFIC: Record<string, [string, (n: number) => string][]> = {
  url: [
    ["http://a…!", (n) => `http://${fill("a", n)}!`],
    ["http://a:…@", (n) => `http://a${fill(":", n)}@`],
    ["http://a.…!", (n) => `http://${fill("a.", n)}!`],
    ["http://h/path…", (n) => `http://h.example/${fill("p/", n)}`],
    ["http://a-…", (n) => `http://${fill("a-", n)}`],
  ],
  uri: [
    ["a://a… ", (n) => `a://${fill("a", n)} `],
    ["a://:…", (n) => `a://${fill(":", n)}`],
    ["a:/a… ", (n) => `a:${fill("/a", n)} `],
    ["a://[1:…", (n) => `a://[${fill("1:", n)}`],
    ["a://u@h/…?…#…", (n) => `a://u@h/${fill("p", n / 3)}?${fill("q", n / 3)}#${fill("f", n / 3)}`],
  ],
  "uri-reference": [
    ["//a… ", (n) => `//${fill("a", n)} `],
    ["a:… ", (n) => `${fill("a:", n)} `],
    ["/a… ", (n) => `${fill("/a", n)} `],
    ["?…#…", (n) => `?${fill("q", n / 2)}#${fill("f", n / 2)}\\`],
  ],
  "uri-template": [
    ["/a…~", (n) => `${fill("/a", n - 1)}~`],
    ["{a…", (n) => `{${fill("a", n)}`],
    ["{a,a…", (n) => `{a${fill(",a", n)}`],
    ["x{a}…%", (n) => `${fill("x{a}", n)}%`],
  ],
  email: [
    ["a@a…!", (n) => `a@${fill("a", n)}!`],
    ["a.…@", (n) => `${fill("a.", n)}@`],
  ],
  hostname: [["a-…!", (n) => `${fill("a-", n)}!`]],
  duration: [
    ["P1…", (n) => `P${fill("1", n)}`],
    ["PT1…X", (n) => `PT${fill("1", n)}X`],
    ["P1Y1M…", (n) => `P${fill("1Y1M", n)}`],
  ],
  date: [["2020-01-01…", (n) => `2020-01-01${fill("1", n)}`]],
  time: [["00:00:00.1…x", (n) => `00:00:00.${fill("1", n)}x`]],
  "iso-time": [["00:00:00.1…x", (n) => `00:00:00.${fill("1", n)}x`]],
  "date-time": [
    ["…T00:00:00.1…x", (n) => `2020-01-01T00:00:00.${fill("1", n)}x`],
    ["…t t t…", (n) => `2020-01-01${fill("t", n)}`],
  ],
  "iso-date-time": [["… 00:00:00.1…x", (n) => `2020-01-01 00:00:00.${fill("1", n)}x`]],
  "json-pointer": [
    ["/a…~", (n) => `${fill("/a", n - 1)}~`],
    ["/…~", (n) => `${fill("/", n)}~`],
    ["~0…~", (n) => `/${fill("~0", n)}~`],
  ],
  "json-pointer-uri-fragment": [["#/a…~", (n) => `#${fill("/a", n)}~`]],
  "relative-json-pointer": [
    ["1…/a…~", (n) => `${fill("1", n / 2)}${fill("/a", n / 2)}~`],
    ["0#…", (n) => `0${fill("#", n)}`],
  ],
  byte: [
    ["QUJD…!", (n) => `${fill("QUJD", n)}!`],
    ["A…=", (n) => `${fill("A", n)}=`],
  ],
  regex: [
    ["(?:…)", (n) => `${fill("(?:", (3 * n) / 4)}${fill(")", n / 4)}`],
    ["a|a|…", (n) => fill("a|", n)],
    ["[a-b…]", (n) => `[${fill("a-b", n)}]`],
    ["(…)", (n) => `${fill("(", n / 2)}${fill(")", n / 2)}`],
    ["\\\\…", (n) => fill("\\", n)],
    ["a{1,2}…", (n) => fill("a{1,2}", n)],
  ],
  ipv6: [["1:…", (n) => fill("1:", n)]],
  uuid: [["0-…", (n) => fill("0-", n)]],
};

describe("every format is linear in the length of the value", () => {
  const rows: Scaling[] = [];

  it("covers every format ajv-formats has, and only those", () => {
    for (const format of formatNames)
      expect(
        validatePolicy({ version: "1", default: "deny", tools: { t: { rules: [{ when: { args: { format } } }] } } })
          .valid,
        format,
      ).toBe(true);
    for (const format of Object.keys(SPECIFIC)) expect(formatNames, format).toContain(format);
  });

  it.each(STRING_FORMATS)("%s: 1 MB takes at most 8× the time per byte of 20 KB", (format) => {
    const policy = policyFor(format);
    let worst: Scaling | undefined;
    for (const [shape, make] of [...GENERIC, ...(SPECIFIC[format] ?? [])]) {
      const m = linearity(`${format} ${shape}`, make, (s) => holds(policy, s));
      expect(
        m.ratio,
        `${m.name}: ${m.smallMs.toFixed(3)} ms at 20 KB, ${m.largeMs.toFixed(2)} ms at 1 MB`,
      ).toBeLessThanOrEqual(m.allowed);
      if (worst === undefined || m.largeMs > worst.largeMs) worst = m;
    }
    rows.push(worst!);
  });

  it("number formats take constant time on any number", () => {
    for (const format of NUMBER_FORMATS) {
      const policy = policyFor(format);
      for (const v of [0, -0, 1e308, -1e308, 5e-324, 2 ** 53, 2 ** 31, -(2 ** 31) - 1, 1.5])
        expect(typeof holds(policy, v)).toBe("boolean");
    }
  });

  it("prints the slowest shape of each format", () => {
    console.log(`format timings (slowest shape at 1 MB per format, through decideSync):\n${table(rows)}`);
    expect(rows.length).toBe(STRING_FORMATS.length);
  });
});

describe("replaced format checks mean what they say", () => {
  it("url: an absolute http, https or ftp URL with a host, as the WHATWG parser reads it", () => {
    const p = policyFor("url");
    for (const ok of [
      "https://x.example/",
      "http://localhost:8080/a?b#c",
      "ftp://files.example/f.txt",
      "http://10.0.0.1/",
      "https://[::1]/",
      "https://é.example/",
    ]) {
      expect(holds(p, ok), ok).toBe(true);
    }
    for (const bad of [
      "mailto:a@b.example",
      "http://",
      "no scheme",
      "http://a b/",
      " http://a.example/",
      "http://a.example/\n",
      "http://a.example/\t",
      "javascript:alert(1)",
      "file:///etc/passwd",
      "https://x.example/\u00a0",
      "data:text/plain,x",
      "//x.example/",
      "",
    ]) {
      expect(holds(p, bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it("byte: the whole value is padded base64 (one good line no longer passes)", () => {
    const p = policyFor("byte");
    for (const ok of ["", "QUJD", "QUI=", "QQ==", "QUJDRA=="]) expect(holds(p, ok), ok).toBe(true);
    for (const bad of ["!!\nQUJD", "QUJD\n!!", "QUJ", "QU=D", "Q===", "QUJD\n", " QUJD"])
      expect(holds(p, bad), JSON.stringify(bad)).toBe(false);
  });

  it("email and hostname: the lengths the RFCs allow, and no more", () => {
    const email = policyFor("email");
    const local = "a".repeat(64);
    const domain = (len: number) => `${"b".repeat(len - 8)}.example`;
    expect(holds(email, `${local}@${domain(254 - 65)}`)).toBe(true);
    expect(holds(email, `${local}@${domain(255 - 65)}`)).toBe(false);
    const host = policyFor("hostname");
    const labels = (len: number) =>
      Array.from({ length: Math.ceil(len / 50) }, () => "c".repeat(49))
        .join(".")
        .slice(0, len);
    expect(holds(host, labels(253))).toBe(true);
    expect(holds(host, `${labels(253)}.`)).toBe(true);
    expect(holds(host, labels(254))).toBe(false);
  });

  it("duration: as ajv-formats reads RFC 3339, without its lookaheads", () => {
    const p = policyFor("duration");
    for (const ok of ["P1D", "PT1H", "P1W", "P1Y2M3DT4H5M6S", "PT0S"]) expect(holds(p, ok), ok).toBe(true);
    for (const bad of ["P", "PT", "P1DT", "PT1D", "P1H", "p1d", "P1W1D", "1D"]) expect(holds(p, bad), bad).toBe(false);
  });

  const SAME_AS_BEFORE = [
    "duration",
    "uri-reference",
    "uri-template",
    "json-pointer",
    "json-pointer-uri-fragment",
    "relative-json-pointer",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uuid",
  ];
  const alphabet = fc.constantFrom(
    ..."aZ09-._~:/?#[]@!$&'()*+,;=%{}<>\"\\ \u00e9\u017f\u212a^|`PTYMDHSW".split(""),
    "%20",
    "%zz",
    "~0",
    "~1",
    "::",
    "1.2.3.4",
    "urn:uuid:",
  );
  const { numRuns, seed } = params(300);
  it.each(SAME_AS_BEFORE)("%s: accepts exactly what ajv-formats' expression accepts (generated strings)", (format) => {
    const original = plugin.get(format);
    const test = (s: string) =>
      original instanceof RegExp ? original.test(s) : typeof original === "function" ? original(s) : true;
    const p = policyFor(format);
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 24 }).map((a) => a.join("")),
        (s) => {
          expect(holds(p, s), JSON.stringify(s)).toBe(test(s));
        },
      ),
      { numRuns, ...(seed === undefined ? {} : { seed }) },
    );
    expect(holds(p, "urn:uuid:123e4567-e89b-12d3-a456-426614174000")).toBe(
      test("urn:uuid:123e4567-e89b-12d3-a456-426614174000"),
    );
  });

  const DATE_FORMATS = ["date", "time", "date-time", "iso-time", "iso-date-time", "duration"];
  const datePieces = fc.constantFrom(
    "2020",
    "2024",
    "1900",
    "-",
    "01",
    "02",
    "12",
    "13",
    "29",
    "30",
    "31",
    "T",
    "t",
    " ",
    "\u00a0",
    "00",
    "23",
    "24",
    ":",
    "59",
    "60",
    ".",
    "123",
    "Z",
    "z",
    "+",
    "-05:00",
    "+01:00",
    "P",
    "1",
    "Y",
    "M",
    "D",
    "H",
    "S",
    "W",
  );
  it.each(DATE_FORMATS)("%s: accepts exactly what ajv-formats accepts (generated date-like strings)", (format) => {
    const original = plugin.get(format);
    const test = (s: string) =>
      original instanceof RegExp
        ? original.test(s)
        : typeof original === "object" && original !== null && "validate" in original
          ? original.validate instanceof RegExp
            ? original.validate.test(s)
            : original.validate(s)
          : false;
    const p = policyFor(format);
    fc.assert(
      fc.property(
        fc.array(datePieces, { maxLength: 14 }).map((a) => a.join("")),
        (s) => {
          expect(holds(p, s), JSON.stringify(s)).toBe(test(s));
        },
      ),
      { numRuns, ...(seed === undefined ? {} : { seed }) },
    );
    for (const s of [
      "2020-02-29T23:59:60Z",
      "2021-02-29T00:00:00Z",
      "2020-01-01 00:00:00.5+01:00",
      "23:59:60Z",
      "12:00:00",
      "P1DT2H",
    ])
      expect(holds(p, s), s).toBe(test(s));
  });

  it("formatMaximum compares only well-formed values", () => {
    const p = compilePolicy(
      {
        version: "1",
        default: "deny",
        tools: {
          t: {
            rules: [
              { when: { args: { properties: { v: { format: "date-time", formatMaximum: "2026-01-01T00:00:00Z" } } } } },
            ],
          },
        },
      },
      { store: new MemoryStore({ maxKeys: 10 }) },
    );
    const d = (v: unknown) => p.decideSync({ tool: "t", session: { id: "s" }, args: { v } }).outcome;
    expect(d("2025-12-31T23:59:59Z")).toBe("allow");
    expect(d("2026-01-02T00:00:00Z")).toBe("deny");
    expect(d(`2025-12-31T23:59:59.${"9".repeat(100_000)}Z`)).toBe("allow");
    expect(d(`2025-12-31${"t".repeat(100_000)}`)).toBe("deny");
  });

  it("case-insensitive formats stay ASCII: the Kelvin sign is not a k and ſ is not an s", () => {
    expect(holds(policyFor("uri-template"), "\u212a")).toBe(true);
    expect(holds(policyFor("uri-reference"), "ſ://x")).toBe(false);
    expect(holds(policyFor("uri-reference"), "s://x")).toBe(true);
    expect(holds(policyFor("json-pointer-uri-fragment"), "#/\u212a")).toBe(false);
    expect(holds(policyFor("json-pointer-uri-fragment"), "#/K")).toBe(true);
  });

  it.each(["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"])(
    "format %j is an unknown format, at its path",
    (format) => {
      const r = validatePolicy({
        version: "1",
        default: "deny",
        tools: { t: { rules: [{ when: { args: { properties: { v: { format } } } } }] } },
      });
      expect(r.valid).toBe(false);
      if (!r.valid)
        expect(r.issues).toContainEqual(
          expect.objectContaining({ code: "condition", path: "/tools/t/rules/0/when/args/properties/v/format" }),
        );
    },
  );
});
