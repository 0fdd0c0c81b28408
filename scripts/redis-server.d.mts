// Types of scripts/redis-server.mjs, for the TypeScript tests that use it.

/** A redis-server started by {@link startRedisServer}. */
export interface RedisServerHandle {
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  readonly url: string;
  /** Kills the server (its data is gone) and removes its directory. */
  stop(): Promise<void>;
  /** Kills the server and starts a new, empty one on the same port. */
  restart(): Promise<void>;
  /** Kills the server and leaves the port closed until `start()`. */
  kill(): Promise<void>;
  /** Starts the server again on the same port after `kill()`. */
  start(): Promise<void>;
  /** Freezes the server process (SIGSTOP). */
  pause(): void;
  /** Lets a paused server run again (SIGCONT). */
  resume(): void;
}

export type EnsureResult =
  { server: string; cli: string | null; reason?: undefined } | { server: null; cli: null; reason: string };

export function which(name: string): string | null;
export function ensureRedisServer(options?: {
  install?: boolean;
  log?: (message: string) => void;
}): Promise<EnsureResult>;
export function freePort(): Promise<number>;
export function waitForPong(port: number, timeoutMs?: number): Promise<boolean>;
export function startRedisServer(options: { bin: string; port?: number; args?: string[] }): Promise<RedisServerHandle>;
export function startRedisCluster(options: { bin: string; cli: string; masters?: number }): Promise<{
  nodes: RedisServerHandle[];
  ports: number[];
  stop(): Promise<void>;
}>;
