/**
 * The result cache of a pipeline name: `.batchpipe/<name>/cache.db` (DESIGN §3). A request that
 * already succeeded (provider, endpoint, templated body) is answered from here in later runs
 * instead of being sent; failures are never stored, so a rerun retries exactly what failed.
 *
 * Key: the provider's label, then the read phase's 96-bit request digest (endpoint + body), which
 * the shard meta lines already carry, so storing a result costs no hashing at collection. Value:
 * the provider's success (response, usage, model) as JSON, raw-deflated from 1 KB (ZLIB below). Bounded: past
 * `maxBytes` of stored values the oldest entries go first (a refreshed entry counts as new).
 *
 * Its own file, not state.db: clearing it or losing it costs money, never correctness, so it uses
 * synchronous = NORMAL (a process crash loses nothing; a power loss may lose the last entries,
 * which are then paid for again).
 */
import fs from "node:fs";
import path from "node:path";
import { deflateRawSync, inflateRawSync, constants as zlib } from "node:zlib";
import Database from "better-sqlite3";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import { acquireLock, makeStateDir, ownerOnly } from "../state/lock.js";

export const CACHE_FILE = "cache.db";

/**
 * Level 1 with a 4 KB window: a ~600-byte chat result takes ~16 µs and shrinks to ~2/3, a 32 KB
 * embedding to ~45%. zlib sets up a context per call; the default 32 KB window and memLevel 8 made
 * that setup half the cost (~37 µs) for the same ratio on these small values (bench/result-cache.js).
 */
const ZLIB = { level: zlib.Z_BEST_SPEED, windowBits: 12, memLevel: 5 };
/**
 * Values of fewer JSON characters are stored as they are: a short chat answer shrinks only by a
 * third, and compressing it measured ~45 µs of CPU per result at collection on this (busy)
 * machine against ~10 µs for the insert itself; large ones (long answers, embeddings) shrink 2-3x.
 */
const COMPRESS_FROM = 1024;

/** what a cached success holds (a ResultItem's success fields, without its id) */
export interface CachedResult {
  response: unknown;
  usage: unknown;
  model: string | null;
}

/** a hit: the stored JSON of a CachedResult (decompressed, not parsed) and what it cost when paid */
export interface CacheHit {
  json: string;
  cost: number;
}

export interface CacheStats {
  entries: number;
  /** stored (compressed) bytes of the values */
  bytes: number;
  /** the cache file and its WAL on disk */
  fileBytes: number;
  oldest: number | null;
  newest: number | null;
}

/** the read side of the cache, as the read phase sees it */
export interface CacheLookup {
  /** entries (the read looks every request up only when there are some at its start) */
  readonly size: number;
  get(digest: readonly number[]): CacheHit | undefined;
}

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
const MERGE_AT = 50_000;
/** eviction goes this far under the bound, so the scan that drops evicted keys runs rarely */
const EVICT_TO = 0.9;

export class ResultCache implements CacheLookup {
  private readonly db: Database.Database;
  private readonly prefix: Buffer;
  private readonly select: Database.Statement<
    [Buffer, Buffer],
    { value: Buffer | string; cost: number; z: number }
  >;
  private readonly insertResult: Database.Statement;
  private readonly insertFresh: Database.Statement;
  private pending: { key: Buffer; value: Buffer | string; size: number; cost: number; z: number }[] = [];
  /** stored bytes, kept in step with inserts and evictions */
  private bytes: number;
  private count: number;
  private freshCount: number;

  private constructor(
    db: Database.Database,
    provider: string,
    private readonly maxBytes: number,
    private readonly mergeAt: number,
  ) {
    this.db = db;
    this.prefix = Buffer.from(`${provider}\n`);
    // `fresh` first: a key stored again since the last merge points at its newer result
    this.select = db.prepare(
      "SELECT value, cost, z FROM results WHERE seq = coalesce((SELECT seq FROM fresh WHERE key = ?), (SELECT seq FROM keys WHERE key = ?))",
    );
    this.insertResult = db.prepare(
      "INSERT INTO results (value, size, cost, created_at, z) VALUES (?, ?, ?, ?, ?)",
    );
    this.insertFresh = db.prepare("INSERT OR IGNORE INTO fresh (key, seq) VALUES (?, ?)");
    const row = db.prepare("SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM results").get() as {
      n: number;
      bytes: number;
    };
    this.count = row.n;
    this.bytes = row.bytes;
    this.freshCount = (db.prepare("SELECT count(*) AS n FROM fresh").get() as { n: number }).n;
  }

  /**
   * open (creating) the cache of the state folder `dir`, for `provider` (its label); `mergeAt`: keys
   * gathered in `fresh` before they are merged (tests make it small)
   */
  static open(dir: string, o: { provider: string; maxBytes: number; mergeAt?: number }): ResultCache {
    makeStateDir(dir);
    const file = path.join(dir, CACHE_FILE);
    try {
      const db = new Database(file);
      ownerOnly(file);
      // a new cache's page size (an existing one keeps its own): results of ~1 KB are appended, and
      // 16 KB pages took 7 µs a store at 1M entries against 12 µs with 4 KB (fewer writes and cells)
      db.pragma("page_size = 16384");
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("busy_timeout = 5000");
      upgrade(db);
      ownerOnly(file);
      return new ResultCache(db, o.provider, o.maxBytes, o.mergeAt ?? MERGE_AT);
    } catch (error) {
      throw new BatchpipeError(
        ErrorCodes.STATE_FAILED,
        `cannot open the result cache ${file}: ${(error as Error).message}`,
        {
          hint: "Check the state folder's permissions and free space; `batchpipe cache <spec> --clear` starts an empty cache.",
          cause: error,
        },
      );
    }
  }

  get size(): number {
    return this.count;
  }

  get(digest: readonly number[]): CacheHit | undefined {
    const key = this.key(digest);
    const row = this.select.get(key, key);
    if (!row) return undefined;
    if (typeof row.value === "string") return { json: row.value, cost: row.cost };
    const json = row.z ? inflateRawSync(row.value, { windowBits: ZLIB.windowBits }) : row.value;
    return { json: json.toString("utf8"), cost: row.cost };
  }

  /** queue a success; it is stored by the next flush() */
  add(digest: readonly number[], result: CachedResult, cost: number): void {
    const json = JSON.stringify(result);
    // short values are stored as text, as they are (no copy into a buffer)
    if (json.length < COMPRESS_FROM) {
      this.pending.push({ key: this.key(digest), value: json, size: Buffer.byteLength(json), cost, z: 0 });
      return;
    }
    const value = deflateRawSync(json, ZLIB);
    this.pending.push({ key: this.key(digest), value, size: value.length, cost, z: 1 });
  }

  /** store what add() queued, in one transaction, then evict the oldest entries past the bound */
  flush(): void {
    if (this.pending.length === 0) return;
    const rows = this.pending;
    this.pending = [];
    const now = Date.now();
    this.db.transaction(() => {
      for (const r of rows) {
        const seq = this.insertResult.run(r.value, r.size, r.cost, now, r.z).lastInsertRowid;
        this.bytes += r.size;
        this.count++;
        if (this.insertFresh.run(r.key, seq).changes === 0) this.replaceFresh(r.key, seq);
        else this.freshCount++;
      }
      if (this.freshCount >= this.mergeAt) this.merge();
      this.evict();
    })();
  }

  stats(): CacheStats {
    return { ...readStats(this.db, false), entries: this.count - twice(this.db), bytes: this.bytes };
  }

  close(): void {
    this.flush();
    this.db.close();
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
    if (this.bytes <= this.maxBytes) return;
    const oldest = this.db
      .prepare("SELECT seq, size FROM results ORDER BY seq")
      .iterate() as IterableIterator<{ seq: number; size: number }>;
    let upTo = -1;
    let bytes = this.bytes;
    for (const row of oldest) {
      if (bytes <= this.maxBytes * EVICT_TO) break;
      bytes -= row.size;
      upTo = row.seq;
    }
    this.dropResults("SELECT seq FROM results WHERE seq <= ?", upTo);
    // their keys: a scan of both key tables (rare, thanks to EVICT_TO)
    this.db.prepare("DELETE FROM keys WHERE seq <= ?").run(upTo);
    this.freshCount -= this.db.prepare("DELETE FROM fresh WHERE seq <= ?").run(upTo).changes;
  }

  private key(digest: readonly number[]): Buffer {
    const key = Buffer.allocUnsafe(this.prefix.length + 12);
    this.prefix.copy(key, 0);
    key.writeUInt32LE(digest[0]! >>> 0, this.prefix.length);
    key.writeUInt32LE(digest[1]! >>> 0, this.prefix.length + 4);
    key.writeUInt32LE(digest[2]! >>> 0, this.prefix.length + 8);
    return key;
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

/** the cache's figures without opening it for writing; undefined when there is none */
export function cacheStats(dir: string): CacheStats | undefined {
  const file = path.join(dir, CACHE_FILE);
  if (!fs.existsSync(file)) return undefined;
  // not read-only: a WAL database may need its -shm file created to be read
  const db = new Database(file, { fileMustExist: true });
  ownerOnly(file);
  try {
    upgrade(db);
    return readStats(db);
  } finally {
    db.close();
  }
}

/** the figures; `count`: also count and sum every result (a scan of the whole table) */
function readStats(db: Database.Database, count = true): CacheStats {
  const at = (order: string) =>
    (
      db.prepare(`SELECT created_at AS t FROM results ORDER BY seq ${order} LIMIT 1`).get() as
        | { t: number }
        | undefined
    )?.t ?? null;
  const totals = count
    ? (db.prepare("SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM results").get() as {
        n: number;
        bytes: number;
      })
    : { n: 0, bytes: 0 };
  return {
    entries: totals.n - twice(db),
    bytes: totals.bytes,
    fileBytes: fileBytes(db.name),
    oldest: at("ASC"),
    newest: at("DESC"),
  };
}

/** entries stored again since the last merge: their older result stays until then, counted once */
function twice(db: Database.Database): number {
  return (db.prepare("SELECT count(*) AS n FROM fresh f JOIN keys k ON k.key = f.key").get() as { n: number })
    .n;
}

/**
 * Delete the cache of the state folder `dir`; returns what it held (undefined: there was none).
 * Under the pipeline's lock: a run in progress keeps its cache (the lock error says who holds it).
 */
export function clearCache(dir: string): CacheStats | undefined {
  const lock = acquireLock(dir, { command: "cache --clear" });
  try {
    const before = cacheStats(dir);
    const file = path.join(dir, CACHE_FILE);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
    return before;
  } finally {
    lock.release();
  }
}

function fileBytes(file: string): number {
  let total = 0;
  for (const f of [file, `${file}-wal`]) {
    try {
      total += fs.statSync(f).size;
    } catch {}
  }
  return total;
}
