/**
 * The watch of the target's root folder (chokidar), kept on that folder: a root that does not exist
 * yet is watched once it appears, and a root replaced while watched (renamed away and made again,
 * or removed and made again) is watched anew: chokidar stays on the folder it opened.
 */
import fs from "node:fs";
import path from "node:path";
import { watch as chokidarWatch, type FSWatcher } from "chokidar";
import { isExcluded, listFiles } from "./files.js";
import type { WatchTarget } from "./target.js";

export interface FolderWatch {
  close(): Promise<void>;
}

/** how often the root folder is looked at (ms) */
export const ROOT_CHECK_MS = 500;

export function watchFolder(o: {
  target: WatchTarget;
  excluded: string[];
  /** ms a file's size must stay unchanged (chokidar's awaitWriteFinish) */
  settle: number;
  signal: AbortSignal;
  /** a file to take; `settle`: not waited for by chokidar (found by a scan or a listing) */
  onFile(file: string, settle: boolean): void;
  /** every folder is watched: a file written from now on gets an event */
  onWatching(): void;
  /** after onWatching: the root folder is missing (at the start, or gone); watched once it is there */
  onMissing(): void;
  onError(error: unknown): void;
}): FolderWatch {
  const { target, signal } = o;
  let watcher: FSWatcher | undefined;
  let root = rootIdentity(target.root);
  let closed = false;

  const open = async () => {
    const current = chokidarWatch(target.root, {
      depth: target.depth,
      ignoreInitial: false,
      awaitWriteFinish: { stabilityThreshold: o.settle, pollInterval: 100 },
      ignored: (file, stats) => {
        if (isExcluded(file, o.excluded)) return true;
        return Boolean(stats?.isFile()) && !target.matches(path.resolve(file));
      },
    });
    watcher = current;
    current.on("error", o.onError);
    // chokidar applies awaitWriteFinish only after its initial scan: a file found by the scan may
    // still be being written, so it gets the same settle wait. `scan`: what the scan reported.
    let scan: Set<string> | undefined = new Set();
    const found = (file: string) => {
      const absolute = path.resolve(file);
      scan?.add(absolute);
      o.onFile(absolute, scan !== undefined);
    };
    current.on("add", found);
    current.on("change", found);
    await new Promise<void>((resolve) => {
      current.once("ready", resolve);
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
    if (signal.aborted || closed || watcher !== current) return;
    const reported = scan;
    scan = undefined;
    // chokidar lists a folder before it watches it: a file created in between gets no event
    // until the folder changes again. Every watch is set now; a second listing finds such files
    // (one also reported later is recognised by the queue and runs once).
    for (const file of listFiles(target, o.excluded)) if (!reported.has(file)) o.onFile(file, true);
    // only now: a file written from here on gets an event
    o.onWatching();
    if (root === undefined) o.onMissing();
  };

  let opening = open().catch(o.onError);
  const timer = setInterval(() => {
    const now = rootIdentity(target.root);
    if (now === root) return;
    root = now;
    opening = opening
      .then(async () => {
        await watcher?.close();
        if (!closed && !signal.aborted) await open();
      })
      .catch(o.onError);
  }, ROOT_CHECK_MS);
  // not unref'd: an unref'd interval was seen to stop firing here (Node 20) while chokidar's handles kept the process up
  return {
    async close() {
      closed = true;
      clearInterval(timer);
      await opening;
      await watcher?.close();
    },
  };
}

/** the root folder's identity (device and inode), or undefined while it is not a folder */
function rootIdentity(root: string): string | undefined {
  const stats = fs.statSync(root, { throwIfNoEntry: false });
  return stats?.isDirectory() ? `${stats.dev}:${stats.ino}` : undefined;
}
