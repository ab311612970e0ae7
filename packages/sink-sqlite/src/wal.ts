/**
 * The WAL's slow work, moved off the writing thread. With `synchronous = FULL`, a 50,000-row commit
 * waited for two fsyncs of ~40 MB each: the WAL's at COMMIT, and the database file's in the
 * automatic checkpoint that followed; together a third of the sink's time
 * (bench/plugins-sinks.js). Now a helper thread per database file (checkpointer.ts), asked through
 * shared flags so that no request waits for this thread's event loop:
 * - after each write inside the transaction it fdatasyncs the WAL, so COMMIT's own fsync finds
 *   little left to write out;
 * - automatic checkpoints are off on the writing connection; after each commit the helper runs a
 *   PASSIVE checkpoint on its own connection, concurrently with the next writes.
 * Neither changes what is durable when: COMMIT still fsyncs the WAL, and a checkpoint still fsyncs
 * the database file before SQLite may reuse the WAL. A helper that failed fails the next commit
 * (see checkpointer.ts); one that cannot start leaves SQLite's automatic checkpoints on.
 */
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";
import { CHECKPOINT, CLOSE, FAILED, FLUSH, type WalHelperData } from "./wal-flags.js";

export class WalHelper {
  private worker: Worker | undefined;
  private readonly flags = new Int32Array(new SharedArrayBuffer(8));
  private exited: Promise<void> = Promise.resolve();

  constructor(db: Database.Database, path: string) {
    let worker: Worker;
    try {
      const workerData: WalHelperData = { path, flags: this.flags };
      // dist/checkpointer.js from both src/ (tests) and dist/: a worker must be plain JavaScript
      worker = new Worker(new URL("../dist/checkpointer.js", import.meta.url), {
        workerData,
        // it allocates next to nothing in JavaScript
        resourceLimits: { maxYoungGenerationSizeMb: 1 },
      });
    } catch {
      return;
    }
    this.worker = worker;
    worker.unref();
    this.exited = new Promise((resolve) => {
      worker.on("exit", () => resolve());
      // a thread that could not start (or load better-sqlite3) fails the next commit too
      worker.on("error", () => Atomics.store(this.flags, 1, FAILED));
    });
    db.pragma("wal_autocheckpoint = 0");
  }

  /** after a write inside the transaction: start making the WAL's new frames durable */
  flush(): void {
    this.request(FLUSH);
  }

  /** after a commit: copy the committed frames into the database file */
  checkpoint(): void {
    this.request(CHECKPOINT);
  }

  /** the helper failed since it started: the commit just made may not be durable */
  get failed(): boolean {
    return Atomics.load(this.flags, 1) === FAILED;
  }

  /**
   * Before the writing connection closes: ends the helper once its running fsync or checkpoint is
   * done, so the writing connection closes last (SQLite then checkpoints the rest and removes the
   * WAL file: the database file alone holds every row, as without this helper).
   */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.request(CLOSE);
    this.worker = undefined;
    // unref'd so that it never keeps a process alive: while waiting for it, it must
    worker.ref();
    await this.exited;
  }

  private request(bit: number): void {
    if (!this.worker) return;
    Atomics.or(this.flags, 0, bit);
    Atomics.notify(this.flags, 0);
  }
}
