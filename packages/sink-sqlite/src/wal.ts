/**
 * The WAL's slow work, moved off the writing thread. With `synchronous = FULL`, a 50,000-row
 * commit used to wait for two fsyncs of ~40 MB each: the WAL's at COMMIT, and the database file's
 * in the automatic checkpoint that followed. That was a third of the sink's time
 * (bench/plugins-sinks.js). Now:
 * - while a transaction is open, the WAL is fdatasync'ed on libuv's thread pool after each write,
 *   so COMMIT's own fsync finds little left to flush;
 * - automatic checkpoints are off on the writing connection; after each commit a checkpointer
 *   thread with its own connection runs a PASSIVE checkpoint (checkpointer.ts), concurrently with
 *   the next writes.
 * Neither changes what is durable when: COMMIT still fsyncs the WAL, and the checkpoint still
 * fsyncs the database file before SQLite may reuse the WAL. If the thread cannot start or fails,
 * the connection goes back to SQLite's automatic checkpoints.
 */
import fs from "node:fs";
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";

/** SQLite's default, restored when the checkpointer is gone */
const AUTO_CHECKPOINT_PAGES = 1000;

export class WalHelper {
  private worker: Worker | undefined;
  /** a checkpoint is running; `again`: another commit came meanwhile */
  private checkpointing = false;
  private again = false;
  private walFd: number | undefined;
  private flushing = false;
  private closed = false;

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
  ) {
    try {
      // dist/checkpointer.js from both src/ (tests) and dist/: a worker must be plain JavaScript
      this.worker = new Worker(new URL("../dist/checkpointer.js", import.meta.url), {
        workerData: { path },
        // it holds one small message at a time
        resourceLimits: { maxYoungGenerationSizeMb: 2 },
      });
    } catch {
      return;
    }
    const worker = this.worker;
    worker.unref();
    worker.on("message", (reply: { ok: boolean }) => {
      this.checkpointing = false;
      if (!reply.ok) return this.fallBack();
      if (this.again) this.checkpoint();
    });
    worker.on("error", () => this.fallBack());
    worker.on("exit", () => this.fallBack());
    db.pragma("wal_autocheckpoint = 0");
  }

  /** after a write inside the transaction: start making the WAL's new frames durable */
  flush(): void {
    if (this.flushing || this.closed) return;
    try {
      // the WAL exists once a transaction has begun; the fd stays valid if SQLite restarts it
      this.walFd ??= fs.openSync(`${this.path}-wal`, "r");
    } catch {
      return;
    }
    this.flushing = true;
    fs.fdatasync(this.walFd, () => {
      this.flushing = false;
      if (this.closed) this.closeFd();
    });
  }

  /** after a commit: copy the committed frames into the database file, on the checkpointer */
  checkpoint(): void {
    if (!this.worker || this.closed) return;
    if (this.checkpointing) {
      this.again = true;
      return;
    }
    this.checkpointing = true;
    this.again = false;
    this.worker.postMessage("checkpoint");
  }

  /**
   * Before the writing connection closes: ends the checkpointer once its running checkpoint is
   * done, so the writing connection closes last (SQLite then checkpoints the rest and removes the
   * WAL file: the database file alone holds every row, as without this helper).
   */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    if (!this.flushing) this.closeFd();
    if (!worker) return;
    worker.removeAllListeners();
    const exited = new Promise<void>((resolve) => {
      worker.on("exit", () => resolve());
      worker.on("error", () => resolve());
    });
    worker.postMessage("close");
    await exited;
  }

  private fallBack(): void {
    if (!this.worker) return;
    const worker = this.worker;
    this.worker = undefined;
    this.checkpointing = false;
    void worker.terminate();
    if (!this.closed && this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
  }

  private closeFd(): void {
    if (this.walFd === undefined) return;
    fs.closeSync(this.walFd);
    this.walFd = undefined;
  }
}
