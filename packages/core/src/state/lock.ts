/**
 * One process per pipeline: a lock file created with O_EXCL holding the owner's pid and start
 * time. A lock left by a killed process (SIGKILL, power loss) is recognised as stale (no such
 * process, or a different process that reused the pid) and taken over, so it never blocks a resume.
 */
import fs from "node:fs";
import path from "node:path";
import { BatchpipeError, ErrorCodes } from "../errors.js";

export interface StateLock {
  release(): void;
}

export const LOCK_FILE = "run.lock";

/** create the state folder, or fail with STATE_FAILED saying why (ENOTDIR, EACCES, EROFS, ENOSPC) */
export function makeStateDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new BatchpipeError(
      ErrorCodes.STATE_FAILED,
      `cannot create the state folder ${dir}: ${(error as Error).message}`,
      {
        hint: "Check the path and its permissions and free space, or move the state elsewhere with --state-dir.",
        cause: error,
      },
    );
  }
}

export function acquireLock(dir: string, options: { command?: string } = {}): StateLock {
  makeStateDir(dir);
  const file = path.join(dir, LOCK_FILE);
  const mine = `${process.pid} ${processStartTime(process.pid) ?? "?"} ${options.command ?? "run"}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, "wx");
      fs.writeSync(fd, mine);
      fs.closeSync(fd);
      return {
        release() {
          try {
            if (fs.readFileSync(file, "utf8") === mine) fs.rmSync(file, { force: true });
          } catch {}
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new BatchpipeError(ErrorCodes.STATE_FAILED, `cannot create the lock file ${file}`, {
          hint: "Check the folder's permissions, or move the state elsewhere with --state-dir.",
          cause: error,
        });
      }
    }
    const holder = lockHolder(dir);
    if (holder) {
      throw new BatchpipeError(
        ErrorCodes.STATE_FAILED,
        `another batchpipe process (pid ${holder.pid}, ${holder.command}) is running this pipeline (${dir})`,
        {
          hint: "Wait for it to finish, or stop it (it saves its state); `batchpipe status` shows its progress.",
        },
      );
    }
    // stale: its owner is gone
    fs.rmSync(file, { force: true });
  }
  throw new BatchpipeError(ErrorCodes.STATE_FAILED, `cannot take the lock ${file}`, {
    hint: "Another process keeps creating it; try again.",
  });
}

/** the live process holding the pipeline's lock, if any */
export function lockHolder(dir: string): { pid: number; command: string } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, LOCK_FILE), "utf8");
  } catch {
    return undefined;
  }
  const [pidText, started, command] = text.trim().split(" ");
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return undefined;
  }
  // the pid may have been reused by an unrelated process
  const now = processStartTime(pid);
  if (started && started !== "?" && now && now !== started) return undefined;
  return { pid, command: command ?? "run" };
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
