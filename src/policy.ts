/**
 * The front door: `compilePolicy`, `validatePolicy` and `definePolicy`. It checks the options,
 * runs the pipeline (document → validated document → plan, in compile/), picks the default
 * store and hands the plan to the decision function (decide/). The compiler itself never picks
 * a store and never builds a decision function.
 */

import { analysePolicy } from "./compile/analyse.js";
import type { Plan } from "./compile/plan.js";
import { createPolicy, type EngineOptions } from "./decide/engine.js";
import { PolicyError } from "./errors.js";
import { checkIntegerOption, checkOptionKeys } from "./shared/options.js";
import { describeValue } from "./shared/text.js";
import type { Store } from "./store.js";
import { directBudgetOf, MemoryStore } from "./stores/memory.js";
import type { CompileOptions, Policy, PolicyDocument, ValidationResult } from "./types.js";

/** The default for {@link CompileOptions.storeTimeoutMs}, in milliseconds. */
export const DEFAULT_STORE_TIMEOUT_MS = 1000;

const OPTION_NAMES = [
  "store",
  "clock",
  "namespace",
  "storeTimeoutMs",
  "failOpen",
  "onDecision",
  "onRefund",
  "mode",
] as const;

/**
 * Validates and compiles a policy once into its decision function.
 *
 * @param document - the policy: an object, or JSON text (parsed strictly: duplicate keys are
 *   errors, and issues then carry `line` and `column`).
 * @throws PolicyError when the document is not a valid policy (every issue, with paths and codes).
 * @throws TypeError when an option is unknown or of the wrong type, or when a limit gives units
 *   back on error (`refund: "on_error"`) and the store cannot (`store.refund` is missing).
 *
 * @example
 * ```ts
 * const policy = compilePolicy(doc, { clock: () => fakeNow });
 * const d = policy.decideSync({ tool: "create_run", session: { id: "s1" } });
 * ```
 */
export function compilePolicy(document: unknown, options?: CompileOptions): Policy {
  const { engine, namespace } = checkOptions(options);
  const { doc, issues, warnings, plan } = analysePolicy(document, namespace);
  if (issues.length > 0 || plan === undefined || doc === undefined) throw new PolicyError(issues);
  const store = engine.store ?? new MemoryStore();
  checkRefunds(plan, store);
  return createPolicy(plan, doc, warnings, { ...engine, store, direct: directBudgetOf(store) });
}

/**
 * Checks a policy without compiling a decision function. Never throws.
 * @param document - an object, or JSON text.
 */
export function validatePolicy(document: unknown): ValidationResult {
  const { issues, warnings } = analysePolicy(document, undefined);
  return issues.length > 0 ? { valid: false, issues, warnings } : { valid: true, warnings };
}

/**
 * Returns `document` unchanged, typed as a policy: TypeScript authors get completion and type
 * errors in a policy literal. Checks nothing at run time: `compilePolicy` does.
 *
 * @example
 * ```ts
 * const doc = definePolicy({ version: "1", default: "deny", tools: { get_run: {} } });
 * ```
 */
export function definePolicy<const T extends PolicyDocument>(document: T): T {
  return document;
}

function checkOptions(options: CompileOptions | undefined): {
  engine: Omit<EngineOptions, "store" | "direct"> & { store: Store | undefined };
  namespace: string | undefined;
} {
  const o = checkOptionKeys("compilePolicy", options, OPTION_NAMES);
  const { store, clock, namespace, storeTimeoutMs, failOpen, onDecision, onRefund, mode } = o;
  if (store !== undefined && (store === null || typeof store !== "object" || typeof store.consume !== "function")) {
    throw new TypeError(
      `compilePolicy: store must be an object with a consume(request) method, got ${describeValue(store)}`,
    );
  }
  if (clock !== undefined && typeof clock !== "function") {
    throw new TypeError(`compilePolicy: clock must be a function returning milliseconds, got ${describeValue(clock)}`);
  }
  if (namespace !== undefined && (typeof namespace !== "string" || namespace === "")) {
    throw new TypeError(`compilePolicy: namespace must be a non-empty string, got ${describeValue(namespace)}`);
  }
  checkIntegerOption("compilePolicy", "storeTimeoutMs", storeTimeoutMs, 1, 2_147_483_647, "milliseconds");
  if (failOpen !== undefined && typeof failOpen !== "boolean") {
    throw new TypeError(`compilePolicy: failOpen must be a boolean, got ${describeValue(failOpen)}`);
  }
  if (onDecision !== undefined && typeof onDecision !== "function") {
    throw new TypeError(`compilePolicy: onDecision must be a function, got ${describeValue(onDecision)}`);
  }
  if (onRefund !== undefined && typeof onRefund !== "function") {
    throw new TypeError(`compilePolicy: onRefund must be a function, got ${describeValue(onRefund)}`);
  }
  if (mode !== undefined && mode !== "enforce" && mode !== "shadow") {
    throw new TypeError(`compilePolicy: mode must be "enforce" or "shadow", got ${describeValue(mode)}`);
  }
  return {
    engine: {
      store,
      clock: clock ?? Date.now,
      storeTimeoutMs: storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS,
      failOpen: failOpen ?? false,
      onDecision,
      onRefund,
      mode: mode ?? "enforce",
    },
    namespace,
  };
}

/** A refundable limit on a store that cannot refund would promise what it cannot keep. */
function checkRefunds(plan: Plan, store: Store): void {
  if (typeof store.refund === "function") return;
  for (const t of plan.toolRules) {
    const rules = t.rule !== null ? [t.rule] : t.rules!.map((r) => r.rule);
    for (const r of rules) {
      const l = r.limits.find((x) => x.refundable);
      if (l !== undefined) {
        throw new TypeError(
          `compilePolicy: the limit ${l.pointer} gives units back on error (refund: "on_error"), ` +
            "but the store has no refund(request) method",
        );
      }
    }
  }
}
