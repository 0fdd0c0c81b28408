/**
 * A strict JSON parser (dependency-free, shared by the core and the CLI) for policy files and
 * every JSON the CLI reads. Unlike `JSON.parse` it rejects duplicate keys (which
 * `JSON.parse` silently resolves by keeping the last, so a reviewer could read one rule while
 * another one runs), bounds nesting, and can say where in the text a JSON Pointer lands.
 */

import { MAX_DEPTH, MAX_NODES } from "./limits.js";
import { setOwn } from "./objects.js";
import { child } from "./pointer.js";

/** A position in JSON text: 1-based line and column. */
export interface TextPosition {
  line: number;
  column: number;
}

/** Why JSON text was rejected, with the pointer of the value being read and the offset. */
export class JsonTextError extends Error {
  constructor(
    message: string,
    readonly pointer: string,
    readonly offset: number,
    /** `too_large` for the size and depth limits, `json` for everything else. */
    readonly code: "json" | "too_large" = "json",
  ) {
    super(message);
  }
}

/** A duplicate key: reported, but the text is read on so that every other issue is found too. */
export interface DuplicateKey {
  readonly pointer: string;
  readonly offset: number;
  readonly key: string;
}

/** JSON text read strictly: the value, and the duplicate keys found on the way. */
export interface ParsedJson {
  readonly value: unknown;
  readonly duplicates: readonly DuplicateKey[];
}

/** What a pass over the text is for: building the value, or finding where pointers land. */
type Mode = "parse" | "locate";

class Parser {
  i = 0;
  /** Offsets of values by pointer, filled only in `Locate` mode for the pointers asked for. */
  found = new Map<string, number>();
  nodes = 0;
  duplicates: DuplicateKey[] = [];
  constructor(
    readonly text: string,
    readonly mode: Mode,
    readonly wanted: ReadonlySet<string> = new Set(),
    readonly maxDepth: number = MAX_DEPTH,
  ) {}

  fail(message: string, pointer: string, at = this.i): never {
    throw new JsonTextError(at >= this.text.length ? "unexpected end of JSON text" : message, pointer, at);
  }

  tooLarge(message: string, pointer: string): never {
    throw new JsonTextError(message, pointer, this.i, "too_large");
  }

  ws(): void {
    const t = this.text;
    let i = this.i;
    for (;;) {
      const c = t.charCodeAt(i);
      if (c === 32 || c === 10 || c === 13 || c === 9) i++;
      else break;
    }
    this.i = i;
  }

  value(pointer: string, depth: number): unknown {
    // The same bound as for objects: a document of millions of values is not a policy, and
    // reading one must not take the process's memory.
    if (++this.nodes > MAX_NODES)
      this.tooLarge(`the document holds more than ${MAX_NODES} values (the size limit)`, pointer);
    this.ws();
    if (this.mode === "locate" && this.wanted.has(pointer)) this.found.set(pointer, this.i);
    const c = this.text[this.i];
    switch (c) {
      case "{":
        return this.object(pointer, depth + 1);
      case "[":
        return this.array(pointer, depth + 1);
      case '"':
        return this.string(pointer);
      case "t":
        return this.literal("true", true, pointer);
      case "f":
        return this.literal("false", false, pointer);
      case "n":
        return this.literal("null", null, pointer);
      case undefined:
        return this.fail("unexpected end of JSON text", pointer);
      default:
        if (c === "-" || (c >= "0" && c <= "9")) return this.number(pointer);
        return this.fail(`unexpected character ${JSON.stringify(c)} in JSON text`, pointer);
    }
  }

  literal(word: string, v: unknown, pointer: string): unknown {
    if (this.text.startsWith(word, this.i)) {
      this.i += word.length;
      return v;
    }
    return this.fail(`unexpected token in JSON text (expected ${word})`, pointer);
  }

  number(pointer: string): number {
    const m = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    m.lastIndex = this.i;
    const r = m.exec(this.text);
    if (r === null) return this.fail("invalid number in JSON text", pointer);
    this.i += r[0].length;
    const n = Number(r[0]);
    if (!Number.isFinite(n)) return this.fail(`number ${r[0]} is out of range`, pointer, this.i - r[0].length);
    return n;
  }

  string(pointer: string): string {
    const t = this.text;
    const start = this.i + 1;
    let i = start;
    let escaped = false;
    for (;;) {
      const c = t.charCodeAt(i);
      if (c === 34) break;
      if (Number.isNaN(c)) return this.fail("unterminated string in JSON text", pointer, start - 1);
      if (c < 32) return this.fail("control character in a JSON string", pointer, i);
      if (c === 92) {
        escaped = true;
        i += 2;
      } else i++;
    }
    this.i = i + 1;
    const raw = t.slice(start, i);
    if (!escaped) return raw;
    try {
      return JSON.parse(`"${raw}"`) as string;
    } catch {
      return this.fail("invalid escape in a JSON string", pointer, start - 1);
    }
  }

  array(pointer: string, depth: number): unknown[] {
    if (depth > this.maxDepth) this.tooLarge(`nested deeper than ${this.maxDepth} levels`, pointer);
    this.i++;
    const out: unknown[] = [];
    this.ws();
    if (this.text[this.i] === "]") {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value(child(pointer, out.length), depth));
      this.ws();
      const c = this.text[this.i];
      if (c === ",") this.i++;
      else if (c === "]") {
        this.i++;
        return out;
      } else this.fail("expected , or ] in JSON array", pointer);
    }
  }

  object(pointer: string, depth: number): Record<string, unknown> {
    if (depth > this.maxDepth) this.tooLarge(`nested deeper than ${this.maxDepth} levels`, pointer);
    this.i++;
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    this.ws();
    if (this.text[this.i] === "}") {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.text[this.i] !== '"') this.fail("expected a quoted key in JSON object", pointer);
      const keyAt = this.i;
      const key = this.string(pointer);
      const at = child(pointer, key);
      // Reported, and read on: the author then sees every other issue of the file at once.
      if (seen.has(key)) this.duplicates.push({ pointer: at, offset: keyAt, key });
      seen.add(key);
      this.ws();
      if (this.text[this.i] !== ":") this.fail("expected : after a key in JSON object", at);
      this.i++;
      const v = this.value(at, depth);
      setOwn(out, key, v);
      this.ws();
      const c = this.text[this.i];
      if (c === ",") this.i++;
      else if (c === "}") {
        this.i++;
        return out;
      } else this.fail("expected , or } in JSON object", pointer);
    }
  }
}

/**
 * Parses JSON text strictly: nesting deeper than {@link MAX_DEPTH}, more than
 * {@link MAX_NODES} values and trailing content are errors; duplicate keys are collected in
 * `duplicates` (the last value is kept, as by `JSON.parse`, so reading can go on).
 * @param text - the JSON text.
 * @param maxDepth - the deepest nesting accepted: a policy's limit by default; data that is not
 *   a policy (a tool list, a session on the command line) may allow more.
 * @throws JsonTextError
 */
export function readJsonText(text: string, maxDepth = MAX_DEPTH): ParsedJson {
  const p = new Parser(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, "parse", new Set(), maxDepth);
  const value = p.value("", 0);
  p.ws();
  if (p.i < p.text.length) p.fail("unexpected content after the JSON value", "");
  return { value, duplicates: p.duplicates };
}

/** The message for a duplicate key. */
export function duplicateKeyMessage(key: string): string {
  const shown = JSON.stringify(key.length > 80 ? `${key.slice(0, 77)}...` : key);
  return `duplicate key ${shown} (JSON.parse would silently keep the last one)`;
}

/**
 * Parses JSON text strictly, as {@link readJsonText}, with a duplicate key an error too.
 * @throws JsonTextError
 */
export function parseJsonText(text: string, maxDepth = MAX_DEPTH): unknown {
  const { value, duplicates } = readJsonText(text, maxDepth);
  const d = duplicates[0];
  if (d !== undefined) throw new JsonTextError(duplicateKeyMessage(d.key), d.pointer, d.offset);
  return value;
}

/** The 1-based line and column of a character offset in `text`. */
export function positionOf(text: string, offset: number): TextPosition {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/**
 * Where each pointer lands in valid JSON text: the start of its value, or of the nearest
 * ancestor that exists (a missing field is reported where its object starts).
 */
export function locatePointers(text: string, pointers: readonly string[]): Map<string, TextPosition> {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const shift = body.length === text.length ? 0 : 1;
  const wanted = new Set<string>();
  for (const p of pointers) {
    let q = p;
    for (;;) {
      wanted.add(q);
      if (q === "") break;
      q = q.slice(0, q.lastIndexOf("/"));
    }
  }
  const parser = new Parser(body, "locate", wanted);
  try {
    parser.value("", 0);
  } catch {
    // Locating is best effort: whatever was found before a syntax error still helps.
  }
  const out = new Map<string, TextPosition>();
  for (const p of pointers) {
    let q = p;
    for (;;) {
      const at = parser.found.get(q);
      if (at !== undefined) {
        out.set(p, positionOf(text, at + shift));
        break;
      }
      if (q === "") {
        out.set(p, { line: 1, column: 1 });
        break;
      }
      q = q.slice(0, q.lastIndexOf("/"));
    }
  }
  return out;
}
