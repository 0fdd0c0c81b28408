import { describe, expect, it } from "vitest";
import { compilePolicy } from "toolgate";

const session = { id: "s" };

describe("tool-name matching", () => {
  it("prefers exact keys, then more non-* characters, then the first written", () => {
    const policy = compilePolicy({
      version: "1",
      default: "deny",
      tools: {
        "get_*": {},
        "*_run": { action: "deny" },
        "get_*_run": { action: "require_approval" },
        get_run: {},
        "*": {},
        "g*t*": { action: "deny" },
        "get*": {},
      },
    });
    expect(policy.ruleFor("get_run")).toBe("/tools/get_run");
    expect(policy.ruleFor("get_big_run")).toBe("/tools/get_*_run");
    expect(policy.ruleFor("get_x")).toBe("/tools/get_*");
    expect(policy.ruleFor("stop_run")).toBe("/tools/*_run");
    expect(policy.ruleFor("gxt")).toBe("/tools/g*t*");
    expect(policy.ruleFor("getx")).toBe("/tools/get*");
    expect(policy.ruleFor("zzz")).toBe("/tools/*");
    // "*_run" (4 literal chars) and "get_*" (4) tie on "get_run_run"? No: get_*_run has 7.
    expect(policy.ruleFor("get_run_run")).toBe("/tools/get_*_run");
  });

  it("breaks ties between equally specific patterns by document order", () => {
    const a = compilePolicy({ version: "1", default: "deny", tools: { "ab*": {}, "*yz": { action: "deny" } } });
    expect(a.ruleFor("abyz")).toBe("/tools/ab*");
    const b = compilePolicy({ version: "1", default: "deny", tools: { "*yz": { action: "deny" }, "ab*": {} } });
    expect(b.ruleFor("abyz")).toBe("/tools/*yz");
  });

  it("treats every character but * literally, case-sensitively", () => {
    const policy = compilePolicy({
      version: "1",
      default: "deny",
      tools: { "a.b?": {}, "x+*": {}, "[q]*": {}, "~/*": {} },
    });
    expect(policy.ruleFor("a.b?")).toBe("/tools/a.b?");
    expect(policy.ruleFor("aXbY")).toBe("/default");
    expect(policy.ruleFor("x+1")).toBe("/tools/x+*");
    expect(policy.ruleFor("xx1")).toBe("/default");
    expect(policy.ruleFor("[q]z")).toBe("/tools/[q]*");
    expect(policy.ruleFor("A.B?")).toBe("/default");
    expect(policy.decideSync({ tool: "~/etc", session })).toEqual({ outcome: "allow", rule: "/tools/~0~1*" });
  });

  it("resolves correctly past the name cache bound", () => {
    const tools: Record<string, object> = {};
    for (let i = 0; i < 1000; i++) tools[`p${i}_*`] = {};
    for (let i = 0; i < 1000; i++) tools[`*_s${i}`] = { action: "deny" };
    tools["*mid*"] = { action: "require_approval" };
    const policy = compilePolicy({ version: "1", default: "deny", tools });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 12_000; i++) {
        const n = i % 1000;
        expect(policy.ruleFor(`p${n}_x${i}`)).toBe(`/tools/p${n}_*`);
        expect(policy.ruleFor(`q_x${i}_s${n}`)).toBe(`/tools/*_s${n}`);
      }
    }
    expect(policy.ruleFor("p1_mid_s1")).toBe("/tools/p1_*");
    expect(policy.ruleFor("zzmidzz")).toBe("/tools/*mid*");
    expect(policy.ruleFor("unknown")).toBe("/default");
  });

  it("handles __proto__, constructor and prototype as tool names", () => {
    const policy = compilePolicy(
      '{"version":"1","default":"deny","tools":{"__proto__":{},"constructor":{"action":"deny"}}}',
    );
    expect(policy.decideSync({ tool: "__proto__", session }).outcome).toBe("allow");
    expect(policy.decideSync({ tool: "constructor", session }).outcome).toBe("deny");
    expect(policy.decideSync({ tool: "prototype", session }).rule).toBe("/default");
    expect(policy.decideSync({ tool: "toString", session }).rule).toBe("/default");
  });
});
