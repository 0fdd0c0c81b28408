/**
 * The `format` checks of `when` schemas, each linear in the length of the value or bounded by a
 * length cap that the format itself implies. ajv-formats' `url` is a backtracking regular
 * expression that took 12–14 s on a 100 KB string; every other check here was measured against
 * adversarial inputs (test/hostile/formats.test.ts times each at 20 KB and 1 MB).
 *
 * How each kind of check is made linear:
 * - `url`: node's WHATWG URL parser (linear), then the scheme and host are checked.
 * - Formats whose ajv-formats check is a regular expression without lookaround and whose values
 *   may be long (`uri-reference`, `uri-template`, the JSON pointers): that same expression, run
 *   on the linear-time engine that runs `pattern` (RE2), so no input can make it backtrack.
 * - Formats with a longest possible value (`ipv4`, `ipv6`, `uuid`, `hostname`, `email`): a
 *   length check first, then ajv-formats' expression, which then runs on a bounded input.
 * - `duration`, `byte`: the expression without its lookaheads on RE2, with the lookaheads'
 *   conditions as plain checks.
 * - `date-time`, `iso-date-time`: ajv-formats' date and time checks on the two sides of the one
 *   separator, found by a search instead of a split into every piece.
 * - The rest (`date`, `time`, `iso-time`, `uri`, `regex`, the number formats) are ajv-formats'
 *   own functions, whose expressions match a run of one character class at a time and were
 *   measured linear; `regex` compiles the value with `new RegExp`, whose parser is linear too.
 */

import type { Ajv2020, Format, FormatDefinition } from "ajv/dist/2020.js";
import formatsModule from "ajv-formats";
import { RE2JS } from "re2js";

type FormatsPlugin = ((ajv: Ajv2020) => Ajv2020) & { get(name: string, mode?: "full" | "fast"): Format };
// ajv-formats is CommonJS; depending on the loader its function is the module or its default.
const plugin: FormatsPlugin =
  (formatsModule as unknown as { default?: FormatsPlugin }).default ?? (formatsModule as unknown as FormatsPlugin);

/** ajv-formats' plugin: adds its formats and the `formatMaximum`-style keywords. */
export const addFormats: (ajv: Ajv2020) => Ajv2020 = plugin;

/**
 * The longest value each capped format can have; longer values fail at once.
 * - `email`: 254, the longest address RFC 5321 (§4.5.3.1.3) lets a mail path carry.
 * - `hostname`: 253 characters plus an optional final dot (RFC 1123; ajv-formats' own limit).
 * - `ipv4`: `255.255.255.255`; `ipv6`: eight groups, or six and a dotted IPv4 address (45).
 * - `uuid`: 36 characters, after an optional `urn:uuid:`.
 */
export const FORMAT_LENGTH_CAPS: Readonly<Record<string, number>> = Object.freeze({
  email: 254,
  hostname: 254,
  ipv4: 15,
  ipv6: 45,
  uuid: 45,
});

/**
 * `A`–`Z` to `a`–`z` and nothing else: `toLowerCase` maps the Kelvin sign to `k`, which an ASCII
 * format must not accept.
 */
function asciiLower(s: string): string {
  let upper = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) {
      upper = true;
      break;
    }
  }
  if (!upper) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 0x41 && c <= 0x5a ? String.fromCharCode(c + 0x20) : s[i];
  }
  return out;
}

/**
 * An ajv-formats expression on RE2. Case-insensitive ones are run on the ASCII-lowercased value
 * (their sources spell letters in lower case), since RE2's case folding is Unicode's and would
 * let `ſ` (U+017F) pass for `s`.
 */
function onLinearEngine(expression: RegExp): (s: string) => boolean {
  const re = RE2JS.compile(expression.source);
  if (expression.flags.includes("i")) return (s) => re.test(asciiLower(s));
  return (s) => re.test(s);
}

function expressionOf(name: string): RegExp {
  const f = plugin.get(name);
  if (f instanceof RegExp) return f;
  throw new Error(`ajv-formats' ${name} is not a regular expression`);
}

function capped(name: string): (s: string) => boolean {
  const cap = FORMAT_LENGTH_CAPS[name]!;
  const re = expressionOf(name);
  return (s) => s.length <= cap && re.test(s);
}

/** `url`: an absolute http, https or ftp URL with a host, as the WHATWG URL parser reads it. */
function url(s: string): boolean {
  // The parser drops leading and trailing spaces and controls and removes tabs and newlines
  // anywhere: a string holding them is not the URL it would be read as.
  if (/[\s\u0000-\u001f\u007f]/u.test(s)) return false;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return false;
  }
  return (u.protocol === "http:" || u.protocol === "https:" || u.protocol === "ftp:") && u.hostname !== "";
}

// ajv-formats' duration without its two lookaheads: (?!$) after P and (?=\d) after T.
const DURATION = RE2JS.compile("^P(?:(?:\\d+Y)?(?:\\d+M)?(?:\\d+D)?(?:T(?:\\d+H)?(?:\\d+M)?(?:\\d+S)?)?|(?:\\d+W)?)$");

/** `duration`: RFC 3339 appendix A, as ajv-formats reads it. */
function duration(s: string): boolean {
  if (s.length < 2 || !DURATION.test(s)) return false;
  const t = s.indexOf("T");
  if (t < 0) return true;
  const next = s.charCodeAt(t + 1);
  return next >= 0x30 && next <= 0x39;
}

// ajv-formats runs its byte expression with the m flag, so one well-formed line anywhere passed;
// here the whole value must be base64.
const BYTE = RE2JS.compile("^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$");

/** `byte`: base64 (RFC 4648 §4) with padding, the whole value. */
function byte(s: string): boolean {
  return s.length % 4 === 0 && BYTE.test(s);
}

function kept(name: string): Format {
  return plugin.get(name);
}

type Dated = FormatDefinition<string> & {
  validate: (s: string) => boolean;
  compare: (a: string, b: string) => number | undefined;
};

function dated(name: string): Dated {
  return plugin.get(name) as Dated;
}

/**
 * A date-time format: ajv-formats' own, except that it split the value on every `t` and space
 * to find the one separator (a 1 MB run of `t` made a million strings); here the separator is
 * searched for, and a second one fails the value, as two separators did there.
 */
function dateTime(name: "date-time" | "iso-date-time", time: "time" | "iso-time"): Dated {
  const date = dated("date").validate;
  const timeOk = dated(time).validate;
  const separator = /t|\s/i;
  const validate = (s: string): boolean => {
    const at = s.search(separator);
    if (at < 0) return false;
    const rest = s.slice(at + 1);
    return rest.search(separator) < 0 && date(s.slice(0, at)) && timeOk(rest);
  };
  return { type: "string", validate, compare: guarded(validate, dated(name).compare) };
}

/**
 * `formatMaximum` and its kin compare values with the format's `compare`, which ajv-formats
 * wrote for well-formed values only: compare nothing else (undefined makes the keyword fail).
 */
function guarded(valid: (s: string) => boolean, compare: (a: string, b: string) => number | undefined) {
  return (a: string, b: string): number | undefined => (valid(a) && valid(b) ? compare(a, b) : undefined);
}

function withGuard(name: string): Dated {
  const f = dated(name);
  return { type: "string", validate: f.validate, compare: guarded(f.validate, f.compare) };
}

/** Every format a `when` schema may name, and its check. */
function definitions(): Record<string, Format> {
  return {
    date: withGuard("date"),
    time: withGuard("time"),
    "date-time": dateTime("date-time", "time"),
    "iso-time": withGuard("iso-time"),
    "iso-date-time": dateTime("iso-date-time", "iso-time"),
    duration: { type: "string", validate: duration },
    uri: kept("uri"),
    "uri-reference": { type: "string", validate: onLinearEngine(expressionOf("uri-reference")) },
    "uri-template": { type: "string", validate: onLinearEngine(expressionOf("uri-template")) },
    url: { type: "string", validate: url },
    email: { type: "string", validate: capped("email") },
    hostname: { type: "string", validate: capped("hostname") },
    ipv4: { type: "string", validate: capped("ipv4") },
    ipv6: { type: "string", validate: capped("ipv6") },
    regex: kept("regex"),
    uuid: { type: "string", validate: capped("uuid") },
    "json-pointer": { type: "string", validate: onLinearEngine(expressionOf("json-pointer")) },
    "json-pointer-uri-fragment": {
      type: "string",
      validate: onLinearEngine(expressionOf("json-pointer-uri-fragment")),
    },
    "relative-json-pointer": { type: "string", validate: onLinearEngine(expressionOf("relative-json-pointer")) },
    byte: { type: "string", validate: byte },
    int32: kept("int32"),
    int64: kept("int64"),
    float: kept("float"),
    double: kept("double"),
    password: kept("password"),
    binary: kept("binary"),
  };
}

let table: ReadonlyMap<string, Format> | undefined;

/** The formats by name, an own-property table: `constructor` is not a format. */
export function linearFormats(): ReadonlyMap<string, Format> {
  table ??= new Map(Object.entries(definitions()));
  return table;
}

/**
 * Replaces every format ajv-formats registered on `ajv` with the linear check of the same name.
 * Call right after `addFormats(ajv)`, before compiling any schema.
 */
export function addLinearFormats(ajv: Ajv2020): void {
  for (const [name, format] of linearFormats()) ajv.addFormat(name, format);
}
