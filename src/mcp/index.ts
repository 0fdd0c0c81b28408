/**
 * toolgate/mcp: enforce a toolgate policy in servers and proxies built on the official MCP
 * TypeScript SDK, either line: `@modelcontextprotocol/sdk` 1.x or `@modelcontextprotocol/server`
 * 2.x (both optional peer dependencies; neither is loaded by this module).
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

export {
  guardServer,
  type GuardServerOptions,
  type ServerApprovalAnswer,
  type ServerApprovalRequest,
} from "./guard-server.js";
export { DECISION_META_KEY, refusalResult, refusalText, type DecisionMeta } from "./result.js";
export { approvalMessage, escapeNonPrinting, type ApprovalMessage } from "./approval-message.js";
export { MemoryNonceStore, type ApprovalNonceStore, type MemoryNonceStoreOptions } from "./approval-state.js";
export type { GuardableServer, RequestExtra, ServerContextV2 } from "./sdk.js";
