// @cedar-policy/cedar-wasm on an equivalent policy, through its fastest path:
// `statefulIsAuthorized` on a policy set parsed once with `preparsePolicySet`.
//
// Exact keys are `resource == Tool::"name"` (what Cedar indexes best); patterns are
// `context.tool like "get_*"` (Cedar's `like` has the same `*` as toolgate). The request gets
// only what the policy reads: the arguments go into the context only when a condition needs
// them, so Cedar is not charged for serialising data it would not look at.

import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import { analyse } from "./translate.mjs";

const ACTION = Object.freeze({ type: "Action", id: "call" });
let nextId = 0;

const str = (s) => JSON.stringify(s);

/** Cedar policy text equivalent to a toolgate document (allow or not). */
export function cedarText(doc) {
  const { keys, carveOuts } = analyse(doc);
  const out = [];
  for (const k of keys) {
    if (k.effect === "refuse") continue;
    if (k.effect === "conditional") {
      const { field, max } = k.condition;
      out.push(
        `permit(principal, action, resource == Tool::${str(k.key)}) ` +
          `when { !(context.args has ${field}) || context.args.${field} <= ${max} };`,
      );
    } else if (!k.pattern) {
      out.push(`permit(principal, action, resource == Tool::${str(k.key)});`);
    } else {
      const except = carveOuts
        .get(k.key)
        .map((e) => ` && context.tool != ${str(e)}`)
        .join("");
      out.push(`permit(principal, action, resource) when { context.tool like ${str(k.key)}${except} };`);
    }
  }
  return out.join("\n");
}

/**
 * Prepares Cedar for a toolgate document and returns a decision function over toolgate calls
 * (`true` when Cedar allows).
 * @param {object} doc
 * @param {{ args: boolean }} opts whether the policy reads the arguments
 */
export function cedarDecider(doc, { args }) {
  const id = `bench-${nextId++}`;
  const parsed = cedar.preparsePolicySet(id, { staticPolicies: cedarText(doc) });
  if (parsed.type !== "success")
    throw new Error(`bench: Cedar rejected the policy set: ${JSON.stringify(parsed.errors).slice(0, 500)}`);
  const decide = args
    ? (call) =>
        cedar.statefulIsAuthorized({
          principal: { type: "Session", id: call.session.id },
          action: ACTION,
          resource: { type: "Tool", id: call.tool },
          context: { tool: call.tool, args: call.args ?? {} },
          preparsedPolicySetId: id,
          entities: [],
        })
    : (call) =>
        cedar.statefulIsAuthorized({
          principal: { type: "Session", id: call.session.id },
          action: ACTION,
          resource: { type: "Tool", id: call.tool },
          context: { tool: call.tool },
          preparsedPolicySetId: id,
          entities: [],
        });
  return {
    decide,
    /** Whether Cedar's answer is "allow" (throws on a Cedar failure: a bench bug). */
    allows(call) {
      const a = decide(call);
      if (a.type !== "success") throw new Error(`bench: Cedar failed: ${JSON.stringify(a.errors).slice(0, 300)}`);
      return a.response.decision === "allow";
    },
  };
}

/** Cedar's version, for the report. */
export const cedarVersion = () => cedar.getCedarVersion();
