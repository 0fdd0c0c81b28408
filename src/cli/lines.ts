/**
 * Reading a file line by line in bounded memory, for JSON Lines input (`toolgate replay`).
 * `node:readline` holds a whole line however long it is; this reader keeps at most `maxBytes`
 * of one, so a file with a 10 GB line costs the cap, not 10 GB.
 */

import { open, type FileHandle } from "node:fs/promises";
import { fileProblem } from "./files.js";
import { UsageError } from "./errors.js";

/** One line of the file: its text, or that it was longer than the cap (its text then dropped). */
export type FileLine =
  { number: number; text: string; tooLong: false } | { number: number; text: undefined; tooLong: true; bytes: number };

/** Reads with this many bytes at a time. */
const CHUNK_BYTES = 64 * 1024;

/**
 * Opens `file` and gives its lines in order, numbered from 1, without their `\n` (nor a `\r`
 * before it, nor a UTF-8 byte-order mark at the start). A last line without `\n` is a line; an
 * empty file has none. A line longer than `maxBytes` bytes comes as `tooLong`, and none of it is
 * kept. The file is opened before this resolves, so a command can fail before it writes anything.
 * @throws UsageError when the file cannot be opened or is a directory; the lines throw it when a
 *   read fails.
 */
export async function readLines(file: string, maxBytes: number): Promise<AsyncGenerator<FileLine>> {
  let handle: FileHandle;
  try {
    handle = await open(file, "r");
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${fileProblem(e)}`);
  }
  let directory: boolean;
  try {
    directory = (await handle.stat()).isDirectory();
  } catch (e) {
    await handle.close();
    throw new UsageError(`cannot read ${file}: ${fileProblem(e)}`);
  }
  if (directory) {
    await handle.close();
    throw new UsageError(`cannot read ${file}: is a directory`);
  }
  return linesOf(handle, file, maxBytes);
}

async function* linesOf(handle: FileHandle, file: string, maxBytes: number): AsyncGenerator<FileLine> {
  try {
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    // The current line's bytes so far (each piece a copy: the read buffer is reused).
    let parts: Buffer[] = [];
    let size = 0;
    let dropped = false;
    let number = 1;
    let first = true;
    for (;;) {
      let read: number;
      try {
        ({ bytesRead: read } = await handle.read(buffer, 0, CHUNK_BYTES, null));
      } catch (e) {
        throw new UsageError(`cannot read ${file}: ${fileProblem(e)}`);
      }
      if (read === 0) break;
      let start = 0;
      while (start < read) {
        const nl = buffer.indexOf(0x0a, start);
        const end = nl === -1 || nl >= read ? read : nl;
        const piece = end - start;
        if (!dropped) {
          if (size + piece > maxBytes) {
            dropped = true;
            parts = [];
          } else if (piece > 0) {
            parts.push(Buffer.from(buffer.subarray(start, end)));
          }
        }
        size += piece;
        if (end === read) break;
        yield finish(number++, parts, size, dropped, first);
        first = false;
        parts = [];
        size = 0;
        dropped = false;
        start = end + 1;
      }
    }
    if (size > 0 || dropped) yield finish(number, parts, size, dropped, first);
  } finally {
    await handle.close();
  }
}

function finish(number: number, parts: Buffer[], size: number, dropped: boolean, first: boolean): FileLine {
  if (dropped) return { number, text: undefined, tooLong: true, bytes: size };
  let text = Buffer.concat(parts, size).toString("utf8");
  if (first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.endsWith("\r")) text = text.slice(0, -1);
  return { number, text, tooLong: false };
}
