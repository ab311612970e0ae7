/**
 * File helpers of the read phase (and of retry shards): a buffered synchronous writer that can
 * continue a file cut back to a checkpoint, a synchronous line reader for the same, and fsync of
 * several files in parallel. Files are synced only that way, off the main thread: a shard's seal
 * synced its two files on it, which blocked a 1M run's main thread for ~0.2 s in all (162 fsyncs;
 * bench/lib/analysis.md, thirteenth pass).
 */
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";

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
    let parts: Buffer[] = [];
    let pos = 0;
    while (pos < end) {
      const n = fs.readSync(fd, chunk, 0, Math.min(chunk.length, end - pos), pos);
      if (n === 0) throw new Error(`${file} is shorter than ${end} bytes`);
      pos += n;
      const view = chunk.subarray(0, n);
      let start = 0;
      for (let nl = view.indexOf(10); nl !== -1; nl = view.indexOf(10, start)) {
        parts.push(view.subarray(start, nl));
        yield Buffer.concat(parts).toString("utf8");
        parts = [];
        start = nl + 1;
      }
      // copy: the chunk is reused
      if (start < n) parts.push(Buffer.from(view.subarray(start)));
    }
    if (parts.length > 0) throw new Error(`${file} ends inside a line at ${end} bytes`);
  } finally {
    fs.closeSync(fd);
  }
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

/** a file's lines (any line ending), streamed */
export function readFileLines(file: string): AsyncIterable<string> {
  return readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
}
