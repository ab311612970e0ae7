/**
 * The read's hash tables (id-index.ts) past their memory share: a table that holds `memoryEntries`
 * keys is written to a file of the run's as it was in memory, and starts again empty, so the
 * tables' memory grows with the dataset only by their filters: a Bloom filter per file (10 bits a
 * key, ~1 % false positives, ~13 MB a table at ten million keys) stays in memory, so a new key, the
 * usual case, costs no disk read; a key the filter may hold costs a read of the slots it probes.
 *
 * Every lookup asks each file's filter, so files are merged as they pile up (as in an LSM tree):
 * FANOUT files of one size become one of the next size, a partition at a time, and a table never
 * has more than FANOUT − 1 files of a size (ten million keys: 76 spills of 2^17, 4 files). The
 * files are the read's scratch: a resumed read rebuilds its tables from the meta files, so they are
 * never needed after a crash.
 */
import fs from "node:fs";
import path from "node:path";

/** slots read per disk read while probing (linear probing below 3/4 full rarely goes further) */
const WINDOW = 32;
const BLOOM_BITS_PER_KEY = 10;
const BLOOM_HASHES = 7;
/** files of one size merged into one of the next */
const FANOUT = 4;

/** one partition of a table: its keys (`keyWords` words a slot) and values (`valueWords` a slot) */
export interface Partition {
  keys: Uint32Array;
  values?: Uint32Array;
}

/** how a table's slots are laid out and probed (the same in memory and on disk) */
export interface TableLayout {
  /** words a key takes (a used slot's key is never all zero) */
  keyWords: number;
  /** words a value takes (0: a set) */
  valueWords: number;
  /** whether slot `slot` of `keys` is empty */
  isEmpty(keys: Uint32Array, slot: number): boolean;
  /** the slot where probing for the key at word `at` of `keys` starts, in a partition of `slots` */
  start(keys: Uint32Array, at: number, slots: number): number;
}

/** One table's files, newest first (the order lookups go in: a key set again wins). */
export class SpilledTables {
  /** files by size: level 0 holds spills of the memory, level n+1 merges of FANOUT level-n files */
  private readonly levels: SpilledTable[][] = [];
  /** every file, newest first: lower levels are newer than higher ones */
  private tables: SpilledTable[] = [];
  private count = 0;

  /** `memoryEntries`: the keys the table holds in memory before it spills */
  constructor(
    private readonly dir: string,
    private readonly prefix: string,
    private readonly layout: TableLayout,
    private readonly memoryEntries: number,
  ) {}

  /** the memory holds as many keys as it may */
  full(entries: number): boolean {
    return entries >= this.memoryEntries;
  }

  /** the newest file holding `key` (of partition `p`) and its slot there */
  find(p: number, key: Uint32Array): { table: SpilledTable; slot: number } | undefined {
    for (const table of this.tables) {
      const slot = table.find(p, key);
      if (slot !== -1) return { table, slot };
    }
    return undefined;
  }

  /** write out the memory's partitions (`entries` keys) */
  spill(parts: Partition[], entries: number): void {
    fs.mkdirSync(this.dir, { recursive: true });
    this.push(0, new SpilledTable(this.nextFile(), parts, this.layout, entries));
  }

  close(): void {
    for (const table of this.tables) table.close();
    this.tables = [];
    this.levels.length = 0;
  }

  private push(level: number, table: SpilledTable): void {
    this.levels[level] ??= [];
    const files = this.levels[level];
    files.unshift(table);
    if (files.length >= FANOUT) {
      const merged = mergeTables(this.nextFile(), [...files].reverse(), this.layout);
      for (const file of files) file.close();
      this.levels[level] = [];
      this.push(level + 1, merged);
    }
    this.tables = this.levels.flat();
  }

  private nextFile(): string {
    return path.join(this.dir, `${this.prefix}-${++this.count}.bin`);
  }
}

export class SpilledTable {
  private readonly fd: number;
  /** byte offsets of each partition's keys and values in the file, its slot and key counts */
  private readonly at: { keys: number; values: number; slots: number; entries: number }[] = [];
  private readonly bloom: Uint32Array;
  private readonly bloomBits: number;
  private readonly window: Uint32Array;
  private readonly windowBytes: Buffer;
  private readonly valueBytes = Buffer.alloc(8);

  /** writes `parts` to `file` as they come (it keeps none of them); `entries`: at most how many keys */
  constructor(
    private readonly file: string,
    parts: Iterable<Partition>,
    private readonly layout: TableLayout,
    entries: number,
  ) {
    this.bloomBits = Math.max(64, entries * BLOOM_BITS_PER_KEY);
    this.bloom = new Uint32Array(Math.ceil(this.bloomBits / 32));
    this.window = new Uint32Array(WINDOW * layout.keyWords);
    this.windowBytes = Buffer.from(this.window.buffer);
    this.fd = fs.openSync(file, "w+", 0o600);
    try {
      let offset = 0;
      for (const part of parts) {
        const slots = part.keys.length / layout.keyWords;
        const keys = offset;
        offset += this.writeAt(part.keys, offset);
        const values = offset;
        if (part.values) offset += this.writeAt(part.values, offset);
        let used = 0;
        for (let slot = 0; slot < slots; slot++) {
          if (layout.isEmpty(part.keys, slot)) continue;
          for (let i = 0; i < BLOOM_HASHES; i++) {
            const bit = this.bloomBit(part.keys, slot * layout.keyWords, i);
            this.bloom[bit >>> 5]! |= 1 << (bit & 31);
          }
          used++;
        }
        this.at.push({ keys, values, slots, entries: used });
      }
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** the slot of `key` in partition `p`, probing as the table did in memory; -1 when it is not there */
  find(p: number, key: Uint32Array): number {
    if (!this.mayHold(key)) return -1;
    const { keys, slots } = this.at[p]!;
    const w = this.layout.keyWords;
    let slot = this.layout.start(key, 0, slots);
    for (let probed = 0; probed < slots; ) {
      const n = Math.min(WINDOW, slots - slot, slots - probed);
      this.readExactly(this.windowBytes, n * w * 4, keys + slot * w * 4);
      for (let i = 0; i < n; i++) {
        if (this.layout.isEmpty(this.window, i)) return -1;
        if (sameKey(this.window, i * w, key, 0, w)) return slot + i;
      }
      probed += n;
      slot = (slot + n) % slots;
    }
    return -1;
  }

  /** the value words of a slot `find` returned */
  value(p: number, slot: number): Uint32Array {
    const bytes = this.layout.valueWords * 4;
    this.readExactly(this.valueBytes, bytes, this.at[p]!.values + slot * bytes);
    return new Uint32Array(
      this.valueBytes.buffer,
      this.valueBytes.byteOffset,
      this.layout.valueWords,
    ).slice();
  }

  /** partition `p` as it was written */
  partition(p: number): Partition {
    const { keys, values, slots } = this.at[p]!;
    const read = (words: number, offset: number) => {
      const array = new Uint32Array(words);
      this.readExactly(Buffer.from(array.buffer), words * 4, offset);
      return array;
    };
    const part = { keys: read(slots * this.layout.keyWords, keys) };
    return this.layout.valueWords === 0
      ? part
      : { ...part, values: read(slots * this.layout.valueWords, values) };
  }

  entries(p: number): number {
    return this.at[p]!.entries;
  }

  get partitions(): number {
    return this.at.length;
  }

  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {}
    fs.rmSync(this.file, { force: true });
  }

  private readExactly(into: Buffer, bytes: number, offset: number): void {
    let done = 0;
    while (done < bytes) {
      const n = fs.readSync(this.fd, into, done, bytes - done, offset + done);
      if (n === 0) throw new Error(`${this.file} is shorter than the table written to it`);
      done += n;
    }
  }

  private writeAt(words: Uint32Array, offset: number): number {
    const bytes = Buffer.from(words.buffer, words.byteOffset, words.byteLength);
    let done = 0;
    while (done < bytes.length)
      done += fs.writeSync(this.fd, bytes, done, bytes.length - done, offset + done);
    return bytes.length;
  }

  /** whether the filter may hold the key (no: it is not in the file) */
  private mayHold(key: Uint32Array): boolean {
    for (let i = 0; i < BLOOM_HASHES; i++) {
      const bit = this.bloomBit(key, 0, i);
      if ((this.bloom[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }

  /** the filter's i-th bit of the key at word `at`: double hashing of its first two words (keys are hashes already) */
  private bloomBit(keys: Uint32Array, at: number, i: number): number {
    return ((keys[at]! + Math.imul(i, keys[at + 1]! | 1)) >>> 0) % this.bloomBits;
  }
}

/**
 * One file holding the keys of `tables` (oldest first: a key in a newer one wins), built a
 * partition at a time, so a merge holds one partition of the result in memory
 */
function mergeTables(file: string, tables: SpilledTable[], layout: TableLayout): SpilledTable {
  const counts = Array.from({ length: tables[0]!.partitions }, (_, p) =>
    tables.reduce((n, table) => n + table.entries(p), 0),
  );
  function* merged(): Generator<Partition> {
    const { keyWords: kw, valueWords: vw } = layout;
    for (const [p, count] of counts.entries()) {
      // at most 3/4 full, as in memory
      const slots = Math.max(64, Math.ceil((count * 4) / 3) + 1);
      const keys = new Uint32Array(kw * slots);
      const values = vw > 0 ? new Uint32Array(vw * slots) : undefined;
      for (const table of tables) {
        const from = table.partition(p);
        const fromSlots = from.keys.length / kw;
        for (let s = 0; s < fromSlots; s++) {
          if (layout.isEmpty(from.keys, s)) continue;
          let i = layout.start(from.keys, s * kw, slots);
          while (!layout.isEmpty(keys, i) && !sameKey(keys, i * kw, from.keys, s * kw, kw)) {
            if (++i === slots) i = 0;
          }
          for (let k = 0; k < kw; k++) keys[i * kw + k] = from.keys[s * kw + k]!;
          for (let k = 0; k < vw; k++) values![i * vw + k] = from.values![s * vw + k]!;
        }
      }
      yield values ? { keys, values } : { keys };
    }
  }
  return new SpilledTable(
    file,
    merged(),
    layout,
    counts.reduce((a, b) => a + b, 0),
  );
}

/** whether the `words`-word keys at a[ai] and b[bi] are the same */
function sameKey(a: Uint32Array, ai: number, b: Uint32Array, bi: number, words: number): boolean {
  for (let k = 0; k < words; k++) if (a[ai + k] !== b[bi + k]) return false;
  return true;
}
