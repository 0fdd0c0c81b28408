/**
 * Reading the CLI's input files: text, JSON, and a server's `tools/list` result.
 */

import { readFileSync, statSync } from "node:fs";
import { JsonTextError, parseJsonText } from "../shared/json-text.js";
import { isPlainObject } from "../shared/objects.js";
import { errorMessage, quoteName } from "../shared/text.js";
import { UsageError } from "./errors.js";

/** One tool of a `tools/list` result, as far as the CLI reads it. */
export interface ToolInfo {
  /** The tool's name. */
  name: string;
  /** The tool's description, if it has one (a string). */
  description: string | undefined;
  /** The tool's MCP annotations (`readOnlyHint`, `destructiveHint`, …), if it has any. */
  annotations: Record<string, unknown> | undefined;
  /** The tool's input schema (a JSON Schema object), if it has one. */
  inputSchema: Record<string, unknown> | undefined;
}

/** The largest input file the CLI reads (policies, cases, tool lists): 256 MiB. */
export const MAX_INPUT_BYTES = 256 * 1024 * 1024;

/**
 * Reads a file as UTF-8 text (a leading byte-order mark is kept: the core accepts it). Only a
 * regular file of at most {@link MAX_INPUT_BYTES}: a named pipe would block the command forever
 * and a device such as `/dev/zero` would fill the memory.
 */
export function readText(file: string): string {
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw new UsageError(`cannot read ${file}: is a directory`);
    if (!st.isFile()) throw new UsageError(`cannot read ${file}: not a regular file`);
    if (st.size > MAX_INPUT_BYTES) throw new UsageError(`cannot read ${file}: larger than ${MAX_INPUT_BYTES} bytes`);
    return readFileSync(file, "utf8");
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read ${file}: ${fileProblem(e)}`);
  }
}

/**
 * The deepest JSON the CLI reads that is not a policy (tool lists, sessions and arguments on the
 * command line): servers' schemas and hosts' sessions may nest deeper than a policy may.
 */
export const MAX_DATA_DEPTH = 5_000;

/**
 * Parses JSON text strictly, as the core reads policies: a duplicate key is an error (JSON.parse
 * would silently keep the last one), and so is nesting beyond {@link MAX_DATA_DEPTH}.
 * @param what - names the text in the message: `tools.json:` for a file, `--session is` for a flag.
 */
export function parseStrictJson(what: string, text: string): unknown {
  try {
    return parseJsonText(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, MAX_DATA_DEPTH);
  } catch (e) {
    const at = e instanceof JsonTextError && e.pointer !== "" ? ` at ${e.pointer.slice(0, 200)}` : "";
    // The reader recurses: nesting that the stack cannot take ends there, as a clear error.
    const why = e instanceof RangeError ? "nested too deeply to be read" : errorMessage(e);
    throw new UsageError(`${what} not valid JSON${at}: ${why}`);
  }
}

/** Reads and parses a JSON file, strictly. */
export function readJson(file: string): unknown {
  return parseStrictJson(`${file}:`, readText(file));
}

/**
 * Reads a server's tool list: a `tools/list` result `{ "tools": [...] }` or a bare array.
 * Every tool needs a non-empty string `name`, unique in the list; `annotations` and
 * `inputSchema`, when present, must be objects, and `description` a string.
 */
export function readTools(file: string): ToolInfo[] {
  const data = readJson(file);
  let list: unknown[];
  let base: string;
  if (Array.isArray(data)) {
    list = data;
    base = "";
  } else if (isPlainObject(data) && Array.isArray(data.tools)) {
    list = data.tools;
    base = "/tools";
  } else {
    throw new UsageError(`${file}: expected a tools/list result { "tools": [...] } or an array of tools`);
  }
  const seen = new Set<string>();
  return list.map((t, i) => {
    const at = `${base}/${i}`;
    if (!isPlainObject(t)) throw new UsageError(`${file}: ${at}: a tool must be an object`);
    if (typeof t.name !== "string" || t.name === "")
      throw new UsageError(`${file}: ${at}/name: a tool needs a non-empty string name`);
    if (seen.has(t.name)) throw new UsageError(`${file}: ${at}/name: duplicate tool name ${quoteName(t.name)}`);
    seen.add(t.name);
    if (t.annotations !== undefined && !isPlainObject(t.annotations))
      throw new UsageError(`${file}: ${at}/annotations: must be an object`);
    if (t.inputSchema !== undefined && !isPlainObject(t.inputSchema))
      throw new UsageError(`${file}: ${at}/inputSchema: must be an object`);
    if (t.description !== undefined && typeof t.description !== "string") {
      throw new UsageError(`${file}: ${at}/description: must be a string`);
    }
    return {
      name: t.name,
      description: t.description,
      annotations: t.annotations,
      inputSchema: t.inputSchema,
    };
  });
}

/** A short reason for a failed file operation. */
export function fileProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "is a directory";
  if (code === "ENOTDIR") return "a part of the path is not a directory";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EEXIST") return "already exists";
  return errorMessage(e);
}
