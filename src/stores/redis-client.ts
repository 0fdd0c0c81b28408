/**
 * The few calls RedisStore makes on a Redis client, typed as the smallest interface each client
 * library satisfies, so neither library is a dependency: the user passes the client they have.
 *
 * @packageDocumentation
 */

/**
 * The part of an ioredis client (v5+, `Redis` or `Cluster`) that RedisStore uses.
 */
export interface IORedisClient {
  /** `EVALSHA sha numkeys key... arg...` */
  evalsha(sha: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  /** `EVAL script numkeys key... arg...` */
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

/** The `keys` and `arguments` of a node-redis `eval` / `evalSha` call. */
export interface NodeRedisEvalOptions {
  keys: string[];
  arguments: string[];
}

/**
 * The part of a node-redis client (v4+, from `createClient` or `createCluster`) that RedisStore
 * uses.
 */
export interface NodeRedisClient {
  /** `EVALSHA sha numkeys key... arg...` */
  evalSha(sha: string, options: NodeRedisEvalOptions): Promise<unknown>;
  /** `EVAL script numkeys key... arg...` */
  eval(script: string, options: NodeRedisEvalOptions): Promise<unknown>;
}

/** A client RedisStore can use: ioredis or node-redis. */
export type RedisClient = IORedisClient | NodeRedisClient;

/** Runs a script by SHA, or by its text; the same two calls whatever the client. */
export interface ScriptRunner {
  evalSha(sha: string, keys: string[], args: string[]): Promise<unknown>;
  eval(script: string, keys: string[], args: string[]): Promise<unknown>;
}

/**
 * Wraps a client in a {@link ScriptRunner}, telling the libraries apart by shape (ioredis names
 * its methods in lower case, node-redis in camel case), or returns `null` for anything else.
 */
export function scriptRunner(client: unknown): ScriptRunner | null {
  if (client === null || (typeof client !== "object" && typeof client !== "function")) return null;
  const c = client as Partial<IORedisClient> & Partial<NodeRedisClient>;
  if (typeof c.evalsha === "function" && typeof c.eval === "function") {
    const io = client as IORedisClient;
    return {
      evalSha: (sha, keys, args) => io.evalsha(sha, keys.length, ...keys, ...args),
      eval: (script, keys, args) => io.eval(script, keys.length, ...keys, ...args),
    };
  }
  if (typeof c.evalSha === "function" && typeof c.eval === "function") {
    const node = client as NodeRedisClient;
    return {
      evalSha: (sha, keys, args) => node.evalSha(sha, { keys, arguments: args }),
      eval: (script, keys, args) => node.eval(script, { keys, arguments: args }),
    };
  }
  return null;
}

/** `true` for the error Redis answers when it does not have the script (restart, flush, failover). */
export function isNoScript(error: unknown): boolean {
  const message = error instanceof Error ? error.message : typeof error === "string" ? error : "";
  return message.startsWith("NOSCRIPT");
}
