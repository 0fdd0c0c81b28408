/**
 * Issue 13: `pathWithin` and `urlHostIn` against the spellings attackers use to get around path
 * and URL checks, against huge and strangely built values, and against hostile policies. Every
 * answer is a clear deny (or, for a spelling that really names an allowed place, an allow), in
 * bounded time, never a crash. SECURITY.md lists these spellings.
 */

import { compilePolicy, MemoryStore, validatePolicy, type Decision } from "toolgate";
import { describe, expect, it } from "vitest";
import { expectPrototypesUntouched, snapshotPrototypes, timed } from "./guards.js";

const STALL_MS = 2_000;

function policy(when: unknown) {
  return compilePolicy(
    { version: "1", default: "deny", tools: { t: { rules: [{ when: { args: when } }] } } },
    { store: new MemoryStore({ maxKeys: 10 }) },
  );
}

const paths = policy({ properties: { path: { pathWithin: "/workspace" } }, required: ["path"] });
const urls = policy({ properties: { url: { urlHostIn: ["allowed.example", "*.cdn.example"] } }, required: ["url"] });
const decide = (p: ReturnType<typeof policy>, args: unknown): Decision =>
  p.decideSync({ tool: "t", args: args as Record<string, unknown>, session: { id: "s" } });

describe("path traversal spellings", () => {
  // Each must be refused: it names, or may be read by some layer as, a place outside /workspace.
  it.each([
    ["dot-dot", "/workspace/../etc/passwd"],
    ["dot-dot at the end", "/workspace/.."],
    ["dot-dot with a trailing slash", "/workspace/../"],
    ["dot-dot after a name", "/workspace/a/../../etc"],
    ["dot-dot after dot", "/workspace/./../etc"],
    ["double slashes around dot-dot", "/workspace//..//etc"],
    ["dot-dot repeated past the root", `/workspace${"/..".repeat(50)}/etc/passwd`],
    ["a sibling with the same prefix", "/workspace2/secret"],
    ["a sibling with a suffix", "/workspace-old/secret"],
    ["a sibling with a dot", "/workspace.bak/secret"],
    ["a backslash separator", "/workspace\\..\\etc\\passwd"],
    ["a mixed separator", "/workspace/..\\etc"],
    ["a trailing backslash", "/workspace\\"],
    ["NUL truncation", "/workspace/a.txt\u0000/../../etc/passwd"],
    ["NUL before dot-dot", "/workspace/\u0000/../../etc"],
    ["a relative path", "workspace/a"],
    ["a dot-relative path", "./workspace/../etc"],
    ["a parent-relative path", "../workspace/a"],
    ["a home path", "~/workspace"],
    ["a home path of another user", "~root/.ssh/id_rsa"],
    ["a Windows drive path", "C:\\workspace\\a"],
    ["a UNC path", "\\\\server\\workspace"],
    ["a file: URL", "file:///workspace/a"],
    ["an empty string", ""],
    ["a lone space", " "],
    ["a leading space", " /workspace/a"],
  ])("%s: %j is refused", (_what, path) => {
    expect(decide(paths, { path }).outcome).toBe("deny");
  });

  // These look like traversal to a URL decoder or a Unicode normaliser, but to a POSIX
  // filesystem they are ordinary names inside /workspace. docs/spec.md: not decoded.
  it.each([
    ["percent-encoded dots", "/workspace/%2e%2e/etc/passwd"],
    ["percent-encoded dots and slash", "/workspace/%2e%2e%2fetc%2fpasswd"],
    ["mixed-case percent escapes", "/workspace/%2E%2e/x"],
    ["double percent-encoding", "/workspace/%252e%252e/x"],
    ["overlong UTF-8 dots, percent-encoded", "/workspace/%c0%ae%c0%ae/x"],
    ["dot-dot-semicolon", "/workspace/..;/x"],
    ["three dots", "/workspace/.../x"],
    ["dot-dot with a trailing space", "/workspace/.. /x"],
    ["dot-dot with a zero-width space", "/workspace/..\u200b/x"],
    ["fullwidth dots", "/workspace/\uff0e\uff0e/x"],
    ["one-dot leaders", "/workspace/\u2024\u2024/x"],
    ["a NUL written as %00", "/workspace/a%00/x"],
    ["a name of 10,000 characters", `/workspace/${"a".repeat(10_000)}`],
    ["30,000 nested names", `/workspace${"/a".repeat(30_000)}`],
    ["20,000 slashes", `/workspace${"/".repeat(20_000)}x`],
  ])("%s: %j is a name inside /workspace", (_what, path) => {
    expect(decide(paths, { path }).outcome).toBe("allow");
  });

  it("a path longer than 65,536 characters is refused, at once, even at 10 MB", async () => {
    const { value, ms } = await timed(() => decide(paths, { path: `/workspace/${"a".repeat(10_000_000)}` }));
    expect(value.outcome).toBe("deny");
    expect(ms).toBeLessThan(STALL_MS);
  });

  it("60,000 characters of dot-dot and slashes are judged in bounded time", async () => {
    for (const path of [
      `/workspace${"/..".repeat(21_000)}`,
      `/workspace${"/./".repeat(21_000)}`,
      `/${"a/../".repeat(10_000)}workspace/x`,
    ]) {
      const { value, ms } = await timed(() => decide(paths, { path }));
      expect(value.outcome).toBe(path.endsWith("x") || path.includes("/./") ? "allow" : "deny");
      expect(ms).toBeLessThan(STALL_MS);
    }
  });
});

describe("URL spellings that point somewhere else", () => {
  it.each([
    ["user info naming the allowed host", "https://allowed.example@evil.example/"],
    ["user info and a port", "https://allowed.example:443@evil.example/"],
    ["user info with a password", "https://allowed.example:pw@evil.example/"],
    ["encoded @ in user info", "https://allowed.example%40x@evil.example/"],
    ["a user name on the allowed host", "https://user@allowed.example/"],
    ["the allowed URL in the query", "https://evil.example/?u=https://allowed.example"],
    ["the allowed URL in the fragment", "https://evil.example/#https://allowed.example"],
    ["the allowed host in the path", "https://evil.example/allowed.example"],
    ["a backslash before @", "https://evil.example\\@allowed.example/"],
    ["a fragment before @", "https://evil.example#@allowed.example/"],
    ["a query before @", "https://evil.example?@allowed.example/"],
    ["the allowed host as a prefix", "https://allowed.example.evil.example/"],
    ["the allowed host with a dash", "https://allowed-example.evil/"],
    ["the wildcard's own domain", "https://cdn.example/"],
    ["a lookalike of the wildcard", "https://xcdn.example/"],
    ["two trailing dots", "https://allowed.example../"],
    ["an empty label", "https://a..cdn.example/"],
    ["a leading dot", "https://.cdn.example/"],
    ["a NUL in the host", "https://allowed.example\u0000.evil/"],
    ["a percent-encoded NUL in the host", "https://allowed.example%00.evil/"],
    ["a javascript: URL", "javascript:fetch('https://allowed.example/')"],
    ["a javascript: URL with slashes", "javascript://allowed.example/%0aalert(1)"],
    ["a file: URL", "file:///etc/passwd"],
    ["a file: URL naming the host", "file://allowed.example/etc/passwd"],
    ["a data: URL", "data:text/plain,https://allowed.example/"],
    ["an ftp: URL", "ftp://allowed.example/"],
    ["a ws: URL", "ws://allowed.example/"],
    ["a scheme-relative URL", "//allowed.example/"],
    ["a host alone", "allowed.example"],
    ["a path alone", "/api"],
    ["an invalid port", "https://allowed.example:65536/"],
    ["an IPv6 address", "https://[::1]/"],
  ])("%s: %j is refused", (_what, url) => {
    expect(decide(urls, { url }).outcome).toBe("deny");
  });

  it.each([
    ["upper case", "HTTPS://ALLOWED.EXAMPLE/"],
    ["a trailing dot", "https://allowed.example./"],
    ["an ideographic full stop", "https://allowed\u3002example/"],
    ["fullwidth letters", "https://\uff41llowed.example/"],
    ["a percent-encoded letter", "https://%61llowed.example/"],
    ["a port", "https://allowed.example:8443/x"],
    ["an empty user info", "https://@allowed.example/"],
    ["no slashes", "https:allowed.example/x"],
    ["a tab inside", "https://allowed.ex\tample/"],
    ["a subdomain of the wildcard", "https://a.b.cdn.example/"],
  ])("%s: %j goes to a listed host", (_what, url) => {
    expect(decide(urls, { url }).outcome).toBe("allow");
  });

  it("IPv4 spellings are one address, and no spelling of another address gets in", () => {
    const loopback = policy({ properties: { url: { urlHostIn: "127.0.0.1" } } });
    for (const url of [
      "http://127.0.0.1/",
      "http://0x7f.1/",
      "http://2130706433/",
      "http://0177.0.0.1/",
      "http://127.1/",
      "http://0x7f000001/",
    ]) {
      expect(decide(loopback, { url }).outcome, url).toBe("allow");
    }
    for (const url of [
      "http://127.0.0.2/",
      "http://[::1]/",
      "http://[::ffff:127.0.0.1]/",
      "http://localhost/",
      "http://2130706434/",
      "http://127.0.0.1.nip.io/",
    ]) {
      expect(decide(loopback, { url }).outcome, url).toBe("deny");
    }
  });

  it("a URL over 65,536 chars is refused at once (even 10 MB), a huge host is judged in bounded time", async () => {
    const long = await timed(() => decide(urls, { url: `https://allowed.example/${"a".repeat(10_000_000)}` }));
    expect(long.value.outcome).toBe("deny");
    expect(long.ms).toBeLessThan(STALL_MS);
    const host = await timed(() => decide(urls, { url: `https://${"a.".repeat(30_000)}cdn.example/` }));
    expect(host.value.outcome).toBe("allow");
    expect(host.ms).toBeLessThan(STALL_MS);
  });
});

describe("values that are not plain strings", () => {
  it.each([
    ["a String object", new String("/workspace/a")],
    ["an object with toString", { toString: () => "/workspace/a" }],
    ["an array", ["/workspace/a"]],
    ["a number", 0],
    ["null", null],
    ["a nested object", { path: "/workspace/a" }],
  ])("%s is refused by both keywords", (_what, value) => {
    expect(decide(paths, { path: value }).outcome).toBe("deny");
    expect(decide(urls, { url: value }).outcome).toBe("deny");
  });

  it("a getter that throws, or a proxy that lies, is a deny, never an exception", () => {
    const throwing = Object.defineProperty({}, "path", {
      enumerable: true,
      get: () => {
        throw new Error("boom");
      },
    });
    expect(() => decide(paths, throwing)).not.toThrow();
    expect(decide(paths, throwing).outcome).toBe("deny");
    let reads = 0;
    const lying = new Proxy(
      { path: "/workspace/a" },
      { get: (t, k) => (k === "path" ? (reads++ === 0 ? "/workspace/a" : "/etc/passwd") : Reflect.get(t, k)) },
    );
    const d = decide(paths, lying);
    expect(["allow", "deny"]).toContain(d.outcome);
  });

  it("__proto__ and constructor named arguments are judged as arguments, and nothing is polluted", () => {
    const before = snapshotPrototypes();
    const p = policy({
      properties: { ["__proto__"]: { pathWithin: "/workspace" }, constructor: { urlHostIn: "allowed.example" } },
    });
    const args = JSON.parse('{"__proto__": "/etc/passwd", "constructor": "https://evil.example/"}') as Record<
      string,
      unknown
    >;
    expect(decide(p, args).outcome).toBe("deny");
    const good = JSON.parse('{"__proto__": "/workspace/a", "constructor": "https://allowed.example/"}') as Record<
      string,
      unknown
    >;
    expect(decide(p, good).outcome).toBe("allow");
    expectPrototypesUntouched(before);
  });
});

describe("hostile policies", () => {
  it("10,000 listed directories and 10,000 listed hosts compile and judge in bounded time", async () => {
    const roots = Array.from({ length: 10_000 }, (_, i) => `/srv/tenant${i}`);
    const hosts = Array.from({ length: 10_000 }, (_, i) => (i % 2 === 0 ? `h${i}.example` : `*.s${i}.example`));
    const compiled = await timed(() =>
      policy({ properties: { path: { pathWithin: roots }, url: { urlHostIn: hosts } } }),
    );
    expect(compiled.ms).toBeLessThan(STALL_MS * 5);
    const p = compiled.value;
    const judged = await timed(() => [
      decide(p, { path: "/srv/tenant9999/x", url: "https://a.s9999.example/" }).outcome,
      decide(p, { path: "/srv/tenant10000/x" }).outcome,
      decide(p, { url: "https://s9999.example/" }).outcome,
    ]);
    expect(judged.value).toEqual(["allow", "deny", "deny"]);
    expect(judged.ms).toBeLessThan(STALL_MS);
  });

  it("a megabyte listed path or host is an issue at its path, not a stall", async () => {
    const { value, ms } = await timed(() =>
      validatePolicy({
        version: "1",
        default: "deny",
        tools: {
          t: {
            rules: [
              {
                when: {
                  args: {
                    properties: {
                      p: { pathWithin: [`/${"a".repeat(1_000_000)}`] },
                      u: { urlHostIn: `${"a".repeat(1_000_000)}.example` },
                    },
                  },
                },
              },
            ],
          },
        },
      }),
    );
    expect(ms).toBeLessThan(STALL_MS);
    expect(value.valid).toBe(false);
    if (!value.valid)
      expect(value.issues.map((i) => i.path)[0]).toMatch(
        /^\/tools\/t\/rules\/0\/when\/args\/properties\/(p\/pathWithin\/0|u\/urlHostIn)$/,
      );
  });

  it.each([
    ["a listed path that is an object", { pathWithin: { "/workspace": true } }],
    ["a listed path with __proto__", { pathWithin: JSON.parse('{"__proto__": "/x"}') as unknown }],
    ["listed hosts nested in a list", { urlHostIn: [["allowed.example"]] }],
    ["a listed host that is a URL with user info", { urlHostIn: "https://allowed.example@evil.example" }],
    ["a listed host with a NUL", { urlHostIn: "allowed.example\u0000" }],
    ["a listed path with a NUL", { pathWithin: "/workspace\u0000/etc" }],
    ["a listed path of a Windows drive", { pathWithin: "C:\\" }],
  ])("%s is an issue, not a condition that holds", (_what, schema) => {
    const result = validatePolicy({
      version: "1",
      default: "deny",
      tools: { t: { rules: [{ when: { args: { properties: { p: schema } } } }] } },
    });
    expect(result.valid).toBe(false);
    if (!result.valid)
      expect(result.issues[0]!.path).toMatch(
        /^\/tools\/t\/rules\/0\/when\/args\/properties\/p\/(pathWithin|urlHostIn)/,
      );
  });
});
