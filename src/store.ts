/**
 * The store contract: where rate-limit budgets live.
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
 *   milliseconds (≥ 1) until it would have room, given what is already counted.
 * - **Time never runs backwards** within a budget: a time earlier than the budget's latest
 *   counted entry counts as that entry's time.
 * - **Its own clock where it has one.** `now` is the engine's clock; a store shared by several
 *   machines may use its own (RedisStore uses the Redis server's), since waits are relative.
 *
 * @packageDocumentation
 */

/** One budget of a request: a key and the limit that governs it. */
export interface BudgetRequest {
  /**
   * Names the budget. Injective: different budgets never share a key. Made of the policy
   * namespace, the limit's JSON Pointer and the `per` value; may contain any character.
   */
  readonly key: string;
  /** The most units in any window; an integer ≥ 1. */
  readonly max: number;
  /** The window length in milliseconds; an integer ≥ 1. */
  readonly windowMs: number;
  /** Units this call uses; an integer ≥ 1. Always 1 in policy format v1 (weighted limits are planned). */
  readonly cost: number;
}

/** Everything the store needs to check, and maybe count, one call. */
export interface ConsumeRequest {
  /** The policy namespace every key of this request belongs to (a store may shard by it). */
  readonly namespace: string;
  /** The budgets, in the engine's order (the rule's limits, then the policy's). At least one. */
  readonly budgets: readonly BudgetRequest[];
  /** The engine's clock at the decision, in milliseconds. */
  readonly now: number;
  /** When `true`, answer as for a real request but count nothing. */
  readonly dryRun: boolean;
}

/** The call fits in every budget; it has been counted (unless `dryRun`). */
export interface ConsumeAllowed {
  readonly allowed: true;
  /** Per budget, in request order: units left after this call. */
  readonly remaining: readonly number[];
}

/** Some budget is full; nothing was counted. */
export interface ConsumeRefused {
  readonly allowed: false;
  /** Per budget, in request order: `0` where the budget has room, else the wait in whole ms (≥ 1). */
  readonly retryAfterMs: readonly number[];
}

/** A store's answer to a {@link ConsumeRequest}. */
export type ConsumeResult = ConsumeAllowed | ConsumeRefused;

/**
 * A store of rate-limit budgets. Implement `consume`; set `synchronous: true` only if it
 * always returns its result directly (never a promise), which enables `decideSync`.
 *
 * A store may throw or reject: the engine turns that into a deny (or a `failedOpen` allow).
 * Run the conformance suite from `toolgate/testing` against your store.
 */
export interface Store {
  /** `true` if {@link Store.consume} always answers synchronously. */
  readonly synchronous?: boolean;
  /** Check every budget of the request and, if all have room and it is not a dry run, count it in all. */
  consume(request: ConsumeRequest): ConsumeResult | PromiseLike<ConsumeResult>;
}

/** A store that answers synchronously; `decideSync` needs one. */
export interface SyncStore extends Store {
  readonly synchronous: true;
  consume(request: ConsumeRequest): ConsumeResult;
}
