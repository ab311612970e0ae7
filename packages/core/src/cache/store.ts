/**
 * The result cache's write side (cache-writer.ts runs it in a worker thread): results stored in
 * compressed blocks, their keys in levels (the newest small, each moved down a level when full),
 * the oldest blocks evicted past the bound. The tables themselves: tables.ts.
 */
import { deflateRawSync, constants as zlib } from "node:zlib";
import type Database from "better-sqlite3";
import { cacheFigures, KEY_LEVELS, keysAlsoIn, writeFigures } from "./tables.js";

/**
 * Results are stored in blocks of consecutive successes (as collection delivers them), up to
 * BLOCK_RESULTS of them or BLOCK_BYTES of JSON: compressing ~600-byte chat results one by one gains
 * a third at ~16 µs each (zlib sets up a context per call), while a block of 32 shares its field
 * names and setup: ~2 µs a result, and 1M chat results took 37 bytes each instead of 588, ~80 MB of
 * cache file with their keys instead of ~660 MB (bench/result-cache.js). A hit inflates its block
 * (~20 KB, ~40 µs); the reader keeps the last few, so a rerun in the stored order inflates each
 * block once.
 */
const BLOCK_RESULTS = 32;
const BLOCK_BYTES = 32 * 1024;
/** a block of fewer JSON bytes is stored as it is (one short result: compressing gains little) */
const COMPRESS_FROM = 1024;
const DEFLATE = { level: zlib.Z_BEST_SPEED };

/**
 * Why keys live apart from the results, in levels: a random key inserted into a large B-tree
 * dirties one page of it, so committing a delivery part's 5,000 keys into a 1M-entry index rewrote
 * ~5,000 of its pages (WAL, then checkpoint). A part's keys go to `level_0`, which stays small, and
 * move down a level when it is full, in key order, so a move writes each page of the level below
 * about once. With two levels the one below was the whole cache, rewritten every MERGE_AT results:
 * storing a result cost 2.7 µs of the writer's time with 1M keys, 10.9 µs with 5M, and grew on.
 * `level_1` holds 4 times `level_0` before it moves down: at that ratio both stay small enough for
 * the reader's page cache (result-cache.ts; with 16, a lookup at 5M keys cost ~2.5 µs more).
 * `level_2` holds 16 times `level_1` (3.2M keys) before it moves into the last level: with `level_2`
 * as the last level, every move of `level_1` rewrote the whole of it, and storing 1M results on top
 * of 20M wrote 14 GB; with the third level, 4M on top of 21M wrote 9 GB (bench/lib/analysis.md,
 * twelfth pass). Up to 3.2M keys a lookup reads one page from disk, as before; past it, two. A
 * key stored again is in more than one level until they merge: the newest answers. AUTOINCREMENT:
 * a block's seq is never used again once evicted, so the reader's copy of a block can never be
 * another block's. LEVEL_SIZE: the keys each level of KEY_LEVELS (tables.ts) holds before it moves
 * down, in MERGE_AT (the last level has no limit).
 */
const LEVEL_SIZE = [1, 4, 64];
/** level_0 moves down at this many keys (the levels below at LEVEL_SIZE times as many) */
export const MERGE_AT = 50_000;
/** eviction goes this far under the bound, so the scan that drops evicted keys runs rarely */
const EVICT_TO = 0.9;

/**
 * Results handed over back to back: result i's key is bytes [i * keyLength, (i + 1) * keyLength) of
 * `keys`, its JSON ends at ends[i] in `json` (the previous one's end is where it starts)
 */
export interface StoredResults {
  n: number;
  keyLength: number;
  keys: Buffer;
  json: Buffer;
  ends: Uint32Array;
  costs: Float64Array;
}

/** the buffers of results handed over between threads: moved with postMessage, not copied */
export function movedBuffers(r: {
  keys: Uint8Array;
  json: Uint8Array;
  ends: Uint32Array;
  costs: Float64Array;
}): ArrayBuffer[] {
  return [r.keys.buffer, r.json.buffer, r.ends.buffer, r.costs.buffer] as ArrayBuffer[];
}

/** a moved Buffer arrives as a Uint8Array: the same bytes as a Buffer again */
export function asBuffer(a: Uint8Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** the write side: every call but commit() runs inside the transaction the first insert opens */
export class CacheStore {
  private readonly insertBlockRow: Database.Statement;
  private readonly insertKey: Database.Statement;
  private readonly updateKey: Database.Statement;
  /** key rows (of every level) and stored bytes, kept in step with inserts, merges and evictions */
  bytes = 0;
  count = 0;
  /** the key rows of each level */
  private levels: number[] = [];

  /** @internal (better-sqlite3 types stay out of the published .d.ts: stripInternal) */
  constructor(
    private readonly db: Database.Database,
    private readonly o: { maxBytes: number; mergeAt: number },
  ) {
    this.insertBlockRow = db.prepare(
      "INSERT INTO blocks (value, ends, size, created_at, z) VALUES (?, ?, ?, ?, ?)",
    );
    this.insertKey = db.prepare(
      `INSERT OR IGNORE INTO ${KEY_LEVELS[0]} (key, seq, i, cost) VALUES (?, ?, ?, ?)`,
    );
    this.updateKey = db.prepare(`UPDATE ${KEY_LEVELS[0]} SET seq = ?, i = ?, cost = ? WHERE key = ?`);
    this.readFigures();
  }

  /** stores the results in blocks of consecutive ones: up to BLOCK_RESULTS, or BLOCK_BYTES of JSON (a larger one alone) */
  insert(results: StoredResults, now: number): void {
    if (!this.db.inTransaction) this.db.exec("BEGIN");
    const { n, ends } = results;
    for (let first = 0; first < n; ) {
      const start = first === 0 ? 0 : ends[first - 1]!;
      let last = first + 1;
      while (last < n && last - first < BLOCK_RESULTS && ends[last]! - start <= BLOCK_BYTES) last++;
      this.insertBlock(results, first, last, start, now);
      first = last;
    }
  }

  /** results [first, last) as one block (their JSON from `start` in `json`), and their keys in the first level */
  private insertBlock(results: StoredResults, first: number, last: number, start: number, now: number): void {
    const { keyLength, keys, json, ends, costs } = results;
    const value = json.subarray(start, ends[last - 1]);
    // where each result ends in the block; none for a block of one (its whole value)
    let blockEnds: Buffer | null = null;
    if (last - first > 1) {
      blockEnds = Buffer.allocUnsafe(4 * (last - first));
      for (let i = first; i < last; i++) blockEnds.writeUInt32LE(ends[i]! - start, 4 * (i - first));
    }
    const compress = value.length >= COMPRESS_FROM;
    const stored = compress ? deflateRawSync(value, DEFLATE) : value;
    const seq = this.insertBlockRow.run(
      stored,
      blockEnds,
      stored.length,
      now,
      compress ? 1 : 0,
    ).lastInsertRowid;
    this.bytes += stored.length;
    for (let i = first; i < last; i++) {
      const key = keys.subarray(i * keyLength, (i + 1) * keyLength);
      if (this.insertKey.run(key, seq, i - first, costs[i]).changes === 1) {
        this.levels[0]!++;
        this.count++;
      } else {
        // stored twice since level_0 last moved down (rare: an identical request paid twice): the
        // newer answers; the older stays in its block, dead, until the block is evicted
        this.updateKey.run(seq, i - first, costs[i], key);
      }
    }
  }

  /** move full levels down, evict as needed, then commit what was inserted */
  commit(): void {
    if (!this.db.inTransaction) return;
    for (let level = 0; level < KEY_LEVELS.length - 1; level++) {
      if (this.levels[level]! < this.o.mergeAt * LEVEL_SIZE[level]!) break;
      this.merge(level);
    }
    this.evict();
    this.keep();
    this.db.exec("COMMIT");
  }

  private keep(): void {
    writeFigures(this.db, { bytes: this.bytes, levels: this.levels });
  }

  /** drop what was inserted since the last commit; the figures are read again */
  rollback(): void {
    if (this.db.inTransaction) this.db.exec("ROLLBACK");
    this.readFigures();
  }

  private readFigures(): void {
    const f = cacheFigures(this.db);
    this.count = f.count;
    this.bytes = f.bytes;
    this.levels = f.levels;
  }

  /** move a level into the one below; a key already there (stored again) now points at its newer result */
  private merge(level: number): void {
    const from = KEY_LEVELS[level]!;
    const into = KEY_LEVELS[level + 1]!;
    const both = keysAlsoIn(this.db, from, [into]);
    this.db.exec(`INSERT OR REPLACE INTO ${into} SELECT key, seq, i, cost FROM ${from}; DELETE FROM ${from}`);
    this.levels[level + 1]! += this.levels[level]! - both;
    this.levels[level] = 0;
    this.count -= both;
  }

  /** past the bound: the oldest blocks go until the stored bytes are under EVICT_TO of it */
  private evict(): void {
    if (this.bytes <= this.o.maxBytes) return;
    const oldest = this.db
      .prepare("SELECT seq, size FROM blocks ORDER BY seq")
      .iterate() as IterableIterator<{ seq: number; size: number }>;
    let upTo = -1;
    let bytes = this.bytes;
    for (const row of oldest) {
      if (bytes <= this.o.maxBytes * EVICT_TO) break;
      bytes -= row.size;
      upTo = row.seq;
    }
    this.bytes = bytes;
    this.db.prepare("DELETE FROM blocks WHERE seq <= ?").run(upTo);
    // their keys: a scan of every level (rare, thanks to EVICT_TO)
    for (const [level, table] of KEY_LEVELS.entries()) {
      const gone = this.db.prepare(`DELETE FROM ${table} WHERE seq <= ?`).run(upTo).changes;
      this.levels[level]! -= gone;
      this.count -= gone;
    }
  }
}
