/**
 * One process per pipeline: an exclusive SQLite transaction held on `lock.db` for the life of the
 * run. The OS drops it when the process dies (even by SIGKILL), so a stale lock never blocks a resume.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { BatchpipeError, ErrorCodes } from "../errors.js";

export interface StateLock {
  release(): void;
}

export function acquireLock(dir: string, options: { command?: string } = {}): StateLock {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "lock.db");
  const pidFile = path.join(dir, "lock.pid");
  const db = new Database(file);
  db.pragma("journal_mode = DELETE");
  db.pragma("busy_timeout = 0");
  db.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER)");
  try {
    db.exec("BEGIN EXCLUSIVE");
  } catch (error) {
    db.close();
    const holder = readHolder(pidFile);
    throw new BatchpipeError(
      ErrorCodes.STATE_FAILED,
      `another batchpipe process${holder ? ` (pid ${holder})` : ""} is running this pipeline (${dir})`,
      {
        hint: "Wait for it to finish, stop it (it saves its state), or check it with `batchpipe status`.",
        cause: error,
      },
    );
  }
  fs.writeFileSync(pidFile, `${process.pid} ${options.command ?? "run"}\n`);
  return {
    release() {
      try {
        db.exec("ROLLBACK");
      } catch {}
      db.close();
      fs.rmSync(pidFile, { force: true });
    },
  };
}

function readHolder(pidFile: string): string | undefined {
  try {
    return fs.readFileSync(pidFile, "utf8").trim().split(" ")[0];
  } catch {
    return undefined;
  }
}
