/**
 * Adversarial review of 0.2 (issue 11): `guard()` and hostile calls through the public entry —
 * calls that change between the decision and the dispatch (getters, approvers that mutate what
 * they are shown), hostile approval answers, a call that claims `approved`, non-plain and
 * non-enumerable calls (issue 10 item 7), and dispatchers that fail (refunds).
 */

import { compilePolicy, guard, MemoryStore, ToolCallRefusedError, type PolicyDocument } from "toolgate";
import { describe, expect, it } from "vitest";

const S = { id: "s" };
const doc: PolicyDocument = {
  version: "1",
  name: "attack-guard",
  default: "deny",
  tools: {
    read: {
      rules: [
        {
          when: { args: { properties: { path: { pathWithin: "/workspace" } }, required: ["path"] } },
          rate_limit: { max: 5, window: "1m" },
        },
        { action: "deny", reason: "outside the workspace" },
      ],
    },
    write: {
      action: "require_approval",
      reason: "writes need a person",
      rate_limit: { max: 2, window: "1m", refund: "on_error" },
    },
  },
};

async function refusal(p: Promise<unknown>): Promise<ToolCallRefusedError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ToolCallRefusedError);
  return e as ToolCallRefusedError;
}

describe("attack: guard() time of check and time of use", () => {
  it("a getter that answers a safe path once and /etc/shadow after: the dispatcher gets the safe copy", async () => {
    const seen: unknown[] = [];
    const run = guard(compilePolicy(doc), (call) => seen.push(call.args.path));
    let reads = 0;
    const args = {
      get path() {
        return reads++ === 0 ? "/workspace/a" : "/etc/shadow";
      },
    };
    await run({ tool: "read", args, session: S });
    expect(seen).toEqual(["/workspace/a"]);
  });

  it("an approver that mutates the call it is shown cannot change what runs", async () => {
    const seen: unknown[] = [];
    const run = guard(compilePolicy(doc), (call) => seen.push(call.args), {
      approval: (req) => {
        req.call.args.path = "/etc/shadow";
        (req.call as unknown as Record<string, unknown>).tool = "read";
        return true;
      },
    });
    await run({ tool: "write", args: { path: "/workspace/x" }, session: S });
    expect(seen).toEqual([{ path: "/workspace/x" }]);
  });

  it("the host's arguments changed while the approver is asked do not reach the dispatcher", async () => {
    const seen: unknown[] = [];
    const args: Record<string, unknown> = { path: "/workspace/x" };
    const run = guard(compilePolicy(doc), (call) => seen.push(call.args), {
      approval: async () => {
        args.path = "/etc/shadow";
        await new Promise((r) => setTimeout(r, 5));
        return true;
      },
    });
    await run({ tool: "write", args, session: S });
    expect(seen).toEqual([{ path: "/workspace/x" }]);
  });

  it("a call that claims approved: true is refused, never dispatched", async () => {
    let ran = 0;
    const run = guard(compilePolicy(doc), () => ran++);
    const e = await refusal(run({ tool: "write", args: {}, session: S, approved: true } as never));
    expect(e.decision.outcome).not.toBe("allow");
    expect(ran).toBe(0);
  });
});

describe("attack: hostile approval answers", () => {
  const answers: [string, () => unknown][] = [
    ["a string", () => "yes"],
    ["{ approved: 'true' }", () => ({ approved: "true" })],
    ["a number", () => 1],
    ["null", () => null],
    [
      "a getter that throws",
      () =>
        Object.defineProperty({}, "approved", {
          get: () => {
            throw new Error("MARKER");
          },
          enumerable: true,
        }),
    ],
    [
      "a Proxy",
      () =>
        new Proxy(
          { approved: true },
          {
            get: () => {
              throw new Error("MARKER");
            },
          },
        ),
    ],
    ["a rejected promise", () => Promise.reject(new Error("MARKER"))],
    [
      "a thrown error",
      () => {
        throw new Error("MARKER");
      },
    ],
    [
      "a thenable that throws",
      () => ({
        then: () => {
          throw new Error("MARKER");
        },
      }),
    ],
    ["{ approved: false, reason: MARKER }", () => ({ approved: false, reason: "MARKER the user said no" })],
  ];

  it.each(answers)("%s: refused, not dispatched, MARKER kept out of the reason", async (_name, answer) => {
    let ran = 0;
    const run = guard(compilePolicy(doc), () => ran++, { approval: answer as never });
    const e = await refusal(run({ tool: "write", args: {}, session: S }));
    expect(ran).toBe(0);
    expect(e.decision).toMatchObject({ outcome: "deny" });
    expect(["not_approved", "host_failure"]).toContain((e.decision as { cause: string }).cause);
    expect(e.message).not.toContain("MARKER");
    expect(JSON.stringify(e.decision)).not.toContain("MARKER");
  });

  it("an approver that re-enters the guarded function does not double-count or deadlock", async () => {
    let ran = 0;
    let depth = 0;
    const policy = compilePolicy(doc, { store: new MemoryStore() });
    const run = guard(policy, () => ran++, {
      approval: async () => {
        if (depth++ < 3) await run({ tool: "write", args: {}, session: S }).catch(() => undefined);
        return true;
      },
    });
    await run({ tool: "write", args: {}, session: S }).catch(() => undefined);
    // max 2: at most two dispatches, whatever the nesting.
    expect(ran).toBeLessThanOrEqual(2);
    expect(ran).toBeGreaterThanOrEqual(1);
  });
});

describe("attack: dispatchers that fail, and refunds", () => {
  it("a throwing dispatcher gets its unit back once; the error passes through unchanged", async () => {
    const policy = compilePolicy(doc, { clock: () => 0 });
    const boom = new Error("tool failed");
    const run = guard(
      policy,
      () => {
        throw boom;
      },
      { approval: () => true },
    );
    for (let i = 0; i < 10; i++) await expect(run({ tool: "write", args: {}, session: S })).rejects.toBe(boom);
    // Every failure was refunded: the budget still has its two units.
    expect(await policy.peek({ tool: "write", session: S, approved: true })).toMatchObject({
      outcome: "allow",
      remaining: 1,
    });
  });

  it("a non-Error, a getter-laden object or a rejection thrown by the dispatcher passes on as is", async () => {
    const policy = compilePolicy(doc, { clock: () => 0 });
    const thrown = [
      "a string",
      42,
      null,
      Object.defineProperty({}, "message", {
        get: () => {
          throw new Error("MARKER");
        },
      }),
    ];
    for (const t of thrown) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- non-Error rejections on purpose
      const run = guard(policy, () => Promise.reject(t), { approval: () => true });
      await expect(run({ tool: "write", args: {}, session: S })).rejects.toBe(t);
    }
    expect(await policy.peek({ tool: "write", session: S, approved: true })).toMatchObject({
      outcome: "allow",
      remaining: 1,
    });
  });
});

describe("attack: non-plain and non-enumerable calls (issue 10 item 7)", () => {
  const policy = compilePolicy(doc);

  it("a class instance, a null-prototype object, and an object from another realm", async () => {
    class Call {
      tool = "read";
      args = { path: "/workspace/a" };
      session = S;
    }
    expect(await policy.decide(new Call() as never)).toMatchObject({ outcome: "deny", cause: "malformed_call" });
    const bare = Object.assign(Object.create(null), { tool: "read", args: { path: "/workspace/a" }, session: S });
    expect(await policy.decide(bare)).toMatchObject({ outcome: "allow" });
    const withProto = Object.assign(Object.create({ args: { path: "/workspace/a" } }), { tool: "read", session: S });
    expect(await policy.decide(withProto)).toMatchObject({ outcome: "deny", cause: "malformed_call" });
  });

  it("non-enumerable args are decided on (a deny rule fires on what the dispatcher reads)", async () => {
    const call = { tool: "read", session: S };
    Object.defineProperty(call, "args", { value: { path: "/etc/shadow" }, enumerable: false });
    expect(await policy.decide(call as never)).toMatchObject({ outcome: "deny", rule: "/tools/read/rules/1" });
    const args = {};
    Object.defineProperty(args, "path", { value: "/etc/passwd", enumerable: false });
    expect(await policy.decide({ tool: "read", args, session: S })).toMatchObject({ outcome: "deny" });
  });

  it("a symbol-keyed or inherited path is not a path", async () => {
    const args = Object.create({ path: "/workspace/a" }) as Record<string, unknown>;
    expect(await policy.decide({ tool: "read", args, session: S })).toMatchObject({ outcome: "deny" });
    const sym = { [Symbol("path")]: "/workspace/a" };
    expect(await policy.decide({ tool: "read", args: sym, session: S })).toMatchObject({ outcome: "deny" });
  });

  it("frozen, sealed and Proxy calls are read once and decided", async () => {
    let gets = 0;
    const proxied = new Proxy(
      { tool: "read", args: { path: "/workspace/a" }, session: S },
      {
        get(t, k, r) {
          gets++;
          return Reflect.get(t, k, r) as unknown;
        },
      },
    );
    expect(
      await policy.decide(Object.freeze({ tool: "read", args: Object.freeze({ path: "/workspace/a" }), session: S })),
    ).toMatchObject({
      outcome: "allow",
    });
    expect(await policy.decide(proxied)).toMatchObject({ outcome: "allow" });
    expect(gets).toBeLessThanOrEqual(10);
  });
});
