/**
 * `fs.mkdirSync(dir, { recursive: true })` that fails where Node's never returns: under /proc or
 * /sys, mkdir answers ENOENT although the parent exists, and Node 20's recursive mkdir retries it
 * forever, on the main thread (even SIGTERM is not handled; `--state-dir /proc/x` hung). The
 * missing folders are made one at a time from the nearest that exists, so that ENOENT is thrown.
 */
import fs from "node:fs";
import path from "node:path";
import { BatchpipeError, ErrorCodes } from "./errors.js";

export function makeDirs(dir: string, mode?: number): void {
  const missing: string[] = [];
  for (let at = path.resolve(dir); !fs.existsSync(at); at = path.dirname(at)) {
    missing.push(at);
    if (path.dirname(at) === at) break;
  }
  for (const folder of missing.reverse()) {
    try {
      fs.mkdirSync(folder, { mode });
    } catch (error) {
      // made meanwhile by another process: fine, as with recursive
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  // what recursive does for a path that exists: a file there is no folder
  if (!fs.statSync(dir).isDirectory())
    throw Object.assign(new Error(`EEXIST: file already exists, mkdir '${dir}'`), { code: "EEXIST" });
}

/**
 * The folder of a plugin's output `file`, made as makeDirs makes it (a sink's own recursive mkdir
 * of /proc/x never settled: the run hung). A folder that cannot be made is PLUGIN_FAILED naming the
 * option, the folder and what to do, with the machine's error as its cause.
 */
export function makeOutputFolder(file: string, o: { plugin: string; option: string }): void {
  const dir = path.dirname(file);
  try {
    makeDirs(dir);
  } catch (error) {
    throw new BatchpipeError(
      ErrorCodes.PLUGIN_FAILED,
      `cannot create the folder ${dir} of ${o.option} ${file}: ${(error as Error).message}`,
      {
        hint: `Give ${o.option} a file in a folder that can be made and written (not under /proc or /sys), or create the folder, and run again.`,
        plugin: o.plugin,
        cause: error,
      },
    );
  }
}
