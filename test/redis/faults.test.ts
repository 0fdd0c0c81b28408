// Redis restarted, down, stalled, or without the script: every decision comes back within the
// engine's storeTimeoutMs as a deny with cause "store_failure" (or an allow marked failedOpen),
// never a hang or an unhandled rejection, and decisions recover when Redis does, without a
// restart of this process. What failed goes to observers (`detail`), never into the reason.
// Time bounds are the store timeout times a generous multiplier (more under CI), and "at once"
// is shown by what failed (a connection error, not a timeout), not by a sub-second stopwatch.

import type { Redis } from "ioredis";
import { compilePolicy, type Decision, type DecisionEvent, type Policy } from "toolgate";
import { RedisStore, type RedisClient } from "toolgate/redis";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  closeClient,
  connectIORedis,
  connectNodeRedis,
  describeWithRedis,
  FAIL_FAST_IOREDIS,
} from "../helpers/redis-server.js";

const DOC = { version: "1", default: "deny", tools: { t: { rate_limit: { max: 1_000, window: "1h" } } } } as const;
const CALL = { tool: "t", session: { id: "s" } };

/** How much longer than the store timeout a decision may take on a loaded machine. */
const SLACK = process.env.CI === "true" ? 10 : 5;
const within = (timeoutMs: number) => timeoutMs * SLACK;

/** What observers saw, in order (the event's decision is a copy of the one returned). */
const events: DecisionEvent[] = [];
const observe = (event: DecisionEvent) => {
  events.push(event);
};

let namespaces = 0;
function policyOn(
  client: RedisClient,
  options: { storeTimeoutMs?: number; failOpen?: boolean; maxPending?: number } = {},
) {
  const { maxPending, ...compile } = options;
  const store = new RedisStore({ client, ...(maxPending === undefined ? {} : { maxPending }) });
  const policy = compilePolicy(DOC, {
    store,
    namespace: `faults-${Date.now()}-${++namespaces}`,
    onDecision: observe,
    ...compile,
  });
  return { store, policy };
}

async function timed(policy: Policy): Promise<{ decision: Decision; ms: number }> {
  const start = performance.now();
  const decision = await policy.decide(CALL);
  return { decision, ms: performance.now() - start };
}

/** What failed, as observers saw it: the detail of the latest event with an equal decision. */
function detailOf(decision: Decision): string {
  const text = JSON.stringify(decision);
  for (let i = events.length - 1; i >= 0; i--)
    if (JSON.stringify(events[i]!.decision) === text) return events[i]!.detail ?? "";
  return "";
}

function expectStoreFailure(decision: Decision, detail?: string): void {
  expect(decision).toMatchObject({ outcome: "deny", rule: "/tools/t", cause: "store_failure" });
  if (decision.outcome === "deny") {
    expect(decision.reason).toMatch(
      /^The rate-limit store (failed|did not answer in time|is overloaded), so the call is refused\.$/,
    );
    if (detail !== undefined) expect(detailOf(decision)).toContain(detail);
  }
}

/** Decides until a call is allowed; every decision on the way must be prompt and a clean failure. */
async function untilAllowed(policy: Policy, timeoutMs: number, deadlineMs = 15_000 * (SLACK / 5)): Promise<number> {
  const start = Date.now();
  for (;;) {
    const { decision, ms } = await timed(policy);
    expect(ms).toBeLessThan(within(timeoutMs));
    if (decision.outcome === "allow") return Date.now() - start;
    expectStoreFailure(decision);
    if (Date.now() - start > deadlineMs) throw new Error(`no allow within ${deadlineMs} ms of Redis coming back`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

type NodeClient = Awaited<ReturnType<typeof connectNodeRedis>>;
type Clients = { io: Redis; ioDefault: Redis; node: NodeClient; nodeFailFast: NodeClient };

function withClients(server: () => import("../helpers/redis-server.js").RedisServerHandle): () => Clients {
  let clients: Clients | undefined;
  beforeAll(async () => {
    clients = {
      io: await connectIORedis(server(), FAIL_FAST_IOREDIS),
      ioDefault: await connectIORedis(server()),
      node: await connectNodeRedis(server()),
      nodeFailFast: await connectNodeRedis(server(), { disableOfflineQueue: true }),
    };
  });
  afterAll(async () => {
    await closeClient(clients?.io);
    await closeClient(clients?.ioDefault);
    await closeClient(clients?.node);
    await closeClient(clients?.nodeFailFast);
  });
  return () => clients!;
}

describeWithRedis("RedisStore when Redis restarts mid-run", (server) => {
  const clients = withClients(server);

  it.each(["io", "ioDefault", "node", "nodeFailFast"] as const)(
    "recovers on %s clients without restarting the process",
    async (kind) => {
      const { policy } = policyOn(clients()[kind], { storeTimeoutMs: 500 });
      // A fail-fast client may still be reconnecting after the previous test's restart.
      await untilAllowed(policy, 500);
      await server().restart();
      // The new server is empty and has no script: the first EVALSHA meets NOSCRIPT.
      await untilAllowed(policy, 500);
      expect((await timed(policy)).decision).toMatchObject({ outcome: "allow" });
    },
    30_000,
  );
});

describeWithRedis("RedisStore while Redis is down", (server) => {
  const clients = withClients(server);

  it("denies promptly (or allows failedOpen), bounds calls waiting on a queueing client, and recovers", async () => {
    const failFast = policyOn(clients().io, { storeTimeoutMs: 400 });
    const failFastOpen = policyOn(clients().io, { storeTimeoutMs: 400, failOpen: true });
    const queueing = policyOn(clients().ioDefault, { storeTimeoutMs: 400, maxPending: 5 });
    const node = policyOn(clients().node, { storeTimeoutMs: 400 });
    const nodeFast = policyOn(clients().nodeFailFast, { storeTimeoutMs: 400 });
    for (const p of [failFast, queueing, node, nodeFast])
      expect((await timed(p.policy)).decision.outcome).toBe("allow");

    await server().kill();
    await new Promise((resolve) => setTimeout(resolve, 100));

    // A client that refuses commands while disconnected fails each call at once: with the
    // client's error, not the engine's timeout.
    const fast = await timed(failFast.policy);
    expectStoreFailure(fast.decision);
    expect(detailOf(fast.decision)).not.toContain("no answer within");
    expect(fast.ms).toBeLessThan(within(400));
    const open = await timed(failFastOpen.policy);
    expect(open.decision).toEqual({ outcome: "allow", rule: "/tools/t", failedOpen: true });

    // A client that queues commands while disconnected is cut off by storeTimeoutMs...
    const mark = events.length;
    const queued = await Promise.all(Array.from({ length: 20 }, () => timed(queueing.policy)));
    for (const { decision, ms } of queued) {
      expectStoreFailure(decision);
      expect(ms).toBeLessThan(within(400));
    }
    const seen = events.slice(mark);
    expect(seen.filter((e) => e.detail?.includes("no answer within 400 ms"))).toHaveLength(5);
    // ...and no more than maxPending of its calls wait in its queue; the others failed at once,
    // as an overloaded store (StoreBusyError), which failOpen would not lift either.
    expect(queueing.store.pending).toBeLessThanOrEqual(5);
    const busy = seen.filter((e) => e.detail?.includes("maxPending"));
    expect(busy).toHaveLength(15);
    for (const e of busy)
      expect(e.decision).toMatchObject({ reason: "The rate-limit store is overloaded, so the call is refused." });
    expect(
      queued.filter(({ decision }) => decision.outcome === "deny" && decision.reason.includes("overloaded")),
    ).toHaveLength(15);

    const nodeDown = await timed(node.policy);
    expectStoreFailure(nodeDown.decision);
    expect(nodeDown.ms).toBeLessThan(within(400));
    const nodeFastDown = await timed(nodeFast.policy);
    expectStoreFailure(nodeFastDown.decision);
    expect(detailOf(nodeFastDown.decision)).not.toContain("no answer within");

    await server().start();
    await Promise.all([failFast, queueing, node, nodeFast].map((p) => untilAllowed(p.policy, 400)));
  }, 60_000);
});

describeWithRedis("RedisStore when Redis stalls", (server) => {
  const clients = withClients(server);

  it(
    "denies within storeTimeoutMs while the server is frozen (SIGSTOP), " + "and a timed-out call may still count",
    async () => {
      const namespace = `stall-${Date.now()}`;
      const doc = { version: "1", default: "deny", tools: { t: { rate_limit: { max: 10, window: "1h" } } } } as const;
      const closed = compilePolicy(doc, {
        store: new RedisStore({ client: clients().io }),
        namespace,
        storeTimeoutMs: 300,
        onDecision: observe,
      });
      const open = compilePolicy(doc, {
        store: new RedisStore({ client: clients().io }),
        namespace,
        storeTimeoutMs: 300,
        failOpen: true,
        onDecision: observe,
      });
      expect((await timed(closed)).decision).toMatchObject({ outcome: "allow", remaining: 9 });

      server().pause();
      try {
        const denied = await timed(closed);
        expectStoreFailure(denied.decision, "no answer within 300 ms; the call may still have been counted");
        expect(denied.ms).toBeGreaterThanOrEqual(295);
        expect(denied.ms).toBeLessThan(within(300));
        const allowed = await timed(open);
        expect(allowed.decision).toEqual({ outcome: "allow", rule: "/tools/t", failedOpen: true });
        expect(allowed.ms).toBeLessThan(within(300));
      } finally {
        server().resume();
      }
      // The two timed-out calls reached Redis and ran once it thawed: 10 - 1 - 2 - 1 = 6.
      expect((await timed(closed)).decision).toMatchObject({ outcome: "allow", remaining: 6 });
    },
    30_000,
  );

  it.each(["io", "node"] as const)(
    "denies within storeTimeoutMs during DEBUG SLEEP, on %s clients",
    async (kind) => {
      const { policy } = policyOn(clients()[kind], { storeTimeoutMs: 200 });
      expect((await timed(policy)).decision.outcome).toBe("allow");
      const sleeper = await connectIORedis(server());
      try {
        const sleeping = sleeper.call("DEBUG", "SLEEP", "1");
        await new Promise((resolve) => setTimeout(resolve, 50));
        const stalled = await timed(policy);
        expectStoreFailure(stalled.decision, "no answer within 200 ms");
        expect(stalled.ms).toBeLessThan(within(200));
        await sleeping;
      } finally {
        await closeClient(sleeper);
      }
      expect((await timed(policy)).decision.outcome).toBe("allow");
    },
    30_000,
  );
});

describeWithRedis("RedisStore after SCRIPT FLUSH", (server) => {
  const clients = withClients(server);

  it.each(["io", "node"] as const)(
    "sends the script again on NOSCRIPT and keeps deciding, on %s clients",
    async (kind) => {
      const admin = clients().ioDefault;
      const evals = async () => {
        const info = await admin.info("commandstats");
        return Number(/cmdstat_eval:calls=(\d+)/.exec(info)?.[1] ?? 0);
      };
      const { policy } = policyOn(clients()[kind]);
      expect((await timed(policy)).decision).toMatchObject({ outcome: "allow", remaining: 999 });
      await admin.script("FLUSH");
      const before = await evals();
      expect((await timed(policy)).decision).toMatchObject({ outcome: "allow", remaining: 998 });
      expect(await evals()).toBe(before + 1);
      // Loaded again: the next decision runs by SHA, with no further EVAL.
      expect((await timed(policy)).decision).toMatchObject({ outcome: "allow", remaining: 997 });
      expect(await evals()).toBe(before + 1);
    },
  );
});
