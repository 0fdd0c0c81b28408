// casbin on an equivalent policy, through `enforceSync`.
//
// Without conditions the model is the lightest casbin offers: one policy line per allowing
// key, matched with the built-in `keyMatch` (a trailing `*`, which is every pattern the
// benchmark gives casbin). With conditions it is casbin's ABAC form: `eval(p.cond)` over the
// request's arguments, and deny lines (deny overrides) where a condition fails or an exact key
// carves a refusal out of an allowing pattern.

import { newEnforcer, newModelFromString, StringAdapter } from "casbin";
import { analyse } from "./translate.mjs";

const LOOKUP_MODEL = `
[request_definition]
r = tool
[policy_definition]
p = tool
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = keyMatch(r.tool, p.tool)
`;

const ABAC_MODEL = `
[request_definition]
r = tool, args
[policy_definition]
p = tool, cond, eft
[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))
[matchers]
m = keyMatch(r.tool, p.tool) && eval(p.cond)
`;

function checkKey(key) {
  const star = key.indexOf("*");
  if (star !== -1 && star !== key.length - 1) throw new Error(`bench: keyMatch cannot express the pattern ${key}`);
  if (key.includes(",")) throw new Error(`bench: a casbin CSV line cannot hold ${key}`);
}

/**
 * Prepares casbin for a toolgate document and returns a decision function over toolgate calls
 * (`true` when casbin allows).
 */
export async function casbinDecider(doc) {
  const { keys, carveOuts } = analyse(doc);
  keys.forEach((k) => checkKey(k.key));
  const abac = keys.some((k) => k.effect === "conditional") || [...carveOuts.values()].some((c) => c.length > 0);
  let decide;
  if (!abac) {
    const lines = keys.filter((k) => k.effect === "allow").map((k) => `p, ${k.key}`);
    const e = await newEnforcer(newModelFromString(LOOKUP_MODEL), new StringAdapter(lines.join("\n")));
    decide = (call) => e.enforceSync(call.tool);
  } else {
    const lines = [];
    const refusedUnderPattern = new Set([...carveOuts.values()].flat());
    for (const k of keys) {
      if (k.effect === "allow") lines.push(`p, ${k.key}, true, allow`);
      else if (k.effect === "conditional") {
        const ok = `r.args.${k.condition.field} == undefined || r.args.${k.condition.field} <= ${k.condition.max}`;
        lines.push(`p, ${k.key}, ${ok}, allow`, `p, ${k.key}, !(${ok}), deny`);
      } else if (refusedUnderPattern.has(k.key)) lines.push(`p, ${k.key}, true, deny`);
    }
    const e = await newEnforcer(newModelFromString(ABAC_MODEL), new StringAdapter(lines.join("\n")));
    decide = (call) => e.enforceSync(call.tool, call.args ?? {});
  }
  return { decide, allows: (call) => decide(call) === true };
}
