/**
 * A shard's meta file indexed by request id: where each meta line is, read from disk on demand so
 * the inputs of a 50,000-request shard stay out of memory while its results are joined.
 *
 * Results mostly come in the shard's order, so two things follow that order and fall back when it
 * breaks: a read takes the next 64 KB with it and the following lines come from that block (a read
 * per line cost ~5 µs a result), and ids are read from the lines as results ask for them, each line
 * decoded once for its id and its row (decoding every line first for the id map cost ~1.5 µs a
 * result); the first result out of order reads the remaining ids into the map.
 */
import fs from "node:fs";
import { decodeShardMeta, type ShardMeta } from "./codecs/shard-meta.js";

const READ_AHEAD = 1 << 16;

export interface MetaEntry {
  /** the request's index in its shard file */
  index: number;
  meta(): ShardMeta;
}

export class ShardMetaIndex {
  /** id → line, once a result came out of order */
  private ids: Map<string, number> | undefined;
  /** the ids read so far, by line */
  private readonly idAt: (string | undefined)[] = [];
  private readonly offsets: number[] = [];
  private readonly lengths: number[] = [];
  /** the line the next result answers when results follow the shard's order */
  private next = 0;
  private fd: number | undefined;
  /** the last block read: `filled` bytes of `buffer`, from file offset `blockAt` */
  private buffer: Buffer | undefined;
  private filled = 0;
  private blockAt = 0;

  private constructor(private readonly file: string) {}

  /** where each (non-empty) line is */
  static async load(file: string): Promise<ShardMetaIndex> {
    const index = new ShardMetaIndex(file);
    const add = (offset: number, length: number) => {
      if (length === 0) return;
      index.offsets.push(offset);
      index.lengths.push(length);
    };
    const handle = await fs.promises.open(file, "r");
    try {
      const chunk = Buffer.allocUnsafe(1 << 20);
      let lineStart = 0;
      let pos = 0;
      for (;;) {
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, pos);
        if (bytesRead === 0) break;
        const view = chunk.subarray(0, bytesRead);
        for (let nl = view.indexOf(10); nl !== -1; nl = view.indexOf(10, nl + 1)) {
          add(lineStart, pos + nl - lineStart);
          lineStart = pos + nl + 1;
        }
        pos += bytesRead;
      }
      // a last line without its newline
      add(lineStart, pos - lineStart);
    } finally {
      await handle.close();
    }
    return index;
  }

  get(id: string): MetaEntry | undefined {
    if (!this.ids) {
      const i = this.next;
      if (i < this.offsets.length) {
        const meta = this.decode(i);
        if (meta.id === id) {
          this.next++;
          return this.entry(i, meta);
        }
      }
      this.ids = new Map();
      for (let j = 0; j < this.offsets.length; j++) this.ids.set(this.idAt[j] ?? this.decode(j).id, j);
    }
    const i = this.ids.get(id);
    return i === undefined ? undefined : this.entry(i);
  }

  /** the request at line `index` of the shard file, with its record's id */
  at(index: number): { id: string; entry: MetaEntry } | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.offsets.length) return undefined;
    const id = this.idAt[index];
    if (id !== undefined) return { id, entry: this.entry(index) };
    const meta = this.decode(index);
    return { id: meta.id, entry: this.entry(index, meta) };
  }

  /** every request, in the shard's order */
  *entries(): Generator<[string, MetaEntry]> {
    for (let i = 0; i < this.offsets.length; i++) {
      const id = this.idAt[i];
      if (id !== undefined) yield [id, this.entry(i)];
      else {
        const meta = this.decode(i);
        yield [meta.id, this.entry(i, meta)];
      }
    }
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

  /** the meta line at `index`, decoded, its id kept */
  private decode(index: number): ShardMeta {
    const meta = decodeShardMeta(this.line(index));
    this.idAt[index] = meta.id;
    return meta;
  }

  /** `decoded`: the line's meta, decoded for its id already (handed out once) */
  private entry(index: number, decoded?: ShardMeta): MetaEntry {
    let meta = decoded;
    return {
      index,
      meta: () => {
        const out = meta ?? decodeShardMeta(this.line(index));
        meta = undefined;
        return out;
      },
    };
  }
}
