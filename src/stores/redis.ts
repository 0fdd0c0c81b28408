/**
 * `toolgate/redis`: a store on Redis (or Valkey), for budgets shared by several processes or
 * machines. Pass it the ioredis or node-redis client you already have; neither library is a
 * dependency of toolgate.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * import { compilePolicy } from "toolgate";
 * import { RedisStore } from "toolgate/redis";
 *
 * // Fail fast while Redis is unreachable instead of queueing commands until it is back.
 * const client = new Redis(process.env.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
 * const policy = compilePolicy(doc, { store: new RedisStore({ client }), storeTimeoutMs: 250 });
 * ```
 *
 * @packageDocumentation
 */

import type { ConsumeRequest, ConsumeResult, Store } from "toolgate";
import { isNoScript, scriptRunner, type RedisClient, type ScriptRunner } from "./redis-client.js";
import { KeyEncoder } from "./redis-keys.js";
import { DECIDE_SCRIPT, DECIDE_SCRIPT_SHA } from "./redis-script.js";

export type { IORedisClient, NodeRedisClient, NodeRedisEvalOptions, RedisClient } from "./redis-client.js";

/** Whose clock times the calls: the Redis server's, or the engine's (`ConsumeRequest.now`). */
export type RedisStoreClock = "redis" | "engine";

/** Options of {@link RedisStore}. Unknown options are rejected. */
export interface RedisStoreOptions {
  /**
   * A connected ioredis client (`Redis` or `Cluster`, v5+) or node-redis client (`createClient`
   * or `createCluster`, v4+). Configure it to fail fast while Redis is unreachable — ioredis:
   * `enableOfflineQueue: false, maxRetriesPerRequest: 1`; node-redis: `disableOfflineQueue: true`
   * — so an outage turns into prompt denies rather than commands queued until Redis returns.
   */
  client: RedisClient;
  /**
   * Put before every key. May not contain `{` or `}`, which would move keys between Redis
   * Cluster hash slots.
   * @default "toolgate:"
   */
  prefix?: string;
  /**
   * `"redis"` takes each call's time from the Redis server (`TIME` inside the script), so
   * replicas whose clocks disagree still share exact windows. `"engine"` takes the engine's
   * clock (`ConsumeRequest.now`), for tests that drive time with a fake clock; keys still expire
   * in Redis's real time, so keep such windows longer than the test runs.
   * @default "redis"
   */
  clock?: RedisStoreClock;
  /**
   * The most calls waiting on Redis at once. Beyond it `consume` rejects at once (the engine
   * denies, or allows with `failOpen`): a client that queues commands while Redis is away
   * cannot make memory grow without bound.
   * @default 10000
   */
  maxPending?: number;
}

const OPTION_NAMES = new Set(["client", "prefix", "clock", "maxPending"]);
const DEFAULT_PREFIX = "toolgate:";
const DEFAULT_MAX_PENDING = 10_000;

/**
 * A store on Redis: exact sliding windows shared by every process that uses the same Redis and
 * namespace. Each decision is one round trip: a Lua script, run by SHA (and sent again when Redis
 * answers NOSCRIPT after a restart, `SCRIPT FLUSH` or a failover), that checks every budget of
 * the call and counts it in all of them or in none. Keys expire with their window.
 *
 * On Redis Cluster all keys of one policy namespace share one hash slot (a call may touch
 * per-session, per-attribute and global budgets at once, and the script needs them together), so
 * one namespace's budgets live on one shard; different namespaces spread over the cluster.
 *
 * A call that timed out in the engine may still have been counted by Redis.
 *
 * Needs Redis 5 or later, or Valkey: the script reads the server's clock before it writes, which
 * needs the script effects replication that Redis 5 made the default.
 */
export class RedisStore implements Store {
  /** The key prefix. */
  readonly prefix: string;
  /** Whose clock times the calls. */
  readonly clock: RedisStoreClock;
  /** The bound on calls waiting on Redis at once. */
  readonly maxPending: number;
  readonly #runner: ScriptRunner;
  readonly #keys: KeyEncoder;
  #pending = 0;

  /** @throws TypeError when an option is missing, unknown or invalid. */
  constructor(options: RedisStoreOptions) {
    if (options === null || typeof options !== "object" || Array.isArray(options)) {
      throw new TypeError(`RedisStore: options must be an object, got ${describeValue(options)}`);
    }
    for (const key of Object.keys(options)) {
      if (!OPTION_NAMES.has(key)) throw new TypeError(`RedisStore: unknown option "${key}"`);
    }
    if (options.client === undefined || options.client === null) {
      throw new TypeError("RedisStore: client is required: pass an ioredis client or a node-redis (v4+) client");
    }
    const runner = scriptRunner(options.client);
    if (runner === null) {
      throw new TypeError(
        "RedisStore: client must be an ioredis client or a node-redis (v4+) client: it has neither evalsha nor evalSha",
      );
    }
    const prefix = options.prefix === undefined ? DEFAULT_PREFIX : options.prefix;
    if (typeof prefix !== "string") {
      throw new TypeError(`RedisStore: prefix must be a string, got ${describeValue(prefix)}`);
    }
    if (prefix.includes("{") || prefix.includes("}")) {
      throw new TypeError(`RedisStore: prefix must not contain "{" or "}" (they set the Redis Cluster hash slot), got ${JSON.stringify(prefix)}`);
    }
    const clock = options.clock === undefined ? "redis" : options.clock;
    if (clock !== "redis" && clock !== "engine") {
      throw new TypeError(`RedisStore: clock must be "redis" or "engine", got ${describeValue(clock)}`);
    }
    const maxPending = options.maxPending === undefined ? DEFAULT_MAX_PENDING : options.maxPending;
    if (!Number.isSafeInteger(maxPending) || maxPending < 1) {
      throw new TypeError(`RedisStore: maxPending must be a positive integer, got ${describeValue(maxPending)}`);
    }
    this.prefix = prefix;
    this.clock = clock;
    this.maxPending = maxPending;
    this.#runner = runner;
    this.#keys = new KeyEncoder(prefix);
  }

  /** Calls waiting on Redis now. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Checks every budget of the request and, if all have room and it is not a dry run, counts the
   * call in all of them: one script, one round trip.
   *
   * @throws (rejects) when the request is invalid, `maxPending` calls are already waiting, Redis
   *   fails, or its reply is not what the script returns.
   */
  async consume(request: ConsumeRequest): Promise<ConsumeResult> {
    const { keys, args } = this.#encode(request);
    if (this.#pending >= this.maxPending) {
      throw new Error(`RedisStore: ${this.maxPending} calls are already waiting for Redis (maxPending)`);
    }
    this.#pending++;
    try {
      let reply: unknown;
      try {
        reply = await this.#runner.evalSha(DECIDE_SCRIPT_SHA, keys, args);
      } catch (error) {
        if (!isNoScript(error)) throw error;
        // EVAL both runs the script and caches it, so the next call's EVALSHA finds it.
        reply = await this.#runner.eval(DECIDE_SCRIPT, keys, args);
      }
      return parseReply(reply, request.budgets.length);
    } finally {
      this.#pending--;
    }
  }

  #encode(request: ConsumeRequest): { keys: string[]; args: string[] } {
    if (request === null || typeof request !== "object") {
      throw new TypeError(`RedisStore: request must be an object, got ${describeValue(request)}`);
    }
    const { namespace, budgets, now, dryRun } = request;
    if (typeof namespace !== "string") {
      throw new TypeError(`RedisStore: namespace must be a string, got ${describeValue(namespace)}`);
    }
    if (!Array.isArray(budgets) || budgets.length === 0) {
      throw new TypeError("RedisStore: budgets must be a non-empty array");
    }
    let time = "";
    if (this.clock === "engine") {
      if (typeof now !== "number" || !Number.isFinite(now)) {
        throw new TypeError(`RedisStore: now must be a finite number, got ${describeValue(now)}`);
      }
      time = String(now);
    }
    const n = budgets.length;
    const keys: string[] = new Array(n);
    const args: string[] = new Array(2 + 3 * n);
    args[0] = time;
    args[1] = dryRun === true ? "1" : "0";
    for (let i = 0; i < n; i++) {
      const b = budgets[i]!;
      if (b === null || typeof b !== "object" || typeof b.key !== "string") {
        throw new TypeError(`RedisStore: budgets[${i}].key must be a string`);
      }
      checkCount(b.max, i, "max");
      checkCount(b.windowMs, i, "windowMs");
      checkCount(b.cost, i, "cost");
      if (b.cost > b.max) {
        throw new RangeError(`RedisStore: budgets[${i}].cost (${b.cost}) is greater than its max (${b.max}): the call can never fit`);
      }
      keys[i] = this.#keys.key(namespace, b.key);
      args[2 + 3 * i] = String(b.max);
      args[3 + 3 * i] = String(b.windowMs);
      args[4 + 3 * i] = String(b.cost);
    }
    return { keys, args };
  }
}

function checkCount(value: unknown, index: number, name: string): void {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(`RedisStore: budgets[${index}].${name} must be a positive integer, got ${describeValue(value)}`);
  }
}

/** Turns the script's reply into a result, or throws: anything else means something is wrong. */
function parseReply(reply: unknown, n: number): ConsumeResult {
  if (!Array.isArray(reply) || reply.length !== n + 1) throw unexpected(reply);
  const values: number[] = new Array(n);
  let waiting = false;
  for (let i = 0; i < n; i++) {
    const v: unknown = reply[i + 1];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw unexpected(reply);
    if (v > 0) waiting = true;
    values[i] = v;
  }
  if (reply[0] === 1) return { allowed: true, remaining: values };
  if (reply[0] === 0 && waiting) return { allowed: false, retryAfterMs: values };
  throw unexpected(reply);
}

function unexpected(reply: unknown): Error {
  let text: string;
  try {
    text = JSON.stringify(reply) ?? String(reply);
  } catch {
    text = typeof reply;
  }
  if (text.length > 120) text = `${text.slice(0, 120)}…`;
  return new Error(`RedisStore: unexpected reply from Redis: ${text}`);
}

function describeValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean" || v === null || v === undefined) return String(v);
  return typeof v;
}
