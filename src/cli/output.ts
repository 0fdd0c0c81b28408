/**
 * Where the CLI writes: results to standard output, problems to standard error.
 */

/** Writes one line to standard output. */
export function out(line = ""): void {
  process.stdout.write(`${line}\n`);
}

/** Writes one line to standard error. */
export function err(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Writes a value as indented JSON to standard output. */
export function outJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Pads `text` to `width` characters, for aligned columns. */
export function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}
