/**
 * Where the proxy keeps what its replicas must share (docs/spec.md, sections 8 and 9): budgets
 * (`--redis` puts them in a `RedisStore`, else each policy has its own memory store), the
 * approval nonces (used once across replicas) and the key that signs 2026-07-28 approval states
 * (one key for every replica, kept in Redis and created by whichever replica comes first).
 */

import { randomBytes } from "node:crypto";
import type { Store } from "toolgate";
import type { ApprovalNonceStore } from "../mcp/approval-state.js";
import { errorMessage } from "../shared/text.js";
import { UsageError } from "./errors.js";

/** The ioredis client's methods the proxy uses itself (the store uses its own). */
interface RedisLike {
  set(key: string, value: string, ...args: (string | number)[]): Promise<string | null>;
  get(key: string): Promise<string | null>;
  quit(): Promise<unknown>;
  disconnect(): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** What the proxy shares through Redis. */
export interface SharedState {
  store: Store;
  nonces: ApprovalNonceStore;
  approvalKey: string;
  /** What the startup line says of the store. */
  describe: string;
  close(): Promise<void>;
}

/** Checks `--redis`: a `redis://` or `rediss://` URL (its password is never printed). */
export function redisUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError("--redis must be a redis:// or rediss:// URL");
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:")
    throw new UsageError(`--redis must be a redis:// or rediss:// URL, got ${JSON.stringify(url.protocol)}`);
  return url;
}

/** A URL as it may be printed: without its password. */
export function shownUrl(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password !== "") copy.password = "***";
  return copy.href;
}

/**
 * Connects to Redis with fail-fast options (no offline queue, one retry per command, a bounded
 * connect): while Redis is away a call is refused within the store timeout instead of waiting
 * for it to return. Rejects when Redis cannot be reached at start.
 */
export async function connectRedis(url: URL, namespace: string, timeoutMs: number): Promise<SharedState> {
  let Redis: typeof import("ioredis").Redis;
  try {
    Redis = (await import("ioredis")).Redis;
  } catch (e) {
    throw new Error(`--redis needs ioredis (${errorMessage(e)}); install it with: npm install ioredis`, { cause: e });
  }
  const redisMod = await import("toolgate/redis");
  const client = new Redis(url.href, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: Math.max(timeoutMs, 1000),
    commandTimeout: Math.max(timeoutMs, 100),
    lazyConnect: true,
    // Keeps trying in the background, so the proxy recovers when Redis is back.
    retryStrategy: (times: number) => Math.min(times * 100, 2000),
  });
  // ioredis reports every failed reconnect; the calls refused say enough.
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (e) {
    client.disconnect();
    throw new Error(`Redis at ${shownUrl(url)} could not be reached: ${errorMessage(e)}`, { cause: e });
  }
  const r = client as unknown as RedisLike;
  const store = new redisMod.RedisStore({ client });
  const keyName = `toolgate:approval-key:${namespace}`;
  // The first replica's key wins: SET NX, then read what is there.
  await r.set(keyName, randomBytes(32).toString("base64"), "NX");
  const approvalKey = await r.get(keyName);
  if (approvalKey === null || approvalKey.length < 32)
    throw new Error(`Redis at ${shownUrl(url)} did not keep the approval key`);
  const nonces: ApprovalNonceStore = {
    async claim(nonce: string, expiresAt: number): Promise<boolean> {
      const ttl = Math.max(1, Math.ceil(expiresAt - Date.now()));
      try {
        return (await r.set(`toolgate:approval-nonce:${namespace}:${nonce}`, "1", "PX", ttl, "NX")) === "OK";
      } catch {
        // Not remembered is not granted: the approval is refused.
        return false;
      }
    },
  };
  return {
    store,
    nonces,
    approvalKey,
    describe: `Redis at ${shownUrl(url)}`,
    close: async () => {
      try {
        await Promise.race([r.quit(), new Promise((resolve) => setTimeout(resolve, 500).unref())]);
      } finally {
        r.disconnect();
      }
    },
  };
}
