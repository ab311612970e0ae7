/**
 * File helpers of the read phase (and of retry shards): a buffered synchronous writer that can
 * continue a file cut back to a checkpoint, line readers (a synchronous one for the same, a
 * streaming one) over one line splitter, and fsync of several files in parallel. Files are synced
 * only that way, off the main thread: a shard's seal synced its two files on it, which blocked a
 * 1M run's main thread for ~0.2 s in all (162 fsyncs; bench/lib/analysis.md, thirteenth pass).
 */
import fs from "node:fs";
import path from "node:path";

/**
 * A buffered synchronous file writer: constant memory, no stream back-pressure to juggle.
 * `truncateTo`: continue a file written before, cut back to that many bytes (a read checkpoint).
 * Text is encoded straight into one reused buffer: joining the strings and encoding the result
 * cost ~3.5 µs more per shard line (bench/RESULTS.md, issue 17).
 */
export class SyncWriter {
  private readonly fd: number;
  private readonly buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private used = 0;
  private written = 0;

  constructor(file: string, options: { truncateTo?: number } = {}) {
    // owner only: shard files hold full prompts
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    if (options.truncateTo === undefined) {
      this.fd = fs.openSync(file, "w", 0o600);
      return;
    }
    this.fd = fs.openSync(file, "r+");
    const size = fs.fstatSync(this.fd).size;
    if (size < options.truncateTo) {
      fs.closeSync(this.fd);
      throw new Error(`${file} is ${size} bytes, shorter than the ${options.truncateTo} recorded`);
    }
    fs.ftruncateSync(this.fd, options.truncateTo);
    this.written = options.truncateTo;
  }

  write(text: string): void {
    // a UTF-16 code unit is at most 3 bytes of UTF-8
    if (text.length * 3 > BUFFER_BYTES - this.used) {
      this.flush();
      if (text.length * 3 > BUFFER_BYTES) {
        this.writeOut(Buffer.from(text));
        return;
      }
    }
    this.used += this.buffer.write(text, this.used);
  }

  flush(): void {
    if (this.used === 0) return;
    this.writeOut(this.buffer.subarray(0, this.used));
    this.used = 0;
  }

  /** write the buffer out (not synced); returns the file's length */
  flushed(): number {
    this.flush();
    return this.written;
  }

  /** write out what is buffered and close: not synced (the caller syncs the file, syncFiles, before it records it) */
  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }

  private writeOut(bytes: Buffer): void {
    let done = 0;
    while (done < bytes.length)
      done += fs.writeSync(this.fd, bytes, done, bytes.length - done, this.written + done);
    this.written += bytes.length;
  }
}

const BUFFER_BYTES = 1 << 18;

/** the lines of the first `limit` bytes of a file (all of it when undefined), synchronously */
export function* readLinesSync(file: string, limit?: number): Generator<string> {
  const fd = fs.openSync(file, "r");
  try {
    const end = limit ?? fs.fstatSync(fd).size;
    const chunk = Buffer.allocUnsafe(1 << 20);
    const lines = new LineSplitter();
    let pos = 0;
    while (pos < end) {
      const n = fs.readSync(fd, chunk, 0, Math.min(chunk.length, end - pos), pos);
      if (n === 0) throw new Error(`${file} is shorter than ${end} bytes`);
      pos += n;
      yield* lines.split(chunk.subarray(0, n));
    }
    if (lines.rest !== undefined) throw new Error(`${file} ends inside a line at ${end} bytes`);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Splits a file read chunk by chunk into its lines (at "\n"; a "\r" before it is dropped: the
 * files are JSON lines, where a raw "\r" can only end a line). A line a chunk's end cuts is copied
 * (the chunk is reused) and completed by the next.
 */
class LineSplitter {
  /** the start of a line the last chunk cut */
  rest: Buffer | undefined;

  *split(view: Buffer): Generator<string> {
    let start = 0;
    for (let nl = view.indexOf(10); nl !== -1; nl = view.indexOf(10, start)) {
      if (this.rest === undefined) yield lineOf(view, start, nl);
      else {
        const whole = Buffer.concat([this.rest, view.subarray(start, nl)]);
        this.rest = undefined;
        yield lineOf(whole, 0, whole.length);
      }
      start = nl + 1;
    }
    if (start < view.length) {
      const cut = view.subarray(start);
      this.rest = Buffer.concat(this.rest === undefined ? [cut] : [this.rest, cut]);
    }
  }
}

/** bytes [start, end) as text, without a "\r" that ends them */
function lineOf(bytes: Buffer, start: number, end: number): string {
  return bytes.toString("utf8", start, end > start && bytes[end - 1] === 13 ? end - 1 : end);
}

/** make files durable, in parallel on libuv's threads (a separate descriptor: the writer may close its own) */
export async function syncFiles(files: string[]): Promise<void> {
  await Promise.all(
    files.map(async (file) => {
      const handle = await fs.promises.open(file, "r");
      try {
        await handle.datasync();
      } finally {
        await handle.close();
      }
    }),
  );
}

/**
 * The lines of a file this engine wrote (JSON lines), streamed in 256 KB reads. readline held up
 * to 1,024 lines ahead of its reader and split with a regular expression: a rerun's collection of
 * cached shards promoted a seventh of what it allocated (bench/lib/analysis.md, thirteenth pass).
 */
export async function* readFileLines(file: string): AsyncGenerator<string> {
  const handle = await fs.promises.open(file, "r");
  try {
    const chunk = Buffer.allocUnsafe(LINES_CHUNK);
    const lines = new LineSplitter();
    for (let pos = 0; ; ) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      yield* lines.split(chunk.subarray(0, bytesRead));
    }
    // a last line without its newline
    if (lines.rest !== undefined) yield lineOf(lines.rest, 0, lines.rest.length);
  } finally {
    await handle.close();
  }
}

const LINES_CHUNK = 1 << 18;
