// The four workloads of the comparison, each a ring of calls and the contenders that decide
// them. Every contender takes the same toolgate-shaped call object; building a peer's request
// from it is part of the peer's cost, as it is for a host that adopts the peer.

import { RateLimiterMemory } from "rate-limiter-flexible";
import { compilePolicy, MemoryStore } from "toolgate";
import {
  argsCalls,
  argsPolicy,
  bigCalls,
  bigPolicy,
  rateCalls,
  ratePolicy,
  staticCalls,
  staticPolicy,
} from "./data.mjs";
import { casbinDecider } from "./peers/casbin.mjs";
import { cedarDecider } from "./peers/cedar.mjs";

/** The name of the reference contender in every table. */
export const TOOLGATE = "toolgate decideSync";
/** The (c) contender that calls MemoryStore.consume directly, without the engine. */
export const MEMORY_STORE_ALONE = "toolgate MemoryStore.consume alone (no engine)";
/** The (c) contender with an empty `onDecision` observer: what observing costs. */
export const OBSERVED = "toolgate decideSync, empty onDecision observer";

/**
 * Stops the run when a peer and toolgate disagree on whether a call is allowed: a benchmark
 * of policies that are not equivalent would compare nothing.
 */
function checkAgreement(label, inputs, toolgateAllows, peers, keyOf = (c) => c.tool) {
  // One call per distinct key (the tool name, or what else decides), up to 512 of them.
  const seen = new Set();
  for (const call of inputs) {
    const k = keyOf(call);
    if (seen.has(k)) continue;
    seen.add(k);
    if (seen.size > 512) break;
    const want = toolgateAllows(call);
    for (const [name, allows] of peers) {
      const got = allows(call);
      if (got !== want) {
        throw new Error(
          `bench ${label}: ${name} says ${got ? "allow" : "not allow"} ` +
            `but toolgate says ${want ? "allow" : "not allow"} for ${JSON.stringify(call)}`,
        );
      }
    }
  }
}

/** A `Map.get` on the tool name: the floor for any decision that depends on the name alone. */
function mapBaseline(policy, inputs) {
  const m = new Map();
  for (const c of inputs) m.set(c.tool, policy.decideSync({ tool: c.tool, session: c.session }).outcome);
  return (call) => m.get(call.tool) ?? "deny";
}

/** Workload (a): static allow/deny on the MLflow policy. */
export async function workloadA() {
  const inputs = staticCalls();
  const policy = compilePolicy(staticPolicy);
  const policyAsync = compilePolicy(staticPolicy);
  const cedar = cedarDecider(staticPolicy, { args: false });
  const casbin = await casbinDecider(staticPolicy);
  const allows = (c) => policy.decideSync(c).outcome === "allow";
  checkAgreement("(a)", inputs, allows, [
    ["cedar", cedar.allows],
    ["casbin", casbin.allows],
  ]);
  const floor = mapBaseline(policy, inputs);
  // The same lookup behind an `await`: what one promise tick costs in this loop.
  const floorAwaited = (c) => Promise.resolve(floor(c));
  return {
    id: "a",
    title: "(a) static allow/deny, MLflow policy (40 tools; listed, pattern-matched and unknown names)",
    inputs,
    contenders: [
      { name: "Map.get (floor)", fn: floor },
      { name: TOOLGATE, fn: (c) => policy.decideSync(c) },
      { name: "toolgate decide (awaited)", fn: (c) => policyAsync.decide(c), async: true },
      { name: "Map.get, awaited (1 tick)", fn: floorAwaited, async: true },
      { name: "cedar-wasm statefulIsAuthorized", fn: cedar.decide },
      { name: "casbin enforceSync", fn: casbin.decide },
    ],
  };
}

/** Workload (b): calls decided by an `args` condition. */
export async function workloadB() {
  const inputs = argsCalls();
  const policy = compilePolicy(argsPolicy);
  const cedar = cedarDecider(argsPolicy, { args: true });
  const casbin = await casbinDecider(argsPolicy);
  const argsKey = (c) => `${c.tool} ${JSON.stringify(c.args)}`;
  checkAgreement(
    "(b)",
    inputs,
    (c) => policy.decideSync(c).outcome === "allow",
    [
      ["cedar", cedar.allows],
      ["casbin", casbin.allows],
    ],
    argsKey,
  );
  // What a programmer would write by hand for these three conditions: the floor here.
  const bounds = new Map([
    ["search_experiments", ["max_results", 1000]],
    ["get_runs", ["limit", 100]],
    ["query_runs", ["limit", 100]],
  ]);
  const handWritten = (c) => {
    const b = bounds.get(c.tool);
    if (b === undefined) return "deny";
    const v = c.args[b[0]];
    return v === undefined || (Number.isInteger(v) && v <= b[1]) ? "allow" : "deny";
  };
  checkAgreement(
    "(b)",
    inputs,
    (c) => policy.decideSync(c).outcome === "allow",
    [["hand-written", (c) => handWritten(c) === "allow"]],
    argsKey,
  );
  return {
    id: "b",
    title: "(b) calls decided by an `args` condition (JSON Schema on page sizes; 3 tools)",
    inputs,
    contenders: [
      { name: "hand-written if (floor)", fn: handWritten },
      { name: TOOLGATE, fn: (c) => policy.decideSync(c) },
      { name: "cedar-wasm statefulIsAuthorized", fn: cedar.decide },
      { name: "casbin enforceSync (ABAC eval)", fn: casbin.decide },
    ],
  };
}

/** Counts one call per session so that every budget exists before timing: 10,000 live sessions. */
function touchAll(inputs, fn) {
  const seen = new Set();
  for (const c of inputs) {
    if (seen.has(c.session.id)) continue;
    seen.add(c.session.id);
    fn(c);
  }
  return seen.size;
}

/**
 * Workload (c): a rate-limited tool with 10,000 active sessions. `full` selects the refusing
 * path: every session is over its limit, so every call is rate-limited.
 */
export async function workloadC({ full }) {
  const inputs = rateCalls();
  // Allowing path: 10,000 sessions each calling about every 10 s under a limit of 100 a
  // minute, so every call is allowed and counted (toolgate keeps each call's time, about six
  // per budget, for an exact sliding window). The bench cannot wait 10 s per session, so
  // toolgate's clock advances 1 ms per decision on top of Date.now() (read on every call, as
  // the default clock is). rate-limiter-flexible takes no clock; it gets a budget it never
  // exhausts, and its cost (a counter per fixed window) does not depend on the count.
  // Refusing path: one call per hour, already used, on the real clock.
  const [max, window, points, duration] = full ? [1, "1h", 1, 3600] : [100, "1m", 1_000_000_000, 60];
  let tick = 0;
  const clock = full ? Date.now : () => Date.now() + tick++;
  const doc = ratePolicy(max, window);
  const syncPolicy = compilePolicy(doc, { store: new MemoryStore(), clock });
  const asyncPolicy = compilePolicy(doc, { store: new MemoryStore(), clock });
  // The cost of observing (issue "Observing decisions"): the same policy with an empty observer.
  const observedPolicy = compilePolicy(doc, { store: new MemoryStore(), clock, onDecision: () => {} });
  const rl = new RateLimiterMemory({ points, duration });
  const keep = (x) => x;
  const rlConsume = full ? (c) => rl.consume(c.session.id).catch(keep) : (c) => rl.consume(c.session.id);
  // A hand-written fixed-window counter in a Map: the floor for "count this session's call".
  const counters = new Map();
  const windowMs = duration * 1000;
  const counter = (c) => {
    const now = Date.now();
    const e = counters.get(c.session.id);
    if (e === undefined || now >= e.reset) {
      counters.set(c.session.id, { count: 1, reset: now + windowMs });
      return 1 <= points;
    }
    return ++e.count <= points;
  };
  const active = touchAll(inputs, (c) => {
    syncPolicy.decideSync(c);
    asyncPolicy.decideSync(c);
    observedPolicy.decideSync(c);
    counter(c);
  });
  for (const c of inputs.slice(0, 64)) {
    const d = syncPolicy.decideSync(c);
    if (d.outcome !== (full ? "rate_limited" : "allow"))
      throw new Error(`bench (c): expected ${full ? "rate_limited" : "allow"}, got ${JSON.stringify(d)}`);
  }
  const ids = new Set(inputs.map((c) => c.session.id));
  await Promise.all([...ids].map((id) => rl.consume(id).catch(keep)));
  // The store alone, with the request the engine would build for the call (the key string cached
  // per session, as the engine caches it): what the engine adds is the difference.
  const store = new MemoryStore();
  const storeKeys = new Map([...ids].map((id) => [id, `["bench-rate","/tools/create_run/rate_limit","session"]${id}`]));
  const consume = (c) =>
    store.consume({
      namespace: "bench-rate",
      budgets: [{ key: storeKeys.get(c.session.id), max, windowMs, cost: 1, refundable: false, shared: false }],
      now: clock(),
      dryRun: false,
    });
  for (const c of inputs) consume(c);
  for (const c of inputs.slice(0, 64)) {
    if (consume(c).allowed === full)
      throw new Error(`bench (c): the store alone expected ${full ? "refusals" : "allows"}`);
  }
  return {
    id: full ? "c-full" : "c",
    title: full
      ? `(c′) rate-limited tool, ${active.toLocaleString("en")} active sessions in MemoryStore, ` +
        "every session over its limit (refusing path)"
      : `(c) rate-limited tool (100 a minute per session), ${active.toLocaleString("en")} active sessions ` +
        "in MemoryStore each calling every ~10 s: every call allowed and counted",
    inputs,
    contenders: [
      { name: "Map counter, fixed window (floor)", fn: counter },
      { name: TOOLGATE, fn: (c) => syncPolicy.decideSync(c) },
      { name: OBSERVED, fn: (c) => observedPolicy.decideSync(c) },
      { name: "toolgate decide (awaited)", fn: (c) => asyncPolicy.decide(c), async: true },
      { name: MEMORY_STORE_ALONE, fn: consume },
      { name: `RateLimiterMemory consume (awaited${full ? ", rejection caught" : ""})`, fn: rlConsume, async: true },
    ],
  };
}

/** Workload (d): 10,000 exact tools plus 1,000 patterns, a realistic mix of names. */
export async function workloadD({ peers }) {
  const doc = bigPolicy(10_000, 1_000);
  const inputs = bigCalls(10_000, 1_000);
  const policy = compilePolicy(doc);
  const a = await workloadA();
  const aPolicy = compilePolicy(staticPolicy);
  const contenders = [
    { name: "Map.get (floor)", fn: mapBaseline(policy, inputs) },
    { name: TOOLGATE, fn: (c) => policy.decideSync(c) },
    { name: "toolgate decideSync on (a)", fn: (c) => aPolicy.decideSync(c), inputs: a.inputs },
  ];
  if (peers) {
    const cedar = cedarDecider(doc, { args: false });
    const casbin = await casbinDecider(doc);
    checkAgreement("(d)", inputs, (c) => policy.decideSync(c).outcome === "allow", [
      ["cedar", cedar.allows],
      ["casbin", casbin.allows],
    ]);
    contenders.push(
      { name: "cedar-wasm statefulIsAuthorized", fn: cedar.decide },
      { name: "casbin enforceSync", fn: casbin.decide },
    );
  }
  return {
    id: "d",
    title:
      "(d) 10,000 exact tools + 1,000 patterns; a server's 64 names, repeated (40 exact, 16 under patterns, 8 unknown)",
    inputs,
    contenders,
  };
}
