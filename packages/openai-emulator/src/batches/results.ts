import { createHash } from "node:crypto";
import fs from "node:fs";
import type { EmulatorContext } from "../context.js";
import { createRandom, hashUnit, permutation, type Random } from "../random.js";
import type { BatchRecord } from "./types.js";

const FLUSH_BYTES = 512 * 1024;

/**
 * Appends result lines to a temp file, remembering where each line sits, so finish() can write
 * them in a seeded shuffled order without holding the whole output in memory.
 */
export class ResultFile {
  private readonly fd: number;
  private offsets: number[] = [];
  private lengths: number[] = [];
  private pending = "";
  private pendingBytes = 0;
  private position = 0;
  private disposed = false;

  constructor(private readonly tmpPath: string) {
    this.fd = fs.openSync(tmpPath, "w+");
  }

  get count(): number {
    return this.offsets.length;
  }

  append(line: unknown): void {
    this.appendText(JSON.stringify(line));
  }

  /** a line as given, even if it is not JSON (test-only malformed output) */
  appendText(text: string): void {
    const line = `${text}\n`;
    const length = Buffer.byteLength(line, "utf8");
    this.offsets.push(this.position);
    this.lengths.push(length);
    this.position += length;
    this.pending += line;
    this.pendingBytes += length;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
  }

  /** Write the final file (shuffled when `random` is given); null when no line was written. */
  finish(finalPath: string, random: Random | undefined): { bytes: number; sha256: string } | null {
    this.flush();
    try {
      if (this.count === 0) return null;
      const order = random ? permutation(this.count, random) : undefined;
      const out = fs.openSync(finalPath, "w");
      const hash = createHash("sha256");
      let chunk: Buffer[] = [];
      let chunkBytes = 0;
      const write = () => {
        const data = Buffer.concat(chunk, chunkBytes);
        hash.update(data);
        fs.writeSync(out, data);
        chunk = [];
        chunkBytes = 0;
      };
      try {
        for (let i = 0; i < this.count; i++) {
          const index = order ? order[i]! : i;
          const length = this.lengths[index]!;
          const buf = Buffer.allocUnsafe(length);
          fs.readSync(this.fd, buf, 0, length, this.offsets[index]!);
          chunk.push(buf);
          chunkBytes += length;
          if (chunkBytes >= FLUSH_BYTES) write();
        }
        write();
      } finally {
        fs.closeSync(out);
      }
      return { bytes: this.position, sha256: hash.digest("hex") };
    } finally {
      this.dispose();
    }
  }

  dispose(): void {
    // close once: a second close could hit a descriptor number reused by another file (EBADF elsewhere)
    if (this.disposed) return;
    this.disposed = true;
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
    fs.rmSync(this.tmpPath, { force: true });
    this.offsets = [];
    this.lengths = [];
  }

  private flush(): void {
    if (this.pendingBytes === 0) return;
    fs.writeSync(this.fd, this.pending, null, "utf8");
    this.pending = "";
    this.pendingBytes = 0;
  }
}

/** Write the output and error files (shuffled unless disabled); their ids go on the batch now or at `attach()`. */
export function publishFiles(
  ctx: EmulatorContext,
  record: BatchRecord,
  ok: ResultFile,
  bad: ResultFile,
  attachNow = true,
): () => void {
  const { store, options } = ctx;
  const { batch } = record;
  const ids: { output?: string; error?: string } = {};
  const shuffle = (salt: string) =>
    options.shuffleOutput
      ? createRandom(Math.floor(hashUnit(options.seed, batch.id, salt) * 2 ** 32))
      : undefined;
  for (const [result, kind] of [
    [ok, "output"],
    [bad, "error"],
  ] as const) {
    const tmp = store.tmpPath(".jsonl");
    const written = result.finish(tmp, shuffle(kind));
    if (!written) continue;
    const file = store.adopt(tmp, {
      filename: `${batch.id}_${kind}.jsonl`,
      purpose: "batch_output",
      bytes: written.bytes,
      sha256: written.sha256,
      expiresAfterSeconds: record.outputExpiresAfter,
    });
    ids[kind] = file.id;
  }
  const attach = () => {
    batch.output_file_id = ids.output ?? null;
    batch.error_file_id = ids.error ?? null;
  };
  if (attachNow) attach();
  return attach;
}
