/**
 * A state folder's SQLite file (state.db, cache.db: both WAL) opened to read only, for the commands
 * that only look (status, runs, plan, cache). SQLite reads a WAL file through its -shm file, which
 * it creates when it is absent: in a folder this user cannot write (chmod a-w, a read-only mount),
 * a file closed cleanly (its -wal and -shm gone) could not be opened even to read. Such a file holds
 * all its commits, so it is read from a copy in memory instead.
 */
import fs from "node:fs";
import Database from "better-sqlite3";

/** a larger file is not copied into memory: the error (a read-only folder) stands */
const COPY_MAX_BYTES = 512 * 1024 * 1024;

/** @internal (better-sqlite3 types stay out of the published .d.ts: stripInternal) */
export function openReadOnly(file: string): Database.Database {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    // SQLite opens the file on its first read: that is where a -shm it cannot create fails
    db.prepare("SELECT count(*) FROM sqlite_master").get();
    return db;
  } catch (error) {
    db.close();
    if (!copyable(file, error)) throw error;
    const image = fs.readFileSync(file);
    // the header's write and read versions: 2 (WAL) would send SQLite after a -wal and -shm beside
    // the copy in memory; 1 reads it as the plain file it is once its WAL is checkpointed
    image[18] = 1;
    image[19] = 1;
    return new Database(image, { readonly: true });
  }
}

/**
 * openReadOnly for a package that brings its own better-sqlite3 (batchpipe view): `Db` is its
 * Database type, so core's published types need not name better-sqlite3's.
 */
export function openSqliteToRead<Db>(file: string): Db {
  return openReadOnly(file) as Db;
}

function copyable(file: string, error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== "SQLITE_READONLY_DIRECTORY" && code !== "SQLITE_CANTOPEN") return false;
  // a -wal holding frames has commits the file lacks (a run killed): a copy of the file would miss them
  return fileSize(`${file}-wal`) === 0 && fileSize(file) <= COPY_MAX_BYTES;
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
