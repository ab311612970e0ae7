/**
 * A shard's meta file indexed by request id: where each meta line is, read from disk on demand so
 * the inputs of a 50,000-request shard stay out of memory while its results are joined. Results
 * mostly come in the shard's order, so a read takes the next 64 KB with it and the following lines
 * come from that block (a read per line cost ~5 µs a result).
 */
import fs from "node:fs";
import { decodeShardMeta, type ShardMeta } from "./codecs/shard-meta.js";
import { readFileLines } from "./read/index.js";

const READ_AHEAD = 1 << 16;

export interface MetaEntry {
  /** the request's index in its shard file */
  index: number;
  meta(): ShardMeta;
}

export class ShardMetaIndex {
  private readonly ids = new Map<string, number>();
  private readonly idAt: string[] = [];
  private readonly offsets: number[] = [];
  private readonly lengths: number[] = [];
  private fd: number | undefined;
  /** the last block read: `filled` bytes of `buffer`, from file offset `blockAt` */
  private buffer: Buffer | undefined;
  private filled = 0;
  private blockAt = 0;

  private constructor(private readonly file: string) {}

  static async load(file: string): Promise<ShardMetaIndex> {
    const index = new ShardMetaIndex(file);
    let offset = 0;
    for await (const line of readFileLines(file)) {
      const length = Buffer.byteLength(line);
      if (line !== "") {
        const id = decodeShardMeta(line).id;
        index.ids.set(id, index.offsets.length);
        index.idAt.push(id);
        index.offsets.push(offset);
        index.lengths.push(length);
      }
      offset += length + 1;
    }
    return index;
  }

  get(id: string): MetaEntry | undefined {
    const i = this.ids.get(id);
    return i === undefined ? undefined : this.entry(i);
  }

  /** the request at line `index` of the shard file, with its record's id */
  at(index: number): { id: string; entry: MetaEntry } | undefined {
    const id = this.idAt[index];
    return id === undefined ? undefined : { id, entry: this.entry(index) };
  }

  *entries(): Generator<[string, MetaEntry]> {
    for (const [id, i] of this.ids) yield [id, this.entry(i)];
  }

  /** the meta line of the request at `index` */
  line(index: number): string {
    const offset = this.offsets[index]!;
    const length = this.lengths[index]!;
    let start = offset - this.blockAt;
    if (!this.buffer || start < 0 || start + length > this.filled) {
      this.fd ??= fs.openSync(this.file, "r");
      if (!this.buffer || this.buffer.length < length)
        this.buffer = Buffer.allocUnsafe(Math.max(length, READ_AHEAD));
      this.filled = fs.readSync(this.fd, this.buffer, 0, this.buffer.length, offset);
      this.blockAt = offset;
      start = 0;
    }
    return this.buffer.toString("utf8", start, start + length);
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    this.buffer = undefined;
  }

  private entry(index: number): MetaEntry {
    return { index, meta: () => decodeShardMeta(this.line(index)) };
  }
}
