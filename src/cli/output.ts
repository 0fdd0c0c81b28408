/**
 * Where the CLI writes: results to standard output, problems to standard error. A reader that
 * goes away early (`toolgate check … | head`) ends the output quietly, never with a stack trace.
 */

import { UsageError } from "./errors.js";

let stdoutGone = false;
let stderrGone = false;

/**
 * Makes a closed pipe end the output quietly: once the reader of standard output (or error)
 * has gone (`EPIPE`), later writes to it are dropped and the command finishes with its own
 * exit status. Called once by the CLI before a command runs.
 */
export function endQuietlyOnClosedPipes(): void {
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    stdoutGone = true;
    // Anything but a reader that left is worth a line on standard error.
    if (e.code !== "EPIPE") err(`toolgate: standard output failed: ${e.code ?? e.message}`);
  });
  process.stderr.on("error", () => {
    stderrGone = true;
  });
}

/** Writes one line to standard output. */
export function out(line = ""): void {
  if (!stdoutGone) process.stdout.write(`${line}\n`);
}

/** Writes one line to standard error. */
export function err(line: string): void {
  if (!stderrGone) process.stderr.write(`${line}\n`);
}

/**
 * Writes a value as indented JSON to standard output. A value nested too deeply for the
 * indenting writer (JSON.stringify with an indent recurses) is written on one line instead,
 * and one that cannot be written at all is a usage error, never a stack trace.
 */
export function outJson(value: unknown): void {
  if (stdoutGone) return;
  let text: string;
  try {
    text = JSON.stringify(value, null, 2);
  } catch {
    try {
      text = JSON.stringify(value);
    } catch {
      throw new UsageError("the result is nested too deeply to be written as JSON");
    }
  }
  process.stdout.write(`${text}\n`);
}

/** Writes text as it is to standard output. */
export function outText(text: string): void {
  if (!stdoutGone) process.stdout.write(text);
}

/** Pads `text` to `width` characters, for aligned columns. */
export function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}
