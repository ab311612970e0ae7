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

const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (
  seq INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE, value BLOB NOT NULL,
  size INTEGER NOT NULL, cost REAL NOT NULL, created_at INTEGER NOT NULL,
  -- 1: value is raw-deflated JSON; 0: the JSON as it is
  z INTEGER NOT NULL);
`;

export class ResultCache implements CacheLookup {
  private readonly db: Database.Database;
  private readonly prefix: Buffer;
  private readonly select: Database.Statement<[Buffer], { value: Buffer; cost: number; z: number }>;
  private readonly insert: Database.Statement;
  private readonly insertNew: Database.Statement;
  private pending: { key: Buffer; value: Buffer; cost: number; z: number }[] = [];
  /** stored bytes, kept in step with inserts and evictions */
  private bytes: number;
  private count: number;

  private constructor(
    db: Database.Database,
    provider: string,
    private readonly maxBytes: number,
  ) {
    this.db = db;
    this.prefix = Buffer.from(`${provider}\n`);
    this.select = db.prepare("SELECT value, cost, z FROM entries WHERE key = ?");
    this.insert = db.prepare(
      "INSERT OR REPLACE INTO entries (key, value, size, cost, created_at, z) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.insertNew = db.prepare(
      "INSERT OR IGNORE INTO entries (key, value, size, cost, created_at, z) VALUES (?, ?, ?, ?, ?, ?)",
    );
    const row = db.prepare("SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM entries").get() as {
      n: number;
      bytes: number;
    };
    this.count = row.n;
    this.bytes = row.bytes;
  }

  /** open (creating) the cache of the state folder `dir`, for `provider` (its label) */
  static open(dir: string, o: { provider: string; maxBytes: number }): ResultCache {
    makeStateDir(dir);
    const file = path.join(dir, CACHE_FILE);
    try {
      const db = new Database(file);
      ownerOnly(file);
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("busy_timeout = 5000");
      db.exec(SCHEMA);
      ownerOnly(file);
      return new ResultCache(db, o.provider, o.maxBytes);
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
    const row = this.select.get(this.key(digest));
    if (!row) return undefined;
    const json = row.z ? inflateRawSync(row.value, { windowBits: ZLIB.windowBits }) : row.value;
    return { json: json.toString("utf8"), cost: row.cost };
  }

  /** queue a success; it is stored by the next flush() */
  add(digest: readonly number[], result: CachedResult, cost: number): void {
    const json = JSON.stringify(result);
    const z = json.length >= COMPRESS_FROM ? 1 : 0;
    const value = z ? deflateRawSync(json, ZLIB) : Buffer.from(json);
    this.pending.push({ key: this.key(digest), value, cost, z });
  }

  /** store what add() queued, in one transaction, then evict the oldest entries past the bound */
  flush(): void {
    if (this.pending.length === 0) return;
    const rows = this.pending;
    this.pending = [];
    const now = Date.now();
    this.db.transaction(() => {
      for (const r of rows) {
        if (this.insertNew.run(r.key, r.value, r.value.length, r.cost, now, r.z).changes === 0) {
          // the key is there already (rare: an identical request paid twice): the entry is
          // replaced, and its old size leaves the total
          const old = this.select.get(r.key);
          if (old) {
            this.bytes -= old.value.length;
            this.count--;
          }
          this.insert.run(r.key, r.value, r.value.length, r.cost, now, r.z);
        }
        this.bytes += r.value.length;
        this.count++;
      }
      this.evict();
    })();
  }

  stats(): CacheStats {
    const row = this.db
      .prepare("SELECT min(created_at) AS oldest, max(created_at) AS newest FROM entries")
      .get() as { oldest: number | null; newest: number | null };
    return { entries: this.count, bytes: this.bytes, fileBytes: fileBytes(this.db.name), ...row };
  }

  close(): void {
    this.flush();
    this.db.close();
  }

  /** oldest first until the stored bytes are back under the bound */
  private evict(): void {
    if (this.bytes <= this.maxBytes) return;
    const oldest = this.db
      .prepare("SELECT seq, size FROM entries ORDER BY seq")
      .iterate() as IterableIterator<{
      seq: number;
      size: number;
    }>;
    let upTo = -1;
    for (const row of oldest) {
      if (this.bytes <= this.maxBytes) break;
      this.bytes -= row.size;
      this.count--;
      upTo = row.seq;
    }
    this.db.prepare("DELETE FROM entries WHERE seq <= ?").run(upTo);
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

/** the cache's figures without opening it for writing; undefined when there is none */
export function cacheStats(dir: string): CacheStats | undefined {
  const file = path.join(dir, CACHE_FILE);
  if (!fs.existsSync(file)) return undefined;
  // not read-only: a WAL database may need its -shm file created to be read
  const db = new Database(file, { fileMustExist: true });
  ownerOnly(file);
  try {
    const row = db
      .prepare(
        "SELECT count(*) AS entries, coalesce(sum(size), 0) AS bytes, min(created_at) AS oldest, max(created_at) AS newest FROM entries",
      )
      .get() as Omit<CacheStats, "fileBytes">;
    return { ...row, fileBytes: fileBytes(file) };
  } finally {
    db.close();
  }
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
