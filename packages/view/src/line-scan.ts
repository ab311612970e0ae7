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
  /** the byte offset of `bytes`' first byte */
  start: number;
  /** whole lines, each ending with "\n"; valid until the next chunk is read */
  bytes: Buffer;
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
      const read = fs.readSync(fd, buffer, 0, Math.min(buffer.length, limit - position), position);
      if (read === 0) return;
      position += read;
      const data =
        carry.length > 0 ? Buffer.concat([carry, buffer.subarray(0, read)]) : buffer.subarray(0, read);
      const last = data.lastIndexOf(10);
      if (last === -1) {
        if (data.length > MAX_LINE) return;
        carry = Buffer.from(data);
        continue;
      }
      const start = position - data.length;
      yield { start, bytes: data.subarray(0, last + 1), end: start + last + 1 };
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
    return chunk.bytes.toString("utf8", 0, chunk.bytes.indexOf(10));
  }
  return undefined;
}

/** the starts of the lines of a chunk */
export function* lineStarts(bytes: Buffer): Generator<number> {
  for (let start = 0; start < bytes.length; ) {
    yield start;
    start = bytes.indexOf(10, start) + 1;
    if (start === 0) return;
  }
}

/**
 * ASCII letters of `src` lowercased into `dst`, four bytes at a time (other bytes are copied): the
 * search's case-insensitive test runs on bytes, several times faster than decoding the text.
 */
export function lowerAscii(src: Buffer, dst: Buffer): void {
  const n = src.length;
  let i = 0;
  if (src.byteOffset % 4 === 0 && dst.byteOffset % 4 === 0) {
    const words = n >>> 2;
    const s = new Uint32Array(src.buffer, src.byteOffset, words);
    const d = new Uint32Array(dst.buffer, dst.byteOffset, words);
    for (; i < words; i++) {
      const w = s[i]!;
      const low7 = w & 0x7f7f7f7f;
      // 0x80 in each byte from 'A' (0x41) to 'Z' (0x5a) whose top bit is clear
      const upper = ((low7 + 0x25252525) ^ (low7 + 0x3f3f3f3f)) & ~w & 0x80808080;
      d[i] = w | (upper >>> 2);
    }
    i = words * 4;
  }
  for (; i < n; i++) {
    const c = src[i]!;
    dst[i] = c >= 65 && c <= 90 ? c | 32 : c;
  }
}

/** a string with its ASCII letters lowercased (as lowerAscii does to bytes) */
export function lowerAsciiText(text: string): string {
  return text.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}
