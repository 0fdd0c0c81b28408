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

import {
  StoreBusyError,
  type ConsumeRequest,
  type ConsumeResult,
  type RefundRequest,
  type RefundResult,
  type Store,
} from "toolgate";
import { isPlainObject } from "../shared/objects.js";
import { checkIntegerOption, checkOptionKeys } from "../shared/options.js";
import { describeValue } from "../shared/text.js";
import { isNoScript, scriptRunner, type RedisClient, type ScriptRunner } from "./redis-client.js";
import { KeyEncoder } from "./redis-keys.js";
import { DECIDE_SCRIPT, DECIDE_SCRIPT_SHA, REFUND_SCRIPT, REFUND_SCRIPT_SHA } from "./redis-script.js";

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
   * The most calls waiting on Redis at once (queued for a batch or in one). Beyond it `consume`
   * and `refund` reject at once with `StoreBusyError`, which the engine denies even under
   * `failOpen`: a client that queues commands while Redis is away cannot make memory grow
   * without bound, and a burst cannot lift the limits.
   * @default 10000
   */
  maxPending?: number;
}

const OWNER = "RedisStore";
const OPTION_NAMES = ["client", "prefix", "clock", "maxPending"] as const;
const DEFAULT_PREFIX = "toolgate:";
const DEFAULT_MAX_PENDING = 10_000;
/** Script calls in flight per shard: one being run by Redis while the next batch fills. */
const IN_FLIGHT_PER_SHARD = 2;
/**
 * A shard with nothing in flight sends a queue of at least this many calls as two batches: Redis
 * then runs the second while this process reads the first one's reply and gathers the next.
 * (Replies that arrive together wake their callers together; sent as one batch, their calls
 * would leave one of the two processes idle while the other works, turn by turn.)
 */
const SPLIT_AT = 16;
/** Bounds on one batch, so one script run stays short and its reply small. */
const BATCH_CALLS = 256;
const BATCH_KEYS = 1_024;

/** One call waiting for its batch. */
interface Waiting {
  readonly keys: string[];
  /**
   * What the script needs besides keys and time, as one argument: `"<dry> <n>"` then, per
   * budget, `" <max> <window> <cost> <refundable>"`. Calls of one limit share it, so a batch
   * sends each distinct one once.
   */
  readonly shape: string;
  /** The call's time in ms, or `""` for the Redis server's clock. */
  readonly time: string;
  /** Entry ids follow the call's answer: it may count in a refundable budget. */
  readonly ids: boolean;
  readonly n: number;
  readonly resolve: (r: ConsumeResult) => void;
  readonly reject: (e: unknown) => void;
}

/** A call as `#encode` reads it: what it waits with, and the hash tag of its shard. */
type Encoded = Omit<Waiting, "resolve" | "reject"> & { readonly head: string };

/** The calls of one hash tag (one Redis Cluster slot), batched. */
interface Shard {
  readonly queue: Waiting[];
  inFlight: number;
  scheduled: boolean;
}

/**
 * A store on Redis: exact sliding windows shared by every process that uses the same Redis and
 * namespace. The calls waiting for one shard at the same moment go to Redis together, as one
 * Lua script run by SHA (and sent again when Redis answers NOSCRIPT after a restart, `SCRIPT
 * FLUSH` or a failover) that decides them one after the other: each call is checked in every
 * budget and counted in all of them or in none, whatever the other calls of the batch do. Keys
 * expire with their window.
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
  readonly #shards = new Map<string, Shard>();
  #pending = 0;

  /** @throws TypeError when an option is missing, unknown or invalid. */
  constructor(options: RedisStoreOptions) {
    if (options === undefined) throw new TypeError(`${OWNER}: options must be a plain object, got nothing`);
    const o = checkOptionKeys(OWNER, options, OPTION_NAMES);
    if (o.client === undefined || o.client === null) {
      throw new TypeError(`${OWNER}: client is required: pass an ioredis client or a node-redis (v4+) client`);
    }
    const runner = scriptRunner(o.client);
    if (runner === null) {
      throw new TypeError(
        `${OWNER}: client must be an ioredis client or a node-redis (v4+) client: it has neither evalsha nor evalSha`,
      );
    }
    const prefix = o.prefix === undefined ? DEFAULT_PREFIX : o.prefix;
    if (typeof prefix !== "string")
      throw new TypeError(`${OWNER}: prefix must be a string, got ${describeValue(prefix)}`);
    if (prefix.includes("{") || prefix.includes("}")) {
      throw new TypeError(
        `${OWNER}: prefix must not contain "{" or "}" (they set the Redis Cluster hash slot), ` +
          `got ${JSON.stringify(prefix)}`,
      );
    }
    const clock = o.clock === undefined ? "redis" : o.clock;
    if (clock !== "redis" && clock !== "engine") {
      throw new TypeError(`${OWNER}: clock must be "redis" or "engine", got ${describeValue(clock)}`);
    }
    checkIntegerOption(OWNER, "maxPending", o.maxPending, 1);
    this.prefix = prefix;
    this.clock = clock;
    this.maxPending = o.maxPending ?? DEFAULT_MAX_PENDING;
    this.#runner = runner;
    this.#keys = new KeyEncoder(prefix);
  }

  /** Calls waiting on Redis now (queued for a batch or in one). */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Checks every budget of the request and, if all have room and it is not a dry run, counts the
   * call in all of them. Calls made while others of the same namespace are on their way to Redis
   * go together in the next script run.
   *
   * @throws (rejects) TypeError or RangeError when the request is invalid; StoreBusyError when
   *   `maxPending` calls are already waiting; an Error when Redis fails or its reply is not what
   *   the script returns.
   */
  consume(request: ConsumeRequest): Promise<ConsumeResult> {
    let call: Encoded;
    try {
      call = this.#encode(request);
    } catch (e) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- #encode throws only Errors
      return Promise.reject(e);
    }
    if (this.#pending >= this.maxPending) return Promise.reject(busy(this.maxPending));
    this.#pending++;
    const head = call.head;
    let shard = this.#shards.get(head);
    if (shard === undefined) {
      shard = { queue: [], inFlight: 0, scheduled: false };
      this.#shards.set(head, shard);
    }
    const s = shard;
    const { keys, shape, time, ids, n } = call;
    return new Promise<ConsumeResult>((resolve, reject) => {
      s.queue.push({ keys, shape, time, ids, n, resolve, reject });
      this.#schedule(head, s);
    });
  }

  /**
   * Gives back entries counted earlier (one script run): each at most once, and only while it is
   * inside its window as counting judges it.
   *
   * @throws (rejects) TypeError when the request is invalid; StoreBusyError when `maxPending`
   *   calls are already waiting; an Error when Redis fails or answers something else.
   */
  async refund(request: RefundRequest): Promise<RefundResult> {
    if (!isPlainObject(request))
      throw new TypeError(`${OWNER}: refund request must be a plain object, got ${describeValue(request)}`);
    const { namespace, entries, now } = request;
    if (typeof namespace !== "string")
      throw new TypeError(`${OWNER}: namespace must be a string, got ${describeValue(namespace)}`);
    if (!Array.isArray(entries))
      throw new TypeError(`${OWNER}: refund entries must be an array, got ${describeValue(entries)}`);
    const time = this.#time(now);
    if (entries.length === 0) return { given: [] };
    const keys: string[] = new Array<string>(entries.length);
    const args: string[] = new Array<string>(entries.length + 1);
    args[0] = time;
    for (let i = 0; i < entries.length; i++) {
      const e: unknown = entries[i];
      if (!isPlainObject(e) || typeof e.key !== "string" || typeof e.entry !== "string") {
        throw new TypeError(`${OWNER}: refund entries[${i}] must be { key: string, entry: string }`);
      }
      keys[i] = this.#keys.key(namespace, e.key);
      args[i + 1] = e.entry;
    }
    if (this.#pending >= this.maxPending) throw busy(this.maxPending);
    this.#pending++;
    try {
      const reply = await this.#run(REFUND_SCRIPT_SHA, REFUND_SCRIPT, keys, args);
      if (!Array.isArray(reply) || reply.length !== entries.length || !reply.every((v) => v === 0 || v === 1))
        throw unexpected(reply);
      return { given: reply.map((v) => v === 1) };
    } finally {
      this.#pending--;
    }
  }

  /** Sends the shard's next batch, once the calls of this moment have joined it. */
  #schedule(head: string, shard: Shard): void {
    if (shard.scheduled || shard.inFlight >= IN_FLIGHT_PER_SHARD) return;
    shard.scheduled = true;
    // A microtask, not at once: the calls made in the same turn (a burst, or the callers woken by
    // the previous batch's reply) go together.
    queueMicrotask(() => {
      shard.scheduled = false;
      this.#send(head, shard);
    });
  }

  #send(head: string, shard: Shard): void {
    const queue = shard.queue;
    if (queue.length === 0) {
      if (shard.inFlight === 0) this.#shards.delete(head);
      return;
    }
    let calls = 0;
    let keyCount = 0;
    const take =
      shard.inFlight === 0 && queue.length >= SPLIT_AT ? Math.ceil(queue.length / IN_FLIGHT_PER_SHARD) : queue.length;
    while (calls < take && calls < BATCH_CALLS && (calls === 0 || keyCount + queue[calls]!.n <= BATCH_KEYS)) {
      keyCount += queue[calls]!.n;
      calls++;
    }
    const batch = queue.splice(0, calls);
    const { keys, args } = batchArguments(batch, keyCount);
    shard.inFlight++;
    const settle = (): void => {
      shard.inFlight--;
      this.#pending -= batch.length;
      if (queue.length > 0) this.#schedule(head, shard);
      else if (shard.inFlight === 0) this.#shards.delete(head);
    };
    this.#run(DECIDE_SCRIPT_SHA, DECIDE_SCRIPT, keys, args).then(
      (reply) => {
        settle();
        answer(batch, reply);
      },
      (error: unknown) => {
        settle();
        for (const w of batch) w.reject(error);
      },
    );
    if (queue.length > 0 && shard.inFlight < IN_FLIGHT_PER_SHARD) this.#send(head, shard);
  }

  /** Runs a script by SHA, sending its text when Redis does not have it. */
  async #run(sha: string, script: string, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.#runner.evalSha(sha, keys, args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      // EVAL both runs the script and caches it, so the next call's EVALSHA finds it.
      return this.#runner.eval(script, keys, args);
    }
  }

  #time(now: unknown): string {
    if (this.clock === "redis") return "";
    if (typeof now !== "number" || !Number.isFinite(now))
      throw new TypeError(`${OWNER}: now must be a finite number, got ${describeValue(now)}`);
    return String(now);
  }

  #encode(request: ConsumeRequest): Encoded {
    if (request === null || typeof request !== "object") {
      throw new TypeError(`${OWNER}: request must be an object, got ${describeValue(request)}`);
    }
    const { namespace, budgets, now, dryRun } = request;
    if (typeof namespace !== "string")
      throw new TypeError(`${OWNER}: namespace must be a string, got ${describeValue(namespace)}`);
    if (!Array.isArray(budgets) || budgets.length === 0)
      throw new TypeError(`${OWNER}: budgets must be a non-empty array`);
    const n = budgets.length;
    if (n > BATCH_KEYS) throw new RangeError(`${OWNER}: a call may have at most ${BATCH_KEYS} budgets, got ${n}`);
    const keys: string[] = new Array<string>(n);
    const time = this.#time(now);
    const dry = dryRun === true;
    let shape = dry ? `1 ${n}` : `0 ${n}`;
    let ids = false;
    for (let i = 0; i < n; i++) {
      const b: unknown = budgets[i];
      if (b === null || typeof b !== "object")
        throw new TypeError(`${OWNER}: budgets[${i}] must be an object, got ${describeValue(b)}`);
      const { key, max, windowMs, cost, refundable } = b as ConsumeRequest["budgets"][number];
      if (typeof key !== "string")
        throw new TypeError(`${OWNER}: budgets[${i}].key must be a string, got ${describeValue(key)}`);
      checkCount(max, i, "max", 1);
      checkCount(windowMs, i, "windowMs", 1);
      checkCount(cost, i, "cost", 0);
      if (cost > max)
        throw new RangeError(
          `${OWNER}: budgets[${i}].cost (${cost}) is greater than its max (${max}): the call can never fit`,
        );
      const k = this.#keys.key(namespace, key);
      // Checked apart, a repeated budget could be counted past its max (n is at most BATCH_KEYS).
      const j = keys.indexOf(k);
      if (j >= 0 && j < i) throw new RangeError(`${OWNER}: budgets[${i}].key repeats budgets[${j}].key`);
      keys[i] = k;
      shape += refundable === true ? ` ${max} ${windowMs} ${cost} 1` : ` ${max} ${windowMs} ${cost} 0`;
      if (refundable === true && !dry) ids = true;
    }
    return { head: this.#keys.head(namespace), keys, shape, time, ids, n };
  }
}

/**
 * A batch's KEYS and ARGV (the script's layout, in redis-script.ts): the calls' keys in order;
 * ARGV the number of calls, the number of distinct shapes, whether each call has its own
 * argument, the shapes, and then, when they do, per call `"<shape>"` or `"<shape>@<time>"`. A
 * batch of one limit on the Redis server's clock — the common one — sends no argument per call.
 */
function batchArguments(batch: readonly Waiting[], keyCount: number): { keys: string[]; args: string[] } {
  const keys: string[] = new Array<string>(keyCount);
  const shapes = new Map<string, number>();
  const of: number[] = new Array<number>(batch.length);
  let timed = false;
  let k = 0;
  for (let c = 0; c < batch.length; c++) {
    const w = batch[c]!;
    for (const key of w.keys) keys[k++] = key;
    let s = shapes.get(w.shape);
    if (s === undefined) shapes.set(w.shape, (s = shapes.size + 1));
    of[c] = s;
    if (w.time !== "") timed = true;
  }
  const each = timed || shapes.size > 1;
  const args: string[] = [String(batch.length), String(shapes.size), each ? "1" : "0", ...shapes.keys()];
  if (each) {
    for (let c = 0; c < batch.length; c++) {
      const time = batch[c]!.time;
      args.push(time === "" ? String(of[c]) : `${of[c]}@${time}`);
    }
  }
  return { keys, args };
}

function checkCount(value: unknown, index: number, name: string, min: number): asserts value is number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new TypeError(
      `${OWNER}: budgets[${index}].${name} must be a safe integer >= ${min}, got ${describeValue(value)}`,
    );
  }
}

function busy(maxPending: number): StoreBusyError {
  return new StoreBusyError(`${OWNER}: ${maxPending} calls are already waiting for Redis (maxPending)`);
}

/**
 * Hands each call of a batch its answer from the script's reply; a reply that cannot be read
 * fails every call of the batch, a call the script failed fails that call alone.
 */
function answer(batch: readonly Waiting[], reply: unknown): void {
  const results: (ConsumeResult | Error)[] = [];
  let failure: Error | undefined;
  if (!Array.isArray(reply)) failure = unexpected(reply);
  else {
    let at = 0;
    for (const w of batch) {
      const read = readOne(reply, at, w);
      if (read === null) {
        failure = unexpected(reply);
        break;
      }
      results.push(read.result);
      at = read.next;
    }
    if (failure === undefined && at !== reply.length) failure = unexpected(reply);
  }
  batch.forEach((w, i) => {
    const r = failure ?? results[i]!;
    if (r instanceof Error) w.reject(r);
    else w.resolve(r);
  });
}

/** One call's part of the reply from `at`, or `null` when it is not what the script writes. */
function readOne(reply: unknown[], at: number, w: Waiting): { result: ConsumeResult | Error; next: number } | null {
  const n = w.n;
  const status: unknown = reply[at];
  if (status === 2) {
    const message: unknown = reply[at + 1];
    if (typeof message !== "string") return null;
    return { result: new Error(`${OWNER}: Redis failed the call's script: ${message.slice(0, 200)}`), next: at + 2 };
  }
  if (status !== 0 && status !== 1) return null;
  if (reply.length < at + 1 + n) return null;
  const values: number[] = new Array<number>(n);
  let waiting = false;
  for (let i = 0; i < n; i++) {
    const v: unknown = reply[at + 1 + i];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) return null;
    if (v > 0) waiting = true;
    values[i] = v;
  }
  if (status === 0) return waiting ? { result: { allowed: false, retryAfterMs: values }, next: at + 1 + n } : null;
  let next = at + 1 + n;
  // Entry ids follow only when the call was counted in some refundable budget (dry runs: none).
  if (!w.ids) return { result: { allowed: true, remaining: values }, next };
  if (reply.length < next + n) return null;
  const entries: (string | null)[] = new Array<string | null>(n);
  for (let i = 0; i < n; i++) {
    const id: unknown = reply[next + i];
    if (typeof id !== "string") return null;
    entries[i] = id === "" ? null : id;
  }
  next += n;
  return { result: { allowed: true, remaining: values, entries }, next };
}

function unexpected(reply: unknown): Error {
  let text: string;
  try {
    text = JSON.stringify(reply) ?? String(reply);
  } catch {
    text = typeof reply;
  }
  if (text.length > 120) text = `${text.slice(0, 120)}…`;
  return new Error(`${OWNER}: unexpected reply from Redis: ${text}`);
}
