/**
 * What the guard keeps per connection, and the session a request belongs to by default
 * (docs/spec.md, section 8, "The session of a request").
 *
 * The default session must be one a client cannot reset by dropping its session: a principal
 * when the request is authenticated; one session per connection when the transport is not HTTP
 * (stdio, in-memory); the protocol session of 2025-era HTTP; else one shared `"anonymous"`
 * session — never a fresh id per request, which would give every stateless request a fresh
 * budget.
 */

import { randomUUID } from "node:crypto";
import { principalOf, type RequestView } from "./request.js";

/** The session id shared by unauthenticated HTTP requests that carry no protocol session. */
export const ANONYMOUS_SESSION = "anonymous";

/** What the server's own tool list says of one tool. */
export type ToolAnnotations = Record<string, unknown> | undefined;

/** The guard's state for one connection. */
export interface Connection {
  /** The session id of a non-HTTP connection with no session id of its own. */
  readonly id: string;
  /** Tool name → annotations, from the server's own tool list; `undefined` until read. */
  annotations: Map<string, ToolAnnotations> | undefined;
  /**
   * `true` once a whole list was read: then a tool it does not name has no annotations, and no
   * call — whatever its name — reads the list again until the server says its tools changed.
   */
  complete: boolean;
  /** The {@link Connections.generation} the annotations were read at. */
  generation: number;
}

/** Connection state keyed by transport, so a reconnect on a new transport starts afresh. */
export class Connections {
  private readonly byTransport = new WeakMap<object, Connection>();
  /** For a server that is not connected (a tool list read before connect): one state. */
  private readonly detached: Connection = fresh();
  /** Bumped when the server says its tools changed: every connection's list is then stale. */
  generation = 0;

  /** The connection `transport` is serving. */
  of(transport: unknown): Connection {
    if (typeof transport !== "object" || transport === null) return this.detached;
    let connection = this.byTransport.get(transport);
    if (connection === undefined) {
      connection = fresh();
      this.byTransport.set(transport, connection);
    }
    if (connection.generation !== this.generation) {
      connection.annotations = undefined;
      connection.complete = false;
      connection.generation = this.generation;
    }
    return connection;
  }

  /** The server's tools changed: what every connection read of them is forgotten. */
  toolsChanged(): void {
    this.generation += 1;
  }
}

/** The default session id of a request (see the module's documentation). */
export function defaultSessionId(view: RequestView, connection: Connection): string {
  const principal = principalOf(view.authInfo);
  if (principal !== undefined) return principal;
  if (view.sessionId !== undefined) return view.sessionId;
  if (view.http) return ANONYMOUS_SESSION;
  return connection.id;
}

function fresh(): Connection {
  return { id: `mcp-${randomUUID()}`, annotations: undefined, complete: false, generation: 0 };
}
