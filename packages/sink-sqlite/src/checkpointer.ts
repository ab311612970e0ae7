/**
 * The WAL checkpointer thread of one database file (see `Checkpointer` in table.ts): its own
 * connection runs `wal_checkpoint(PASSIVE)` when asked, which copies committed WAL frames into the
 * database file and fsyncs it, while the sink's connection goes on writing. Plain JavaScript after
 * the build (dist/checkpointer.js); it loads better-sqlite3 only, so its V8 heap stays small.
 */
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

if (!parentPort) throw new Error("the sqlite sink's checkpointer must run in a worker thread");
const port = parentPort;

const db = new Database((workerData as { path: string }).path, { fileMustExist: true });
// FULL: the database file is fsynced before the WAL may be reused (SQLite's default, said outright)
db.pragma("synchronous = FULL");

port.on("message", (message: "checkpoint" | "close") => {
  if (message === "close") {
    // the last connection to close checkpoints what is left and removes the WAL file
    db.close();
    port.close();
    return;
  }
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
    port.postMessage({ ok: true });
  } catch (error) {
    port.postMessage({ ok: false, message: error instanceof Error ? error.message : String(error) });
  }
});
