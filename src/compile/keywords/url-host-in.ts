/**
 * `urlHostIn`: the `when` keyword that holds when a value is an absolute `http:` or `https:` URL,
 * without user info, whose host is one of the listed hosts (docs/spec.md, "Two keywords beyond
 * JSON Schema"; docs/conditions.md).
 *
 * Every URL is read by the WHATWG URL parser that Node ships, the one `fetch` uses, so the host
 * judged here is the host a request goes to: `https://allowed@evil/` goes to `evil`, and
 * `0x7f.1`, `2130706433` and `127.0.0.1` are one host. No URL or IDNA code is written here.
 */

import type { ErrorObject, FuncKeywordDefinition } from "ajv/dist/2020.js";
import type { DataValidateFunction } from "./ajv-types.js";
import { describeValue, quoteName } from "../../shared/text.js";

/** The longest value judged, in UTF-16 code units. Longer values fail (a deny, never an allow). */
export const MAX_URL_LENGTH = 65_536;

/** The host of a value, normalised; or why the value cannot be judged (words for `explain`). */
type UrlHost = { ok: true; host: string } | { ok: false; why: string };

/** The WHATWG parser's answer, or undefined when it rejects the text. */
function parse(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

// An empty label (`a..b`, a leading dot, or a second trailing dot) names no host that DNS
// serves; failing it keeps "a subdomain" meaning one or more real labels.
function hasEmptyLabel(host: string): boolean {
  return host.startsWith(".") || host.endsWith(".") || host.includes("..");
}

/**
 * The host a value's URL goes to: the parser's `hostname` (lower case, punycode, IPv4 in
 * dotted decimal, IPv6 in brackets) without one trailing dot. The port does not count.
 */
function urlHost(value: unknown): UrlHost {
  if (typeof value !== "string")
    return { ok: false, why: `must be a string holding a URL (got ${describeValue(value)})` };
  if (value.length > MAX_URL_LENGTH)
    return { ok: false, why: `must be at most ${MAX_URL_LENGTH} characters long (got ${value.length})` };
  const url = parse(value);
  if (url === undefined) return { ok: false, why: `must be an absolute URL (got ${describeValue(value)})` };
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { ok: false, why: `must be an http: or https: URL (got a ${quoteName(url.protocol)} URL)` };
  }
  if (url.username !== "" || url.password !== "") {
    return { ok: false, why: `must not carry a user name or password (it goes to host ${quoteName(url.hostname)})` };
  }
  const name = url.hostname;
  const host = name.endsWith(".") ? name.slice(0, -1) : name;
  if (host === "" || hasEmptyLabel(host)) {
    return { ok: false, why: `must name a host without empty labels (got ${quoteName(name)})` };
  }
  return { ok: true, host };
}

/** One listed host, normalised: exact, or `*.` (any subdomain of `host`, not `host` itself). */
interface ListedHost {
  /** As the URL parser normalises it, without a trailing dot. */
  host: string;
  /** Written with a leading `*.`: matches the subdomains of `host`. */
  subdomains: boolean;
}

const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;

/**
 * Checks and normalises one listed host, as written in a policy: the parser's reading of
 * `http://<host>/`, which must be the host alone (no port, path, query, fragment or user info).
 * @returns the normalised host, or the message for the policy author.
 */
function listedHost(item: unknown): { ok: true; listed: ListedHost } | { ok: false; message: string } {
  if (typeof item !== "string") return { ok: false, message: `must be a host name, got ${describeValue(item)}` };
  if (item === "") return { ok: false, message: "must be a host name, got an empty string" };
  if (item.length > 1024) return { ok: false, message: "must be at most 1024 characters long" };
  const subdomains = item.startsWith("*.");
  const rest = subdomains ? item.slice(2) : item;
  const bad = (message: string) => ({ ok: false as const, message: `${message}, got ${quoteName(item)}` });
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rest)) return bad("must be a host alone, not a URL (write api.example.com)");
  if (rest.includes("*")) return bad('may hold "*" only as a leading "*." (any subdomain)');
  if (rest.includes("@")) return bad("must be a host alone, without user info");
  if (/[/?#\\]/.test(rest)) return bad("must be a host alone, without a path, query or fragment");
  // The parser drops tabs and newlines and trims spaces: the author meant something else.
  if (/[\u0000-\u0020\u007f]/.test(rest)) return bad("must not contain spaces or control characters");
  if (rest.startsWith("[") ? !rest.endsWith("]") : rest.includes(":")) {
    if (rest.startsWith("[") && !rest.includes("]:")) return bad("is not a host the URL parser accepts");
    return rest.startsWith("[") || rest.indexOf(":") === rest.lastIndexOf(":")
      ? bad("must be a host without a port (the port does not count)")
      : bad("must write an IPv6 address in brackets, without a port ([::1])");
  }
  const url = parse(`http://${rest}/`);
  if (url === undefined || url.port !== "" || url.pathname !== "/") return bad("is not a host the URL parser accepts");
  const name = url.hostname;
  const host = name.endsWith(".") ? name.slice(0, -1) : name;
  if (host === "" || hasEmptyLabel(host)) return bad("must not have empty labels");
  if (host.includes("*")) return bad('may hold "*" only as a leading "*." (any subdomain)');
  if (subdomains && (IPV4.test(host) || host.startsWith("["))) {
    return bad('must have a domain name after "*.", not an IP address');
  }
  return { ok: true, listed: { host, subdomains } };
}

/** The keyword's value as a list, whichever way it was written. */
function listOf(schema: unknown): unknown[] {
  return Array.isArray(schema) ? schema : [schema];
}

/**
 * The problems of a `urlHostIn` value, each at a JSON Pointer relative to the value (`""` for
 * the value itself, `"/1"` for its second item). Empty when the value is valid.
 */
export function urlHostInIssues(schema: unknown): { at: string; message: string }[] {
  if (typeof schema !== "string" && !Array.isArray(schema)) {
    return [{ at: "", message: `must be a host or a non-empty list of hosts, got ${describeValue(schema)}` }];
  }
  if (Array.isArray(schema) && schema.length === 0) {
    return [{ at: "", message: "must not be an empty list: no URL could ever match it" }];
  }
  const out: { at: string; message: string }[] = [];
  listOf(schema).forEach((item, i) => {
    const r = listedHost(item);
    if (!r.ok) out.push({ at: Array.isArray(schema) ? `/${i}` : "", message: r.message });
  });
  return out;
}

function nameList(names: readonly string[]): string {
  const shown = names.slice(0, 5).map((n) => quoteName(n));
  const more = names.length - shown.length;
  return `${shown.join(", ")}${more > 0 ? ` and ${more} more` : ""}`;
}

/**
 * Compiles a checked `urlHostIn` value to its test: a Set of exact hosts and a list of
 * `.suffix`es. Cost per value: the URL parser's one pass, plus one comparison per suffix.
 * @throws Error when the value is invalid (only reachable when the meta-schema was bypassed).
 */
function compileUrlHostIn(schema: unknown): DataValidateFunction {
  const issues = urlHostInIssues(schema);
  if (issues.length > 0) throw new Error(`urlHostIn${issues[0]!.at}: ${issues[0]!.message}`);
  const listed = listOf(schema).map((item) => (listedHost(item) as { listed: ListedHost }).listed);
  const exact = new Set(listed.filter((l) => !l.subdomains).map((l) => l.host));
  const suffixes = [...new Set(listed.filter((l) => l.subdomains).map((l) => `.${l.host}`))];
  const names = [...new Set(listed.map((l) => (l.subdomains ? `*.${l.host}` : l.host)))];
  const named = `one of ${nameList(names)}`;
  const fail = (message: string, params: Record<string, unknown>): false => {
    validate.errors = [{ keyword: "urlHostIn", message, params } satisfies Partial<ErrorObject>];
    return false;
  };
  const validate: DataValidateFunction = (data: unknown): boolean => {
    const r = urlHost(data);
    if (!r.ok) return fail(`${r.why}, so its host is not ${named}`, { urlHostIn: names });
    const host = r.host;
    if (exact.has(host)) return true;
    for (const s of suffixes) {
      // Longer than the suffix, and no empty labels (checked above): at least one real label.
      if (host.length > s.length && host.endsWith(s)) return true;
    }
    return fail(`must have a host that is ${named}: host ${quoteName(host)} is not`, { urlHostIn: names, host });
  };
  return validate;
}

/** The ajv definition of `urlHostIn`. No `type`: ajv would skip other types, and so hold. */
export const urlHostInKeyword: FuncKeywordDefinition = {
  keyword: "urlHostIn",
  schemaType: ["string", "array"],
  errors: true,
  compile: compileUrlHostIn,
};
