/**
 * The result cache's writer, in a worker thread: the collection hands it each part's successes
 * while it goes on parsing results, and waits only for the commit (result-cache.ts). Storing took
 * ~10 µs a result on the collecting thread (SQLite inserts, merges, compression).
 */
import { parentPort, workerData } from "node:worker_threads";
import { asBuffer, CacheStore, movedBuffers } from "./store.js";
import { openCacheDb } from "./tables.js";

/**
 * from the cache: `n` results to insert (their keys of `keyLength` bytes and their JSON back to back,
 * result i's JSON ending at ends[i]; buffers moved, not copied), or a commit
 */
export type WriterMessage = RowsMessage | { type: "commit"; id: number } | { type: "close" };

/** to the cache: a commit's outcome with the figures after it, a stored batch's buffers back, or closed */
export type WriterReply =
  | { type: "committed"; id: number; count: number; bytes: number }
  | { type: "stored"; rows: RowsMessage }
  | { type: "failed"; id: number; message: string; code?: unknown }
  | { type: "closed" };

export interface RowsMessage {
  type: "rows";
  n: number;
  keyLength: number;
  keys: Uint8Array;
  json: Uint8Array;
  ends: Uint32Array;
  costs: Float64Array;
}

export interface WriterData {
  file: string;
  maxBytes: number;
  mergeAt: number;
}

const port = parentPort!;
const data = workerData as WriterData;
const db = openCacheDb(data.file);
const store = new CacheStore(db, data);
/** an insert that failed: its commit fails (and rolls back) */
let failure: Error | undefined;

port.on("message", (message: WriterMessage) => {
  if (message.type === "rows") {
    try {
      if (failure !== undefined) throw failure;
      const { n, keyLength, ends, costs } = message;
      store.insert(
        { n, keyLength, keys: asBuffer(message.keys), json: asBuffer(message.json), ends, costs },
        Date.now(),
      );
    } catch (error) {
      failure = error as Error;
    }
    // the buffers go back for the next hand-over (SQLite copied what it keeps)
    port.postMessage({ type: "stored", rows: message } satisfies WriterReply, movedBuffers(message));
  } else if (message.type === "commit") {
    try {
      if (failure !== undefined) throw failure;
      store.commit();
      reply({ type: "committed", id: message.id, count: store.count, bytes: store.bytes });
    } catch (error) {
      store.rollback();
      failure = undefined;
      const { message: text, code } = error as Error & { code?: unknown };
      reply({ type: "failed", id: message.id, message: text, code });
    }
  } else {
    if (db.inTransaction) db.exec("ROLLBACK");
    db.close();
    reply({ type: "closed" });
  }
});

function reply(r: WriterReply): void {
  port.postMessage(r);
}
