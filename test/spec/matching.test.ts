/**
 * docs/spec.md §1 "Tool-name patterns": exact keys, `*` as the only special character, the most
 * specific key wins, ties go to the key written first; and the `rule` pointer of the decision.
 */

import { describe, expect, it } from "vitest";
import { call, compile, doc } from "./helpers.js";

function ruleFor(tools: Record<string, unknown>, tool: string): string {
  const policy = compile(doc(tools, { default: "allow" }));
  const decided = policy.decideSync(call(tool)).rule;
  expect(policy.ruleFor(tool)).toBe(decided);
  return decided;
}

describe("tool-name patterns", () => {
  it("matches a key without * exactly: case-sensitive, no normalisation", () => {
    const tools = { get_run: {} };
    expect(ruleFor(tools, "get_run")).toBe("/tools/get_run");
    for (const other of [
      "Get_Run",
      "GET_RUN",
      "get_run ",
      " get_run",
      "get-run",
      "get_runs",
      "get_ru",
      "ｇet_run",
      "get_run\u0000",
    ]) {
      expect(ruleFor(tools, other)).toBe("/default");
    }
  });

  it("does not normalise Unicode: precomposed and decomposed forms are different names", () => {
    const tools = { "caf\u00e9": {} };
    expect(ruleFor(tools, "caf\u00e9")).toBe("/tools/caf\u00e9");
    expect(ruleFor(tools, "cafe\u0301")).toBe("/default");
  });

  it("lets * match any run of characters, including none", () => {
    const tools = { "get_*": {} };
    for (const name of ["get_", "get_run", "get_*", "get_a/b", "get_\n"])
      expect(ruleFor(tools, name)).toBe("/tools/get_*");
    expect(ruleFor(tools, "get")).toBe("/default");
    expect(ruleFor(tools, "xget_run")).toBe("/default");
  });

  it("supports suffix, infix and multi-star patterns", () => {
    expect(ruleFor({ "*_run": {} }, "delete_run")).toBe("/tools/*_run");
    expect(ruleFor({ "*_run": {} }, "delete_runs")).toBe("/default");
    expect(ruleFor({ "a*b*c": {} }, "abc")).toBe("/tools/a*b*c");
    expect(ruleFor({ "a*b*c": {} }, "aXbYc")).toBe("/tools/a*b*c");
    expect(ruleFor({ "a*b*c": {} }, "acb")).toBe("/default");
    expect(ruleFor({ "*": {} }, "anything")).toBe("/tools/*");
  });

  it("treats regex and glob characters other than * literally", () => {
    const tools = { "a.b": {}, "x?": {}, "[ab]": {}, "p+*": {}, "^s$": {}, "b\\*": {} };
    expect(ruleFor(tools, "a.b")).toBe("/tools/a.b");
    expect(ruleFor(tools, "aXb")).toBe("/default");
    expect(ruleFor(tools, "xy")).toBe("/default");
    expect(ruleFor(tools, "x?")).toBe("/tools/x?");
    expect(ruleFor(tools, "a")).toBe("/default");
    expect(ruleFor(tools, "[ab]")).toBe("/tools/[ab]");
    expect(ruleFor(tools, "p+q")).toBe("/tools/p+*");
    expect(ruleFor(tools, "pq")).toBe("/default");
    expect(ruleFor(tools, "^s$")).toBe("/tools/^s$");
    // A backslash is an ordinary character: "b\\*" is the prefix "b\".
    expect(ruleFor(tools, "b\\x")).toBe("/tools/b\\*");
    expect(ruleFor(tools, "b*")).toBe("/default");
  });

  it("prefers an exact key over any pattern, wherever it is written", () => {
    expect(ruleFor({ "delete_*": {}, "*": {}, delete_run: {} }, "delete_run")).toBe("/tools/delete_run");
    expect(ruleFor({ delete_run: {}, "delete_ru*": {} }, "delete_run")).toBe("/tools/delete_run");
  });

  it("prefers the pattern with the most non-* characters", () => {
    const tools = { "*": {}, "d*": {}, "delete_*": {}, "*_run": {}, "delete_*_run": {} };
    expect(ruleFor(tools, "delete_big_run")).toBe("/tools/delete_*_run");
    expect(ruleFor(tools, "delete_x")).toBe("/tools/delete_*");
    expect(ruleFor(tools, "do")).toBe("/tools/d*");
    expect(ruleFor(tools, "x_run")).toBe("/tools/*_run");
    expect(ruleFor(tools, "zz")).toBe("/tools/*");
  });

  it("counts characters, not stars: a*b*c beats ab* for abc", () => {
    expect(ruleFor({ "ab*": {}, "a*b*c": {} }, "abc")).toBe("/tools/a*b*c");
  });

  it("breaks ties between equally specific patterns by document order", () => {
    expect(ruleFor({ "get_*": {}, "*_run": {} }, "get_run")).toBe("/tools/get_*");
    expect(ruleFor({ "*_run": {}, "get_*": {} }, "get_run")).toBe("/tools/*_run");
    expect(ruleFor({ "a*b": {}, "ab*": {} }, "ab")).toBe("/tools/a*b");
    expect(ruleFor({ "ab*": {}, "a*b": {} }, "ab")).toBe("/tools/ab*");
  });

  it("breaks ties by document order when patterns differ only in their stars", () => {
    // "a*" and "a**" have one non-* character each and match the same names: the first wins.
    expect(ruleFor({ "a*": {}, "a**": {} }, "a")).toBe("/tools/a*");
    expect(ruleFor({ "a**": {}, "a*": {} }, "a")).toBe("/tools/a**");
    expect(ruleFor({ "*": {}, "**": {} }, "x")).toBe("/tools/*");
    expect(ruleFor({ "**": {}, "*": {} }, "x")).toBe("/tools/**");
    expect(ruleFor({ "*a": {}, "**a": {} }, "a")).toBe("/tools/*a");
  });

  it("keeps document order of JSON text for ties", () => {
    const policy = compile('{"version":"1","default":"deny","tools":{"*_run":{"action":"deny"},"get_*":{}}}');
    expect(policy.decideSync(call("get_run"))).toMatchObject({ outcome: "deny", rule: "/tools/*_run" });
  });

  it("escapes / and ~ in rule pointers (RFC 6901)", () => {
    expect(ruleFor({ "a/b": {} }, "a/b")).toBe("/tools/a~1b");
    expect(ruleFor({ "a~b": {} }, "a~b")).toBe("/tools/a~0b");
    expect(ruleFor({ "~1": {} }, "~1")).toBe("/tools/~01");
    expect(ruleFor({ "fs/*~": {} }, "fs/x~")).toBe("/tools/fs~1*~0");
  });

  it("treats prototype names as ordinary names", () => {
    const tools = { __proto__: { action: "deny" }, constructor: {}, "toString*": {} } as Record<string, unknown>;
    const d = JSON.parse(
      '{"version":"1","default":"allow","tools":{"__proto__":{"action":"deny"},"constructor":{},"toString*":{}}}',
    );
    const policy = compile(d);
    expect(policy.decideSync(call("__proto__"))).toMatchObject({ outcome: "deny", rule: "/tools/__proto__" });
    expect(policy.decideSync(call("constructor")).rule).toBe("/tools/constructor");
    expect(policy.decideSync(call("toString")).rule).toBe("/tools/toString*");
    expect(policy.decideSync(call("hasOwnProperty")).rule).toBe("/default");
    expect(policy.decideSync(call("valueOf")).rule).toBe("/default");
    // An object literal with __proto__ sets the prototype; that is not a tool key.
    expect(Object.keys(tools)).toEqual(["constructor", "toString*"]);
  });
});
