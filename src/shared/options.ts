/**
 * Checking an options object the way every constructor and function of toolgate does, with the
 * same exact messages: `RedisStore: options must be a plain object, got an array`,
 * `compilePolicy: unknown option "stor" (did you mean "store"?)`.
 */

import { isPlainObject } from "./objects.js";
import { closestName, describeValue } from "./text.js";

/**
 * Checks that `options` is a plain object (or `undefined`, read as `{}`) whose keys are all in
 * `known`, and returns it. Throws a `TypeError` naming `owner` otherwise.
 */
export function checkOptionKeys<T extends object>(owner: string, options: T | undefined, known: readonly string[]): T {
  if (options === undefined) return {} as T;
  if (!isPlainObject(options))
    throw new TypeError(`${owner}: options must be a plain object, got ${describeValue(options)}`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const hint = closestName(key, known);
      throw new TypeError(
        `${owner}: unknown option ${JSON.stringify(key)}` +
          (hint === undefined ? "" : ` (did you mean ${JSON.stringify(hint)}?)`),
      );
    }
  }
  return options;
}

/** Throws a `TypeError` unless `value` is `undefined` or a safe integer in `[min, max]`. */
export function checkIntegerOption(
  owner: string,
  name: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
  unit = "",
): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
    throw new TypeError(
      `${owner}: ${name} must be ${range}${unit === "" ? "" : ` (${unit})`}, got ${describeValue(value)}`,
    );
  }
}
