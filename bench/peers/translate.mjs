// Reads a toolgate policy as the peers need it: which keys allow, which allow under a
// condition, and which exact keys carve a refusal out of an allowing pattern.
//
// Peers answer allow or not (Cedar: allow/deny; casbin: true/false), so a toolgate outcome of
// deny, needs_approval or rate_limited is "not allowed" for them: they do less than toolgate
// does, which if anything flatters them. Only the shapes the benchmark's policies use are
// translated; `checkAgreement` in run.mjs verifies on every workload that peers and toolgate
// agree call by call, so a translation mistake stops the run instead of skewing it.

/** A `*`-glob as a RegExp (used only while translating, never while timing). */
export function globRegExp(pattern) {
  return new RegExp(
    `^${pattern
      .split("*")
      .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );
}

/**
 * The one conditional shape the benchmark uses: allow when an integer argument is at most a
 * bound (or absent), else deny.
 * @returns {{ field: string, max: number } | null}
 */
function pageSizeCondition(rule) {
  const rules = rule.rules;
  if (!Array.isArray(rules) || rules.length !== 2 || rules[1].action !== "deny" || rules[1].when !== undefined)
    return null;
  const first = rules[0];
  const props = first.when?.args?.properties;
  if (first.action !== undefined || props === undefined || Object.keys(first.when).length !== 1) return null;
  const fields = Object.keys(props);
  if (fields.length !== 1) return null;
  const s = props[fields[0]];
  if (s.type !== "integer" || typeof s.maximum !== "number" || Object.keys(s).length !== 2) return null;
  return { field: fields[0], max: s.maximum };
}

/**
 * @typedef {{ key: string, pattern: boolean, effect: "allow" | "refuse" | "conditional",
 *   condition: { field: string, max: number } | null }} Key
 * @returns {{ keys: Key[], carveOuts: Map<string, string[]> }} `carveOuts`: for each allowing
 *   pattern, the exact keys it matches that decide otherwise than a plain allow
 */
export function analyse(doc) {
  if (doc.default !== "deny" || doc.limits !== undefined)
    throw new Error(`bench: peers need default "deny" and no policy limits`);
  const keys = Object.entries(doc.tools).map(([key, rule]) => {
    const pattern = key.includes("*");
    if (rule.rules !== undefined) {
      const condition = pageSizeCondition(rule);
      if (condition === null || pattern) throw new Error(`bench: cannot translate the rules of ${key}`);
      return { key, pattern, effect: "conditional", condition };
    }
    if (rule.rate_limit !== undefined) throw new Error(`bench: peers have no limits (${key})`);
    return { key, pattern, effect: (rule.action ?? "allow") === "allow" ? "allow" : "refuse", condition: null };
  });
  const carveOuts = new Map();
  const special = keys.filter((k) => !k.pattern && k.effect !== "allow");
  for (const k of keys) {
    if (!k.pattern || k.effect !== "allow") continue;
    const re = globRegExp(k.key);
    carveOuts.set(
      k.key,
      special.filter((s) => re.test(s.key)).map((s) => s.key),
    );
  }
  return { keys, carveOuts };
}
