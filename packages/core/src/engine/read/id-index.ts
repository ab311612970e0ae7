/**
 * The read phase's uniqueness checks, in compact typed-array hash tables: custom_ids (a later
 * occurrence fails as duplicate_id) and request digests (identical requests are sent once). Slots
 * hold 8 bytes (ids: 64-bit hashes) and 20 bytes (requests: a 96-bit digest and where the first
 * copy went), at most 3/4 full, growing by half: ~38 MB for a million keys of each, where Sets of
 * strings take ~200 MB.
 *
 * Each table is split into 16 partitions that grow on their own: a growth holds 1/16 of the table
 * twice, not all of it (that copy was the run's peak RSS), and past glibc's mmap threshold each
 * partition is its own mapping, given back whole when it grows or the read ends instead of
 * fragmenting the heap (more partitions stay under the threshold and fragment it).
 * bench/lib/analysis.md has the figures.
 *
 * With a `spillDir`, a table that holds `memoryEntries` keys goes to disk (spilled-table.ts) and
 * starts again empty, so the tables' memory stays flat as the dataset grows: a Bloom filter of ~1.3
 * bytes a key is what stays in memory of the keys on disk.
 */
import { hash } from "node:crypto";
import { SpilledTables, type TableLayout } from "./spilled-table.js";

const EMPTY = 0;
const PARTITION_BITS = 4;
const PARTITIONS = 1 << PARTITION_BITS;
const INITIAL_SLOTS = 64;

/** grow a partition when an insert would take it past 3/4 full; linear probing stays short below that */
const full = (size: number, slots: number) => (size + 1) * 4 > slots * 3;
/** the next size: half again (doubling left tables between 1/4 and 1/2 full: 1.5x the memory) */
const grown = (slots: number) => Math.ceil(slots * 1.5);
/** a slot in [0, slots) from 32 hash bits (multiply-shift: slot counts are not powers of two) */
const slotOf = (h: number, slots: number) => Math.floor(((h >>> 0) * slots) / 4294967296);
/** an id's first slot: from h1 mixed with h2 (h2's top bits chose the partition) */
const idSlot = (h1: number, h2: number, slots: number) => slotOf(h1 ^ Math.imul(h2, 0x9e3779b1), slots);

export interface TableOptions {
  /** a folder of the run's for full tables; without it every key stays in memory */
  spillDir?: string;
  /** keys held in memory before the table goes to disk (default 2^17) */
  memoryEntries?: number;
}

/**
 * ~6 MB for both tables. A 1M-record run peaked at 297–302 MB of RSS with it, 343–350 MB with every
 * key in memory (the tables' ~40 MB, and their growth's copies); looking up the files on disk cost
 * ~0.4 µs a record (bench/lib/analysis.md, ninth pass)
 */
const MEMORY_ENTRIES = 1 << 17;

/** a table's files past its memory share; none without a folder to spill to */
function spillsFor(options: TableOptions, prefix: string, layout: TableLayout): SpilledTables | undefined {
  return options.spillDir
    ? new SpilledTables(options.spillDir, prefix, layout, options.memoryEntries ?? MEMORY_ENTRIES)
    : undefined;
}

/** `words` words a slot, every partition empty */
function emptyPartitions(words: number): Uint32Array[] {
  return Array.from({ length: PARTITIONS }, () => new Uint32Array(words * INITIAL_SLOTS));
}

/** A set of 64-bit hashes of strings. */
export class IdSet {
  private parts = emptyPartitions(2);
  private readonly sizes = new Uint32Array(PARTITIONS);
  private entries = 0;
  private readonly spills: SpilledTables | undefined;
  private readonly key = new Uint32Array(2);

  constructor(options: TableOptions = {}) {
    this.spills = spillsFor(options, "ids", ID_LAYOUT);
  }

  /** false when the id was (most probably: 64-bit hash) seen before */
  add(id: string): boolean {
    const [h1, h2] = hash64(id);
    // the partition from h2's top bits, the slot from h1: independent bits
    const p = h2 >>> (32 - PARTITION_BITS);
    if (this.spills) {
      this.key[0] = h1;
      this.key[1] = h2;
      if (this.spills.find(p, this.key)) return false;
    }
    if (full(this.sizes[p]!, this.parts[p]!.length / 2)) this.grow(p);
    const added = this.insert(p, h1, h2);
    if (added && this.spills?.full(++this.entries)) this.spill();
    return added;
  }

  /** give back the spilled tables' files (the set stays usable for what is in memory) */
  close(): void {
    this.spills?.close();
  }

  private spill(): void {
    this.spills!.spill(
      this.parts.map((keys) => ({ keys })),
      this.entries,
    );
    this.parts = emptyPartitions(2);
    this.sizes.fill(0);
    this.entries = 0;
  }

  private insert(p: number, h1: number, h2: number): boolean {
    const keys = this.parts[p]!;
    const slots = keys.length / 2;
    let i = idSlot(h1, h2, slots);
    for (;;) {
      const a = keys[2 * i]!;
      const b = keys[2 * i + 1]!;
      if (a === EMPTY && b === EMPTY) {
        keys[2 * i] = h1;
        keys[2 * i + 1] = h2;
        this.sizes[p]!++;
        return true;
      }
      if (a === h1 && b === h2) return false;
      if (++i === slots) i = 0;
    }
  }

  private grow(p: number): void {
    const old = this.parts[p]!;
    this.parts[p] = new Uint32Array(2 * grown(old.length / 2));
    this.sizes[p] = 0;
    for (let i = 0; i < old.length; i += 2) {
      if (old[i] !== EMPTY || old[i + 1] !== EMPTY) this.insert(p, old[i]!, old[i + 1]!);
    }
  }
}

/** request digest (96 bits of sha1) → where the first copy went (shard seq, index in that shard) */
export class RequestIndex {
  private keys = emptyPartitions(3);
  private values = emptyPartitions(2);
  private readonly sizes = new Uint32Array(PARTITIONS);
  private entries = 0;
  private readonly spills: SpilledTables | undefined;
  private readonly key = new Uint32Array(3);

  constructor(options: TableOptions = {}) {
    this.spills = spillsFor(options, "requests", REQUEST_LAYOUT);
  }

  static digest(url: string, body: string): [number, number, number] {
    // one-shot hash(): ~2x faster than createHash().update().digest() per request
    const d = hash("sha1", `${url}\n${body}`, "buffer");
    // never all-zero: that marks an empty slot
    return [d.readUInt32LE(0) || 1, d.readUInt32LE(4), d.readUInt32LE(8)];
  }

  get(key: [number, number, number]): { shard: number; index: number } | undefined {
    const p = partition(key);
    const i = this.find(p, key[0], key[1], key[2]);
    if (this.keys[p]![3 * i] !== EMPTY) {
      const values = this.values[p]!;
      return { shard: values[2 * i]!, index: values[2 * i + 1]! };
    }
    if (!this.spills) return undefined;
    // newest first: a key set again after its table went to disk is in memory or a newer table
    this.key.set(key);
    const found = this.spills.find(p, this.key);
    if (!found) return undefined;
    const [shard, index] = found.table.value(p, found.slot);
    return { shard: shard!, index: index! };
  }

  set(key: [number, number, number], shard: number, index: number): void {
    const p = partition(key);
    if (full(this.sizes[p]!, this.keys[p]!.length / 3)) this.grow(p);
    const before = this.sizes[p]!;
    this.put(p, key[0], key[1], key[2], shard, index);
    if (this.sizes[p]! > before && this.spills?.full(++this.entries)) this.spill();
  }

  /** give back the spilled tables' files (the index stays usable for what is in memory) */
  close(): void {
    this.spills?.close();
  }

  private spill(): void {
    this.spills!.spill(
      this.keys.map((keys, p) => ({ keys, values: this.values[p]! })),
      this.entries,
    );
    this.keys = emptyPartitions(3);
    this.values = emptyPartitions(2);
    this.sizes.fill(0);
    this.entries = 0;
  }

  private put(p: number, k0: number, k1: number, k2: number, shard: number, index: number): void {
    const keys = this.keys[p]!;
    const i = this.find(p, k0, k1, k2);
    if (keys[3 * i] === EMPTY) this.sizes[p]!++;
    keys[3 * i] = k0;
    keys[3 * i + 1] = k1;
    keys[3 * i + 2] = k2;
    const values = this.values[p]!;
    values[2 * i] = shard;
    values[2 * i + 1] = index;
  }

  /** the slot of a key, or the empty slot it would take (words apart: no array per probe, growth re-puts every key) */
  private find(p: number, k0: number, k1: number, k2: number): number {
    const keys = this.keys[p]!;
    const slots = keys.length / 3;
    let i = slotOf(k1, slots);
    for (;;) {
      const a = keys[3 * i]!;
      if (a === EMPTY) return i;
      if (a === k0 && keys[3 * i + 1] === k1 && keys[3 * i + 2] === k2) return i;
      if (++i === slots) i = 0;
    }
  }

  private grow(p: number): void {
    const oldKeys = this.keys[p]!;
    const oldValues = this.values[p]!;
    const slots = grown(oldKeys.length / 3);
    this.keys[p] = new Uint32Array(3 * slots);
    this.values[p] = new Uint32Array(2 * slots);
    this.sizes[p] = 0;
    for (let j = 0; j < oldKeys.length / 3; j++) {
      if (oldKeys[3 * j] === EMPTY) continue;
      this.put(
        p,
        oldKeys[3 * j]!,
        oldKeys[3 * j + 1]!,
        oldKeys[3 * j + 2]!,
        oldValues[2 * j]!,
        oldValues[2 * j + 1]!,
      );
    }
  }
}

/** how each table's slots are laid out and probed, for its files on disk (spilled-table.ts) */
const ID_LAYOUT: TableLayout = {
  keyWords: 2,
  valueWords: 0,
  isEmpty: (keys, slot) => keys[2 * slot] === EMPTY && keys[2 * slot + 1] === EMPTY,
  start: (keys, at, slots) => idSlot(keys[at]!, keys[at + 1]!, slots),
};
const REQUEST_LAYOUT: TableLayout = {
  keyWords: 3,
  valueWords: 2,
  isEmpty: (keys, slot) => keys[3 * slot] === EMPTY,
  start: (keys, at, slots) => slotOf(keys[at + 1]!, slots),
};

/** the partition from the digest's third word (the slot comes from the second) */
function partition(key: [number, number, number]): number {
  return key[2] >>> (32 - PARTITION_BITS);
}

/** cyrb53's two 32-bit lanes: fast, well mixed, not cryptographic (ids are not adversarial here) */
function hash64(text: string): [number, number] {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  h1 >>>= 0;
  h2 >>>= 0;
  return h1 === EMPTY && h2 === EMPTY ? [1, 0] : [h1, h2];
}
