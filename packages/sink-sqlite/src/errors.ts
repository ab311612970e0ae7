/**
 * SQLite's own errors (better-sqlite3's SqliteError: "file is not a database", "unable to open
 * database file") said no file and no fix; they become PLUGIN_FAILED naming the database, the table
 * and what to do about that error code.
 */
import { statSync } from "node:fs";
import { BatchpipeError } from "@batchpipe/core/plugin";

/** `doing`: the sink call that failed (open, write, commit, …) */
export function sqliteFailure(error: unknown, path: string, table: string, doing: string): unknown {
  const code = (error as { code?: unknown } | undefined)?.code;
  // BatchpipeErrors (their codes are not SQLITE_*) pass as they are
  if (typeof code !== "string" || !code.startsWith("SQLITE_")) return error;
  return new BatchpipeError(
    "PLUGIN_FAILED",
    `${path} (table "${table}"): ${doing} failed: ${(error as Error).message} (${code})`,
    { hint: `${hintFor(code)}; the run resumes from its last commit.`, plugin: "sink:sqlite", cause: error },
  );
}

/**
 * A device or pipe (/dev/null, a FIFO) is no database file: SQLite failed on it with "disk I/O
 * error" (SQLITE_IOERR_FSYNC, SQLITE_IOERR_READ), which says nothing of the path.
 */
export function refuseNonFile(path: string): void {
  let kind: string | undefined;
  try {
    const stat = statSync(path);
    if (!stat.isFile())
      kind = stat.isFIFO() ? "a pipe" : stat.isCharacterDevice() ? "a device" : "not a file";
  } catch {
    // nothing there: SQLite creates it
  }
  if (kind === undefined) return;
  throw new BatchpipeError("PLUGIN_FAILED", `${path} is ${kind}, not a regular file`, {
    hint: "A SQLite database is a regular file (with its -wal and -shm files beside it): give path a file, e.g. ./out/results.db.",
    plugin: "sink:sqlite",
  });
}

// --- internal ---

const READ_ONLY =
  "SQLite writes the database file and, beside it in the same folder, its -wal and -shm files: make the file and its folder writable by this user, or give path a file in a folder you can write, then run again";

function hintFor(code: string): string {
  if (code.startsWith("SQLITE_READONLY")) return READ_ONLY;
  if (code.startsWith("SQLITE_CANTOPEN"))
    return "SQLite cannot open or create the file: path must name a file (not a folder) in a folder this user can write to, then run again";
  if (code.startsWith("SQLITE_NOTADB"))
    return "The file is not a SQLite database (or is encrypted): give path a new file, or move that file away, then run again";
  if (code.startsWith("SQLITE_CORRUPT"))
    return "The database file is damaged: restore it from a copy, or give path a new file, then run again";
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
    return "Another process held the database's write lock for more than 5 s (a database browser with unsaved changes?): close it, then run again";
  if (code.startsWith("SQLITE_FULL")) return "The disk is full: free space, then run again";
  // a table the user made: its column types and constraints are its own
  if (code.startsWith("SQLITE_MISMATCH"))
    return "A value does not fit its column's type (an INTEGER PRIMARY KEY id takes integers only; so do a STRICT table's typed columns): change the column's type, or name another table, then run again";
  if (code.startsWith("SQLITE_CONSTRAINT"))
    return "A constraint of the table (the message names it) refused a row the sink writes: drop or relax it, or name another table, then run again";
  return "Fix the database problem, then run again";
}
