/**
 * Reading JSONL files by byte offset: whole lines from an offset up to a limit, a chunk at a time,
 * so a search through a 1,000,000-line file holds one chunk in memory and can stop anywhere and
 * resume from the offset it reached.
 */
import fs from "node:fs";

const CHUNK = 1 << 20;
/** a single line longer than this is not shown (a record this big is not something to page through) */
const MAX_LINE = 64 << 20;

export interface Chunk {
  /** the byte offset of `text`'s first character */
  start: number;
  /** whole lines, each ending with "\n" */
  text: string;
  /** the byte offset after the last line */
  end: number;
}

/** whole-line chunks of `file` from `from` up to `limit` bytes */
export function* readChunks(file: string, from: number, limit: number): Generator<Chunk> {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  try {
    let position = from;
    let carry: Buffer = Buffer.alloc(0);
    const buffer = Buffer.allocUnsafe(CHUNK);
    while (position < limit) {
      const want = Math.min(buffer.length, limit - position);
      const read = fs.readSync(fd, buffer, 0, want, position);
      if (read === 0) return;
      position += read;
      const data = carry.length > 0 ? Buffer.concat([carry, buffer.subarray(0, read)]) : buffer.subarray(0, read);
      const last = data.lastIndexOf(10);
      if (last === -1) {
        if (data.length > MAX_LINE) return;
        carry = Buffer.from(data);
        continue;
      }
      const start = position - data.length;
      yield { start, text: data.toString("utf8", 0, last + 1), end: start + last + 1 };
      // a copy: the next read overwrites `buffer`
      carry = Buffer.from(data.subarray(last + 1));
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** the line starting at `offset` (without its newline), or undefined when none ends before `limit` */
export function readLineAt(file: string, offset: number, limit: number): string | undefined {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= limit) return undefined;
  for (const chunk of readChunks(file, offset, limit)) {
    const end = chunk.text.indexOf("\n");
    return chunk.text.slice(0, end);
  }
  return undefined;
}

/** byte length of a string's UTF-8 encoding */
export const byteLength = (text: string): number => Buffer.byteLength(text, "utf8");
