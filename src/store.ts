/**
 * The store contract: where rate-limit budgets live (docs/spec.md, "Store contract").
 *
 * The engine hands a store every budget one call touches in a single request, so a networked
 * store can check and count all of them atomically in one round trip. A store must guarantee:
 *
 * - **Exact sliding window.** For each budget, in no half-open interval `[t, t + windowMs)` are
 *   more than `max` units counted. A request is allowed when every budget has room for its
 *   `cost` at the request's time; it is then counted in all of them, else in none.
 * - **All-or-nothing** across the budgets of one request, under any interleaving of concurrent
 *   requests.
 * - **Exact waits.** For a refused request, each full budget's wait is the whole number of
 *   milliseconds (≥ 1), rounded up, until it would have room for its cost, given what is
 *   already counted. `now` may be fractional (a clock of `performance.timeOrigin +
 *   performance.now()`); waits never are.
 * - **Time never runs backwards** within a budget: a time earlier than the budget's latest
 *   counted entry counts as that entry's time.
 * - **Its own clock where it has one.** `now` is the engine's clock; a store shared by several
 *   machines may use its own (RedisStore uses the Redis server's), since waits are relative.
 * - **Refunds** (optional, `refund`): an entry given back is as if it had never been counted; an
 *   entry is given back at most once.
 *
 * Units are integers. A limit without `cost` counts calls (`cost` 1, `max` as written); a limit
 * with `cost` counts micro-units (a millionth of a unit: `max` and each call's cost multiplied by
 * 1,000,000 and exact), so a store never does fractional arithmetic.
 *
 * @packageDocumentation
 */

/** One budget of a request: a key and the limit that governs it. */
export interface BudgetRequest {
  /**
   * Names the budget. Injective: different budgets never share a key. Made of the policy
   * namespace, the limit's identity (its `id`, else its JSON Pointer), its window and the `per`
   * value; may contain any character.
   */
  readonly key: string;
  /** The most units in any window; a safe integer ≥ 1. */
  readonly max: number;
  /** The window length in milliseconds; an integer ≥ 1. */
  readonly windowMs: number;
  /** Units this call uses; a safe integer ≥ 0 and ≤ `max`. A cost of 0 fits and counts nothing. */
  readonly cost: number;
  /** `true` when the limit gives units back on error: the store answers an entry id for it. */
  readonly refundable: boolean;
  /**
   * `true` for a budget shared across sessions (`per: "global"` or a session attribute). A store
   * with a memory bound drops such budgets only when no per-session budget is left, and never to
   * make room for a per-session one: one client's session churn must not refill a shared budget.
   */
  readonly shared: boolean;
}

/** Everything the store needs to check, and maybe count, one call. */
export interface ConsumeRequest {
  /** The policy namespace every key of this request belongs to (a store may shard by it). */
  readonly namespace: string;
  /** The budgets, in the engine's order (the rule's limits, then the policy's). At least one. */
  readonly budgets: readonly BudgetRequest[];
  /** The engine's clock at the decision, in milliseconds; finite, possibly fractional. */
  readonly now: number;
  /** When `true`, answer as for a real request but count nothing. */
  readonly dryRun: boolean;
}

/** The call fits in every budget; it has been counted (unless `dryRun`). */
export interface ConsumeAllowed {
  readonly allowed: true;
  /** Per budget, in request order: units left after this call (a safe integer ≥ 0). */
  readonly remaining: readonly number[];
  /**
   * Per budget, in request order: for a refundable budget in which this call counted units, the
   * store's id of the entry it counted (a non-empty string, unique within the budget, that
   * {@link Store.refund} can find again); `null` elsewhere. May be absent when no budget of the
   * request is refundable, or on a dry run.
   */
  readonly entries?: readonly (string | null)[];
}

/** Some budget is full; nothing was counted. */
export interface ConsumeRefused {
  readonly allowed: false;
  /** Per budget, in request order: `0` where the budget has room, else the wait in whole ms (≥ 1). */
  readonly retryAfterMs: readonly number[];
}

/** A store's answer to a {@link ConsumeRequest}. */
export type ConsumeResult = ConsumeAllowed | ConsumeRefused;

/** One counted entry to give back. */
export interface RefundEntry {
  /** The budget's key, as in the request that counted it. */
  readonly key: string;
  /** The entry id the store answered for it. */
  readonly entry: string;
}

/** What to give back: entries counted by earlier requests of one namespace. */
export interface RefundRequest {
  /** The policy namespace every key belongs to. */
  readonly namespace: string;
  readonly entries: readonly RefundEntry[];
  /** The engine's clock now; an entry that has left its window by then is not given back. */
  readonly now: number;
}

/** A store's answer to a {@link RefundRequest}. */
export interface RefundResult {
  /**
   * Per entry, in request order: `true` when it was given back now; `false` when it was not
   * found (never counted, already given back, or left its window).
   */
  readonly given: readonly boolean[];
}

/**
 * A store of rate-limit budgets. Implement `consume` (and `refund` for limits with
 * `refund: "on_error"`); set `synchronous: true` only if both always return their result
 * directly (never a promise), which enables `decideSync`.
 *
 * A store may throw or reject: the engine turns that into a deny (or a `failedOpen` allow).
 * Run the conformance suite (`describeStoreConformance` from `toolgate/vitest`) against it.
 */
export interface Store {
  /** `true` if {@link Store.consume} and {@link Store.refund} always answer synchronously. */
  readonly synchronous?: boolean;
  /** Check every budget of the request and, if all have room and it is not a dry run, count it in all. */
  consume(request: ConsumeRequest): ConsumeResult | PromiseLike<ConsumeResult>;
  /** Give back entries counted earlier. Required for policies with refundable limits. */
  refund?(request: RefundRequest): RefundResult | PromiseLike<RefundResult>;
}

/** A store that answers synchronously; `decideSync` needs one. */
export interface SyncStore extends Store {
  readonly synchronous: true;
  consume(request: ConsumeRequest): ConsumeResult;
  refund?(request: RefundRequest): RefundResult;
}

/**
 * What a store throws (or rejects with) when it refuses a request at once because of a local
 * bound (RedisStore's `maxPending`), not because its backend failed. The call is denied with
 * `cause: "store_failure"` even under `failOpen`: a burst of local overload must not lift limits.
 */
export class StoreBusyError extends Error {
  /** Recognised by name too, so a second copy of toolgate in one process still agrees. */
  override readonly name = "StoreBusyError";
}
