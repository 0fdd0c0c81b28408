// Decisions per second through RedisStore (via policy.decide, and the store alone) against
// rate-limiter-flexible's RateLimiterRedis, on the same redis-server (started here by
// scripts/redis-server.mjs), the same ioredis client and the same concurrency (64 calls in
// flight, over 2,000 sessions), in interleaved rounds so that machine noise falls on all alike.
// RedisStore is made as a user would make it,
// `new RedisStore({ client })`, with its default options, and keeps an exact sliding window (a
// log of calls per budget); RateLimiterRedis keeps a fixed-window counter.
//
//   node bench/redis.mjs            6 rounds of 2 s per contender
//   node bench/redis.mjs --quick    2 rounds of 0.5 s
//
// Imports the package by its name: Node resolves "toolgate" to this package's dist/ (build first).

import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { compilePolicy } from "toolgate";
import { RedisStore } from "toolgate/redis";
import { ensureRedisServer, startRedisServer } from "../scripts/redis-server.mjs";

const quick = process.argv.includes("--quick");
const ROUNDS = quick ? 2 : 6;
const ROUND_MS = quick ? 500 : 2_000;
const IN_FLIGHT = 64;
const SESSIONS = 2_000;
// Every call fits (2,000 sessions share the load: at 250,000 decisions a second, 125 calls a
// second each, under 1,000), so both contenders do the work of an allowed call every time.
// toolgate's cost grows with the calls inside a window, not with `max`.
const MAX = 1_000;
const WINDOW_S = 1;

const found = await ensureRedisServer();
if (found.server === null) {
  console.error(`bench/redis.mjs: redis-server unavailable: ${found.reason}`);
  process.exit(1);
}
const server = await startRedisServer({ bin: found.server });
const client = new Redis({
  host: server.host,
  port: server.port,
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
});
await client.connect();

const policy = compilePolicy(
  { version: "1", default: "deny", tools: { search_runs: { rate_limit: { max: MAX, window: WINDOW_S } } } },
  { store: new RedisStore({ client }), namespace: "bench", storeTimeoutMs: 5_000 },
);
const calls = Array.from({ length: SESSIONS }, (_, i) => ({
  tool: "search_runs",
  args: {},
  session: { id: `session-${i}` },
}));
// The store alone, as the engine would call it, to show what the engine adds.
const store = new RedisStore({ client });
const requests = Array.from({ length: SESSIONS }, (_, i) => ({
  namespace: "bench-store",
  budgets: [{ key: `session-${i}`, max: MAX, windowMs: WINDOW_S * 1000, cost: 1, refundable: false, shared: false }],
  now: 0,
  dryRun: false,
}));
const limiter = new RateLimiterRedis({ storeClient: client, points: MAX, duration: WINDOW_S, keyPrefix: "rlflx" });

const contenders = [
  {
    name: "toolgate RedisStore (sliding window)",
    async decide(i) {
      const d = await policy.decide(calls[i % SESSIONS]);
      if (d.outcome !== "allow") throw new Error(`unexpected decision: ${JSON.stringify(d)}`);
    },
  },
  {
    name: "toolgate RedisStore.consume alone (no engine)",
    async decide(i) {
      const r = await store.consume(requests[i % SESSIONS]);
      if (!r.allowed) throw new Error("unexpected refusal");
    },
  },
  {
    name: "rate-limiter-flexible RateLimiterRedis (fixed window)",
    async decide(i) {
      await limiter.consume(`session-${i % SESSIONS}`);
    },
  },
];

/** Script time Redis spent (µs) and scripts it ran, from INFO commandstats. */
async function scriptStats() {
  const info = await client.info("commandstats");
  let usec = 0;
  let calls = 0;
  for (const m of info.matchAll(/cmdstat_(?:eval|evalsha):calls=(\d+),usec=(\d+)/g)) {
    calls += Number(m[1]);
    usec += Number(m[2]);
  }
  return { usec, calls };
}

/**
 * CPU time (µs) the redis-server process has used, all of it (network I/O and command parsing
 * as well as scripts), from /proc on Linux; `undefined` elsewhere.
 */
function redisProcessUs() {
  try {
    const stat = readFileSync(`/proc/${server.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
  } catch {
    return undefined;
  }
}

/**
 * Runs `decide` with IN_FLIGHT calls outstanding for `ms`. Returns the count, each latency, and
 * the CPU time per decision of this process (the client side: engine, client library, socket)
 * and of Redis (the script), which unlike wall time do not depend much on what else the machine
 * is running.
 */
async function round(contender, ms) {
  const latencies = [];
  await client.config("RESETSTAT");
  const cpu0 = process.cpuUsage();
  const redis0 = redisProcessUs();
  const end = performance.now() + ms;
  let next = 0;
  const lane = async () => {
    while (performance.now() < end) {
      const i = next++;
      const start = performance.now();
      await contender.decide(i);
      latencies.push(performance.now() - start);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const redis1 = redisProcessUs();
  const redis = await scriptStats();
  return {
    count: latencies.length,
    seconds,
    latencies,
    clientUs: cpu.user + cpu.system,
    redisUs: redis.usec,
    redisProcessUs: redis0 === undefined || redis1 === undefined ? Number.NaN : redis1 - redis0,
  };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

try {
  for (const c of contenders) await round(c, quick ? 200 : 500); // warm-up: JIT, script cache
  const totals = contenders.map(() => ({
    count: 0,
    seconds: 0,
    clientUs: 0,
    redisUs: 0,
    redisProcessUs: 0,
    latencies: [],
    rates: [],
  }));
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate who goes first, so no one always runs on a warmer (or cooler) machine.
    const order = r % 2 === 0 ? [0, 1, 2] : [2, 1, 0];
    for (const k of order) {
      const res = await round(contenders[k], ROUND_MS);
      const t = totals[k];
      t.count += res.count;
      t.seconds += res.seconds;
      t.clientUs += res.clientUs;
      t.redisUs += res.redisUs;
      t.redisProcessUs += res.redisProcessUs;
      t.rates.push(res.count / res.seconds);
      for (const l of res.latencies) t.latencies.push(l);
    }
  }
  console.log(
    `Redis ${server.url} · one ioredis client · ${IN_FLIGHT} in flight · ` +
      `${ROUNDS} interleaved rounds of ${ROUND_MS} ms`,
  );
  console.log(
    `${"".padEnd(55)} ${"decisions/s".padStart(11)} ${"p50".padStart(8)} ${"p99".padStart(8)}   ` +
      "CPU µs per decision: client, Redis scripts, Redis process",
  );
  for (const [k, c] of contenders.entries()) {
    const t = totals[k];
    const sorted = t.latencies.sort((a, b) => a - b);
    const rate = Math.round(t.count / t.seconds)
      .toLocaleString("en-US")
      .padStart(11);
    const p50 = percentile(sorted, 50).toFixed(2).padStart(5);
    const p99 = percentile(sorted, 99).toFixed(2).padStart(5);
    const clientUs = (t.clientUs / t.count).toFixed(1).padStart(5);
    const redisUs = (t.redisUs / t.count).toFixed(1).padStart(5);
    const processUs = (t.redisProcessUs / t.count).toFixed(1).padStart(5);
    console.log(`${c.name.padEnd(55)} ${rate} ${p50} ms ${p99} ms   ${clientUs}, ${redisUs}, ${processUs}`);
  }
  // Per-round ratios, then their median: each pair of rounds ran side by side on the same machine.
  const ratio = (a, b) => median(totals[a].rates.map((rate, r) => rate / totals[b].rates[r]));
  console.log(`ratio (median of rounds), decide through the engine / RateLimiterRedis: ${ratio(0, 2).toFixed(2)}`);
  console.log(`ratio (median of rounds), RedisStore.consume alone / RateLimiterRedis:  ${ratio(1, 2).toFixed(2)}`);
} finally {
  client.disconnect();
  await server.stop();
}
