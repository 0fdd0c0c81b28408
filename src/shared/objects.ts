/** Checks on objects that hostile input may shape: plain data, own properties. Dependency-free. */

const objectProto = Object.prototype;

/** `hasOwnProperty`, taken once: an object may shadow its own. */
// eslint-disable-next-line @typescript-eslint/unbound-method -- always called as hasOwn.call(object, key)
export const hasOwn: (this: unknown, key: PropertyKey) => boolean = Object.prototype.hasOwnProperty;

/**
 * Plain data objects only: the prototype is `Object.prototype` or `null`. No arrays, no class
 * instances, no null. A proxy whose `getPrototypeOf` trap throws is not plain.
 */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  let proto: unknown;
  try {
    proto = Object.getPrototypeOf(v);
  } catch {
    return false;
  }
  return proto === objectProto || proto === null;
}

/**
 * Sets an own data property. Plain assignment is far faster than defineProperty, but for the
 * key "__proto__" it would set the prototype instead: that one key gets defineProperty, which
 * keeps it data, as JSON.parse does.
 */
export function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__")
    Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true });
  else o[key] = value;
}
