/**
 * `urlHostIn` against a reference built on `new URL()` directly, over generated URLs that mix
 * case, trailing dots, ports, user info, IPv4 forms (`0x7f.1`, `2130706433`, `0177.0.0.1`),
 * IPv6, IDNA (`bücher.example`, `xn--`) and the hostile corpus (`https://allowed@evil`,
 * `https://evil/?u=https://allowed`, `javascript:`, `file:`).
 */

import fc from "fast-check";
import { compilePolicy, type Policy } from "toolgate";
import { describe, expect, it } from "vitest";
import { params } from "./arbitraries.js";

/** The host `new URL` reads in a listed host, as docs/spec.md says to normalise it. */
function listedHost(listed: string): { host: string; subdomains: boolean } {
  const subdomains = listed.startsWith("*.");
  const host = new URL(`http://${subdomains ? listed.slice(2) : listed}/`).hostname.replace(/\.$/, "");
  return { host, subdomains };
}

/** The reference: docs/spec.md's sentence, on the parser's answer, the plain way. */
function referenceHostIn(value: unknown, listed: readonly string[]): boolean {
  if (typeof value !== "string" || value.length > 65_536) return false;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return false;
  if (url.username !== "" || url.password !== "") return false;
  const host = url.hostname.endsWith(".") ? url.hostname.slice(0, -1) : url.hostname;
  const labels = host.split(".");
  if (labels.some((l) => l === "")) return false;
  return listed.some((l) => {
    const { host: h, subdomains } = listedHost(l);
    if (!subdomains) return host === h;
    const base = h.split(".");
    return labels.length > base.length && base.every((b, i) => labels[labels.length - base.length + i] === b);
  });
}

const LISTED = [
  "api.github.com",
  "API.GitHub.com.",
  "example.com",
  "*.example.com",
  "*.EXAMPLE.com",
  "allowed",
  "*.allowed",
  "bücher.example",
  "*.xn--bcher-kva.example",
  "127.0.0.1",
  "2130706433",
  "0x7f.1",
  "[::1]",
  "[2001:db8::1]",
  "localhost",
];

const SCHEME = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("https", "http", "HTTPS", "HtTp") },
  { weight: 1, arbitrary: fc.constantFrom("ftp", "file", "javascript", "ws", "wss", "data", "blob:https", "mailto") },
);
const SEPARATOR = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("://", ":", ":/", "://@", "://:@") },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      ":///",
      ":\\\\",
      "://user@",
      "://user:pw@",
      "://:pw@",
      "://allowed@",
      "://api.github.com@",
      " ://",
    ),
  },
);
const HOST = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "api.github.com",
      "API.GITHUB.COM",
      "api.github.com.",
      "api.github.com..",
      "api..github.com",
      ".api.github.com",
      "github.com",
      "evil.api.github.com",
      "api.github.com.evil.com",
    ),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "example.com",
      "a.example.com",
      "a.b.example.com",
      "EXAMPLE.COM.",
      "aexample.com",
      ".example.com",
      "example.com.evil",
      "allowed",
      "x.allowed",
      "evil",
      "allowed.evil",
    ),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "127.0.0.1",
      "0x7f.1",
      "2130706433",
      "0177.0.0.1",
      "127.1",
      "127.0.0.1.",
      "127.0.0.2",
      "0x7F000001",
      "1.2.3.4.5",
      "256.0.0.1",
      "0x7f.0.0.0x1",
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "[::1]",
      "[0:0::1]",
      "[0:0:0:0:0:0:0:1]",
      "[::ffff:127.0.0.1]",
      "[2001:DB8::1]",
      "[2001:db8::2]",
      "[::1",
      "::1",
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "bücher.example",
      "BÜCHER.example",
      "xn--bcher-kva.example",
      "www.bücher.example",
      "www.xn--bcher-kva.example",
      "xn--",
      "xn--a.example",
      "ａｐｉ.github.com",
      "api.github.com\u3002",
      "%61pi.github.com",
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);
const PORT = fc.constantFrom("", "", "", "", "", ":80", ":443", ":8080", ":0", ":", ":99999", ":x");
const REST = fc.constantFrom(
  "",
  "",
  "/",
  "/",
  "/x",
  "/?u=https://api.github.com",
  "/?u=https://allowed",
  "#https://allowed",
  "@evil.com/",
  "\\@api.github.com",
  "/../x",
  " ",
  "\t",
);

/** Generated URLs: parts that each mean something to the parser, plus free strings. */
const urlValue = fc.oneof(
  { weight: 10, arbitrary: fc.tuple(SCHEME, SEPARATOR, HOST, PORT, REST).map((parts) => parts.join("")) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "https://allowed@evil/",
      "https://evil/?u=https://allowed",
      "javascript:alert('https://allowed')",
      "file:///etc/passwd",
      "file://allowed/etc/passwd",
      "//allowed/",
      "allowed",
      "",
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 1 }).filter((v) => typeof v !== "string") },
);

function policyFor(listed: readonly string[]): Policy {
  return compilePolicy({
    version: "1",
    default: "deny",
    tools: {
      fetch: {
        rules: [
          {
            when: {
              args: { properties: { url: { urlHostIn: listed.length === 1 ? listed[0] : listed } }, required: ["url"] },
            },
          },
        ],
      },
    },
  });
}

describe("urlHostIn agrees with a reference built on new URL()", () => {
  const { numRuns, seed } = params(2_000);
  // A pool of generated host lists, compiled once: each run picks one and judges 16 URLs.
  const pool = fc
    .sample(fc.uniqueArray(fc.constantFrom(...LISTED), { minLength: 1, maxLength: 4 }), { numRuns: 64, seed: 7 })
    .map((listed) => ({ listed, policy: policyFor(listed) }));

  it(`for generated URLs (${numRuns} runs × 16 URLs, over ${pool.length} generated host lists)`, () => {
    let allowed = 0;
    let judged = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...pool),
        fc.array(urlValue, { minLength: 16, maxLength: 16 }),
        ({ listed, policy }, urls) => {
          for (const url of urls) {
            const got = policy.decideSync({ tool: "fetch", args: { url }, session: { id: "s" } }).outcome;
            const want = referenceHostIn(url, listed) ? "allow" : "deny";
            if (got !== want)
              expect.fail(
                `${JSON.stringify(url)} with urlHostIn ${JSON.stringify(listed)}: ${got}, the reference says ${want}`,
              );
            judged++;
            if (got === "allow") allowed++;
          }
        },
      ),
      { numRuns, ...(seed === undefined ? {} : { seed }) },
    );
    // Both answers are common, so agreement is not agreement on "deny" alone.
    expect(allowed).toBeGreaterThan(judged / 50);
    expect(judged - allowed).toBeGreaterThan(judged / 50);
  });

  it(`a listed host written in another form means the same host (${numRuns} cases)`, () => {
    const forms: [string, string][] = [
      ["127.0.0.1", "2130706433"],
      ["127.0.0.1", "0x7f.1"],
      ["127.0.0.1", "0177.0.0.1"],
      ["api.github.com", "API.GITHUB.COM."],
      ["bücher.example", "xn--bcher-kva.example"],
      ["[::1]", "[0:0::1]"],
      ["*.example.com", "*.EXAMPLE.COM."],
    ];
    const compiled = forms.map(([a, b]) => [policyFor([a]), policyFor([b])] as const);
    fc.assert(
      fc.property(fc.constantFrom(...compiled), urlValue, ([a, b], url) => {
        const call = { tool: "fetch", args: { url }, session: { id: "s" } };
        expect(a.decideSync(call).outcome).toBe(b.decideSync(call).outcome);
      }),
      { numRuns, ...(seed === undefined ? {} : { seed }) },
    );
  });
});
