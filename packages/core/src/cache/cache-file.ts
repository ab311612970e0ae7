/**
 * The result cache's file as a whole (DESIGN §3): opened with its settings (created or upgraded,
 * owner-only), its figures read without a run, and cleared. A run reads and writes it through
 * ResultCache (result-cache.ts).
 */
import fs from "node:fs";
import path from "node:path";
import type Database from "better-sqlite3";
import { BatchpipeError, ErrorCodes, systemError } from "../errors.js";
import { acquireLockSync, ownerOnly } from "../state/lock.js";
import { openReadOnly } from "../state/read-only.js";
import { cacheFigures, duplicates, isCurrentLayout, NewerLayoutError, openCacheDb } from "./tables.js";

export const CACHE_FILE = "cache.db";

export interface CacheStats {
  entries: number;
  /** stored (compressed) bytes of the values */
  bytes: number;
  /** the cache file and its WAL on disk */
  fileBytes: number;
  oldest: number | null;
  newest: number | null;
}

/** the cache's figures without opening it for writing; undefined when there is none */
export function cacheStats(dir: string): CacheStats | undefined {
  const file = path.join(dir, CACHE_FILE);
  if (!fs.existsSync(file)) return undefined;
  const db = openCacheToRead(file);
  try {
    return { ...readStats(db), fileBytes: fileBytes(file) };
  } finally {
    db.close();
  }
}

/**
 * the figures (by default those the last commit kept, tables.ts), with the entries stored twice told apart (a scan of the upper key levels)
 * @internal (better-sqlite3 types stay out of the published .d.ts: stripInternal)
 */
export function readStats(
  db: Database.Database,
  figures: { count: number; bytes: number } = cacheFigures(db),
): CacheStats {
  const at = (order: string) =>
    (
      db.prepare(`SELECT created_at AS t FROM blocks ORDER BY seq ${order} LIMIT 1`).get() as
        | { t: number }
        | undefined
    )?.t ?? null;
  return {
    entries: figures.count - duplicates(db),
    bytes: figures.bytes,
    fileBytes: fileBytes(db.name),
    oldest: at("ASC"),
    newest: at("DESC"),
  };
}

/**
 * Delete the cache of the state folder `dir`; returns what it held (undefined: there was none;
 * `unreadable`: why its figures could not be read, e.g. a newer batchpipe wrote it: it is deleted
 * all the same, since clearing is how one gets past such a cache). Under the pipeline's lock: a run
 * in progress keeps its cache (the lock error says who holds it).
 */
export function clearCache(dir: string): CacheStats | { unreadable: string } | undefined {
  const lock = acquireLockSync(dir, { command: "cache --clear" });
  try {
    let before: CacheStats | { unreadable: string } | undefined;
    try {
      before = cacheStats(dir);
    } catch (error) {
      before = { unreadable: (error as Error).message };
    }
    const file = path.join(dir, CACHE_FILE);
    // unlink, not rmSync: a file that cannot be deleted says why (EPERM), where rmSync's fallback
    // to a folder's removal reported ENOTDIR
    for (const f of [file, `${file}-wal`, `${file}-shm`]) {
      try {
        fs.unlinkSync(f);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
    }
    return before;
  } finally {
    lock.release();
  }
}

/**
 * the cache file opened (created or upgraded as needed), owner-only; a failure says what to do
 * @internal (better-sqlite3 types stay out of the published .d.ts: stripInternal)
 */
export function openCacheFile(file: string, o: { fileMustExist?: boolean } = {}): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = openCacheDb(file, o);
    ownerOnly(file);
    return db;
  } catch (error) {
    db?.close();
    throw openFailed(file, error);
  }
}

/**
 * the cache file opened to read only (the figures, a plan's lookups): a read-only state folder can
 * be looked at. One of an earlier layout is upgraded first (which writes), a newer one refused.
 * @internal (better-sqlite3 types stay out of the published .d.ts: stripInternal)
 */
export function openCacheToRead(file: string): Database.Database {
  let db: Database.Database;
  try {
    db = openReadOnly(file);
    db.pragma("busy_timeout = 5000");
  } catch (error) {
    throw openFailed(file, error);
  }
  if (isCurrentLayout(db)) return db;
  db.close();
  return openCacheFile(file, { fileMustExist: true });
}

/** why a cache file could not be opened, with what to do about it */
export function openFailed(file: string, error: unknown): BatchpipeError {
  const code = (error as { code?: unknown }).code;
  const hint =
    error instanceof NewerLayoutError
      ? "Run it with the batchpipe version that wrote the cache (or a later one), or empty it with `batchpipe cache <spec> --clear` (from code: clearCache(stateDir)): its requests are then paid for again."
      : code === "SQLITE_CORRUPT" || code === "SQLITE_NOTADB"
        ? "The cache file is damaged (cut short, or written over). Restore it from a backup, or empty it with `batchpipe cache <spec> --clear` (from code: clearCache(stateDir)): the runs' results and state are not in it, but the requests it answered are paid for again."
        : "Check the state folder's permissions and free space; `batchpipe cache <spec> --clear` (from code: clearCache(stateDir)) starts an empty cache.";
  return new BatchpipeError(
    ErrorCodes.STATE_FAILED,
    `cannot open the result cache ${file}: ${(error as Error).message}`,
    { hint, cause: error },
  );
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

/** the writer's failure: its error's message and (SQLite's) code */
export function storeFailed(file: string, failure: { message: string; code?: unknown }): BatchpipeError {
  // a full disk says so: "the disk is full (SQLITE_FULL): …"
  const what = systemError(failure)?.message ?? failure.message;
  return new BatchpipeError(
    ErrorCodes.STATE_FAILED,
    `cannot store results in the result cache ${file}: ${what}`,
    {
      hint: "Check the state folder's free space and permissions (or move it with --state-dir (from code: the stateDir option)). If the cache itself is damaged, `batchpipe cache <spec> --clear` (from code: clearCache(stateDir)) empties it (its results are then paid for again).",
      // the writer's error, or what its reply said of it (its code tells a full disk from a bug)
      cause: failure,
    },
  );
}
