/**
 * Checks shared by the hostile-input tests: that `Object.prototype` (and friends) are exactly
 * as they were, and that an issue path is a well-formed JSON Pointer.
 */

import { expect } from "vitest";

const PROTOTYPES = [Object.prototype, Array.prototype, Function.prototype, String.prototype, Number.prototype];

/** A snapshot of the own property names of the built-in prototypes. */
export function snapshotPrototypes(): string[][] {
  return PROTOTYPES.map((p) => Reflect.ownKeys(p).map(String).sort());
}

/** Asserts that no built-in prototype gained or lost a property, and that `{}` is still empty. */
export function expectPrototypesUntouched(before: string[][]): void {
  expect(snapshotPrototypes()).toEqual(before);
  const probe: Record<string, unknown> = {};
  for (const name of ["polluted", "isAdmin", "allowed", "action", "outcome", "x"]) expect(probe[name]).toBeUndefined();
}

/** Whether `path` is a JSON Pointer (RFC 6901): "" or "/"-separated tokens with only ~0 and ~1 escapes. */
export function isJsonPointer(path: unknown): boolean {
  return typeof path === "string" && (path === "" || (path.startsWith("/") && !/~(?![01])/.test(path)));
}

/** Runs `fn` and returns how long it took in milliseconds. */
export async function timed<T>(fn: () => T | Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - start };
}
