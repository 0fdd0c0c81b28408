/**
 * toolgate/mcp: enforce a toolgate policy in servers and proxies built on the official MCP
 * TypeScript SDK (`@modelcontextprotocol/sdk`, an optional peer dependency).
 *
 * @example
 * ```ts
 * import { compilePolicy } from "toolgate";
 * import { guardServer } from "toolgate/mcp";
 * guardServer(mcpServer, compilePolicy(policyText));
 * ```
 *
 * @packageDocumentation
 */

export { guardServer, type GuardServerOptions } from "./guard-server.js";
export { DECISION_META_KEY, refusalResult, refusalText } from "./result.js";
export { approvalMessage } from "./approval.js";
export type { RequestExtra } from "./sdk.js";
