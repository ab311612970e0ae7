import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { BatchpipeError } from "@batchpipe/core/plugin";
import { glob, isDynamicPattern } from "tinyglobby";

/**
 * The files a `path` option names, sorted: a file as is; a folder → every *.jsonl and *.jsonl.gz
 * directly in it; anything else with glob characters → the files the glob matches.
 * No file at all is an error: an empty input is almost always a wrong path.
 */
export async function resolveFiles(path: string): Promise<string[]> {
  const stats = await stat(path).catch(() => undefined);
  if (stats?.isFile()) return [path];
  if (stats?.isDirectory()) {
    const entries = await readdir(path, { withFileTypes: true });
    const files = entries
      .filter((entry) => entry.isFile() && DATA_FILE.test(entry.name))
      .map((entry) => join(path, entry.name))
      .sort(byCodeUnit);
    if (files.length === 0) {
      throw sourceFailed(`no *.jsonl or *.jsonl.gz files in the folder ${path}`, "Check `path`.");
    }
    return files;
  }
  if (isDynamicPattern(path)) {
    const files = await glob(path, { absolute: true, onlyFiles: true, expandDirectories: false });
    if (files.length === 0) throw sourceFailed(`no file matches the glob ${path}`, "Check `path`.");
    return files.sort(byCodeUnit);
  }
  throw sourceFailed(`no such file or folder: ${path}`, "Check `path`; it is relative to the spec file.");
}

// --- internal ---

const DATA_FILE = /\.jsonl(\.gz)?$/;

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sourceFailed(message: string, hint: string): BatchpipeError {
  return new BatchpipeError("SOURCE_FAILED", message, { hint, plugin: "source:jsonl" });
}
