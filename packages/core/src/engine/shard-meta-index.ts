/**
 * A shard's meta file indexed by request id: where each meta line is, read from disk on demand so
 * the inputs of a 50,000-request shard stay out of memory while its results are joined.
 */
import fs from "node:fs";
import { decodeShardMeta, type ShardMeta } from "./codecs/shard-meta.js";
import { readFileLines } from "./read/index.js";

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
    this.fd ??= fs.openSync(this.file, "r");
    const buffer = Buffer.allocUnsafe(this.lengths[index]!);
    fs.readSync(this.fd, buffer, 0, buffer.length, this.offsets[index]!);
    return buffer.toString("utf8");
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private entry(index: number): MetaEntry {
    return { index, meta: () => decodeShardMeta(this.line(index)) };
  }
}
