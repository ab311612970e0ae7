/**
 * The result cache's tables and its write side (cache-writer.ts runs it in a worker thread): results
 * appended, keys gathered in `fresh` and merged into `keys`, the oldest results evicted past the bound.
 */
import { deflateRawSync, constants as zlib } from "node:zlib";
import Database from "better-sqlite3";

/**
 * Level 1 with a 4 KB window: a ~600-byte chat result takes ~16 µs and shrinks to ~2/3, a 32 KB
 * embedding to ~45%. zlib sets up a context per call; the default 32 KB window and memLevel 8 made
 * that setup half the cost (~37 µs) for the same ratio on these small values (bench/result-cache.js).
 */
export const ZLIB = { level: zlib.Z_BEST_SPEED, windowBits: 12, memLevel: 5 };
/**
 * Values of fewer JSON bytes are stored as they are: a short chat answer shrinks only by a
 * third, and compressing it measured ~45 µs of CPU per result at collection on this (busy)
 * machine against ~10 µs for the insert itself; large ones (long answers, embeddings) shrink 2-3x.
 */
const COMPRESS_FROM = 1024;

/**
 * Why keys live apart from the results, in two tables: a random key inserted into a large B-tree
 * dirties one page of it, so committing a delivery part's 5,000 keys into a 1M-entry index rewrote
 * ~5,000 of its pages (WAL, then checkpoint): 17-35 µs a store at 1M entries. A part's keys go to
 * `fresh`, which stays small, and are merged into `keys` MERGE_AT at a time, in key order, so a
 * merge writes each page of `keys` about once. Results are appended in the order stored.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS results (
  seq INTEGER PRIMARY KEY, value BLOB NOT NULL, size INTEGER NOT NULL, cost REAL NOT NULL,
  created_at INTEGER NOT NULL,
  -- 1: value is raw-deflated JSON; 0: the JSON as it is
  z INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS keys (key BLOB PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fresh (key BLOB PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
`;
const SCHEMA_VERSION = 2;
export const MERGE_AT = 50_000;
/** eviction goes this far under the bound, so the scan that drops evicted keys runs rarely */
const EVICT_TO = 0.9;

/** open the cache file with its settings, creating or upgrading its tables */
export function openCacheDb(file: string, o: { fileMustExist?: boolean } = {}): Database.Database {
  const db = new Database(file, o);
  // a new cache's page size (an existing one keeps its own): results of ~1 KB are appended, and
  // 16 KB pages took 7 µs a store at 1M entries against 12 µs with 4 KB (fewer writes and cells)
  db.pragma("page_size = 16384");
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  upgrade(db);
  return db;
}

/** the stored value of a result's JSON (UTF-8): as it is below COMPRESS_FROM bytes, else raw-deflated */
function storedValue(json: Buffer): { value: Buffer; z: 0 | 1 } {
  return json.length < COMPRESS_FROM ? { value: json, z: 0 } : { value: deflateRawSync(json, ZLIB), z: 1 };
}

/** the write side: every call but commit() runs inside the transaction the first insert opens */
export class CacheStore {
  private readonly insertResult: Database.Statement;
  private readonly insertFresh: Database.Statement;
  /** stored bytes and results, kept in step with inserts and evictions */
  bytes: number;
  count: number;
  private freshCount: number;

  constructor(
    private readonly db: Database.Database,
    private readonly o: { maxBytes: number; mergeAt: number },
  ) {
    this.insertResult = db.prepare(
      "INSERT INTO results (value, size, cost, created_at, z) VALUES (?, ?, ?, ?, ?)",
    );
    this.insertFresh = db.prepare("INSERT OR IGNORE INTO fresh (key, seq) VALUES (?, ?)");
    const row = this.figures();
    this.count = row.count;
    this.bytes = row.bytes;
    this.freshCount = row.fresh;
  }

  insert(key: Buffer, json: Buffer, cost: number, now: number): void {
    if (!this.db.inTransaction) this.db.exec("BEGIN");
    const { value, z } = storedValue(json);
    const size = value.length;
    const seq = this.insertResult.run(value, size, cost, now, z).lastInsertRowid;
    this.bytes += size;
    this.count++;
    if (this.insertFresh.run(key, seq).changes === 0) this.replaceFresh(key, seq);
    else this.freshCount++;
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
    const row = this.figures();
    this.count = row.count;
    this.bytes = row.bytes;
    this.freshCount = row.fresh;
  }

  private figures(): { count: number; bytes: number; fresh: number } {
    const row = this.db
      .prepare("SELECT count(*) AS count, coalesce(sum(size), 0) AS bytes FROM results")
      .get() as { count: number; bytes: number };
    const fresh = (this.db.prepare("SELECT count(*) AS n FROM fresh").get() as { n: number }).n;
    return { ...row, fresh };
  }

  /** a key stored twice since the last merge (rare: an identical request paid twice) */
  private replaceFresh(key: Buffer, seq: number | bigint): void {
    const old = this.db.prepare("SELECT seq FROM fresh WHERE key = ?").get(key) as { seq: number };
    this.dropResults("SELECT ?", old.seq);
    this.db.prepare("UPDATE fresh SET seq = ? WHERE key = ?").run(seq, key);
  }

  /** move `fresh` into `keys`; a key already there (stored again) gives up its older result */
  private merge(): void {
    this.dropResults("SELECT k.seq FROM fresh f JOIN keys k ON k.key = f.key");
    this.db.exec("INSERT OR REPLACE INTO keys SELECT key, seq FROM fresh; DELETE FROM fresh");
    this.freshCount = 0;
  }

  /** delete the results whose seq the query gives, keeping the figures in step */
  private dropResults(seqs: string, ...params: unknown[]): void {
    const where = `WHERE seq IN (${seqs})`;
    const gone = this.db
      .prepare(`SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM results ${where}`)
      .get(...params) as { n: number; bytes: number };
    this.db.prepare(`DELETE FROM results ${where}`).run(...params);
    this.count -= gone.n;
    this.bytes -= gone.bytes;
  }

  /** past the bound: the oldest results go until the stored bytes are under EVICT_TO of it */
  private evict(): void {
    if (this.bytes <= this.o.maxBytes) return;
    const oldest = this.db
      .prepare("SELECT seq, size FROM results ORDER BY seq")
      .iterate() as IterableIterator<{ seq: number; size: number }>;
    let upTo = -1;
    let bytes = this.bytes;
    for (const row of oldest) {
      if (bytes <= this.o.maxBytes * EVICT_TO) break;
      bytes -= row.size;
      upTo = row.seq;
    }
    this.dropResults("SELECT seq FROM results WHERE seq <= ?", upTo);
    // their keys: a scan of both key tables (rare, thanks to EVICT_TO)
    this.db.prepare("DELETE FROM keys WHERE seq <= ?").run(upTo);
    this.freshCount -= this.db.prepare("DELETE FROM fresh WHERE seq <= ?").run(upTo).changes;
  }
}

/**
 * Create the tables, or bring a cache of the first layout (one `entries` table with a unique key)
 * to this one; user_version tells them apart.
 */
function upgrade(db: Database.Database): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version === SCHEMA_VERSION) return;
  db.transaction(() => {
    db.exec(SCHEMA);
    const first = db.prepare("SELECT name FROM sqlite_master WHERE type='table' AND name='entries'").get();
    if (first) {
      db.exec(`INSERT INTO results SELECT seq, value, size, cost, created_at, z FROM entries;
        INSERT INTO keys SELECT key, seq FROM entries; DROP TABLE entries`);
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}
