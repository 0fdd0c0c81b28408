/**
 * What the guard keeps per connection: the default session id and the tools' annotations.
 *
 * A connection is one transport the server is connected to. Transports with a session id
 * (Streamable HTTP, SSE) name their own session; those without one (stdio, in-memory) are one
 * session each, with an id generated when the connection is first seen — never one constant
 * shared by every connection, which would give all clients a single budget.
 */

import { randomUUID } from "node:crypto";
import type { Server } from "./sdk.js";

/** The guard's state for one connection. */
export interface Connection {
  /** The session id used when the transport has none and no `session` option is given. */
  readonly id: string;
  /** Tool name → annotations, from the server's own tool list; `undefined` until read. */
  annotations: Map<string, Record<string, unknown> | undefined> | undefined;
}

/** Connection state keyed by transport, so a reconnect on a new transport starts afresh. */
export class Connections {
  private readonly byTransport = new WeakMap<object, Connection>();

  /** The connection `server` is serving now; throws when it is not connected. */
  current(server: Server): Connection {
    const transport = server.transport;
    if (transport === undefined) throw new Error("the server is not connected");
    let connection = this.byTransport.get(transport);
    if (connection === undefined) {
      connection = { id: `mcp-${randomUUID()}`, annotations: undefined };
      this.byTransport.set(transport, connection);
    }
    return connection;
  }

  /** Forgets the annotations read on the current connection (the server's tools changed). */
  toolsChanged(server: Server): void {
    const transport = server.transport;
    const connection = transport === undefined ? undefined : this.byTransport.get(transport);
    if (connection !== undefined) connection.annotations = undefined;
  }
}
