/**
 * The WAL helper thread of one database file (wal.ts): it waits on a shared flag word for
 * requests from the writing thread, which sets bits without waiting for anything:
 * - FLUSH: fdatasync the WAL, so the frames written so far are on disk before COMMIT's own fsync;
 * - CHECKPOINT: `wal_checkpoint(PASSIVE)` on this thread's own connection, which copies committed
 *   frames into the database file and fsyncs it while the writer goes on;
 * - CLOSE: close the connection and end.
 * A failure sets FAILED for the writer to see at its next commit, and ends the thread. Plain
 * JavaScript after the build (dist/checkpointer.js); it loads better-sqlite3 only.
 */
import fs from "node:fs";
import { workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { CHECKPOINT, CLOSE, FAILED, FLUSH, type WalHelperData } from "./wal-flags.js";

const { path, flags } = workerData as WalHelperData;
const db = new Database(path, { fileMustExist: true });
// FULL: the database file is fsynced before SQLite may reuse the WAL (the default, said outright)
db.pragma("synchronous = FULL");
let walFd: number | undefined;

try {
  for (;;) {
    Atomics.wait(flags, 0, 0);
    const request = Atomics.exchange(flags, 0, 0);
    if (request & CLOSE) break;
    if (request & FLUSH) {
      // the fd stays valid when SQLite restarts the WAL from its first frame
      walFd ??= fs.openSync(`${path}-wal`, "r");
      fs.fdatasyncSync(walFd);
    }
    if (request & CHECKPOINT) db.pragma("wal_checkpoint(PASSIVE)");
  }
} catch {
  // an fsync that failed must fail the writer's next commit: after it, Linux may report the next
  // fsync of the file as a success with the data lost
  Atomics.store(flags, 1, FAILED);
} finally {
  if (walFd !== undefined) fs.closeSync(walFd);
  db.close();
}
