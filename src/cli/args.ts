/**
 * Argument parsing on `node:util` `parseArgs` (strict), with its errors turned into one-line
 * messages that name the option, and the JSON values some options take.
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import type { Session } from "toolgate";
import { isPlainObject } from "../shared/objects.js";
import { UsageError } from "./errors.js";
import { parseStrictJson } from "./files.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** What {@link parseCommand} returns: the option values, the positionals, and whether help was asked. */
export interface ParsedCommand {
  /** The options given, by name (without `help`). */
  values: Record<string, string | boolean | undefined>;
  /** The arguments that are not options, in order. */
  positionals: string[];
  /** Whether `--help` or `-h` was given. */
  help: boolean;
}

/**
 * Parses `argv` for `command` strictly: unknown options, missing values and unexpected
 * positionals throw a {@link UsageError}. `--help`/`-h` is added to every command.
 */
export function parseCommand(
  command: string,
  argv: readonly string[],
  options: Options,
  allowPositionals: boolean,
): ParsedCommand {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals,
    });
    const { help, ...rest } = values as Record<string, string | boolean | undefined>;
    return { values: rest, positionals, help: help === true };
  } catch (e) {
    throw new UsageError(`${describeParseError(e)} (see toolgate ${command} --help)`);
  }
}

/** The JSON value of option `--<name>`; text that is not JSON is a {@link UsageError}. */
export function jsonOption(name: string, text: string): unknown {
  return parseStrictJson(`--${name} is`, text);
}

/**
 * The session of option `--session`: a JSON object with a non-empty string `id`, the other
 * fields its attributes (what `when.session` and `per` read).
 */
export function sessionOption(text: string): Session {
  const v = jsonOption("session", text);
  if (!isPlainObject(v) || typeof v.id !== "string" || v.id === "") {
    throw new UsageError(
      `--session must be a JSON object with a non-empty string "id", e.g. {"id":"s1","userId":"ada"}`,
    );
  }
  return v as Session;
}

function describeParseError(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const message = String(err.message ?? e);
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? "";
  const option = quoted.split(" ")[0] ?? quoted;
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${option}`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument ${JSON.stringify(quoted)}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/does not take an argument/.test(message)) return `option ${option} takes no value`;
      if (/is ambiguous/.test(message))
        return `option ${option} needs a value (write ${option}=<value> for a value starting with "-")`;
      return `option ${option} needs a value`;
    default:
      return message.split("\n")[0] ?? message;
  }
}
