/**
 * The watched files: which paths count as inputs, when a file is fully written, and the snapshot
 * each one is copied to (and hashed on the way) before it joins a group.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { pipeline as pipe } from "node:stream/promises";
import type { EnginePipeline } from "../engine/types.js";
import { BatchpipeError, ErrorCodes } from "../errors.js";
import type { GroupRow, WatchedFile, WatchRegistry } from "./registry.js";
import type { WatchTarget } from "./target.js";

/** sink outputs and the state folder are never inputs, even inside the watched folder */
export function excluded(pipeline: EnginePipeline, stateDir: string): string[] {
  const outputs = [...pipeline.sinks, ...pipeline.errors]
    .map((s) => (s.options as Record<string, unknown> | undefined)?.path)
    .filter((p): p is string => typeof p === "string")
    .map((p) => path.resolve(pipeline.dir, p));
  return [stateDir, ...outputs];
}

export function isExcluded(file: string, excludedPaths: string[]): boolean {
  const absolute = path.resolve(file);
  return excludedPaths.some((p) => absolute === p || absolute.startsWith(`${p}${path.sep}`));
}

/** the input files under the target now, sorted (what chokidar's first scan would report) */
export function listFiles(target: WatchTarget, excludedPaths: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      // a folder removed while it is listed holds no files
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (isExcluded(full, excludedPaths)) continue;
      // a link counts as what it points to, if the symlink policy lets it (chokidar follows links too)
      const link = entry.isSymbolicLink();
      if (link && !target.allows(full)) continue;
      const stats = link ? fs.statSync(full, { throwIfNoEntry: false }) : entry;
      if (stats?.isDirectory() && (target.depth === undefined || depth < target.depth)) walk(full, depth + 1);
      else if (stats?.isFile() && target.matches(full)) out.push(full);
    }
  };
  walk(target.root, 0);
  return out.sort();
}

/** --once: the files there now, once their sizes stopped changing for `settle` ms */
export async function settledFiles(
  target: WatchTarget,
  excludedPaths: string[],
  settle: number,
  signal: AbortSignal,
): Promise<string[]> {
  const sizes = (files: string[]) =>
    files.map((f) => fs.statSync(f, { throwIfNoEntry: false })?.size ?? -1).join(",");
  let files = listFiles(target, excludedPaths);
  let before = sizes(files);
  for (let i = 0; i < 600 && !signal.aborted; i++) {
    await sleep(settle, signal);
    const now = listFiles(target, excludedPaths);
    const after = sizes(now);
    if (after === before && now.join("\n") === files.join("\n")) break;
    files = now;
    before = after;
  }
  return files;
}

/** resolves once the file's size and mtime have not changed for `settle` ms (or it is gone) */
export async function waitUntilStable(file: string, settle: number, signal: AbortSignal): Promise<void> {
  const look = () => {
    const stats = fs.statSync(file, { throwIfNoEntry: false });
    return stats ? `${stats.size}:${stats.mtimeMs}` : undefined;
  };
  let before = look();
  while (before !== undefined && !signal.aborted) {
    await sleep(settle, signal);
    const now = look();
    if (now === before) return;
    before = now;
  }
}

/** copy the file to a temp file in the snapshot folder, hashing it on the way; `file.snapshot` is where it belongs */
export async function takeSnapshot(
  file: string,
  watchDir: string,
): Promise<{ file: WatchedFile; temp: string }> {
  const dir = path.join(watchDir, "snapshots");
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw snapshotFailed(file, error);
  }
  const temp = path.join(dir, `.incoming-${process.pid}-${Date.now()}`);
  const hash = createHash("sha256");
  let size = 0;
  try {
    await pipe(
      fs.createReadStream(file),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      },
      fs.createWriteStream(temp, { mode: 0o600 }),
    );
  } catch (error) {
    // a full disk leaves a partial copy: it goes
    fs.rmSync(temp, { force: true });
    throw snapshotFailed(file, error);
  }
  const sha = hash.digest("hex");
  // keep the file's extension (`.csv.gz`): the source reads .gz files as gzip, and may go by it
  const ext = EXTENSION.exec(path.basename(file))?.[0] ?? "";
  // named by path and content: two paths with the same content are two inputs
  const name = createHash("sha256").update(file).digest("hex").slice(0, 12);
  const snapshot = path.join(dir, `${sha.slice(0, 32)}-${name}${ext}`);
  return { file: { path: file, sha, size, snapshot }, temp };
}

/** a name's last extension, with the one before it when that is `.gz` (`.csv.gz`) */
const EXTENSION = /(\.[A-Za-z0-9]+)?\.gz$|\.[A-Za-z0-9]+$/i;

/** why a file could not be copied: the input cannot be read (SOURCE_FAILED) or the copy written (STATE_FAILED) */
function snapshotFailed(file: string, error: unknown): BatchpipeError {
  const e = error as NodeJS.ErrnoException;
  const reading = e.path === file;
  return new BatchpipeError(
    reading ? ErrorCodes.SOURCE_FAILED : ErrorCodes.STATE_FAILED,
    `cannot ${reading ? "read" : "copy"} ${file}${reading ? "" : " to the state folder"}: ${e.message}`,
    {
      hint: reading
        ? "Check the file's permissions; it is tried again."
        : "Check the state folder's free space and permissions; the file is tried again.",
      cause: error,
    },
  );
}

/** snapshots no pending group needs: left by a crash between the copy and the registry insert */
export function removeStaleSnapshots(watchDir: string, registry: WatchRegistry): void {
  const dir = path.join(watchDir, "snapshots");
  // not a folder: the next snapshot reports it (file_error) and is tried again
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return;
  const keep = new Set(
    registry.pendingGroups().flatMap((g) => g.files.map((f) => path.basename(f.snapshot))),
  );
  for (const name of fs.readdirSync(dir))
    if (!keep.has(name)) fs.rmSync(path.join(dir, name), { force: true });
}

export function cleanSnapshots(group: GroupRow): void {
  for (const f of group.files) fs.rmSync(f.snapshot, { force: true });
}

/** resolves after `ms`, or as soon as `signal` aborts */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
