/**
 * `pattern` and `patternProperties` with ECMA-262 meaning (JSON Schema says so, and editors
 * check patterns as JavaScript does) on a linear-time engine, RE2 (re2js).
 *
 * The two disagree on a few classes: RE2's `\s` is ASCII only (so `\s` missed U+00A0, U+3000,
 * U+FEFF… and a deny rule on `rm\s-rf` let `rm\u00a0-rf` through), its `.` matches `\r`,
 * U+2028 and U+2029, and RE2 reads `[]`, `[^]`, `[\b]` and `[[:alpha:]]` differently. So a
 * pattern is first checked as JavaScript checks it (`new RegExp(p, "u")`), then rewritten token
 * by token into RE2 syntax with every class spelled out as explicit code point ranges and every
 * literal as `\x{…}`, so that nothing is left for RE2 to interpret its own way. The rewrite is
 * local (no tree is built), so a deeply nested pattern cannot exhaust the stack.
 *
 * What has no linear-time meaning is refused with a message: backreferences and lookaround.
 */

import { RE2JS } from "re2js";
import { errorMessage } from "../../shared/text.js";

/** A pattern rewritten for RE2, or why it cannot be. */
export type Translation = { ok: true; source: string } | { ok: false; message: string };

type Ranges = readonly (readonly [number, number])[];

const MAX_CODE_POINT = 0x10ffff;

/** ECMA-262 WhiteSpace and LineTerminator: what `\s` means with the `u` flag. */
const SPACE: Ranges = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];
const DIGIT: Ranges = [[0x30, 0x39]];
const WORD: Ranges = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
/** LineTerminator: what `.` does not match (there is no `s` flag in JSON Schema). */
const LINE_TERMINATORS: Ranges = [
  [0x0a, 0x0a],
  [0x0d, 0x0d],
  [0x2028, 0x2029],
];
const ANY: Ranges = [[0, MAX_CODE_POINT]];

/** Unicode General_Category long names, which ECMA-262 accepts and RE2 does not. */
const CATEGORY: ReadonlyMap<string, string> = new Map([
  ["Letter", "L"],
  ["Uppercase_Letter", "Lu"],
  ["Lowercase_Letter", "Ll"],
  ["Titlecase_Letter", "Lt"],
  ["Modifier_Letter", "Lm"],
  ["Other_Letter", "Lo"],
  ["Mark", "M"],
  ["Combining_Mark", "M"],
  ["Nonspacing_Mark", "Mn"],
  ["Spacing_Mark", "Mc"],
  ["Enclosing_Mark", "Me"],
  ["Number", "N"],
  ["Decimal_Number", "Nd"],
  ["digit", "Nd"],
  ["Letter_Number", "Nl"],
  ["Other_Number", "No"],
  ["Punctuation", "P"],
  ["punct", "P"],
  ["Connector_Punctuation", "Pc"],
  ["Dash_Punctuation", "Pd"],
  ["Open_Punctuation", "Ps"],
  ["Close_Punctuation", "Pe"],
  ["Initial_Punctuation", "Pi"],
  ["Final_Punctuation", "Pf"],
  ["Other_Punctuation", "Po"],
  ["Symbol", "S"],
  ["Math_Symbol", "Sm"],
  ["Currency_Symbol", "Sc"],
  ["Modifier_Symbol", "Sk"],
  ["Other_Symbol", "So"],
  ["Separator", "Z"],
  ["Space_Separator", "Zs"],
  ["Line_Separator", "Zl"],
  ["Paragraph_Separator", "Zp"],
  ["Other", "C"],
  ["Control", "Cc"],
  ["cntrl", "Cc"],
  ["Format", "Cf"],
  ["Surrogate", "Cs"],
  ["Private_Use", "Co"],
]);
const SHORT_CATEGORIES = new Set([...CATEGORY.values(), "Cn"]);
/** Binary properties with a fixed, version-independent set of code points. */
const FIXED_PROPERTIES: ReadonlyMap<string, Ranges> = new Map<string, Ranges>([
  ["Any", ANY],
  ["ASCII", [[0, 0x7f]]],
  [
    "ASCII_Hex_Digit",
    [
      [0x30, 0x39],
      [0x41, 0x46],
      [0x61, 0x66],
    ],
  ],
]);

const PROPERTIES_SUPPORTED = "general categories, scripts, Any, ASCII and ASCII_Hex_Digit are supported";
const ENGINE =
  "patterns run on a linear-time engine (RE2), which has no backreferences or lookaround, " +
  "so that no input can make them slow";

/** Thrown inside the rewrite; turned into a `Translation` failure at its boundary. */
class Unsupported extends Error {}

/** One class escape: explicit ranges, or an RE2 property item such as `\p{Lu}`. */
type ClassPart = { ranges: Ranges } | { item: string; negated: boolean };

function hex(cp: number): string {
  return `\\x{${cp.toString(16)}}`;
}

function rangeItems(ranges: Ranges): string {
  let out = "";
  for (const [lo, hi] of ranges) out += lo === hi ? hex(lo) : `${hex(lo)}-${hex(hi)}`;
  return out;
}

function complement(ranges: Ranges): Ranges {
  const out: [number, number][] = [];
  let next = 0;
  for (const [lo, hi] of [...ranges].sort((a, b) => a[0] - b[0])) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

/** `\d \D \w \W \s \S` by the code point of their letter, with their ECMA-262 `u`-mode sets. */
const SET_ESCAPES: ReadonlyMap<number, Ranges> = new Map([
  [0x64, DIGIT],
  [0x44, complement(DIGIT)],
  [0x77, WORD],
  [0x57, complement(WORD)],
  [0x73, SPACE],
  [0x53, complement(SPACE)],
]);

/** A class escape written outside brackets. */
function standalone(part: ClassPart): string {
  if ("ranges" in part) return part.ranges.length === 0 ? `[^${rangeItems(ANY)}]` : `[${rangeItems(part.ranges)}]`;
  return part.item;
}

/** A class escape written inside brackets, as a union member. */
function inside(part: ClassPart): string {
  return "ranges" in part ? rangeItems(part.ranges) : part.item;
}

/** Reads a pattern as the ECMA-262 `u`-mode grammar does, and writes it for RE2. */
class Rewriter {
  private i = 0;
  private out = "";
  private readonly cps: number[];

  constructor(pattern: string) {
    this.cps = [];
    for (const ch of pattern) this.cps.push(ch.codePointAt(0)!);
  }

  run(): string {
    const cps = this.cps;
    while (this.i < cps.length) {
      const c = cps[this.i]!;
      switch (c) {
        case 0x5c /* \ */:
          this.i++;
          this.out += this.escapeOutside();
          break;
        case 0x5b /* [ */:
          this.i++;
          this.out += this.characterClass();
          break;
        case 0x28 /* ( */:
          this.i++;
          this.out += this.groupOpening();
          break;
        case 0x7b /* { */: {
          // In u mode a brace is only ever a quantifier ({n}, {n,}, {n,m}), already checked.
          const end = cps.indexOf(0x7d, this.i);
          if (end < 0) throw new Unsupported("an unclosed quantifier");
          this.out += String.fromCodePoint(...cps.slice(this.i, end + 1));
          this.i = end + 1;
          break;
        }
        case 0x2e /* . */:
          this.i++;
          this.out += standalone({ ranges: complement(LINE_TERMINATORS) });
          break;
        case 0x29 /* ) */:
        case 0x7c /* | */:
        case 0x2a /* * */:
        case 0x2b /* + */:
        case 0x3f /* ? */:
        case 0x5e /* ^ */:
        case 0x24 /* $ */:
          // Same meaning in both: RE2 without multi-line mode anchors ^ and $ at the text's ends.
          this.i++;
          this.out += String.fromCodePoint(c);
          break;
        default:
          this.i++;
          this.out += hex(c);
      }
    }
    return this.out;
  }

  private peek(offset = 0): number | undefined {
    return this.cps[this.i + offset];
  }

  private groupOpening(): string {
    if (this.peek() !== 0x3f /* ? */) return "(";
    const next = this.peek(1);
    if (next === 0x3a /* : */) {
      this.i += 2;
      return "(?:";
    }
    if (next === 0x3d || next === 0x21) throw new Unsupported(`lookahead (?${String.fromCodePoint(next)}…)`);
    if (next === 0x3c /* < */) {
      const after = this.peek(2);
      if (after === 0x3d || after === 0x21) throw new Unsupported(`lookbehind (?<${String.fromCodePoint(after)}…)`);
      // A named group: the name matters only to backreferences, which are refused.
      const close = this.cps.indexOf(0x3e /* > */, this.i);
      if (close < 0) throw new Unsupported("an unclosed group name");
      this.i = close + 1;
      return "(";
    }
    throw new Unsupported(`the group syntax (?${next === undefined ? "" : String.fromCodePoint(next)}`);
  }

  /** After a backslash, outside a class. */
  private escapeOutside(): string {
    const c = this.peek();
    if (c === 0x62 /* b */ || c === 0x42 /* B */) {
      // Word boundaries: ASCII word characters in both engines (JSON Schema has no `i` flag).
      this.i++;
      return c === 0x62 ? "\\b" : "\\B";
    }
    if (c !== undefined && c >= 0x31 && c <= 0x39)
      throw new Unsupported(`a backreference (\\${String.fromCodePoint(c)})`);
    if (c === 0x6b /* k */) throw new Unsupported("a named backreference (\\k<…>)");
    const part = this.classEscape();
    if (part !== undefined) return standalone(part);
    return hex(this.characterEscape(false));
  }

  /** `\d \D \w \W \s \S \p{…} \P{…}` at the cursor (after the backslash), or undefined. */
  private classEscape(): ClassPart | undefined {
    const c = this.peek();
    if (c === undefined) throw new Unsupported("a pattern ending in a backslash");
    const set = SET_ESCAPES.get(c);
    if (set !== undefined) {
      this.i++;
      return { ranges: set };
    }
    if (c === 0x70 /* p */ || c === 0x50 /* P */) {
      const close = this.cps.indexOf(0x7d /* } */, this.i);
      if (this.peek(1) !== 0x7b || close < 0) throw new Unsupported("a property escape without {…}");
      const body = String.fromCodePoint(...this.cps.slice(this.i + 2, close));
      this.i = close + 1;
      return property(body, c === 0x50);
    }
    return undefined;
  }

  /** A single character after a backslash: control, hex, unicode and identity escapes. */
  private characterEscape(inClass: boolean): number {
    const c = this.cps[this.i++];
    switch (c) {
      case 0x66 /* f */:
        return 0x0c;
      case 0x6e /* n */:
        return 0x0a;
      case 0x72 /* r */:
        return 0x0d;
      case 0x74 /* t */:
        return 0x09;
      case 0x76 /* v */:
        return 0x0b;
      case 0x30 /* 0 */:
        return 0;
      case 0x63 /* c */: {
        const letter = this.cps[this.i++];
        if (letter === undefined) throw new Unsupported("\\c without a letter");
        return letter % 32;
      }
      case 0x78 /* x */: {
        const v = this.hexDigits(2);
        return v;
      }
      case 0x75 /* u */: {
        if (this.peek() === 0x7b /* { */) {
          const close = this.cps.indexOf(0x7d, this.i);
          const v = Number.parseInt(String.fromCodePoint(...this.cps.slice(this.i + 1, close)), 16);
          this.i = close + 1;
          return v;
        }
        const unit = this.hexDigits(4);
        // With the u flag a \u lead surrogate followed by a \u trail surrogate is one code point.
        if (
          unit >= 0xd800 &&
          unit <= 0xdbff &&
          this.peek() === 0x5c &&
          this.peek(1) === 0x75 &&
          this.peek(2) !== 0x7b
        ) {
          const save = this.i;
          this.i += 2;
          const trail = this.hexDigits(4);
          if (trail >= 0xdc00 && trail <= 0xdfff) return 0x10000 + ((unit - 0xd800) << 10) + (trail - 0xdc00);
          this.i = save;
        }
        return unit;
      }
      case 0x62 /* b */:
        if (inClass) return 0x08;
        break;
      case undefined:
        throw new Unsupported("a pattern ending in a backslash");
      default:
        // Identity escapes: u mode allows only syntax characters, "/" and (in classes) "-".
        return c;
    }
    throw new Unsupported(`the escape \\${String.fromCodePoint(c)}`);
  }

  private hexDigits(n: number): number {
    const text = String.fromCodePoint(...this.cps.slice(this.i, this.i + n));
    if (!/^[0-9a-fA-F]+$/.test(text) || text.length !== n) throw new Unsupported("a malformed hexadecimal escape");
    this.i += n;
    return Number.parseInt(text, 16);
  }

  /** After `[`: up to and including the closing `]`. */
  private characterClass(): string {
    let negated = false;
    if (this.peek() === 0x5e /* ^ */) {
      negated = true;
      this.i++;
    }
    let items = "";
    let empty = true;
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw new Unsupported("an unclosed character class");
      if (c === 0x5d /* ] */) {
        this.i++;
        break;
      }
      empty = false;
      const first = this.classAtom();
      if (
        typeof first === "number" &&
        this.peek() === 0x2d /* - */ &&
        this.peek(1) !== undefined &&
        this.peek(1) !== 0x5d
      ) {
        this.i++;
        const last = this.classAtom();
        if (typeof last !== "number" || last < first) throw new Unsupported("a character class range out of order");
        items += `${hex(first)}-${hex(last)}`;
      } else {
        items += typeof first === "number" ? hex(first) : inside(first);
      }
    }
    // ECMA-262: [] matches nothing and [^] matches any code point; RE2 reads "]" there as a
    // literal, so both are written as explicit full ranges.
    if (empty) return negated ? standalone({ ranges: ANY }) : `[^${rangeItems(ANY)}]`;
    return `[${negated ? "^" : ""}${items}]`;
  }

  /** One member of a class: a code point, or a class escape. */
  private classAtom(): number | ClassPart {
    const c = this.cps[this.i++]!;
    if (c !== 0x5c) return c;
    return this.classEscape() ?? this.characterEscape(true);
  }
}

/** `\p{body}` or `\P{body}` (negated) in RE2 terms. */
function property(body: string, negated: boolean): ClassPart {
  const eq = body.indexOf("=");
  const name = eq < 0 ? body : body.slice(0, eq);
  const value = eq < 0 ? undefined : body.slice(eq + 1);
  let re2Name: string | undefined;
  if (value === undefined) {
    const fixed = FIXED_PROPERTIES.get(name);
    if (fixed !== undefined) return { ranges: negated ? complement(fixed) : fixed };
    re2Name = CATEGORY.get(name) ?? (SHORT_CATEGORIES.has(name) ? name : undefined);
    if (re2Name === undefined) throw new Unsupported(`the property \\p{${body}} (${PROPERTIES_SUPPORTED})`);
  } else if (name === "General_Category" || name === "gc") {
    re2Name = CATEGORY.get(value) ?? (SHORT_CATEGORIES.has(value) ? value : undefined);
    if (re2Name === undefined) throw new Unsupported(`the property \\p{${body}} (${PROPERTIES_SUPPORTED})`);
  } else if (name === "Script" || name === "sc") {
    re2Name = value;
  } else {
    throw new Unsupported(`the property \\p{${body}} (${PROPERTIES_SUPPORTED})`);
  }
  const item = `\\${negated ? "P" : "p"}{${re2Name}}`;
  try {
    RE2JS.compile(item);
  } catch {
    throw new Unsupported(`the property \\p{${body}} (${PROPERTIES_SUPPORTED})`);
  }
  return { item, negated };
}

/**
 * Rewrites an ECMA-262 pattern (as JSON Schema's `pattern` means it: the `u` flag, no others)
 * into RE2 syntax with the same matches, or says why it cannot.
 */
export function translateEcmaPattern(pattern: string): Translation {
  try {
    new RegExp(pattern, "u");
  } catch (e) {
    return { ok: false, message: `is not a valid regular expression: ${errorMessage(e)}` };
  }
  let source: string;
  try {
    source = new Rewriter(pattern).run();
  } catch (e) {
    return {
      ok: false,
      message: `uses ${e instanceof Unsupported ? e.message : errorMessage(e)}, which cannot run here: ${ENGINE}`,
    };
  }
  try {
    RE2JS.compile(source);
  } catch (e) {
    const text = errorMessage(e);
    const what = /repeat|repetition/i.test(text) ? "a repetition count above 1000" : `what RE2 rejects (${text})`;
    return { ok: false, message: `uses ${what}, which cannot run here: ${ENGINE}` };
  }
  return { ok: true, source };
}

/** Why `pattern` cannot be a condition's pattern, or undefined when it can. */
export function patternProblem(pattern: string): string | undefined {
  const t = translateEcmaPattern(pattern);
  return t.ok ? undefined : t.message;
}

/** A pattern compiled for the linear engine: the `test` method ajv calls. */
export interface LinearPattern {
  test(s: string): boolean;
  toString(): string;
}

/**
 * ajv's `code.regExp` hook. ajv shares compiled patterns by their `toString()`, so it must name
 * the pattern as a RegExp does: with the default "[object Object]" every pattern would run as
 * the first one compiled.
 */
export function linearRegExp(pattern: string, flags: string): LinearPattern {
  // ajv passes "u" (option unicodeRegExp): the only meaning JSON Schema gives a pattern.
  if (flags !== "u") throw new Error(`patterns are compiled with the u flag only, not ${JSON.stringify(flags)}`);
  const t = translateEcmaPattern(pattern);
  if (!t.ok) throw new Error(`pattern ${JSON.stringify(pattern)} ${t.message}`);
  const re = RE2JS.compile(t.source);
  const name = `/${pattern}/${flags}`;
  return { test: (s: string) => re.test(s), toString: () => name };
}
linearRegExp.code = "linearRegExp";
