// Decisions per second through RedisStore against rate-limiter-flexible's RateLimiterRedis, on
// the same redis-server (started here by scripts/redis-server.mjs), the same ioredis client and
// the same concurrency (64 calls in flight), in interleaved rounds so that machine noise falls
// on both alike. RedisStore keeps an exact sliding window (a log of calls per budget);
// RateLimiterRedis keeps a fixed-window counter.
//
//   node bench/redis.mjs            6 rounds of 2 s per contender
//   node bench/redis.mjs --quick    2 rounds of 0.5 s
//
// Imports the package by its name: Node resolves "toolgate" to this package's dist/ (build first).

import { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { compilePolicy } from "toolgate";
import { RedisStore } from "toolgate/redis";
import { ensureRedisServer, startRedisServer } from "../scripts/redis-server.mjs";

const quick = process.argv.includes("--quick");
const ROUNDS = quick ? 2 : 6;
const ROUND_MS = quick ? 500 : 2_000;
const IN_FLIGHT = 64;
const SESSIONS = 1_000;
// Every call fits (1,000 sessions share the load, each under 100 calls a second), so both
// contenders do the work of an allowed call every time.
const MAX = 100;
const WINDOW_S = 1;

const found = await ensureRedisServer();
if (found.server === null) {
  console.error(`bench/redis.mjs: redis-server unavailable: ${found.reason}`);
  process.exit(1);
}
const server = await startRedisServer({ bin: found.server });
const client = new Redis({ host: server.host, port: server.port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
await client.connect();

const policy = compilePolicy(
  { version: "1", default: "deny", tools: { search_runs: { rate_limit: { max: MAX, window: WINDOW_S } } } },
  { store: new RedisStore({ client }), namespace: "bench", storeTimeoutMs: 5_000 },
);
const calls = Array.from({ length: SESSIONS }, (_, i) => ({ tool: "search_runs", args: {}, session: { id: `session-${i}` } }));
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
    name: "rate-limiter-flexible RateLimiterRedis (fixed window)",
    async decide(i) {
      await limiter.consume(`session-${i % SESSIONS}`);
    },
  },
];

/** Runs `decide` with IN_FLIGHT calls outstanding for `ms`; returns the count and each latency. */
async function round(contender, ms) {
  const latencies = [];
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
  return { count: latencies.length, seconds: (performance.now() - start) / 1000, latencies };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

try {
  for (const c of contenders) await round(c, quick ? 200 : 500); // warm-up: JIT, script cache
  const totals = contenders.map(() => ({ count: 0, seconds: 0, latencies: [] }));
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate who goes first, so neither always runs on a warmer (or cooler) machine.
    const order = r % 2 === 0 ? [0, 1] : [1, 0];
    for (const k of order) {
      const res = await round(contenders[k], ROUND_MS);
      totals[k].count += res.count;
      totals[k].seconds += res.seconds;
      for (const l of res.latencies) totals[k].latencies.push(l);
    }
  }
  console.log(`Redis ${server.url} · one ioredis client · ${IN_FLIGHT} in flight · ${ROUNDS} interleaved rounds of ${ROUND_MS} ms`);
  const rates = [];
  for (const [k, c] of contenders.entries()) {
    const t = totals[k];
    const sorted = t.latencies.sort((a, b) => a - b);
    const rate = t.count / t.seconds;
    rates.push(rate);
    console.log(
      `${c.name.padEnd(55)} ${Math.round(rate).toLocaleString("en-US").padStart(9)} decisions/s   p50 ${percentile(sorted, 50).toFixed(2)} ms   p99 ${percentile(sorted, 99).toFixed(2)} ms`,
    );
  }
  console.log(`ratio (toolgate / rate-limiter-flexible): ${(rates[0] / rates[1]).toFixed(2)}`);
} finally {
  client.disconnect();
  await server.stop();
}
