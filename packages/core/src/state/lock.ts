/**
 * One process per pipeline. The lock is an OS lock, not a file's existence: SQLite's exclusive lock
 * on `run.lock` (fcntl), held by an open connection for the owner's life. The kernel drops it when
 * the owner dies (SIGKILL, power loss), so there is no stale lock to take over and nothing that a
 * takeover could delete. Who holds it (pid, start time, command) is in `run.lock.json`, written to a
 * temp file and renamed into place once the lock is held: a reader sees all of it or none.
 */
import fs from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import { makeDirs } from "../make-dirs.js";
import { stateOpenFailed } from "./open-failure.js";

export interface StateLock {
  release(): void;
}

export const LOCK_FILE = "run.lock";

/**
 * Who holds a pipeline's lock. `pid` is null while the holder starts (or ends): it holds the lock but
 * has not yet written who it is, or the file still names an earlier holder, now gone. Such a holder
 * runs the pipeline all the same.
 */
export interface LockHolder {
  pid: number | null;
  /** `run` or `watch` (`run` while the holder is not known) */
  command: string;
}

/** how long a process waits for the lock before it reports the holder: only what a probe (lockHolder, µs) may take */
const WAIT_MS = 250;

/**
 * Create the state folder (0700: shard files hold full prompts), or fail with STATE_FAILED saying
 * why (ENOTDIR, EACCES, EROFS, ENOSPC).
 */
export function makeStateDir(dir: string): void {
  try {
    makeDirs(dir, 0o700);
    // a folder made by an older batchpipe (or a umask) may be wider
    if ((fs.statSync(dir).mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
  } catch (error) {
    throw new BatchpipeError(
      ErrorCodes.STATE_FAILED,
      `cannot create the state folder ${dir}: ${(error as Error).message}`,
      {
        hint: "Check the path and its permissions and free space, or move the state elsewhere with --state-dir (from code: the stateDir option, workConfig.state_dir).",
        cause: error,
      },
    );
  }
}

/** make `file` (and SQLite's -wal/-shm beside it) readable by its owner only */
export function ownerOnly(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    try {
      fs.chmodSync(f, 0o600);
    } catch {}
  }
}

/**
 * Take the pipeline's lock in `dir`, waiting up to WAIT_MS (the event loop turns meanwhile); throws
 * STATE_FAILED naming the holder when another process (or an earlier run in this one) has it.
 */
export async function acquireLock(dir: string, options: { command?: string } = {}): Promise<StateLock> {
  const { file, mine } = lockFile(dir, options);
  return claimLock(dir, mine, await holdExclusive(file, WAIT_MS));
}

/** acquireLock for a synchronous caller (clearCache): it waits without an event loop turn */
export function acquireLockSync(dir: string, options: { command?: string } = {}): StateLock {
  const { file, mine } = lockFile(dir, options);
  return claimLock(dir, mine, holdExclusiveSync(file, WAIT_MS));
}

/**
 * The live process holding the pipeline's lock, if any. Its pid is null while it starts: the lock is
 * taken before `run.lock.json` names the holder, and that file may still name an earlier holder
 * that was killed (a pid that is gone, or now another process's).
 */
export function lockHolder(dir: string): LockHolder | undefined {
  const file = path.join(dir, LOCK_FILE);
  if (!isHeld(file)) return undefined;
  let text = "";
  try {
    text = fs.readFileSync(`${file}.json`, "utf8");
  } catch {}
  const [pidText, start, command] = text.trim().split(" ");
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || !isSameProcess(pid, start)) return { pid: null, command: "run" };
  return { pid, command: command ?? "run" };
}

/** a lock holder as messages name it: `pid 123, run`, or `starting` while it is not known */
export function describeHolder(holder: LockHolder | undefined): string {
  return holder?.pid ? `pid ${holder.pid}, ${holder.command}` : "starting: its pid is not known yet";
}

/** whether process `pid` exists (EPERM: it does, another user's) */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Take the exclusive lock on `file` (an SQLite file made for it), waiting up to `waitMs`; undefined
 * when another connection holds it. The lock lasts until close() or the process's end.
 *
 * Tried in attempts that never wait inside SQLite, with a random pause between them (a timer: the
 * event loop turns). An attempt that waited on SQLite's busy handler blocked the thread for as long,
 * and processes that open a new lock file at the same moment can each take SQLite's shared lock and
 * then wait on one another for the whole busy timeout, so that all of them give up (seen with six
 * daemon starts racing).
 * @internal (better-sqlite3 types stay out of the published .d.ts: stripInternal)
 */
export async function holdExclusive(file: string, waitMs: number): Promise<Database.Database | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const lock = tryExclusive(file);
    if (lock || Date.now() >= deadline) return lock;
    await sleep(pauseBefore(deadline));
  }
}

/**
 * holdExclusive for a synchronous caller (startDaemon, clearCache): it pauses without an event loop turn
 * @internal
 */
export function holdExclusiveSync(file: string, waitMs: number): Database.Database | undefined {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const lock = tryExclusive(file);
    if (lock || Date.now() >= deadline) return lock;
    const ms = pauseBefore(deadline);
    if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  }
}

/** one attempt: the lock, or undefined at once when another connection holds it */
function tryExclusive(file: string): Database.Database | undefined {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { timeout: 0 });
    ownerOnly(file);
    // EXCLUSIVE locking mode: the lock the first write takes is kept until the connection closes
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS holder (at INTEGER); DELETE FROM holder;");
    db.prepare("INSERT INTO holder (at) VALUES (?)").run(Date.now());
    db.exec("COMMIT");
    return db;
  } catch (error) {
    db?.close();
    if (isBusy(error)) return undefined;
    throw stateOpenFailed("the lock", file, error);
  }
}

/** 20–100 ms, random (racing processes do not retry in step), and not past the deadline */
function pauseBefore(deadline: number): number {
  return Math.min(20 + Math.random() * 80, Math.max(0, deadline - Date.now()));
}

/** whether a live process holds the exclusive lock on `file` (a probe: it never waits) */
export function isHeld(file: string): boolean {
  if (!fs.existsSync(file)) return false;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 0 });
    db.prepare("SELECT count(*) FROM sqlite_master").get();
    return false;
  } catch (error) {
    return isBusy(error);
  } finally {
    db?.close();
  }
}

/** write `text` to a temp file beside `file`, then rename it into place (0600) */
export function writeAtomic(file: string, text: string): void {
  const temp = `${file}.${process.pid}.${Date.now().toString(36)}.tmp`;
  try {
    fs.writeFileSync(temp, text, { mode: 0o600 });
    fs.renameSync(temp, file);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  }
}

/** the process start time from /proc (Linux); undefined elsewhere. Tells a live owner from a process that reused its pid. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // fields after the command (which may contain spaces) start after the last ")"
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

// --- internal ---

/** the lock file of `dir` (made) and the line that names this process as its holder */
function lockFile(dir: string, options: { command?: string }): { file: string; mine: string } {
  makeStateDir(dir);
  // made before the lock is taken: the time it is held without saying who holds it stays short
  const mine = `${process.pid} ${processStartTime(process.pid) ?? "?"} ${options.command ?? "run"}\n`;
  return { file: path.join(dir, LOCK_FILE), mine };
}

/** the lock taken (its holder named), or the STATE_FAILED of a lock another holds */
function claimLock(dir: string, mine: string, lock: Database.Database | undefined): StateLock {
  if (!lock) {
    const holder = lockHolder(dir);
    // a program running a pipeline twice at once (two run() calls of a server): not another process
    if (holder?.pid === process.pid) {
      throw new BatchpipeError(
        ErrorCodes.STATE_FAILED,
        `this process is already running this pipeline (${dir}): an earlier run of it (run(), runSpec(), watch) has not ended`,
        {
          hint: "Await the earlier run before starting another of the same pipeline, or give this one its own state folder (workConfig.state_dir, the stateDir option).",
        },
      );
    }
    throw new BatchpipeError(
      ErrorCodes.STATE_FAILED,
      `another batchpipe process (${describeHolder(holder)}) is running this pipeline (${dir})`,
      {
        hint: "Wait for it to finish, or stop it (it saves its state); `batchpipe status` shows its progress (from code: readDaemon(stateDir), for a background run).",
      },
    );
  }
  const info = `${path.join(dir, LOCK_FILE)}.json`;
  writeAtomic(info, mine);
  return {
    release() {
      try {
        if (fs.readFileSync(info, "utf8") === mine) fs.rmSync(info, { force: true });
      } catch {}
      lock.close();
    },
  };
}

/** whether `pid` is alive and, where start times are known (Linux), the process that started at `start` */
function isSameProcess(pid: number, start: string | undefined): boolean {
  if (!isAlive(pid)) return false;
  const now = processStartTime(pid);
  return start === undefined || start === "?" || now === undefined || now === start;
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? "";
  return code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED");
}
