import { describe, expect, it } from "vitest";
import { compilePolicy, guard, ToolCallRefused, ToolCallRefusedError, type DispatchedCall } from "toolgate";

const policy = () =>
  compilePolicy({
    version: "1",
    default: "deny",
    tools: {
      get_run: {},
      search_runs: {
        rules: [
          { when: { args: { properties: { max_results: { maximum: 100 } } } } },
          { action: "deny", reason: "max_results must be at most 100" },
        ],
      },
      create_run: { rate_limit: { max: 1, window: "1m" } },
      delete_run: { action: "deny", reason: "Destructive operations are blocked" },
      update_run: { action: "require_approval", reason: "Changes run metadata", rate_limit: { max: 1, window: "1h" } },
    },
  });

const session = { id: "s1" };

async function refusal(promise: Promise<unknown>): Promise<ToolCallRefusedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ToolCallRefusedError)) throw new Error(`expected ToolCallRefusedError, got ${String(error)}`);
  return error;
}

describe("guard", () => {
  it("dispatches an allowed call with a copy of its arguments and the rest of the arguments as given", async () => {
    const seen: unknown[] = [];
    const context = { requestId: 7 };
    const run = guard(policy(), (call: DispatchedCall, ctx: { requestId: number }) => {
      seen.push({ call, ctx });
      return `ran ${call.tool}`;
    });
    const args = { run_id: "r1", nested: { a: [1, 2] } };
    await expect(run({ tool: "get_run", args, session, annotations: { readOnlyHint: true } }, context)).resolves.toBe(
      "ran get_run",
    );
    expect(seen).toEqual([
      { call: { tool: "get_run", args, session, annotations: { readOnlyHint: true } }, ctx: context },
    ]);
    const dispatched = seen[0] as { call: DispatchedCall; ctx: unknown };
    expect(dispatched.call.args).not.toBe(args);
    expect(dispatched.call.args.nested).not.toBe(args.nested);
    expect(dispatched.ctx).toBe(context);
  });

  it("passes {} as the arguments of a call without them", async () => {
    const seen: DispatchedCall[] = [];
    const run = guard(policy(), (call) => void seen.push(call));
    await run({ tool: "get_run", session });
    expect(seen).toEqual([{ tool: "get_run", args: {}, session }]);
  });

  it("throws ToolCallRefused with the decision for deny and rate_limited, without dispatching", async () => {
    let dispatched = 0;
    const run = guard(policy(), () => ++dispatched);
    const denied = await refusal(run({ tool: "delete_run", args: { run_id: "r1" }, session }));
    expect(denied.decision).toEqual({
      outcome: "deny",
      rule: "/tools/delete_run",
      reason: "Destructive operations are blocked",
      cause: "policy",
    });
    expect(denied.message).toBe("Destructive operations are blocked");
    expect(denied.tool).toBe("delete_run");
    expect(denied.name).toBe("ToolCallRefusedError");
    // The 0.1 name is the same class, kept until 1.0.
    expect(ToolCallRefused).toBe(ToolCallRefusedError);
    expect(denied).toBeInstanceOf(ToolCallRefused);
    expect(await run({ tool: "create_run", session })).toBe(1);
    const limited = await refusal(run({ tool: "create_run", session }));
    expect(limited.decision).toMatchObject({
      outcome: "rate_limited",
      rule: "/tools/create_run/rate_limit",
      retryAfterMs: expect.any(Number),
    });
    expect(dispatched).toBe(1);
  });

  it("refuses a call that needs approval when no approval option is given", async () => {
    const run = guard(policy(), () => "ran");
    const refused = await refusal(run({ tool: "update_run", args: { run_id: "r1" }, session }));
    expect(refused.decision).toEqual({
      outcome: "needs_approval",
      rule: "/tools/update_run",
      reason: "Changes run metadata",
    });
  });

  describe("with an approval option", () => {
    it("asks, and on approval decides again as approved (counting it) and dispatches", async () => {
      const asked: unknown[] = [];
      const run = guard(policy(), (call, _tag: string) => call.args, {
        approval: (request, tag) => {
          asked.push({ request, tag });
          return true;
        },
      });
      await expect(run({ tool: "update_run", args: { run_id: "r1" }, session }, "ctx")).resolves.toEqual({
        run_id: "r1",
      });
      expect(asked).toEqual([
        {
          request: {
            call: { tool: "update_run", args: { run_id: "r1" }, session },
            decision: { outcome: "needs_approval", rule: "/tools/update_run", reason: "Changes run metadata" },
          },
          tag: "ctx",
        },
      ]);
      // Counted: the limit of one call an hour is used, and nobody is asked in vain.
      const limited = await refusal(run({ tool: "update_run", args: { run_id: "r2" }, session }, "ctx"));
      expect(limited.decision.outcome).toBe("rate_limited");
      expect(asked).toHaveLength(1);
    });

    it("refuses when the approval says no: not_approved, the approver's words only as detail", async () => {
      const answers = [false, { approved: false, reason: "The user declined" }, { approved: false }];
      let dispatched = 0;
      const run = guard(policy(), () => ++dispatched, { approval: () => answers.shift() ?? true });
      const first = await refusal(run({ tool: "update_run", session }));
      expect(first.decision).toEqual({
        outcome: "deny",
        rule: "/tools/update_run",
        reason: "The call was not approved by the person asked.",
        cause: "not_approved",
      });
      expect(first.approval).toEqual({
        outcome: "needs_approval",
        rule: "/tools/update_run",
        reason: "Changes run metadata",
      });
      const second = await refusal(run({ tool: "update_run", session }));
      // A host callback's text never reaches the reason (docs/spec.md section 3): it is the detail.
      expect(second.message).toBe("The call was not approved by the person asked.");
      expect(second.detail).toBe("The user declined");
      expect((await refusal(run({ tool: "update_run", session }))).detail).toBeUndefined();
      expect(dispatched).toBe(0);
      // Refusals used no budget.
      expect(await run({ tool: "update_run", session })).toBe(1);
    });

    it("refuses when the approval throws or answers something that is not an approval", async () => {
      const run = guard(policy(), () => "ran", {
        approval: () => {
          throw new Error("approval UI unavailable");
        },
      });
      const failed = await refusal(run({ tool: "update_run", session }));
      expect(failed.message).toBe("The call was not approved: asking for approval failed.");
      expect(failed.decision).toMatchObject({ outcome: "deny", cause: "host_failure" });
      expect(failed.message).not.toContain("approval UI unavailable");
      expect(failed.detail).toContain("approval UI unavailable");
      const odd = guard(policy(), () => "ran", { approval: () => "yes" as never });
      expect((await refusal(odd({ tool: "update_run", session }))).decision.outcome).toBe("deny");
    });

    it("gives the approver a copy: changing it does not change what runs", async () => {
      const seen: unknown[] = [];
      const run = guard(policy(), (call) => void seen.push(call.args), {
        approval: ({ call }) => {
          call.args.run_id = "someone-else";
          return true;
        },
      });
      await run({ tool: "update_run", args: { run_id: "r1" }, session });
      expect(seen).toEqual([{ run_id: "r1" }]);
    });
  });

  describe("the snapshot of the arguments", () => {
    it("reads a getter once: the policy and the tool see the same value", async () => {
      let reads = 0;
      const seen: unknown[] = [];
      const run = guard(policy(), (call) => void seen.push(call.args));
      const args = {
        get max_results() {
          reads += 1;
          return reads === 1 ? 10 : 5000;
        },
      };
      await run({ tool: "search_runs", args, session });
      expect(seen).toEqual([{ max_results: 10 }]);
      expect(reads).toBe(1);
    });

    it("is not changed by the caller mutating its object while the decision is pending", async () => {
      const seen: unknown[] = [];
      const run = guard(policy(), (call) => void seen.push(call.args));
      const args = { max_results: 10 };
      const pending = run({ tool: "search_runs", args, session });
      args.max_results = 5000;
      await pending;
      expect(seen).toEqual([{ max_results: 10 }]);
    });

    it("denies arguments that cannot be copied as JSON data, without throwing anything else", async () => {
      const cyclic: Record<string, unknown> = { a: 1 };
      cyclic.self = cyclic;
      const hostile = {
        get boom(): never {
          throw new Error("gotcha");
        },
      };
      let dispatched = 0;
      const run = guard(policy(), () => ++dispatched);
      for (const args of [cyclic, { n: 10n }, hostile]) {
        const refused = await refusal(run({ tool: "get_run", args: args, session }));
        expect(refused.decision).toMatchObject({ outcome: "deny", rule: "", cause: "malformed_call" });
        expect(refused.message).toBe("Malformed call: the arguments could not be copied as JSON data.");
        expect(refused.message).not.toContain("gotcha");
      }
      let deep: Record<string, unknown> = {};
      for (let i = 0; i < 200_000; i++) deep = { d: deep };
      expect((await refusal(run({ tool: "get_run", args: deep, session }))).decision.outcome).toBe("deny");
      expect(dispatched).toBe(0);
    });

    it("denies arguments that are not a plain object, and calls that are not objects", async () => {
      const run = guard(policy(), () => "ran");
      for (const args of [[1, 2], "x", null, new Map([["run_id", "r1"]])]) {
        const refused = await refusal(run({ tool: "get_run", args: args as never, session }));
        expect(refused.decision).toMatchObject({ outcome: "deny", rule: "" });
        expect(refused.message).toMatch(/^Malformed call: "args" must be a plain object when present/);
      }
      expect((await refusal(run(null as never))).message).toBe("Malformed call: the call must be an object.");
      const malformedSession = await refusal(run({ tool: "get_run", session: {} as never }));
      expect(malformedSession.decision).toMatchObject({ outcome: "deny", rule: "" });
    });
  });

  it("gives a failed tool's refundable units back before passing the error on", async () => {
    const p = compilePolicy({
      version: "1",
      default: "deny",
      tools: { pay: { rate_limit: { max: 1, window: "1h", cost: "/amount", refund: "on_error" } } },
    });
    let fail = true;
    const run = guard(p, () => {
      if (fail) throw new Error("upstream down");
      return "paid";
    });
    await expect(run({ tool: "pay", args: { amount: 1 }, session })).rejects.toThrow("upstream down");
    fail = false;
    // The first call's unit was given back: the budget has room for the second.
    await expect(run({ tool: "pay", args: { amount: 1 }, session })).resolves.toBe("paid");
    const refused = await refusal(run({ tool: "pay", args: { amount: 1 }, session }));
    expect(refused.decision.outcome).toBe("rate_limited");
  });

  it("refuses a call that sets approved, or has a field it does not know", async () => {
    const run = guard(policy(), () => "ran");
    const approved = await refusal(run({ tool: "update_run", session, approved: true } as never));
    expect(approved.message).toBe(
      `Malformed call: "approved" cannot be set by the caller; approval is given through the guard's approval option.`,
    );
    const typo = await refusal(run({ tool: "get_run", arguments: { run_id: "r1" }, session } as never));
    expect(typo.message).toBe('Malformed call: unknown field "arguments" (did you mean "args"?).');
    expect(typo.tool).toBe("get_run");
    // Any other field is not named: the name is the caller's text, and the reason goes to the model.
    const other = await refusal(run({ tool: "get_run", secret_sk_123: 1, session } as never));
    expect(other.message).toBe(
      "Malformed call: it has a field that a call does not have (a call has tool, args, session and annotations).",
    );
    expect(other.detail).toContain("secret_sk_123");
  });

  it("rejects bad arguments and unknown options when it is created", () => {
    expect(() => guard({} as never, () => 1)).toThrow("guard: policy must be a compiled policy (from compilePolicy)");
    expect(() => guard(policy(), "run" as never)).toThrow("guard: dispatch must be a function");
    expect(() => guard(policy(), () => 1, { aproval: () => true } as never)).toThrow('guard: unknown option "aproval"');
    expect(() => guard(policy(), () => 1, { approval: true } as never)).toThrow(
      "guard: options.approval must be a function",
    );
  });
});
