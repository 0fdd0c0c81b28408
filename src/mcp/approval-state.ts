/**
 * The signed `requestState` of a 2026-07-28 approval round trip (docs/spec.md, section 8).
 *
 * Under 2026-07-28 a server asks its client for input by answering `tools/call` with an
 * `input_required` result; the client answers by sending the call again, with the answer and
 * the state. That second request comes from the client and could be anything, so the state
 * binds the approval to the one call it was asked about: the tool, the canonical JSON of the
 * arguments (keys sorted), the session, the rule, an expiry and a single-use nonce, sealed with
 * HMAC-SHA256. A retried call is approved only when the seal verifies (compared in constant
 * time), it has not expired, everything it binds matches the retried call, and its nonce has
 * never been used.
 */

import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { isPlainObject } from "../shared/objects.js";

/** The prefix that marks a `requestState` minted by toolgate (others pass to the tool untouched). */
export const STATE_PREFIX = "toolgate.approval.v1.";
/** The `inputRequests` key of toolgate's approval question. */
export const APPROVAL_INPUT_KEY = "toolgate/approval";
/** A state longer than this is not toolgate's (it mints far shorter ones) and is refused unread. */
const MAX_STATE_CHARS = 2048;
/** Deeper arguments have no canonical form here, and so cannot be approved. */
const MAX_CANONICAL_DEPTH = 64;

/**
 * Remembers the nonces of approvals already used, so each is used once. The default keeps them
 * in memory (one process); replicas behind a load balancer need one store they share.
 */
export interface ApprovalNonceStore {
  /**
   * Marks `nonce` used until `expiresAt` (ms since the epoch). Resolves `true` the first time,
   * `false` when it was already used — or when the store cannot remember it (then the approval
   * is refused, never granted twice).
   */
  claim(nonce: string, expiresAt: number): boolean | Promise<boolean>;
}

/** Options of {@link MemoryNonceStore}. */
export interface MemoryNonceStoreOptions {
  /**
   * The most unexpired nonces kept; when full, new approvals are refused until some expire.
   * @default 100000
   */
  maxEntries?: number;
  /**
   * The clock, in milliseconds.
   * @default Date.now
   */
  clock?: () => number;
}

/** Used nonces in memory, each kept until its approval expires; bounded (nonces are 32 characters). */
export class MemoryNonceStore implements ApprovalNonceStore {
  private readonly used = new Map<string, number>();
  private readonly maxEntries: number;
  private readonly clock: () => number;

  constructor(options: MemoryNonceStoreOptions = {}) {
    const { maxEntries = 100_000, clock = Date.now } = options;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1)
      throw new TypeError("MemoryNonceStore: maxEntries must be a positive integer");
    if (typeof clock !== "function") throw new TypeError("MemoryNonceStore: clock must be a function");
    this.maxEntries = maxEntries;
    this.clock = clock;
  }

  claim(nonce: string, expiresAt: number): boolean {
    if (typeof nonce !== "string" || nonce.length === 0 || nonce.length > 64) return false;
    const now = this.clock();
    if (this.used.has(nonce)) return false;
    if (this.used.size >= this.maxEntries) {
      // Insertion order is claim order, and expiries are close to claim time plus one ttl: the
      // oldest entries go first. An unexpired nonce is never dropped (it could be replayed).
      for (const [n, exp] of this.used) {
        if (exp > now) break;
        this.used.delete(n);
      }
      if (this.used.size >= this.maxEntries) return false;
    }
    this.used.set(nonce, expiresAt);
    return true;
  }
}

/** What an approval state binds. */
export interface ApprovalBinding {
  tool: string;
  /** SHA-256 (hex) of the canonical JSON of the arguments. */
  args: string;
  /** SHA-256 (hex) of the session id, so one session's approval is not another's. */
  session: string;
  /** The needs-approval rule that asked. */
  rule: string;
}

interface StatePayload extends ApprovalBinding {
  nonce: string;
  exp: number;
}

/** Seals and opens approval states with one key. */
export class ApprovalSealer {
  private readonly key: Buffer;

  /** `key`: at least 32 bytes (a string is read as UTF-8). */
  constructor(key: Uint8Array | string) {
    const bytes = typeof key === "string" ? Buffer.from(key, "utf8") : Buffer.from(key);
    if (bytes.length < 32) throw new TypeError("guardServer: options.approvalKey must be at least 32 bytes");
    this.key = bytes;
  }

  /** A sealed state for `binding`, valid until `expiresAt` (ms since the epoch). */
  seal(binding: ApprovalBinding, expiresAt: number): string {
    const payload: StatePayload = { ...binding, nonce: randomBytes(16).toString("hex"), exp: expiresAt };
    const body = Buffer.from(JSON.stringify(payload), "utf8").toString("base64url");
    return `${STATE_PREFIX}${body}.${this.mac(body)}`;
  }

  /**
   * Opens `state`: its payload when the seal verifies and it has not expired at `now`, else
   * `undefined` (never throws, whatever the client sent).
   */
  open(state: unknown, now: number): (ApprovalBinding & { nonce: string; exp: number }) | undefined {
    if (typeof state !== "string" || state.length > MAX_STATE_CHARS || !state.startsWith(STATE_PREFIX))
      return undefined;
    const rest = state.slice(STATE_PREFIX.length);
    const dot = rest.indexOf(".");
    if (dot <= 0) return undefined;
    const body = rest.slice(0, dot);
    // The MAC is compared as the text it is written as, so no other spelling of the same bytes
    // (base64url's spare bits) verifies; and the body must be the one spelling of its bytes.
    const given = Buffer.from(rest.slice(dot + 1), "utf8");
    const expected = Buffer.from(this.mac(body), "utf8");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const bytes = Buffer.from(body, "base64url");
    if (bytes.toString("base64url") !== body) return undefined;
    let payload: unknown;
    try {
      payload = JSON.parse(bytes.toString("utf8"));
    } catch {
      return undefined;
    }
    if (!isPlainObject(payload)) return undefined;
    const { tool, args, session, rule, nonce, exp } = payload;
    if (typeof tool !== "string" || typeof args !== "string" || typeof session !== "string" || typeof rule !== "string")
      return undefined;
    if (typeof nonce !== "string" || typeof exp !== "number" || !(exp > now)) return undefined;
    return { tool, args, session, rule, nonce, exp };
  }

  private mac(body: string): string {
    return createHmac("sha256", this.key).update(STATE_PREFIX).update(body).digest("base64url");
  }
}

/** SHA-256 (hex) of `text`. */
export function digest(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/**
 * The canonical JSON of `value`: object keys sorted (by code unit), no whitespace; `undefined`
 * when it has none (a cycle, a BigInt, a function, deeper than 64 levels).
 */
export function canonicalJson(value: unknown): string | undefined {
  const seen = new Set<object>();
  const walk = (v: unknown, depth: number): string | undefined => {
    if (v === null || typeof v === "boolean" || typeof v === "string") return JSON.stringify(v);
    if (typeof v === "number") return Number.isFinite(v) ? JSON.stringify(v) : "null";
    if (typeof v !== "object" || depth > MAX_CANONICAL_DEPTH || seen.has(v)) return undefined;
    seen.add(v);
    let out: string | undefined;
    if (Array.isArray(v)) {
      const items: string[] = [];
      for (const item of v) {
        const s = item === undefined || typeof item === "function" ? "null" : walk(item, depth + 1);
        if (s === undefined) return undefined;
        items.push(s);
      }
      out = `[${items.join(",")}]`;
    } else {
      const parts: string[] = [];
      for (const key of Object.keys(v).sort()) {
        const item = (v as Record<string, unknown>)[key];
        if (item === undefined || typeof item === "function") continue;
        const s = walk(item, depth + 1);
        if (s === undefined) return undefined;
        parts.push(`${JSON.stringify(key)}:${s}`);
      }
      out = `{${parts.join(",")}}`;
    }
    seen.delete(v);
    return out;
  };
  try {
    return walk(value, 0);
  } catch {
    return undefined;
  }
}

/** The key every guard of this process signs with unless given one: random, per process. */
let processKey: Buffer | undefined;
/** The nonce store every guard of this process uses unless given one. */
let processNonces: MemoryNonceStore | undefined;

/** The per-process default sealer key and nonce store (created on first use). */
export function processDefaults(): { key: Buffer; nonces: MemoryNonceStore } {
  processKey ??= randomBytes(32);
  processNonces ??= new MemoryNonceStore();
  return { key: processKey, nonces: processNonces };
}
