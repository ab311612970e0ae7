/**
 * A shard's meta file indexed by request id: where each meta line is. A file of usual size (up to
 * 64 MB) is held in memory while its shard is collected; a larger one (records with big inputs) is
 * read from disk on demand, so its inputs stay out of memory while its results are joined.
 *
 * Results mostly come in the shard's order, so two things follow that order and fall back when it
 * breaks: a read takes the next 64 KB with it and the following lines come from that block (a read
 * per line cost ~5 µs a result), and ids are read from the lines as results ask for them, each line
 * decoded once for its id and its row (decoding every line first for the id map cost ~1.5 µs a
 * result); the first result out of order reads the remaining ids into the map.
 *
 * The whole-file buffer is reused from one shard to the next instead of allocated per shard: glibc
 * gives a freed mapping of up to 32 MB back to the system but raises its mmap threshold to that
 * size, so after the first ~20 MB buffer was freed every smaller buffer of the run (the read's hash
 * tables, stream chunks) came from the brk heap, which grows and does not shrink: at a 1M run's
 * peak it held 178–188 MB, 140–144 MB with the buffer reused (bench/memory-timeline.js).
 */
import fs from "node:fs";
import { decodeShardMeta, type ShardMeta } from "./codecs/shard-meta.js";

const READ_AHEAD = 1 << 16;
/** meta files up to this size are held whole while their shard is collected (a 50,000-request shard's is ~20 MB) */
const WHOLE_FILE = 64 << 20;

/** the whole-file buffer of the last index closed, for the next load (at most one kept, ≤ WHOLE_FILE) */
let spare: Buffer | undefined;

/** a buffer of at least `size` bytes: the spare, or a new one with room for a somewhat larger shard */
function wholeFileBuffer(size: number): Buffer {
  const buffer =
    spare && spare.length >= size ? spare : Buffer.allocUnsafe(Math.min(WHOLE_FILE, size + (size >> 3)));
  spare = undefined;
  return buffer;
}

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
  /** the line read last */
  private lastLine = -2;
  /** the buffer holds the whole file (given to the next load on close) */
  private whole = false;

  private constructor(private readonly file: string) {}

  /** where each (non-empty) line is; a file up to WHOLE_FILE bytes is kept in memory whole */
  static async load(file: string): Promise<ShardMetaIndex> {
    const index = new ShardMetaIndex(file);
    const add = (offset: number, length: number) => {
      if (length === 0) return;
      index.offsets.push(offset);
      index.lengths.push(length);
    };
    const handle = await fs.promises.open(file, "r");
    try {
      const size = (await handle.stat()).size;
      // results come in any order (OpenAI's and the emulator's): a read per line costs a syscall
      // each, so a shard's meta file of usual size is read once and its lines sliced from memory
      const whole = size <= WHOLE_FILE ? wholeFileBuffer(size) : undefined;
      const chunk = whole ?? Buffer.allocUnsafe(1 << 20);
      let lineStart = 0;
      let pos = 0;
      for (;;) {
        const { bytesRead } = whole
          ? await handle.read(whole, pos, size - pos, pos)
          : await handle.read(chunk, 0, chunk.length, pos);
        if (bytesRead === 0) break;
        const view = whole ? whole.subarray(pos, pos + bytesRead) : chunk.subarray(0, bytesRead);
        for (let nl = view.indexOf(10); nl !== -1; nl = view.indexOf(10, nl + 1)) {
          add(lineStart, pos + nl - lineStart);
          lineStart = pos + nl + 1;
        }
        pos += bytesRead;
        if (whole && pos >= size) break;
      }
      // a last line without its newline
      add(lineStart, pos - lineStart);
      if (whole) {
        index.buffer = whole;
        index.whole = true;
        index.filled = pos;
        index.blockAt = 0;
      }
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
    // read ahead only while lines are asked in order: results out of the shard's order (as
    // OpenAI returns them) would otherwise read 64 KB for every ~400-byte line
    const inOrder = index === this.lastLine + 1;
    this.lastLine = index;
    let start = offset - this.blockAt;
    if (!this.buffer || start < 0 || start + length > this.filled) {
      this.fd ??= fs.openSync(this.file, "r");
      const want = inOrder ? Math.max(length, READ_AHEAD) : length;
      if (!this.buffer || this.buffer.length < want)
        this.buffer = Buffer.allocUnsafe(Math.max(want, READ_AHEAD));
      this.filled = fs.readSync(this.fd, this.buffer, 0, want, offset);
      this.blockAt = offset;
      start = 0;
    }
    return this.buffer.toString("utf8", start, start + length);
  }

  /** entries read after this come from the file on disk */
  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    if (this.whole && this.buffer && this.buffer.length > (spare?.length ?? 0)) spare = this.buffer;
    this.whole = false;
    this.buffer = undefined;
  }

  /** the meta line at `index`, decoded, its id kept */
  private decode(index: number): ShardMeta {
    const meta = decodeShardMeta(this.line(index), () => this.place(index));
    this.idAt[index] = meta.id;
    return meta;
  }

  /** the line's place, for an error: its file and line number */
  private place(index: number): string {
    return `${this.file} line ${index + 1}`;
  }

  /** `decoded`: the line's meta, decoded for its id already (handed out once) */
  private entry(index: number, decoded?: ShardMeta): MetaEntry {
    let meta = decoded;
    return {
      index,
      meta: () => {
        const out = meta ?? decodeShardMeta(this.line(index), () => this.place(index));
        meta = undefined;
        return out;
      },
    };
  }
}
