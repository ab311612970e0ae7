/**
 * The result cache of a pipeline name: `.batchpipe/<name>/cache.db` (DESIGN §3). A request that
 * already succeeded (provider, endpoint, templated body) is answered from here in later runs
 * instead of being sent; failures are never stored, so a rerun retries exactly what failed.
 *
 * Key: a tag of who answered (the provider's label and origin, e.g. a base URL: cacheProvider in
 * tables.ts), then the read phase's 96-bit request digest (endpoint + body), which the shard meta
 * lines already carry, so storing a result costs no hashing at collection. Value:
 * the provider's success (response, usage, model) as JSON, stored in raw-deflated blocks of
 * consecutive results (store.ts). Bounded: past `maxBytes` of stored bytes the oldest blocks go
 * first (a refreshed entry counts as new).
 *
 * Its own file, not state.db: clearing it or losing it costs money, never correctness, so it uses
 * synchronous = NORMAL (a process crash loses nothing; a power loss may lose the last entries,
 * which are then paid for again).
 */
import path from "node:path";
import { Worker } from "node:worker_threads";
import { inflateRawSync } from "node:zlib";
import type Database from "better-sqlite3";
import { makeStateDir } from "../state/lock.js";
import {
  CACHE_FILE,
  type CacheStats,
  openCacheFile,
  openCacheToRead,
  openFailed,
  readStats,
  storeFailed,
} from "./cache-file.js";
import type { RowsMessage, WriterData, WriterMessage, WriterReply } from "./cache-writer.js";
import { asBuffer, MERGE_AT, movedBuffers } from "./store.js";
import { KEY_LEVELS, openFigures, providerTag } from "./tables.js";

/** successes handed to the writer at a time (at most), and the JSON bytes of a hand-over to start with */
const HAND_OVER = 512;
const HAND_OVER_BYTES = 1 << 20;
/**
 * hand-over buffers kept for reuse once the writer gives them back: a new 1 MB buffer per 512
 * results left ~20 MB of them to the writer's garbage collector at a time
 */
const SPARES = 4;
/** the writer's code: the built file, from src/ (tests) as from dist/ */
const WRITER = new URL("../../dist/cache/cache-writer.js", import.meta.url);
/**
 * Inflated blocks the reader keeps, by their bytes: a provider returns a batch's results in any
 * order, so a rerun's hits (in the dataset's order) visit the blocks of one collected batch in any
 * order, and each is inflated once only if the blocks of a whole batch stay (12,500 chat results:
 * ~390 blocks, ~11 MB). With the last 8 kept, nearly every hit inflated a block of its own, and a
 * rerun of 1M cached records took 66.7 s against 35.0 s for the run that paid for them.
 */
const KEPT_BYTES = 16 << 20;

/** a hand-over being filled: Buffers on this side */
type Batch = RowsMessage & { keys: Buffer; json: Buffer };

/** what a cached success holds (a ResultItem's success fields, without its id) */
export interface CachedResult {
  response: unknown;
  usage: unknown;
  model: string | null;
}

/**
 * the cost stored for a result paid at a price batchpipe did not know: the column is NOT NULL, and
 * 0 is a free request's (moderations)
 */
export const UNPRICED = -1;

/** a hit: the stored JSON of a CachedResult (decompressed, not parsed) and what it cost when paid (or UNPRICED) */
export interface CacheHit {
  json: string;
  cost: number;
}

/** the read side of the cache, as the read phase sees it */
export interface CacheLookup {
  /** entries (the read looks every request up only when there are some at its start) */
  readonly size: number;
  get(digest: readonly number[]): CacheHit | undefined;
}

export class ResultCache implements CacheLookup {
  private readonly prefix: Buffer;
  private readonly selectKey: Database.Statement<[{ key: Buffer }], { seq: number; i: number; cost: number }>;
  private readonly selectBlock: Database.Statement<
    [number],
    { value: Buffer | string; ends: Buffer | null; z: number }
  >;
  /** the last blocks read, inflated, by seq (a seq is never reused: store.ts), oldest first */
  private readonly blocks = new Map<number, { json: Buffer; ends: Buffer | null }>();
  private keptBytes = 0;
  private reads = 0;
  private writer: Worker | undefined;
  /** settles when the writer thread has exited (closed, or died) */
  private writerExited: Promise<void> | undefined;
  private writerError: Error | undefined;
  private readonly waiting = new Map<number, { resolve(): void; reject(error: Error): void }>();
  private commits = 0;
  private readonly keyLength: number;
  private batch: Batch;
  /** hand-over buffers the writer gave back, for the next hand-overs (at most SPARES) */
  private readonly spares: Batch[] = [];
  /** successes handed over since the last commit */
  private uncommitted = 0;
  /**
   * a store that failed (a damaged or read-only file, a full disk): later results are not stored,
   * and the run goes on (the cache saves money; it never holds up a delivery). flush() throws it
   * once, for its caller to say.
   */
  private storeFailure: Error | undefined;
  private storeFailureSaid = false;
  /** stored bytes and results, as the writer's last commit left them */
  private bytes: number;
  private count: number;

  private constructor(
    private readonly db: Database.Database,
    provider: string,
    private readonly data: WriterData,
    /** opened under the pipeline's lock: no other process writes the cache */
    private readonly locked: boolean,
  ) {
    this.prefix = providerTag(provider);
    this.keyLength = this.prefix.length + 12;
    this.batch = this.newBatch(HAND_OVER_BYTES);
    // the newest level first: a key stored again since its level moved down points at its newer
    // result. SQLite runs a UNION ALL's arms in order and stops at the LIMIT, so the first row is
    // the newest level's (the levels test in cache-result-cache.test.ts holds it to that); sorting
    // on the level instead cost ~1.2 µs a lookup (bench/lib/analysis.md, thirteenth pass)
    this.selectKey = db.prepare(
      `${KEY_LEVELS.map((table) => `SELECT seq, i, cost FROM ${table} WHERE key = @key`).join(" UNION ALL ")} LIMIT 1`,
    );
    this.selectBlock = db.prepare("SELECT value, ends, z FROM blocks WHERE seq = ?");
    const figures = openFigures(db);
    this.count = figures.count;
    this.bytes = figures.bytes;
  }

  /**
   * open (creating) the cache of the state folder `dir`, for `provider` (its label); `mergeAt`: keys
   * gathered before they are merged (store.ts; tests make it small); `locked`: the caller holds the
   * pipeline's lock (a run), so no other process writes the cache (snapshot()); `readOnly`: to look
   * requests up, never to store (plan): an existing file, opened read-only
   */
  static open(
    dir: string,
    o: { provider: string; maxBytes: number; mergeAt?: number; locked?: boolean; readOnly?: boolean },
  ): ResultCache {
    const file = path.join(dir, CACHE_FILE);
    if (!o.readOnly) makeStateDir(dir);
    const db = o.readOnly ? openCacheToRead(file) : openCacheFile(file);
    try {
      // room for the first two key levels (~10 MB at most): a lookup then reads one page from disk,
      // in the last level (store.ts)
      db.pragma("cache_size = -12288");
      const data = { file, maxBytes: o.maxBytes, mergeAt: o.mergeAt ?? MERGE_AT };
      return new ResultCache(db, o.provider, data, o.locked === true);
    } catch (error) {
      db.close();
      throw openFailed(file, error);
    }
  }

  get size(): number {
    return this.count;
  }

  /** blocks read from the file so far (each hit's block is read once while it stays kept) */
  get blocksRead(): number {
    return this.reads;
  }

  get(digest: readonly number[]): CacheHit | undefined {
    this.snapshot();
    const key = this.key(digest);
    const at = this.selectKey.get({ key });
    if (!at) return undefined;
    const block = this.block(at.seq);
    // evicted by the writer's commit between the two reads (each sees its own snapshot): a miss
    if (!block) return undefined;
    const start = at.i === 0 ? 0 : block.ends!.readUInt32LE(4 * (at.i - 1));
    const end = block.ends ? block.ends.readUInt32LE(4 * at.i) : block.json.length;
    return { json: block.json.toString("utf8", start, end), cost: at.cost };
  }

  /**
   * While nothing writes the cache (a run, under the pipeline's lock, until it stores a result: a
   * rerun answered from the cache stores none), the lookups of one turn of the event loop share a
   * read transaction: a statement on its own took and gave back SQLite's WAL read lock (two fcntl
   * calls and an fstat, ~2 µs of system time a lookup). Not while a writer commits (this run's
   * writer thread, or a run beside a `plan`): a read transaction open most of the time kept its
   * checkpoints from reaching the WAL's end, and the WAL of a 1M run over a 100k cache grew to
   * 150 MB (55 MB with a lock per lookup; bench/lib/analysis.md, thirteenth pass).
   */
  private snapshot(): void {
    if (!this.locked || this.db.inTransaction || this.writer !== undefined) return;
    this.db.exec("BEGIN");
    setImmediate(() => this.endSnapshot());
  }

  private endSnapshot(): void {
    if (this.db.open && this.db.inTransaction) this.db.exec("COMMIT");
  }

  private block(seq: number): { json: Buffer; ends: Buffer | null } | undefined {
    let block = this.blocks.get(seq);
    if (block) return block;
    const row = this.selectBlock.get(seq);
    if (!row) return undefined;
    // a cache of the first layout may hold a value as TEXT
    const value = typeof row.value === "string" ? Buffer.from(row.value) : row.value;
    // one output buffer of the block's size (+1: zlib asks for another chunk when one fills up):
    // zlib's default 16 KB chunks, concatenated, made a 1M-hit lookup spend a quarter of its time in GC
    const size = row.ends ? row.ends.readUInt32LE(row.ends.length - 4) : undefined;
    const json = row.z ? inflateRawSync(value, size ? { chunkSize: Math.max(size + 1, 64) } : {}) : value;
    block = { json, ends: row.ends };
    this.reads++;
    this.keptBytes += json.length;
    for (const [oldest, kept] of this.blocks) {
      if (this.keptBytes <= KEPT_BYTES) break;
      this.blocks.delete(oldest);
      this.keptBytes -= kept.json.length;
    }
    this.blocks.set(seq, block);
    return block;
  }

  /** queue a success; it is stored by the next flush() (none is, once a store failed) */
  add(digest: readonly number[], result: CachedResult, cost: number): void {
    if (this.storeFailure) return;
    try {
      this.queue(digest, result, cost);
    } catch (error) {
      this.storeFailure = error as Error;
    }
  }

  private queue(digest: readonly number[], result: CachedResult, cost: number): void {
    const json = JSON.stringify(result);
    const bytes = Buffer.byteLength(json);
    let b = this.batch;
    let start = b.n === 0 ? 0 : b.ends[b.n - 1]!;
    if (start + bytes > b.json.length) {
      this.handOver();
      if (bytes > this.batch.json.length) this.batch = this.newBatch(bytes);
      b = this.batch;
      start = 0;
    }
    b.json.write(json, start);
    b.ends[b.n] = start + bytes;
    b.costs[b.n] = cost;
    this.writeKey(b.keys, b.n * this.keyLength, digest);
    b.n++;
    if (b.n === HAND_OVER) this.handOver();
  }

  /**
   * resolves once what add() queued is committed (the oldest entries evicted past the bound);
   * rejects once if storing failed, and resolves at once from then on
   */
  async flush(): Promise<void> {
    if (!this.storeFailure) {
      try {
        await this.commit();
      } catch (error) {
        this.storeFailure = error as Error;
      }
    }
    if (this.storeFailure && !this.storeFailureSaid) {
      this.storeFailureSaid = true;
      throw this.storeFailure;
    }
  }

  private async commit(): Promise<void> {
    this.handOver();
    if (this.uncommitted === 0) return;
    this.uncommitted = 0;
    const id = ++this.commits;
    const done = new Promise<void>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    this.send({ type: "commit", id });
    await done;
    // a lookup after the flush sees what it stored (the snapshot may be older than the commit)
    this.endSnapshot();
  }

  stats(): CacheStats {
    this.endSnapshot();
    return readStats(this.db, { count: this.count, bytes: this.bytes });
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      const writer = this.writer;
      this.writer = undefined;
      if (writer) {
        // a writer that died has exited already: its exit was seen when it happened
        writer.postMessage({ type: "close" } satisfies WriterMessage);
        await this.writerExited;
      }
      this.endSnapshot();
      this.db.close();
    }
  }

  private handOver(): void {
    const b = this.batch;
    if (b.n === 0) return;
    this.batch = this.newBatch(HAND_OVER_BYTES);
    this.uncommitted += b.n;
    this.send(b, movedBuffers(b));
  }

  /**
   * the writer's buffers back (as plain typed arrays: a moved Buffer arrives as a Uint8Array); one
   * made larger for a large result is dropped, not kept for the rest of the run
   */
  private takeBack(rows: RowsMessage): void {
    if (this.spares.length >= SPARES || rows.json.byteLength !== HAND_OVER_BYTES) return;
    this.spares.push({ ...rows, n: 0, keys: asBuffer(rows.keys), json: asBuffer(rows.json) });
  }

  /** buffers of their own (not Buffer's shared pool), moved to the writer when handed over: a spare, or new ones */
  private newBatch(jsonBytes: number): Batch {
    const spare = this.spares.pop();
    if (spare && spare.json.length >= jsonBytes) return spare;
    return {
      type: "rows",
      n: 0,
      keyLength: this.keyLength,
      keys: Buffer.from(new ArrayBuffer(HAND_OVER * this.keyLength)),
      json: Buffer.from(new ArrayBuffer(jsonBytes)),
      ends: new Uint32Array(HAND_OVER),
      costs: new Float64Array(HAND_OVER),
    };
  }

  private send(message: WriterMessage, transfer?: ArrayBuffer[]): void {
    if (this.writerError) throw this.writerError;
    if (this.writer === undefined) {
      this.endSnapshot();
      this.writer = this.startWriter();
    }
    this.writer.postMessage(message, transfer);
  }

  private startWriter(): Worker {
    const writer = new Worker(WRITER, { workerData: this.data });
    this.writerExited = new Promise((resolve) =>
      writer.once("exit", () => {
        // gone (after an error, or closed): what still waits fails, and so does every later store
        this.writerError ??= storeFailed(this.data.file, { message: "its writer thread stopped" });
        for (const waiter of this.waiting.values()) waiter.reject(this.writerError);
        this.waiting.clear();
        resolve();
      }),
    );
    writer.on("message", (reply: WriterReply) => {
      if (reply.type === "closed") {
        void writer.terminate();
        return;
      }
      if (reply.type === "stored") {
        this.takeBack(reply.rows);
        return;
      }
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (reply.type === "committed") {
        this.count = reply.count;
        this.bytes = reply.bytes;
        waiter?.resolve();
      } else waiter?.reject(storeFailed(this.data.file, reply));
    });
    // its exit follows, and fails what waits
    writer.on("error", (error) => {
      this.writerError = storeFailed(this.data.file, error);
    });
    return writer;
  }

  private key(digest: readonly number[]): Buffer {
    const key = Buffer.allocUnsafe(this.keyLength);
    this.writeKey(key, 0, digest);
    return key;
  }

  private writeKey(into: Buffer, at: number, digest: readonly number[]): void {
    this.prefix.copy(into, at);
    const d = at + this.prefix.length;
    into.writeUInt32LE(digest[0]! >>> 0, d);
    into.writeUInt32LE(digest[1]! >>> 0, d + 4);
    into.writeUInt32LE(digest[2]! >>> 0, d + 8);
  }
}
