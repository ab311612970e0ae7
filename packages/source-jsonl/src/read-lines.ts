import { isUtf8 } from "node:buffer";
import type { Readable } from "node:stream";
import { gzipFailure, isGzipFile, openInputFile, refuseUtf16 } from "@batchpipe/core/plugin";

/** One line of a file, without its `\n` (a trailing `\r` is still there). */
export interface Line {
  /** the line's bytes; a view into a read chunk */
  bytes: Buffer;
  /** 1-based line number */
  line: number;
  /** byte offset just after the line's `\n` (of the decompressed stream for .gz) */
  end: number;
  /** whether `bytes` is valid UTF-8 */
  utf8: boolean;
}

export interface ReadLinesOptions {
  /** the plugin a damaged .gz file's SOURCE_FAILED names */
  plugin?: string;
  /** byte offset to start at; must be the start of a line (plain files only) */
  start?: number;
  /** the line number of the line at `start`, minus one */
  lineBefore?: number;
  signal?: AbortSignal;
  /** read this instead of opening `file` (standard input) */
  stream?: Readable;
}

/**
 * Splits a file into lines at the Buffer level, yielding the complete lines of each read chunk
 * together (one await per chunk, not per line). Chunks are scanned with indexOf(0x0a), and only a
 * line that spans chunks is copied. Memory stays at about one chunk plus the longest line.
 * Splitting on the newline byte never cuts a UTF-8 sequence (0x0a never occurs inside one), so
 * validity is checked once per chunk, and per line only when a chunk is not valid.
 */
export async function* readLines(file: string, options: ReadLinesOptions = {}): AsyncGenerator<Line[]> {
  const gzip = isGzipFile(file);
  const start = options.start ?? 0;
  const stream = openInputFile(file, { start, signal: options.signal, stream: options.stream });
  let line = options.lineBefore ?? 0;
  let offset = gzip ? 0 : start;
  let carry: Buffer[] = [];
  let carryLength = 0;
  // a UTF-16 file would fail every line as not UTF-8: refused at its start, with what to do
  let first = start === 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (first) refuseUtf16(file, chunk, { plugin: "source:jsonl", ext: "jsonl" });
      first = false;
      let from = 0;
      let newline = chunk.indexOf(NEWLINE, from);
      const lines: Line[] = [];
      if (newline === -1) {
        carry.push(chunk);
        carryLength += chunk.length;
        continue;
      }
      // one native validity pass over the chunk's complete lines instead of one per line; a line
      // carried over from the previous chunk is checked on its own
      const chunkUtf8 = isUtf8(chunk.subarray(carryLength > 0 ? newline + 1 : 0, chunk.lastIndexOf(NEWLINE)));
      while (newline !== -1) {
        let bytes: Buffer;
        let utf8 = chunkUtf8;
        if (carryLength > 0) {
          carry.push(chunk.subarray(0, newline));
          bytes = Buffer.concat(carry, carryLength + newline);
          carry = [];
          carryLength = 0;
          utf8 = isUtf8(bytes);
        } else {
          bytes = chunk.subarray(from, newline);
          if (!chunkUtf8) utf8 = isUtf8(bytes);
        }
        line++;
        offset += bytes.length + 1;
        lines.push({ bytes, line, end: offset, utf8 });
        from = newline + 1;
        newline = from < chunk.length ? chunk.indexOf(NEWLINE, from) : -1;
      }
      if (from < chunk.length) {
        // copy the tail: holding a view would pin the whole chunk
        const tail = Buffer.from(chunk.subarray(from));
        carry.push(tail);
        carryLength += tail.length;
      }
      yield lines;
    }
    if (carryLength > 0) {
      // a last line without a newline is still a line
      const bytes = Buffer.concat(carry, carryLength);
      yield [{ bytes, line: line + 1, end: offset + bytes.length, utf8: isUtf8(bytes) }];
    }
  } catch (error) {
    // a damaged or cut-short .gz: name the file and the last line read
    throw gzip ? gzipFailure(error, { file, line, plugin: options.plugin ?? "source" }) : error;
  } finally {
    stream.destroy();
  }
}

// --- internal ---

const NEWLINE = 0x0a;
