/**
 * docs/spec.md section 1, "Two keywords beyond JSON Schema": `urlHostIn`, sentence by sentence,
 * through the public API of the built package.
 */

import { describe, expect, it } from "vitest";
import { call, compile, doc, issuesOf, valid } from "./helpers.js";

/** A policy allowing `fetch` when `args.url` satisfies `urlHostIn: hosts`; everything else denied. */
function hostIn(hosts: unknown) {
  const policy = compile(
    doc({ fetch: { rules: [{ when: { args: { properties: { url: { urlHostIn: hosts } }, required: ["url"] } } }] } }),
  );
  return (url: unknown) => policy.decideSync(call("fetch", { args: { url } })).outcome;
}

describe("urlHostIn holds for an absolute http(s) URL without user info whose host is listed", () => {
  const o = hostIn("api.github.com");

  it.each([
    "https://api.github.com",
    "https://api.github.com/",
    "http://api.github.com/repos?x=1#top",
    "HTTPS://API.GITHUB.COM/X",
    "https://Api.GitHub.com/",
    "https://api.github.com./",
    "https://api.github.com:8443/",
    "http://api.github.com:80/",
    "https:api.github.com/x",
    "https:/api.github.com/x",
    "https://@api.github.com/",
    "https://:@api.github.com/",
    "https://%61pi.github.com/",
    "https://ａｐｉ.github.com/",
    "https://api.github.com\u3002/",
    "  https://api.github.com/  ",
    "https://api.git\thub.com/",
    "https://api.github.com\\path",
  ])("%j goes to api.github.com", (url) => {
    expect(o(url)).toBe("allow");
  });

  it.each([
    "https://github.com/",
    "https://evil.api.github.com/",
    "https://api.github.com.evil.com/",
    "https://api.github.co/",
    "https://api-github.com/",
    "https://api.github.com@evil.com/",
    "https://api.github.com:443@evil.com/",
    "https://evil.com/?u=https://api.github.com",
    "https://evil.com/#https://api.github.com",
    "https://evil.com\\@api.github.com/",
    "https://api.github.com../",
    "https://api..github.com/",
    "https://.api.github.com/",
  ])("%j does not", (url) => {
    expect(o(url)).toBe("deny");
  });

  it.each([
    ["a user name", "https://user@api.github.com/"],
    ["a user name and password", "https://user:pass@api.github.com/"],
    ["a password only", "https://:pass@api.github.com/"],
    ["an ftp: URL", "ftp://api.github.com/"],
    ["a ws: URL", "ws://api.github.com/"],
    ["a wss: URL", "wss://api.github.com/"],
    ["a file: URL", "file:///etc/passwd"],
    ["a file: URL naming the host", "file://api.github.com/etc/passwd"],
    ["a javascript: URL", "javascript:fetch('https://api.github.com')"],
    ["a data: URL", "data:text/html,https://api.github.com"],
    ["a blob: URL", "blob:https://api.github.com/uuid"],
    ["a scheme-relative URL", "//api.github.com/x"],
    ["a host alone", "api.github.com"],
    ["a path", "/repos"],
    ["an empty string", ""],
    ["a URL the parser rejects", "https://api.github.com:99999/"],
  ])("fails for %s", (_what, url) => {
    expect(o(url)).toBe("deny");
  });

  it.each([
    ["a number", 1],
    ["null", null],
    ["a boolean", false],
    ["an array holding the URL", ["https://api.github.com/"]],
    ["an object", { href: "https://api.github.com/" }],
  ])("fails (rather than holds) for a value of another type: %s", (_what, url) => {
    expect(o(url)).toBe("deny");
  });

  it("fails for a URL longer than 65,536 characters, and holds for one of exactly that length", () => {
    const at = (n: number) => `https://api.github.com/${"a".repeat(n - "https://api.github.com/".length)}`;
    expect(o(at(65_536))).toBe("allow");
    expect(o(at(65_537))).toBe("deny");
  });
});

describe("`*.` matches subdomains, not the domain itself", () => {
  const o = hostIn("*.example.com");
  it.each([
    "https://a.example.com/",
    "https://a.b.example.com/",
    "https://A.EXAMPLE.COM./",
    "https://x-y.example.com:1/",
  ])("%j holds", (url) => {
    expect(o(url)).toBe("allow");
  });
  it.each([
    "https://example.com/",
    "https://aexample.com/",
    "https://.example.com/",
    "https://a..example.com/",
    "https://example.com.evil/",
    "https://a.example.com.evil/",
  ])("%j fails", (url) => {
    expect(o(url)).toBe("deny");
  });

  it("lists combine exact hosts and subdomain patterns", () => {
    const both = hostIn(["example.com", "*.example.com", "api.github.com"]);
    expect(both("https://example.com/")).toBe("allow");
    expect(both("https://www.example.com/")).toBe("allow");
    expect(both("https://api.github.com/")).toBe("allow");
    expect(both("https://uploads.github.com/")).toBe("deny");
  });
});

describe("hosts as the WHATWG parser normalises them", () => {
  it("IPv4 in every form the parser reads is one host", () => {
    for (const listed of ["127.0.0.1", "2130706433", "0x7f.1", "0177.0.0.1", "127.1"]) {
      const o = hostIn(listed);
      for (const url of [
        "http://127.0.0.1/",
        "http://0x7f.1/",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://127.0.0.1./",
        "http://0x7F000001:8080/",
      ]) {
        expect(o(url), `${listed} / ${url}`).toBe("allow");
      }
      expect(o("http://127.0.0.2/")).toBe("deny");
      expect(o("http://[::ffff:127.0.0.1]/")).toBe("deny");
    }
  });

  it("IPv6 in brackets, in any spelling of the same address", () => {
    const o = hostIn(["[::1]", "[2001:db8::1]"]);
    expect(o("http://[::1]/")).toBe("allow");
    expect(o("http://[0:0:0:0:0:0:0:1]:8080/")).toBe("allow");
    expect(o("https://[2001:DB8:0::1]/")).toBe("allow");
    expect(o("http://[::2]/")).toBe("deny");
    expect(o("http://127.0.0.1/")).toBe("deny");
  });

  it("IDNA: a listed Unicode host and its punycode are one host", () => {
    for (const listed of ["bücher.example", "BÜCHER.example", "xn--bcher-kva.example"]) {
      const o = hostIn(listed);
      expect(o("https://bücher.example/"), listed).toBe("allow");
      expect(o("https://BÜCHER.EXAMPLE/"), listed).toBe("allow");
      expect(o("https://xn--bcher-kva.example/"), listed).toBe("allow");
      expect(o("https://bucher.example/"), listed).toBe("deny");
    }
    const sub = hostIn("*.bücher.example");
    expect(sub("https://www.xn--bcher-kva.example/")).toBe("allow");
    expect(sub("https://xn--bcher-kva.example/")).toBe("deny");
  });

  it("a listed host is normalised: case, a trailing dot", () => {
    const o = hostIn(["API.GitHub.com.", "*.Example.COM"]);
    expect(o("https://api.github.com/")).toBe("allow");
    expect(o("https://www.example.com/")).toBe("allow");
  });
});

describe("urlHostIn works anywhere in a when schema", () => {
  it("in items, anyOf, patternProperties and $ref", () => {
    const policy = compile(
      doc({
        t: {
          rules: [
            {
              when: {
                args: {
                  $defs: { gh: { urlHostIn: "api.github.com" } },
                  properties: { urls: { items: { anyOf: [{ urlHostIn: "*.example.com" }, { $ref: "#/$defs/gh" }] } } },
                  patternProperties: { "^hook": { urlHostIn: ["hooks.example.org"] } },
                },
              },
            },
          ],
        },
      }),
    );
    const o = (args: Record<string, unknown>) => policy.decideSync(call("t", { args })).outcome;
    expect(
      o({ urls: ["https://a.example.com/", "https://api.github.com/"], hook1: "https://hooks.example.org/x" }),
    ).toBe("allow");
    expect(o({ urls: ["https://a.example.com/", "https://evil.com/"] })).toBe("deny");
    expect(o({ hookA: "https://hooks.example.org@evil.com/" })).toBe("deny");
  });
});

describe("urlHostIn values are checked when the policy is compiled, with issues at their own paths", () => {
  const at = "/tools/fetch/rules/0/when/args/properties/url/urlHostIn";
  const policyWith = (hosts: unknown) =>
    doc({ fetch: { rules: [{ when: { args: { properties: { url: { urlHostIn: hosts } } } } }] } });

  it.each([
    ["an empty list", [], at, /empty list/],
    ["an empty host", "", at, /empty string/],
    ["a URL", "https://api.github.com", at, /not a URL/],
    ["a host with a port", "api.github.com:443", at, /port/],
    ["an IPv6 address with a port", "[::1]:80", at, /port/],
    ["an IPv6 address without brackets", "::1", at, /brackets/],
    ["a host with a path", "api.github.com/repos", at, /path/],
    ["a host with a query", "api.github.com?x", at, /query/],
    ["a host with user info", "me@api.github.com", at, /user info/],
    ["a star inside", "api.*.com", at, /leading "\*\."/],
    ["a star without a dot", "*example.com", at, /leading "\*\."/],
    ["two stars", "*.*.example.com", at, /leading "\*\."/],
    ["a star alone", "*", at, /leading "\*\."/],
    ["a star and a dot alone", "*.", at, /.+/],
    ["a percent-encoded star", "%2A.example.com", at, /leading "\*\."/],
    ["a subdomain pattern over an IP address", "*.127.0.0.1", at, /IP address/],
    ["a host the parser rejects", "exa<mple.com", at, /URL parser/],
    ["bad punycode", "xn--a.com", at, /URL parser/],
    ["a space", "api github.com", at, /spaces/],
    ["an empty label", "api..github.com", at, /empty labels/],
    ["a number", 443, at, /host or a non-empty list/],
    ["null", null, at, /host or a non-empty list/],
    ["a list item with a port", ["api.github.com", "evil.com:80"], `${at}/1`, /port/],
    ["a list item that is not a string", ["api.github.com", {}], `${at}/1`, /host name/],
  ])("%s", (_what, hosts, path, message) => {
    const issues = issuesOf(policyWith(hosts));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path, code: expect.stringMatching(/^(condition|value)$/) });
    expect(issues[0]!.message).toMatch(message);
  });

  it("accepts valid values, including IDNA, IPv4 forms and IPv6", () => {
    valid(policyWith(["api.github.com", "*.example.com", "bücher.example", "2130706433", "[::1]", "localhost"]));
  });
});

describe("explain says which keyword failed and for which value", () => {
  it("names urlHostIn and the host the URL goes to", async () => {
    const policy = compile(
      doc({ fetch: { rules: [{ when: { args: { properties: { url: { urlHostIn: "api.github.com" } } } } }] } }),
    );
    const e = await policy.explain(call("fetch", { args: { url: "https://api.github.com@evil.com/" } }));
    const step = e.steps.find((s) => /does not hold/.test(s.message));
    expect(step?.message).toContain('keyword "urlHostIn"');
    expect(step?.message).toContain("evil.com");
    expect(step?.message).toContain("api.github.com");
    const scheme = await policy.explain(call("fetch", { args: { url: "javascript:alert(1)" } }));
    expect(scheme.steps.map((s) => s.message).join("\n")).toMatch(/http: or https:/);
    const info = await policy.explain(call("fetch", { args: { url: "https://me@api.github.com/" } }));
    expect(info.steps.map((s) => s.message).join("\n")).toMatch(/user name or password/);
  });
});
