/**
 * Background runs: a detached child process (its own session, so it outlives the shell) whose
 * stdout and stderr go to `<stateDir>/daemon.log`. `daemon.pid` holds its pid while it may be alive;
 * `daemon.json` records how it was started and, written by the child as it exits, how it ended.
 *
 * The child knows it is a daemon from BATCHPIPE_DAEMON=1 and BATCHPIPE_DAEMON_DIR (the state
 * folder); `enterDaemonChild` reads and clears them and records the exit code when the process ends.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import {
  describeHolder,
  isAlive,
  lockHolder,
  makeStateDir,
  ownerOnly,
  processStartTime,
  writeAtomic,
} from "../state/index.js";
// not re-exported by state/index.ts: it is @internal, and a re-export of it would break the .d.ts
import { holdExclusiveSync } from "../state/lock.js";

export interface DaemonPaths {
  pid: string;
  log: string;
  info: string;
}

export interface DaemonInfo {
  pid: number;
  log: string;
  startedAt: number;
  /** argv of the child (node excluded) */
  command: string[];
}

export interface DaemonStatus extends DaemonInfo {
  /** finished: exited and recorded its exit code; died: gone without a record (SIGKILL, crash) */
  state: "running" | "finished" | "died";
  exitCode: number | null;
  finishedAt: number | null;
}

export const DAEMON_ENV = "BATCHPIPE_DAEMON";
export const DAEMON_DIR_ENV = "BATCHPIPE_DAEMON_DIR";

export function daemonPaths(stateDir: string): DaemonPaths {
  return {
    pid: path.join(stateDir, "daemon.pid"),
    log: path.join(stateDir, "daemon.log"),
    info: path.join(stateDir, "daemon.json"),
  };
}

export interface StartDaemonOptions {
  stateDir: string;
  /** the arguments after the node executable, e.g. [bin, "run", spec] or process.argv.slice(1) */
  args: string[];
  /** node flags (e.g. process.execArgv for a loader such as jiti) */
  execArgv?: string[];
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** the pipeline's name, for messages */
  name?: string;
}

/**
 * Start the child; refuses when a daemon (or another process) already runs this pipeline. Starts
 * are serialised by an OS lock on `daemon.lock` (held from the check to the pid file's write), and
 * the pid file is renamed into place with its content: two starts racing start one daemon, and
 * neither can remove the other's pid file.
 */
export function startDaemon(options: StartDaemonOptions): DaemonInfo {
  const stateDir = path.resolve(options.stateDir);
  makeStateDir(stateDir);
  const paths = daemonPaths(stateDir);
  const label = options.name ? `pipeline "${options.name}"` : `the pipeline in ${stateDir}`;
  const starting = holdExclusiveSync(path.join(stateDir, "daemon.lock"), 2000);
  if (!starting) {
    throw new BatchpipeError(ErrorCodes.STATE_FAILED, `a daemon is being started for ${label}`, {
      hint: "Check it with `batchpipe status <spec>` (from code: readDaemon(stateDir)).",
    });
  }
  try {
    const current = readDaemon(stateDir);
    if (current?.state === "running") {
      throw new BatchpipeError(
        ErrorCodes.STATE_FAILED,
        `a daemon (pid ${current.pid}) is already running ${label}`,
        {
          hint: "Follow it with `batchpipe logs <spec> -f` (its log is daemon.log in the state folder), or end it with `batchpipe stop <spec>` (from code: stopDaemon(stateDir)), which saves its state.",
        },
      );
    }
    // a foreground run holds the pipeline's lock, a foreground watcher the one in watch/
    const holder = lockHolder(stateDir) ?? lockHolder(path.join(stateDir, "watch"));
    if (holder) {
      throw new BatchpipeError(
        ErrorCodes.STATE_FAILED,
        `another batchpipe process (${describeHolder(holder)}) is running ${label}`,
        { hint: "Wait for it to finish or stop it first; one process runs a pipeline at a time." },
      );
    }
    return spawnDaemon(options, stateDir, paths);
  } finally {
    starting.close();
  }
}

/** The daemon last started for this state folder, or null if none ever was. */
export function readDaemon(stateDir: string): DaemonStatus | null {
  const paths = daemonPaths(path.resolve(stateDir));
  let info: Partial<DaemonInfo & { exitCode: number; finishedAt: number; processStart: string }>;
  try {
    info = JSON.parse(fs.readFileSync(paths.info, "utf8"));
  } catch {
    return null;
  }
  const pid = info.pid ?? readPidFile(paths.pid);
  if (typeof pid !== "number") return null;
  const finished = typeof info.exitCode === "number";
  // a live process with another start time reused the pid: ours is gone
  const ours = isAlive(pid) && (!info.processStart || processStartTime(pid) === info.processStart);
  const state = finished ? "finished" : ours ? "running" : "died";
  return {
    pid,
    log: paths.log,
    startedAt: info.startedAt ?? 0,
    command: info.command ?? [],
    state,
    exitCode: finished ? info.exitCode! : null,
    finishedAt: info.finishedAt ?? null,
  };
}

export interface StopResult {
  pid: number;
  /** false: it was not running */
  signalled: boolean;
  /** it exited within the timeout */
  stopped: boolean;
  exitCode: number | null;
}

/** SIGTERM the daemon (it saves its state and exits) and wait for it to end (default 60 s, as `batchpipe stop`). */
export async function stopDaemon(
  stateDir: string,
  options: { timeoutMs?: number } = {},
): Promise<StopResult | null> {
  const daemon = readDaemon(stateDir);
  if (!daemon) return null;
  if (daemon.state !== "running")
    return { pid: daemon.pid, signalled: false, stopped: true, exitCode: daemon.exitCode };
  try {
    process.kill(daemon.pid, "SIGTERM");
  } catch {
    return { pid: daemon.pid, signalled: false, stopped: true, exitCode: null };
  }
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (!isAlive(daemon.pid)) break;
  }
  const after = readDaemon(stateDir);
  return {
    pid: daemon.pid,
    signalled: true,
    stopped: !isAlive(daemon.pid),
    exitCode: after?.exitCode ?? null,
  };
}

/**
 * In the child: the state folder when this process is a daemon (the env flags are then cleared so
 * processes it starts are not daemons), else undefined. Records the exit code at exit.
 */
export function enterDaemonChild(env: Record<string, string | undefined> = process.env): string | undefined {
  if (env[DAEMON_ENV] !== "1") return undefined;
  const stateDir = env[DAEMON_DIR_ENV];
  delete env[DAEMON_ENV];
  delete env[DAEMON_DIR_ENV];
  if (env !== process.env) {
    delete process.env[DAEMON_ENV];
    delete process.env[DAEMON_DIR_ENV];
  }
  if (!stateDir) return undefined;
  const paths = daemonPaths(stateDir);
  process.once("exit", (code) => {
    try {
      const info = JSON.parse(fs.readFileSync(paths.info, "utf8")) as DaemonInfo;
      if (info.pid !== process.pid) return;
      writeAtomic(paths.info, `${JSON.stringify({ ...info, exitCode: code, finishedAt: Date.now() })}\n`);
      // only our own: a daemon started after this one's record said "finished" has its own
      if (readPidFile(paths.pid) === process.pid) fs.rmSync(paths.pid, { force: true });
    } catch {
      // the record is best effort: status then reports the daemon as died
    }
  });
  return stateDir;
}

// --- internal ---

function spawnDaemon(options: StartDaemonOptions, stateDir: string, paths: DaemonPaths): DaemonInfo {
  const log = fs.openSync(paths.log, "a", 0o600);
  try {
    ownerOnly(paths.log);
    fs.writeSync(log, `--- batchpipe daemon started ${new Date().toISOString()} ---\n`);
    const child = spawn(process.execPath, [...(options.execArgv ?? []), ...options.args], {
      cwd: options.cwd ?? process.cwd(),
      env: { ...(options.env ?? process.env), [DAEMON_ENV]: "1", [DAEMON_DIR_ENV]: stateDir },
      detached: true,
      stdio: ["ignore", log, log],
    });
    if (child.pid === undefined) {
      throw new BatchpipeError(ErrorCodes.STATE_FAILED, "could not start the background process", {
        hint: "Check that node can be started from this shell.",
      });
    }
    child.unref();
    const info: DaemonInfo & { processStart?: string } = {
      pid: child.pid,
      log: paths.log,
      startedAt: Date.now(),
      command: options.args,
      processStart: processStartTime(child.pid),
    };
    writeAtomic(paths.info, `${JSON.stringify(info)}\n`);
    writeAtomic(paths.pid, `${child.pid}\n`);
    return info;
  } finally {
    fs.closeSync(log);
  }
}

function readPidFile(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
