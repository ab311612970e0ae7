/**
 * The result cache's tables and its write side (cache-writer.ts runs it in a worker thread):
 * results stored in compressed blocks, their keys gathered in `fresh` and merged into `keys`, the
 * oldest blocks evicted past the bound.
 */
import { deflateRawSync, constants as zlib } from "node:zlib";
import Database from "better-sqlite3";

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
 * Why keys live apart from the results, in two tables: a random key inserted into a large B-tree
 * dirties one page of it, so committing a delivery part's 5,000 keys into a 1M-entry index rewrote
 * ~5,000 of its pages (WAL, then checkpoint). A part's keys go to `fresh`, which stays small, and
 * are merged into `keys` MERGE_AT at a time, in key order, so a merge writes each page of `keys`
 * about once. AUTOINCREMENT: a block's seq is never used again once evicted, so the reader's copy of
 * a block can never be another block's.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS blocks (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, value BLOB NOT NULL,
  -- where each result's JSON ends in the (inflated) value, uint32 LE; NULL: one result, the whole value
  ends BLOB,
  size INTEGER NOT NULL, created_at INTEGER NOT NULL,
  -- 1: value is raw-deflated; 0: as it is
  z INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS result_keys (key BLOB PRIMARY KEY, seq INTEGER NOT NULL, i INTEGER NOT NULL, cost REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fresh_keys (key BLOB PRIMARY KEY, seq INTEGER NOT NULL, i INTEGER NOT NULL, cost REAL NOT NULL) WITHOUT ROWID;
`;
const SCHEMA_VERSION = 3;
export const MERGE_AT = 50_000;
/** eviction goes this far under the bound, so the scan that drops evicted keys runs rarely */
const EVICT_TO = 0.9;

/** open the cache file with its settings, creating or upgrading its tables */
export function openCacheDb(file: string, o: { fileMustExist?: boolean } = {}): Database.Database {
  const db = new Database(file, o);
  // a new cache's page size (an existing one keeps its own): fewer pages and cells for blocks of KBs
  db.pragma("page_size = 16384");
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  upgrade(db);
  return db;
}

/** what the cache holds: `count` key rows (an entry stored again since the last merge counts twice), stored bytes */
export function cacheFigures(db: Database.Database): { count: number; bytes: number; fresh: number } {
  const n = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  const fresh = n("SELECT count(*) AS n FROM fresh_keys");
  return {
    count: n("SELECT count(*) AS n FROM result_keys") + fresh,
    bytes: n("SELECT coalesce(sum(size), 0) AS n FROM blocks"),
    fresh,
  };
}

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

/** the write side: every call but commit() runs inside the transaction the first insert opens */
export class CacheStore {
  private readonly insertBlockRow: Database.Statement;
  private readonly insertFresh: Database.Statement;
  private readonly updateFresh: Database.Statement;
  /** key rows (keys + fresh) and stored bytes, kept in step with inserts and evictions */
  bytes = 0;
  count = 0;
  private freshCount = 0;

  constructor(
    private readonly db: Database.Database,
    private readonly o: { maxBytes: number; mergeAt: number },
  ) {
    this.insertBlockRow = db.prepare(
      "INSERT INTO blocks (value, ends, size, created_at, z) VALUES (?, ?, ?, ?, ?)",
    );
    this.insertFresh = db.prepare("INSERT OR IGNORE INTO fresh_keys (key, seq, i, cost) VALUES (?, ?, ?, ?)");
    this.updateFresh = db.prepare("UPDATE fresh_keys SET seq = ?, i = ?, cost = ? WHERE key = ?");
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

  /** results [first, last) as one block (their JSON from `start` in `json`), and their keys in `fresh_keys` */
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
      if (this.insertFresh.run(key, seq, i - first, costs[i]).changes === 1) {
        this.freshCount++;
        this.count++;
      } else {
        // stored twice since the last merge (rare: an identical request paid twice): the newer
        // answers; the older stays in its block, dead, until the block is evicted
        this.updateFresh.run(seq, i - first, costs[i], key);
      }
    }
  }

  /** merge and evict as needed, then commit what was inserted */
  commit(): void {
    if (!this.db.inTransaction) return;
    if (this.freshCount >= this.o.mergeAt) this.merge();
    this.evict();
    this.db.exec("COMMIT");
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
    this.freshCount = f.fresh;
  }

  /** move `fresh` into `keys`; a key already there (stored again) now points at its newer result */
  private merge(): void {
    this.count -= twice(this.db);
    this.db.exec(
      "INSERT OR REPLACE INTO result_keys SELECT key, seq, i, cost FROM fresh_keys; DELETE FROM fresh_keys",
    );
    this.freshCount = 0;
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
    // their keys: a scan of both key tables (rare, thanks to EVICT_TO)
    this.count -= this.db.prepare("DELETE FROM result_keys WHERE seq <= ?").run(upTo).changes;
    const fresh = this.db.prepare("DELETE FROM fresh_keys WHERE seq <= ?").run(upTo).changes;
    this.count -= fresh;
    this.freshCount -= fresh;
  }
}

/** entries stored again since the last merge: in both key tables, counted once */
export function twice(db: Database.Database): number {
  const sql = "SELECT count(*) AS n FROM fresh_keys f JOIN result_keys k ON k.key = f.key";
  return (db.prepare(sql).get() as { n: number }).n;
}

/**
 * Create the tables, or take in the results of an earlier layout (user_version tells them apart):
 * 1, one `entries` table with a unique key; 2, a `results` row per result with `keys` and `fresh`
 * pointing at it. Each of their results becomes a block of one (`ends` NULL), numbered after this
 * layout's blocks: nothing paid for is lost. This layout's tables have names of their own, so an
 * earlier build that opens this cache makes its own tables beside them (it starts empty, it does not
 * fail), and what it stored there is taken in when this build opens the cache again.
 */
function upgrade(db: Database.Database): void {
  const version = () => db.pragma("user_version", { simple: true }) as number;
  if (version() === SCHEMA_VERSION) return;
  const has = (table: string) =>
    db.prepare("SELECT name FROM sqlite_master WHERE type='table' AND name=?").get(table) !== undefined;
  /** the results of `from` (its seq, value, size, cost, created_at, z) as blocks of one, with their keys */
  const takeIn = (from: string, keys: [table: string, into: string][]) => {
    const after = (
      db.prepare("SELECT coalesce(max(seq), 0) AS n FROM sqlite_sequence WHERE name = 'blocks'").get() as {
        n: number;
      }
    ).n;
    db.exec(`INSERT INTO blocks (seq, value, ends, size, created_at, z)
      SELECT seq + ${after}, value, NULL, size, created_at, z FROM ${from}`);
    for (const [table, into] of keys) {
      db.exec(`INSERT OR REPLACE INTO ${into} SELECT k.key, k.seq + ${after}, 0, r.cost
        FROM ${table} k JOIN ${from} r ON r.seq = k.seq`);
    }
  };
  // IMMEDIATE, and the version read again inside: a `plan` and a run opening the cache at once
  db.transaction(() => {
    if (version() > SCHEMA_VERSION) {
      throw new Error(
        `its layout (${version()}) is newer than this batchpipe's (${SCHEMA_VERSION}): use the batchpipe that wrote it`,
      );
    }
    if (version() === SCHEMA_VERSION) return;
    db.exec(SCHEMA);
    if (has("entries")) {
      takeIn("entries", [["entries", "result_keys"]]);
      db.exec("DROP TABLE entries");
    }
    if (has("results")) {
      takeIn("results", [
        ["keys", "result_keys"],
        ["fresh", "fresh_keys"],
      ]);
      db.exec("DROP TABLE keys; DROP TABLE fresh; DROP TABLE results");
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
