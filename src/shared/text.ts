/**
 * Words for messages, in one place so every part of toolgate says things the same way: how a
 * value is named, how a name is quoted, how a wait is written, how an error's text is read.
 * Dependency-free: the core and the edges (cli, mcp, stores) share it.
 */

/**
 * A short description of a value for messages, safe for hostile values (no getter is run, no
 * long text copied): `0`, `true`, `"permit"`, `an empty string`, `an array`, `an object`,
 * `an instance of Foo`, `null`, `nothing`.
 */
export function describeValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  switch (typeof v) {
    case "string":
      return v.length === 0 ? "an empty string" : JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
    case "number":
    case "boolean":
    case "bigint":
      return String(v);
    case "function":
      return "a function";
    case "object": {
      if (Array.isArray(v)) return "an array";
      let name: unknown;
      try {
        const proto = Object.getPrototypeOf(v) as { constructor?: { name?: unknown } } | null;
        const ctor: unknown = proto === null ? undefined : Object.getOwnPropertyDescriptor(proto, "constructor")?.value;
        name = typeof ctor === "function" ? ctor.name : undefined;
      } catch {
        // A proxy's trap may throw: then it is just "an object".
      }
      return typeof name === "string" && name !== "" && name !== "Object"
        ? `an instance of ${name.slice(0, 40)}`
        : "an object";
    }
    default:
      return `a ${typeof v}`;
  }
}

/**
 * Characters that print as nothing or reorder what follows: controls, bidi overrides and
 * isolates, zero-width characters, line and paragraph separators, the BOM.
 */
const HIDDEN = /[\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;

/**
 * A name for a message: JSON-quoted, cut to a readable length (attackers choose names), and with
 * every character that does not print (or reorders the text around it) written as `\u{…}`, so
 * a name cannot hide or disguise itself in what a person reads.
 */
export function quoteName(name: string): string {
  const quoted = JSON.stringify(name.length > 80 ? `${name.slice(0, 77)}...` : name);
  HIDDEN_ONE.lastIndex = 0;
  return HIDDEN_ONE.test(quoted) ? quoted.replace(HIDDEN, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`) : quoted;
}

/** {@link HIDDEN} without the global flag: a test that starts at the beginning every time. */
const HIDDEN_ONE = new RegExp(HIDDEN.source);

/**
 * A wait for people, never shorter than the wait itself: `1ms`, `999ms`, `1.5s`, `2m 5s`,
 * `1h 2m`. Each unit rounds up, so "Retry in" never names a time at which the call still fails.
 */
export function formatWait(ms: number): string {
  const whole = Math.ceil(ms);
  if (whole < 1000) return `${Math.max(whole, 1)}ms`;
  if (whole < 60_000) return `${Math.ceil(whole / 100) / 10}s`;
  const s = Math.ceil(whole / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 === 0 ? "" : ` ${s % 60}s`}`;
  const m = Math.ceil(s / 60);
  return `${Math.floor(m / 60)}h${m % 60 === 0 ? "" : ` ${m % 60}m`}`;
}

/** The message of an error, or of anything thrown, without ever throwing itself. */
export function errorMessage(e: unknown): string {
  try {
    if (e instanceof Error) return String(e.message);
    return String(e);
  } catch {
    return "an unreadable error";
  }
}

/** The known name closest to `word` by edit distance, if it is close enough to be a typo. */
export function closestName(word: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (a.length > 64 || b.length > 64) return Number.POSITIVE_INFINITY;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** Joins sentences so that each ends with its own full stop: `["A", "B."]` → `"A. B."`. */
export function sentences(...parts: readonly (string | undefined)[]): string {
  return parts
    .filter((p): p is string => p !== undefined && p.trim() !== "")
    .map((p) => {
      const t = p.trim();
      return /[.!?]$/.test(t) ? t : `${t}.`;
    })
    .join(" ");
}
